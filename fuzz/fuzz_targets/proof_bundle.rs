//! C2SP tlog-proof bundles as `accord verify` reads them: parse (and the text form round-trips), then the
//! whole offline verification (checkpoint signature, inclusion proof, leaf, envelope, signatures).
#![no_main]
mod common;

use std::sync::OnceLock;

use accord::crypto::{PublicKey, StrictNoteVerifier};
use accord::merkle::ProofBundle;
use libfuzzer_sys::fuzz_target;

fn fixed() -> &'static (StrictNoteVerifier, Vec<PublicKey>) {
    static F: OnceLock<(StrictNoteVerifier, Vec<PublicKey>)> = OnceLock::new();
    F.get_or_init(|| (common::log_verifier(), common::party_keys().into_values().collect()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(bundle) = ProofBundle::parse(text) else { return };
    let again = ProofBundle::parse(&bundle.to_text()).expect("a parsed bundle's text form parses");
    assert_eq!(again, bundle, "a parsed bundle's text form round-trips");
    let (log, keys) = fixed();
    let leaf = bundle.extra.clone().unwrap_or_default();
    let _ = accord::client::verify_offline(&leaf, &bundle, log, keys);
});
