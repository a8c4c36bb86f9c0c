//! Fuzz targets, proptest-driven so CI runs each for a bounded number of cases (ACCORD_FUZZ_CASES, default
//! 2,000 per target): arbitrary and mutated bytes through every parser that faces untrusted input —
//! envelope and statement decoding (the whole stateless stage), statement JSON, checkpoints and signed
//! notes, tlog-proof bundles, verifier keys, report JSON. No input may panic; every rejection is an error
//! value. Allocation stays bounded because every parser is given at most 64 KiB here and the stage limits
//! (payload size, signature count) are checked before decoding.
use accord::crypto::{self, LogSigner, StrictNoteVerifier};
use accord::ledger::{prepare_with, Limits};
use accord::merkle::ProofBundle;
use accord::pb::{self, statement::Body};
use proptest::prelude::*;
use prost::Message;

const ORIGIN: &str = "fuzz.example/ledger";

fn cases() -> u32 {
    std::env::var("ACCORD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

fn seed_envelope() -> pb::Envelope {
    let key = crypto::generate_key();
    let st = pb::Statement {
        ledger: ORIGIN.into(),
        statement_id: "seed".into(),
        issued_at: Some(prost_types::Timestamp { seconds: 1, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(Body::PledgeAnnounced(pb::PledgeAnnounced {
            pledge_id: "P1".into(),
            plan_id: "PL".into(),
            pledger_id: "A".into(),
            pledge_kind: "money".into(),
            amount: Some(pb::Money { value: "100.00".into(), currency: "EUR".into(), value_date: "2026-01-01".into() }),
            funding_source: "external".into(),
            ..Default::default()
        })),
    };
    crypto::seal(&st, &[&key])
}

fn seed_checkpoint() -> (String, StrictNoteVerifier) {
    let signer = LogSigner::new(ORIGIN, crypto::generate_key()).unwrap();
    (signer.sign_checkpoint(5, &[7u8; 32]), signer.verifier().clone())
}

/// Flip, insert or delete bytes of a seed.
fn mutate(seed: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    let mut b = seed;
    for (pos, val, op) in edits {
        if b.is_empty() {
            b.push(val);
            continue;
        }
        let i = pos % b.len();
        match op % 3 {
            0 => b[i] ^= val | 1,
            1 => b.insert(i, val),
            _ => {
                b.remove(i);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn envelopes_and_statements(raw in proptest::collection::vec(any::<u8>(), 0..2048),
                                edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8)) {
        // Arbitrary bytes as an envelope, and mutations of a valid one, through the whole stateless stage.
        let limits = Limits::default();
        if let Ok(env) = pb::Envelope::decode(raw.as_slice()) {
            let _ = prepare_with(&env, ORIGIN, &limits, |_| None);
        }
        let seed = seed_envelope();
        let bytes = mutate(seed.encode_to_vec(), edits.clone());
        if let Ok(env) = pb::Envelope::decode(bytes.as_slice()) {
            let _ = prepare_with(&env, ORIGIN, &limits, |_| None);
        }
        let mut env = seed.clone();
        env.payload = mutate(env.payload, edits);
        let _ = prepare_with(&env, ORIGIN, &limits, |_| None);
        let _ = pb::LogEntry::decode(raw.as_slice());
        let _ = crypto::leaf_identity(&raw);
    }

    #[test]
    fn statement_json(text in "\\PC{0,400}", edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..6)) {
        let _ = accord::json::statement_from_json(&text);
        let _ = accord::json::envelope_from_json(&text);
        let seed = accord::json::statement_template("pledge.announced", ORIGIN, "x", "2026-01-01").unwrap();
        let mutated = String::from_utf8_lossy(&mutate(seed.into_bytes(), edits)).into_owned();
        let _ = accord::json::statement_from_json(&mutated);
        let _ = accord::json::strip_comments(&mutated);
    }

    #[test]
    fn checkpoints_and_notes(raw in proptest::collection::vec(any::<u8>(), 0..1024),
                             edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..6)) {
        let (note, verifier) = seed_checkpoint();
        let _ = crypto::open_checkpoint(&raw, &verifier);
        let _ = crypto::open_note(&raw, &verifier);
        let mutated = mutate(note.into_bytes(), edits);
        let _ = crypto::open_checkpoint(&mutated, &verifier);
        let text = String::from_utf8_lossy(&raw);
        let _ = crypto::parse_verifier_key(&text);
        let _ = crypto::parse_private_key(&text);
        let _ = StrictNoteVerifier::from_verifier_key(&text);
    }

    #[test]
    fn proof_bundles(raw in "\\PC{0,600}", edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..6)) {
        let _ = ProofBundle::parse(&raw);
        let (note, _) = seed_checkpoint();
        let seed = ProofBundle { extra: Some(vec![1, 2, 3]), index: 3, proof: vec![[9u8; 32]; 3], checkpoint: note }.to_text();
        let mutated = String::from_utf8_lossy(&mutate(seed.into_bytes(), edits)).into_owned();
        if let Ok(b) = ProofBundle::parse(&mutated) {
            let _ = b.proof_vecs();
        }
    }

    #[test]
    fn report_json(raw in "\\PC{0,400}") {
        let _ = accord::report::Report::from_json(&raw);
        let _ = accord::report::diff_json(&raw, "{}");
    }
}

/// Shared with the cargo-fuzz targets: fixed keys, a small coalition's statements, checkpoints and proofs.
#[path = "../fuzz/fuzz_targets/common/mod.rs"]
mod fuzz_common;

/// The seed corpus of the cargo-fuzz targets (fuzz/corpus/<target>/seed-*, run by scripts/fuzz.sh) is
/// exactly what fuzz/fuzz_targets/common builds, so seeds cannot silently rot into inputs every parser
/// rejects early. `ACCORD_FUZZ_WRITE_SEEDS=1 cargo test --test fuzz fuzz_seed_corpus` rewrites them.
#[test]
fn fuzz_seed_corpus_is_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let seeds = fuzz_common::seeds();
    let write = std::env::var_os("ACCORD_FUZZ_WRITE_SEEDS").is_some();
    for (target, name, bytes) in &seeds {
        let path = root.join(target).join(name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == *bytes,
            "{} is stale: regenerate the seeds with ACCORD_FUZZ_WRITE_SEEDS=1 cargo test --test fuzz fuzz_seed_corpus",
            path.display()
        );
    }
    // Valid seeds are valid: the envelopes pass the stateless stage with every signature verified, the
    // bundles verify offline, the checkpoints open.
    let keys = fuzz_common::party_keys();
    for env in fuzz_common::envelopes() {
        let p = prepare_with(&env, fuzz_common::ORIGIN, &Limits::default(), |k| keys.get(k).copied()).unwrap();
        assert!(p.unverified.is_empty());
    }
    let log = fuzz_common::log_verifier();
    let signers: Vec<_> = keys.values().copied().collect();
    for (i, n) in [(0, 1), (4, 8), (7, 8)] {
        let b = fuzz_common::bundle(i, n);
        accord::client::verify_offline(b.extra.as_deref().unwrap(), &b, &log, &signers).unwrap();
    }
    assert_eq!(crypto::open_checkpoint(fuzz_common::checkpoint(8).as_bytes(), &log).unwrap().size, 8);
    let targets: std::collections::BTreeSet<&str> = seeds.iter().map(|s| s.0).collect();
    assert_eq!(targets.len(), 6, "every fuzz target has seeds: {targets:?}");
}
