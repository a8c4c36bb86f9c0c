//! Checkpoints and signed notes: opening a checkpoint with the log key, generic notes, witness
//! cosignatures, trust policies (parse and check), and the key strings of the CLI and config.
#![no_main]
mod common;

use std::sync::OnceLock;

use accord::crypto::cosign::{split_note, CosignatureVerifier, Policy};
use accord::crypto::{self, StrictNoteVerifier};
use libfuzzer_sys::fuzz_target;

struct Fixed {
    log: StrictNoteVerifier,
    witness: CosignatureVerifier,
    policy: Policy,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| Fixed {
        log: common::log_verifier(),
        witness: CosignatureVerifier::from_verifier_key(&common::cosigner().verifier_key()).expect("witness key"),
        policy: Policy::parse(&common::policy_text()).expect("policy"),
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let _ = crypto::open_checkpoint(data, &f.log);
    let _ = crypto::open_note(data, &f.log);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((body, lines)) = split_note(text) {
        for l in lines {
            let _ = f.witness.verify_line(body, l);
        }
    }
    let _ = f.witness.verify_note(text);
    let _ = f.policy.check(text);
    if let Ok(p) = Policy::parse(text) {
        let _ = p.check(&common::checkpoint(1));
    }
    let _ = crypto::parse_verifier_key(text);
    let _ = crypto::parse_private_key(text);
    let _ = StrictNoteVerifier::from_verifier_key(text);
    let _ = CosignatureVerifier::from_verifier_key(text);
    let _ = accord::server::witness::WitnessTarget::parse(text);
});
