//! The worked example of docs/FORMAT.md as a known-answer test: deterministic keys, statement, envelope,
//! leaf, tree and checkpoint. Every value printed in FORMAT.md is recomputed here and must appear there.
use accord::crypto::{self, LogSigner, PrivateKey};
use accord::merkle;
use accord::pb::{self, statement::Body};
use base64::prelude::*;
use prost::Message;
use sha2::{Digest, Sha256};

fn key(label: &str) -> PrivateKey {
    PrivateKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

struct Example {
    values: Vec<(&'static str, String)>,
}

fn example() -> Example {
    let origin = "example.org/coalition";
    let log = LogSigner::new(origin, key("accord FORMAT.md log key")).unwrap();
    let party = key("accord FORMAT.md party key GT-GOV-1");
    let st = pb::Statement {
        ledger: origin.into(),
        statement_id: "charter".into(),
        issued_at: Some(prost_types::Timestamp { seconds: 1_767_225_600, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(Body::Charter(pb::Charter {
            name: "Example coalition".into(),
            founders: vec![pb::Party {
                party_id: "GT-GOV-1".into(),
                name: "Government of Guatemala".into(),
                roles: vec!["partner_government".into()],
                public_keys: vec![party.verifying_key().as_bytes().to_vec()],
                organisation_type: "10".into(),
                country: "GT".into(),
            }],
            admission: Some(pb::AdmissionRule { k: 1 }),
            purpose: String::new(),
        })),
    };
    let payload = st.encode_to_vec();
    let pae = crypto::pae(accord::PAYLOAD_TYPE, &payload);
    let env = crypto::seal(&st, &[&party]);
    let canonical = accord::log::canonical_envelope(&env);
    let identity = accord::log::identity(&canonical);
    let leaf = pb::LogEntry { envelope: Some(canonical.clone()), integrated_at_ms: 1_767_225_600_123 }.encode_to_vec();
    let leaf_hash = merkle::leaf_hash(&leaf);
    let mut t = merkle::MemoryHashes::default();
    t.append(&leaf);
    let root = t.root();
    let cp0 = log.sign_checkpoint(0, &merkle::empty_root());
    let cp1 = log.sign_checkpoint(1, &root);
    let bundle = merkle::ProofBundle { extra: None, index: 0, proof: vec![], checkpoint: cp1.clone() };
    Example {
        values: vec![
            ("log private key", crypto::private_key_string(origin, &key("accord FORMAT.md log key"))),
            ("log verifier key", log.verifier_key()),
            ("party public key (hex)", hex::encode(party.verifying_key().as_bytes())),
            ("party keyid", crypto::keyid(&party.verifying_key())),
            ("statement payload (hex)", hex::encode(&payload)),
            ("PAE (hex)", hex::encode(&pae)),
            ("signature (base64)", BASE64_STANDARD.encode(&env.signatures[0].sig)),
            ("envelope JSON", accord::json::envelope_to_json(&env)),
            ("canonical envelope (hex)", hex::encode(canonical.encode_to_vec())),
            ("identity (hex)", hex::encode(identity)),
            ("leaf (hex)", hex::encode(&leaf)),
            ("leaf hash (hex)", hex::encode(leaf_hash)),
            ("root at size 1 (base64)", BASE64_STANDARD.encode(root)),
            ("checkpoint at size 0", cp0),
            ("checkpoint at size 1", cp1),
            ("tlog-proof", bundle.to_text()),
        ],
    }
}

#[test]
fn format_md_worked_example_matches_the_code() {
    let ex = example();
    if std::env::var("ACCORD_PRINT_EXAMPLE").is_ok() {
        for (k, v) in &ex.values {
            println!("### {k}\n{v}\n");
        }
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).expect("docs/FORMAT.md");
    for (k, v) in &ex.values {
        for line in v.lines().filter(|l| !l.is_empty()) {
            assert!(doc.contains(line), "docs/FORMAT.md lacks the {k} line {line:?}");
        }
    }
    // The checkpoints verify with the published verifier key, strictly.
    let vk = &ex.values[1].1;
    let v = crypto::StrictNoteVerifier::from_verifier_key(vk).unwrap();
    let cp = crypto::open_checkpoint(ex.values[14].1.as_bytes(), &v).unwrap();
    assert_eq!(cp.size, 1);
    let cp0 = crypto::open_checkpoint(ex.values[13].1.as_bytes(), &v).unwrap();
    assert_eq!(cp0.root, merkle::empty_root());
}
