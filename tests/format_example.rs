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
    let canonical = accord::ledger::canonical_envelope(&env);
    let identity = accord::ledger::identity(&canonical);
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

/// The fenced code blocks of FORMAT.md §8, in order, each exactly as written (content lines, each ending
/// in a newline).
fn example_blocks(doc: &str) -> Vec<String> {
    let start = doc.find("## 8. Worked example").expect("FORMAT.md has a §8 worked example");
    let rest = &doc[start + 1..];
    let section = rest.find("\n## ").map_or(rest, |end| &rest[..end]);
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in section.lines() {
        match open.as_mut() {
            None if line.starts_with("```") => open = Some(String::new()),
            None => {}
            Some(b) if line == "```" => {
                blocks.push(std::mem::take(b));
                open = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    assert!(open.is_none(), "FORMAT.md §8 has an unterminated code block");
    blocks
}

/// Each example block is compared whole with what the code computes (nothing more, nothing less), then
/// parsed and verified as a reader of the document would: keys, envelope, leaf, checkpoints and the proof.
#[test]
fn format_md_worked_example_matches_the_code() {
    let ex = example();
    if std::env::var("ACCORD_PRINT_EXAMPLE").is_ok() {
        for (k, v) in &ex.values {
            println!("### {k}\n```\n{}```\n", if v.ends_with('\n') { v.clone() } else { format!("{v}\n") });
        }
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).expect("docs/FORMAT.md");
    let blocks = example_blocks(&doc);
    assert_eq!(blocks.len(), ex.values.len(), "FORMAT.md §8 has {} code blocks, one per example value", blocks.len());
    for ((k, v), block) in ex.values.iter().zip(&blocks) {
        let want = if v.ends_with('\n') { v.clone() } else { format!("{v}\n") };
        assert_eq!(block, &want, "docs/FORMAT.md §8: the {k} block differs from what the code computes");
    }
    let b = |i: usize| blocks[i].trim_end_matches('\n');
    let unhex = |i: usize| hex::decode(b(i)).unwrap_or_else(|e| panic!("block {i} is not hex: {e}"));
    // Keys: the private key matches the verifier key; the party keyid is the SHA-256 of the public key.
    let (name, sk) = crypto::parse_private_key(b(0)).unwrap();
    let v = crypto::StrictNoteVerifier::from_verifier_key(b(1)).unwrap();
    assert_eq!(crypto::verifier_key_string(&name, &sk.verifying_key()), b(1));
    let party = crypto::public_key_from_bytes(&unhex(2)).unwrap();
    assert_eq!(crypto::keyid(&party), b(3));
    // Payload, PAE, signature and the DSSE JSON envelope agree, and the signature verifies.
    let payload = unhex(4);
    let st = pb::Statement::decode(payload.as_slice()).unwrap();
    assert_eq!(st.statement_id, "charter");
    assert_eq!(unhex(5), crypto::pae(accord::PAYLOAD_TYPE, &payload));
    let sig = BASE64_STANDARD.decode(b(6)).unwrap();
    assert!(crypto::verify_pae(&party, accord::PAYLOAD_TYPE, &payload, &sig));
    let env = accord::json::envelope_from_json(&blocks[7]).unwrap();
    assert_eq!((env.payload.as_slice(), env.signatures[0].sig.as_slice()), (payload.as_slice(), sig.as_slice()));
    assert_eq!(env.signatures[0].keyid, b(3));
    // Canonical envelope, identity, leaf, leaf hash and root.
    let canonical = pb::Envelope::decode(unhex(8).as_slice()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(unhex(8))), b(9));
    let leaf = unhex(10);
    let entry = pb::LogEntry::decode(leaf.as_slice()).unwrap();
    assert_eq!(entry.envelope.as_ref(), Some(&canonical));
    assert_eq!(hex::encode(merkle::leaf_hash(&leaf)), b(11));
    assert_eq!(BASE64_STANDARD.decode(b(12)).unwrap(), merkle::leaf_hash(&leaf).to_vec());
    // The checkpoints verify with the published verifier key, strictly.
    let cp0 = crypto::open_checkpoint(blocks[13].as_bytes(), &v).unwrap();
    assert_eq!((cp0.size, cp0.root), (0, merkle::empty_root()));
    let cp1 = crypto::open_checkpoint(blocks[14].as_bytes(), &v).unwrap();
    assert_eq!(cp1.size, 1);
    // The tlog-proof parses and proves the leaf offline, its signature included.
    let bundle = merkle::ProofBundle::parse(&blocks[15]).unwrap();
    let ok = accord::client::verify_offline(&leaf, &bundle, &v, &[party]).unwrap();
    assert_eq!((ok.index, ok.verified_signers.as_slice()), (0, &[b(3).to_string()][..]));
}
