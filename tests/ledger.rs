//! End-to-end tests against the real server on 127.0.0.1:0 with a real tonic client.
mod common;

use accord::client;
use accord::crypto;
use accord::merkle::{self, ProofBundle};
use accord::pb::{self, statement::Body};
use common::*;
use prost::Message;
use tonic::Code;

async fn size(s: &TestServer) -> u64 {
    s.raw().await.get_log_info(pb::GetLogInfoRequest {}).await.unwrap().into_inner().tree_size
}

async fn submit_raw(s: &TestServer, env: pb::Envelope) -> Result<pb::Receipt, tonic::Status> {
    s.raw().await.submit(pb::SubmitRequest { envelope: Some(env) }).await.map(|r| r.into_inner().receipt.unwrap())
}

/// Expect a rejection with `code` whose message names `field`, and that nothing was written.
async fn rejected(s: &TestServer, env: pb::Envelope, code: Code, field: &str) -> String {
    let before = size(s).await;
    let root_before = s.ledger.latest().root;
    let err = submit_raw(s, env).await.expect_err("must be rejected");
    assert_eq!(err.code(), code, "wrong code; message: {}", err.message());
    let field = common::json_names(field);
    assert!(err.message().contains(&field), "message {:?} should name {field:?}", err.message());
    assert_eq!(size(s).await, before, "a rejected submission wrote an entry");
    assert_eq!(s.ledger.latest().root, root_before);
    err.message().to_string()
}

#[tokio::test]
async fn empty_ledger_has_signed_size_zero_checkpoint() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let cp = c.checkpoint(None).await.unwrap();
    assert_eq!(cp.size, 0);
    assert_eq!(cp.root, merkle::empty_root());
    assert_eq!(cp.origin, ORIGIN);
    assert!(cp.note.starts_with(&format!("{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— {ORIGIN} ")));
    let info = s.raw().await.get_log_info(pb::GetLogInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.verifier_key, s.verifier_key);
    assert_eq!(info.payload_type, accord::PAYLOAD_TYPE);
}

#[tokio::test]
async fn submit_receipt_and_offline_verification() {
    let (s, sec, _fun) = chartered().await;
    let mut c = s.client().await;
    let env = crypto::seal(&plan("p1"), &[&sec.key]);
    let r = c.submit(env.clone()).await.unwrap();
    assert_eq!(r.receipt.index, 1);
    assert_eq!(r.receipt.tree_size, 2);
    assert!(!r.receipt.duplicate);
    assert_eq!(r.receipt.identity, accord::ledger::identity(&accord::ledger::canonical_envelope(&env)).to_vec());

    // The tlog-proof bundle round-trips and verifies offline with only the log key and the signer's key.
    let text = r.bundle().to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let bundle = ProofBundle::parse(&text).unwrap();
    let log = crypto::StrictNoteVerifier::from_verifier_key(&s.verifier_key).unwrap();
    let leaf = bundle.extra.clone().unwrap();
    let v = client::verify_offline(&leaf, &bundle, &log, &[sec.key.verifying_key()]).unwrap();
    assert_eq!(v.statement.statement_id, "p1");
    assert_eq!(v.verified_signers, vec![sec.keyid()]);

    // Without the signer's key it does not verify; with the wrong log key neither; nor with a changed leaf.
    assert!(client::verify_offline(&leaf, &bundle, &log, &[]).is_err());
    let other = crypto::generate_key();
    let wrong_log = crypto::StrictNoteVerifier::new(ORIGIN, other.verifying_key());
    assert!(client::verify_offline(&leaf, &bundle, &wrong_log, &[sec.key.verifying_key()]).is_err());
    let mut bad_leaf = leaf.clone();
    let n = bad_leaf.len() - 1;
    bad_leaf[n] ^= 1;
    assert!(client::verify_offline(&bad_leaf, &bundle, &log, &[sec.key.verifying_key()]).is_err());
    let mut bad_bundle = bundle.clone();
    bad_bundle.index = 0;
    assert!(client::verify_offline(&leaf, &bad_bundle, &log, &[sec.key.verifying_key()]).is_err());

    // The leaf holds the canonical envelope and a plausible integration time.
    let le = pb::LogEntry::decode(leaf.as_slice()).unwrap();
    assert_eq!(le.envelope.unwrap(), accord::ledger::canonical_envelope(&env));
    assert!(le.integrated_at_ms > 1_700_000_000_000);
}

#[tokio::test]
async fn resubmission_is_idempotent() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    let env = crypto::seal(&plan("p1"), &[&sec.key]);
    let first = c.submit(env.clone()).await.unwrap();
    let again = c.submit(env.clone()).await.unwrap();
    assert!(again.receipt.duplicate);
    assert_eq!(again.receipt.index, first.receipt.index);
    assert_eq!(again.receipt.identity, first.receipt.identity);
    assert_eq!(again.receipt.leaf, first.receipt.leaf);
    assert_eq!(size(&s).await, 2);
    // A batch repeating one envelope gets one entry.
    let e2 = crypto::seal(&plan("p2"), &[&sec.key]);
    let rs = c.submit_batch(vec![e2.clone(), e2.clone()]).await.unwrap();
    assert_eq!(rs[0].receipt.index, rs[1].receipt.index);
    assert!(rs[1].receipt.duplicate);
    assert_eq!(size(&s).await, 3);
    // A batch of envelopes all logged already is answered from the log: nothing to verify, no entry.
    let rs = c.submit_batch(vec![e2.clone(), env.clone()]).await.unwrap();
    assert!(rs.iter().all(|r| r.receipt.duplicate));
    assert_eq!((rs[0].receipt.index, rs[1].receipt.index), (2, first.receipt.index));
    assert_eq!(size(&s).await, 3);
}

#[tokio::test]
async fn malformed_envelopes_are_rejected_and_nothing_is_written() {
    let (s, sec, _) = chartered().await;
    let good = crypto::seal(&plan("p1"), &[&sec.key]);

    let mut e = good.clone();
    e.payload_type = "application/json".into();
    rejected(&s, e, Code::InvalidArgument, "envelope.payloadType").await;

    let mut e = good.clone();
    e.payload.clear();
    rejected(&s, e, Code::InvalidArgument, "envelope.payload").await;

    let mut e = good.clone();
    e.payload = vec![0xff, 0xff, 0xff];
    crypto::add_signature(&mut e, &sec.key);
    rejected(&s, e, Code::InvalidArgument, "envelope.payload").await;

    // Oversized payload.
    let mut st = plan("big");
    if let Some(Body::PlanCreated(p)) = &mut st.body {
        p.description = "x".repeat(70 * 1024);
    }
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::InvalidArgument, "envelope.payload").await;

    // Non-canonical payload: an unknown field appended.
    let mut e = good.clone();
    e.payload.extend_from_slice(&[0xf8, 0x06, 0x01]); // field 127, varint 1
    e.signatures.clear();
    crypto::add_signature(&mut e, &sec.key);
    rejected(&s, e, Code::InvalidArgument, "canonical").await;

    // No signatures; malformed keyid; short signature; duplicate keyid.
    let mut e = good.clone();
    e.signatures.clear();
    rejected(&s, e, Code::InvalidArgument, "envelope.signatures").await;
    let mut e = good.clone();
    e.signatures[0].keyid = "ABC".into();
    rejected(&s, e, Code::InvalidArgument, "keyid").await;
    let mut e = good.clone();
    e.signatures[0].sig.truncate(10);
    rejected(&s, e, Code::InvalidArgument, "sig").await;
    let mut e = good.clone();
    e.signatures.push(e.signatures[0].clone());
    rejected(&s, e, Code::InvalidArgument, "signs twice").await;

    // Missing fields.
    let mut st = plan("nodate");
    st.effective_date = "2026-02-30".into();
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::InvalidArgument, "statement.effectiveDate").await;
    let mut st = plan("nobody");
    st.body = None;
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::InvalidArgument, "statement.body").await;
    let mut st = plan("");
    st.statement_id.clear();
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::InvalidArgument, "statement.statementId").await;
    let mut st = plan("cur");
    if let Some(Body::PlanCreated(p)) = &mut st.body {
        p.reporting_currency = "usd".into();
    }
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::InvalidArgument, "reporting_currency").await;

    // Missing envelope entirely.
    let err = s.raw().await.submit(pb::SubmitRequest { envelope: None }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(size(&s).await, 1);
}

#[tokio::test]
async fn authorisation_rejections() {
    let (s, sec, fun) = chartered().await;
    // Wrong ledger origin.
    let mut st = plan("p1");
    st.ledger = "other.example/ledger".into();
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::InvalidArgument, "statement.ledger").await;

    // Unknown key.
    let stranger = crypto::generate_key();
    rejected(&s, crypto::seal(&plan("p2"), &[&stranger]), Code::PermissionDenied, "not registered").await;

    // Bad signature: signed by sec, signature bytes altered.
    let mut e = crypto::seal(&plan("p3"), &[&sec.key]);
    e.signatures[0].sig[5] ^= 0x40;
    rejected(&s, e, Code::PermissionDenied, "envelope.signatures[0].sig").await;

    // A signature over different bytes (payload changed after signing).
    let mut e = crypto::seal(&plan("p4"), &[&sec.key]);
    let mut other = plan("p4");
    other.effective_date = "2026-01-16".into();
    e.payload = other.encode_to_vec();
    rejected(&s, e, Code::PermissionDenied, "does not verify").await;

    // plan.created is signed by the secretariat or k members; with k = 1 any member may create a plan.
    let ok = s.client().await.submit(crypto::seal(&plan("p5"), &[&fun.key])).await;
    assert!(ok.is_ok(), "{ok:?}");

    // Reused statement_id with a different envelope.
    let mut st = plan("p5");
    if let Some(Body::PlanCreated(p)) = &mut st.body {
        p.plan_id = "plan-other".into();
    }
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::AlreadyExists, "statement.statementId").await;

    // Effective date in the future.
    let mut st = plan("future");
    st.effective_date = "2199-01-01".into();
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::FailedPrecondition, "statement.effectiveDate").await;

    // Duplicate plan id.
    let mut st = plan("p6");
    if let Some(Body::PlanCreated(p)) = &mut st.body {
        p.plan_id = "plan-p5".into();
    }
    rejected(&s, crypto::seal(&st, &[&sec.key]), Code::FailedPrecondition, "plan_id").await;

    // A second charter.
    let mut second = charter(&[&sec], 1);
    second.statement_id = "charter-2".into();
    rejected(&s, crypto::seal(&second, &[&sec.key]), Code::FailedPrecondition, "already has a charter").await;
}

#[tokio::test]
async fn charter_rules() {
    let s = TestServer::start().await;
    let a = Founder::new("GT-GOV-1", &["partner_government"]);
    let b = Founder::new("XM-DAC-41114", &["implementer", "secretariat"]);
    // Nothing before the charter.
    rejected(&s, crypto::seal(&plan("p0"), &[&a.key]), Code::PermissionDenied, "not registered").await;
    // Every founder must sign with their own key.
    let only_a = crypto::seal(&charter(&[&a, &b], 2), &[&a.key]);
    rejected(&s, only_a.clone(), Code::PermissionDenied, "has not signed the charter").await;
    // A stranger's signature is not allowed on the charter.
    let stranger = crypto::generate_key();
    let mut with_stranger = charter_envelope(&[&a, &b], 2);
    crypto::add_signature(&mut with_stranger, &stranger);
    rejected(&s, with_stranger, Code::PermissionDenied, "keyid").await;
    // Bad admission rule.
    let bad_k = crypto::seal(&charter(&[&a, &b], 3), &[&a.key, &b.key]);
    rejected(&s, bad_k, Code::InvalidArgument, "charter.admission.k").await;
    // Founders sign separately; the combined envelope is accepted.
    let sig_b = crypto::seal(&charter(&[&a, &b], 2), &[&b.key]);
    let combined = crypto::combine(&[only_a, sig_b]).unwrap();
    let r = s.client().await.submit(combined).await.unwrap();
    assert_eq!(r.receipt.index, 0);
}

#[tokio::test]
async fn admission_rotation_and_revocation() {
    let s = TestServer::start().await;
    let a = Founder::new("A", &["secretariat"]);
    let b = Founder::new("B", &["funder"]);
    let mut c = s.client().await;
    c.submit(charter_envelope(&[&a, &b], 2)).await.unwrap();

    // Admission needs the new party and k = 2 members.
    let n = Founder::new("N", &["implementer"]);
    let adm = statement("adm-n", Body::PartyAdmitted(pb::PartyAdmitted { party: Some(n.party()) }));
    rejected(&s, crypto::seal(&adm, &[&n.key, &a.key]), Code::PermissionDenied, "admission needs 2").await;
    rejected(&s, crypto::seal(&adm, &[&a.key, &b.key]), Code::PermissionDenied, "must sign its admission").await;
    c.submit(crypto::seal(&adm, &[&n.key, &a.key, &b.key])).await.unwrap();
    // Re-admitting is refused.
    let adm2 = statement("adm-n2", Body::PartyAdmitted(pb::PartyAdmitted { party: Some(n.party()) }));
    rejected(&s, crypto::seal(&adm2, &[&n.key, &a.key, &b.key]), Code::FailedPrecondition, "already a member").await;

    // N may now sign (as a member, k=2 not reached alone for a plan: secretariat or 2 members).
    rejected(&s, crypto::seal(&plan("pn"), &[&n.key]), Code::PermissionDenied, "secretariat").await;
    c.submit(crypto::seal(&plan("pn"), &[&n.key, &b.key])).await.unwrap();

    // Key rotation: signed by the old and the new key.
    let new_key = crypto::generate_key();
    let rot = statement(
        "rot-n",
        Body::KeyRotated(pb::KeyRotated {
            party_id: "N".into(),
            old_keyid: n.keyid(),
            new_public_key: new_key.verifying_key().as_bytes().to_vec(),
        }),
    );
    rejected(&s, crypto::seal(&rot, &[&n.key]), Code::PermissionDenied, "old and the new key").await;
    c.submit(crypto::seal(&rot, &[&n.key, &new_key])).await.unwrap();
    // The old key no longer counts.
    let msg = rejected(&s, crypto::seal(&plan("pn2"), &[&n.key, &b.key]), Code::PermissionDenied, "revoked").await;
    assert!(msg.contains("revoked at entry"), "{msg}");
    c.submit(crypto::seal(&plan("pn2"), &[&new_key, &b.key])).await.unwrap();

    // Revocation by k = 2 other members (lost key).
    let rev = statement(
        "rev-n",
        Body::KeyRevoked(pb::KeyRevoked {
            party_id: "N".into(),
            keyid: crypto::keyid(&new_key.verifying_key()),
            reason: "lost".into(),
        }),
    );
    rejected(&s, crypto::seal(&rev, &[&a.key]), Code::PermissionDenied, "other member").await;
    c.submit(crypto::seal(&rev, &[&a.key, &b.key])).await.unwrap();
    rejected(&s, crypto::seal(&plan("pn3"), &[&new_key, &b.key]), Code::PermissionDenied, "revoked").await;
    // Revoking it again: not active.
    let rev2 = statement(
        "rev-n2",
        Body::KeyRevoked(pb::KeyRevoked {
            party_id: "N".into(),
            keyid: crypto::keyid(&new_key.verifying_key()),
            reason: "again".into(),
        }),
    );
    rejected(&s, crypto::seal(&rev2, &[&a.key, &b.key]), Code::FailedPrecondition, "not an active key").await;
}

#[tokio::test]
async fn batch_is_atomic() {
    let (s, sec, _) = chartered().await;
    let stranger = crypto::generate_key();
    let good1 = crypto::seal(&plan("b1"), &[&sec.key]);
    let good2 = crypto::seal(&plan("b2"), &[&sec.key]);
    let bad = crypto::seal(&plan("b3"), &[&stranger]);
    let err = s
        .raw()
        .await
        .submit_batch(pb::SubmitBatchRequest { envelopes: vec![good1.clone(), bad, good2.clone()] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("envelopes[1]"), "{}", err.message());
    assert_eq!(size(&s).await, 1);
    // A state rule failing mid-batch (second use of a plan id) also writes nothing.
    let mut dup_plan = plan("b4");
    if let Some(Body::PlanCreated(p)) = &mut dup_plan.body {
        p.plan_id = "plan-b1".into();
    }
    let err = s
        .raw()
        .await
        .submit_batch(pb::SubmitBatchRequest {
            envelopes: vec![good1.clone(), good2.clone(), crypto::seal(&dup_plan, &[&sec.key])],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("envelopes[2]"), "{}", err.message());
    assert_eq!(size(&s).await, 1);
    // And the good ones then go in together.
    let rs = s.client().await.submit_batch(vec![good1, good2]).await.unwrap();
    assert_eq!(rs.iter().map(|r| r.receipt.index).collect::<Vec<_>>(), vec![1, 2]);
    // Empty and oversized batches.
    let err = s.raw().await.submit_batch(pb::SubmitBatchRequest { envelopes: vec![] }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let many = vec![crypto::seal(&plan("x"), &[&sec.key]); 1025];
    let err = s.raw().await.submit_batch(pb::SubmitBatchRequest { envelopes: many }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("envelopes"));
}

#[tokio::test]
async fn reads_proofs_and_their_errors() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    let mut sizes = vec![1u64];
    for i in 0..20 {
        let envs: Vec<_> = (0..(i % 3 + 1)).map(|j| crypto::seal(&plan(&format!("r{i}-{j}")), &[&sec.key])).collect();
        let rs = c.submit_batch(envs).await.unwrap();
        sizes.push(rs.last().unwrap().receipt.tree_size);
    }
    let mut raw = s.raw().await;
    let latest = c.checkpoint(None).await.unwrap();
    assert_eq!(latest.size, *sizes.last().unwrap());

    // Every stored checkpoint is consistent with every later one.
    let mut cps = Vec::new();
    for &n in &sizes {
        cps.push(c.checkpoint(Some(n)).await.unwrap());
    }
    for i in 0..cps.len() {
        for j in i..cps.len() {
            c.check_consistency(&cps[i], &cps[j]).await.unwrap();
        }
    }
    // The size-0 checkpoint stays retrievable once the log has grown.
    let cp0 = c.checkpoint(Some(0)).await.unwrap();
    assert_eq!((cp0.size, cp0.root), (0, merkle::empty_root()));
    // A checkpoint of a size that was never published is NOT_FOUND.
    let missing = (1..latest.size).find(|n| !sizes.contains(n)).unwrap();
    let err = raw.get_checkpoint(pb::GetCheckpointRequest { tree_size: Some(missing) }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("treeSize"), "the field as the JSON mapping names it");

    // Entries by index, identity, statement_id, with inclusion checked by the client.
    use pb::get_entry_request::Key;
    let (e, _) = c.entry(Key::Index(3)).await.unwrap();
    let (e2, _) = c.entry(Key::Identity(e.identity.clone())).await.unwrap();
    let (e3, _) = c.entry(Key::StatementId(e.statement_id.clone())).await.unwrap();
    assert_eq!(e, e2);
    assert_eq!(e, e3);
    for key in [Key::Index(10_000), Key::Identity(vec![0; 32]), Key::StatementId("nope".into())] {
        let err = raw.get_entry(pb::GetEntryRequest { key: Some(key) }).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    }

    // Inclusion proofs by leaf hash at an older size.
    let p = raw
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            leaf: Some(pb::get_inclusion_proof_request::Leaf::LeafHash(e.leaf_hash.clone())),
            tree_size: sizes[5],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.index, 3);
    merkle::verify_inclusion(3, sizes[5], &e.leaf_hash, &p.proof, &cps[5].root).unwrap();
    assert_eq!(p.checkpoint, cps[5].note);

    // Proof requests for sizes or indexes that don't exist.
    let err = raw
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(0)),
            tree_size: latest.size + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("treeSize"), "the field as the JSON mapping names it");
    let err = raw
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(5)),
            tree_size: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = raw.get_inclusion_proof(pb::GetInclusionProofRequest { leaf: None, tree_size: 0 }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = raw
        .get_consistency_proof(pb::GetConsistencyProofRequest { from_size: 3, to_size: Some(latest.size + 5) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err =
        raw.get_consistency_proof(pb::GetConsistencyProofRequest { from_size: 9, to_size: Some(4) }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn stream_entries_follows_the_log() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    for i in 0..5 {
        c.submit(crypto::seal(&plan(&format!("s{i}")), &[&sec.key])).await.unwrap();
    }
    let mut raw = s.raw().await;
    let all: Vec<pb::Entry> = {
        let mut st = raw
            .stream_entries(pb::StreamEntriesRequest { start_index: 0, end_index: 0, follow: false })
            .await
            .unwrap()
            .into_inner();
        let mut v = Vec::new();
        while let Some(e) = st.message().await.unwrap() {
            v.push(e);
        }
        v
    };
    assert_eq!(all.iter().map(|e| e.index).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
    // The leaves hash to the tree the checkpoint signs.
    let mut t = merkle::MemoryHashes::default();
    for e in &all {
        assert_eq!(merkle::leaf_hash(&e.leaf).to_vec(), e.leaf_hash);
        t.append(&e.leaf);
    }
    assert_eq!(t.root(), c.checkpoint(None).await.unwrap().root);

    // follow = true delivers entries committed after the call.
    let mut st = raw
        .stream_entries(pb::StreamEntriesRequest { start_index: 4, end_index: 0, follow: true })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.message().await.unwrap().unwrap().index, 4);
    assert_eq!(st.message().await.unwrap().unwrap().index, 5);
    // Entries 4 and 5 were read and sent before this submission is made, so entry 6 is committed after
    // the stream reached the end of the log; a stream that did not follow would end here instead.
    c.submit(crypto::seal(&plan("late"), &[&sec.key])).await.unwrap();
    let e = tokio::time::timeout(std::time::Duration::from_secs(10), st.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(e.index, 6);
    assert_eq!(e.statement_id, "late");
}

#[tokio::test]
async fn restart_keeps_size_root_checkpoints_and_keys() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    for i in 0..10 {
        c.submit(crypto::seal(&plan(&format!("k{i}")), &[&sec.key])).await.unwrap();
    }
    let before = c.checkpoint(None).await.unwrap();
    let vk = s.verifier_key.clone();
    let cp5 = c.checkpoint(Some(5)).await.unwrap();
    drop(c);
    let (dir, tmp) = s.stop().await;
    let s2 = TestServer::start_in(dir).await;
    assert_eq!(s2.verifier_key, vk, "the log key must survive a restart");
    let mut c2 = s2.client().await;
    let after = c2.checkpoint(None).await.unwrap();
    assert_eq!(after.size, before.size);
    assert_eq!(after.root, before.root);
    assert_eq!(after.note, before.note);
    assert_eq!(c2.checkpoint(Some(5)).await.unwrap().note, cp5.note);
    // Governance state survives too: the secretariat's key still counts, a reused id still clashes.
    let r = c2.submit(crypto::seal(&plan("k10"), &[&sec.key])).await.unwrap();
    assert_eq!(r.receipt.index, before.size);
    c2.check_consistency(&before, &r.checkpoint).await.unwrap();
    let err = submit_raw(&s2, crypto::seal(&plan("k11"), &[&crypto::generate_key()])).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    drop(tmp);
}

#[tokio::test]
async fn log_tables_refuse_update_and_delete() {
    let (s, sec, _) = chartered().await;
    s.client().await.submit(crypto::seal(&plan("t1"), &[&sec.key])).await.unwrap();
    let db = s.dir.join(accord::ledger::DB_FILE);
    for sql in [
        "UPDATE entries SET kind = 'x' WHERE idx = 1",
        "DELETE FROM entries WHERE idx = 1",
        "UPDATE tree_hashes SET hash = x'00' WHERE id = 0",
        "DELETE FROM tree_hashes",
        "UPDATE checkpoints SET note = '' WHERE size = 1",
        "DELETE FROM checkpoints WHERE size = 0",
        "UPDATE meta SET value = 'x' WHERE key = 'origin'",
        "DELETE FROM meta",
    ] {
        let err = accord::store::raw_execute(&db, sql).expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(size(&s).await, 2);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let s = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(s.url.clone()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let resp = health
        .check(tonic_health::pb::HealthCheckRequest { service: "accord.v1.LedgerService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse, ServerReflectionRequest,
    };
    let mut refl = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let msg = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else { panic!("no service list") };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"accord.v1.LedgerService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

/// Stock Python `grpcio-reflection`, older grpcurl and Evans speak only the v1alpha reflection protocol:
/// it must list the same services as v1 (it answered UNIMPLEMENTED when only v1 was served).
#[tokio::test]
async fn reflection_v1alpha_lists_the_services() {
    let s = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(s.url.clone()).unwrap().connect().await.unwrap();
    use tonic_reflection::pb::v1alpha::{
        server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse, ServerReflectionRequest,
    };
    let mut refl = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap_or_else(|e| panic!("v1alpha reflection refused: {e}"))
        .into_inner();
    let msg = stream.message().await.unwrap_or_else(|e| panic!("v1alpha reflection refused: {e}")).unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else { panic!("no service list") };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for svc in
        ["accord.v1.LedgerService", "accord.v1.CoalitionService", "accord.v1.ReportService", "grpc.health.v1.Health"]
    {
        assert!(names.contains(&svc), "{svc} missing from {names:?}");
    }
}

#[tokio::test]
async fn schema_mismatch_refuses_to_start_with_a_clear_message() {
    let s = TestServer::start().await;
    let (dir, tmp) = s.stop().await;
    let db = dir.join(accord::ledger::DB_FILE);
    // Simulate a database written by another version (the triggers must be dropped first: meta is append-only).
    accord::store::raw_execute(&db, "DROP TRIGGER meta_no_update").unwrap();
    accord::store::raw_execute(&db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'").unwrap();
    let err = accord::ledger::Ledger::open(accord::ledger::Options::new(&dir)).unwrap_err();
    assert_eq!(err.kind, accord::error::Kind::FailedPrecondition);
    assert!(err.message.contains("schema version 99"), "{err}");
    drop(tmp);
}

#[tokio::test]
async fn a_data_directory_keeps_its_origin() {
    let s = TestServer::start().await;
    let (dir, tmp) = s.stop().await;
    let mut opts = accord::ledger::Options::new(&dir);
    opts.origin = Some("another.example/ledger".into());
    let err = accord::ledger::Ledger::open(opts).unwrap_err();
    assert_eq!(err.kind, accord::error::Kind::FailedPrecondition);
    assert!(err.message.contains(ORIGIN), "{err}");
    drop(tmp);
}

/// The sequencer integrates concurrent requests in one transaction without savepoints; when one of them
/// breaks a rule, the group is redone one savepoint per request. Every good request must then still be
/// in, every bad one out, each with its own answer.
#[tokio::test]
async fn one_bad_request_in_a_group_leaves_the_others_in() {
    let (s, sec, _) = chartered().await;
    s.client().await.submit(crypto::seal(&plan("taken"), &[&sec.key])).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..120 {
        let bad = i % 4 == 3;
        let first = crypto::seal(&plan(&format!("g{i}a")), &[&sec.key]);
        let mut second = plan(&format!("g{i}b"));
        if bad {
            if let Some(Body::PlanCreated(p)) = &mut second.body {
                p.plan_id = "plan-taken".into();
            }
        }
        let second = crypto::seal(&second, &[&sec.key]);
        let mut raw = s.raw().await;
        tasks.push(tokio::spawn(async move {
            (bad, raw.submit_batch(pb::SubmitBatchRequest { envelopes: vec![first, second] }).await)
        }));
    }
    let mut good = 0u64;
    for t in tasks {
        let (bad, res) = t.await.unwrap();
        match res {
            Ok(r) => {
                assert!(!bad, "a batch reusing plan-taken was accepted");
                assert_eq!(r.into_inner().receipts.len(), 2);
                good += 1;
            }
            Err(e) => {
                assert!(bad, "a good batch was refused: {}", e.message());
                assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
                assert!(e.message().contains("envelopes[1]"), "{}", e.message());
            }
        }
    }
    assert_eq!(good, 90);
    assert_eq!(size(&s).await, 2 + 2 * good);
    // The projection agrees: every good plan is there, no first half of a bad batch is.
    let mut c = s.client().await;
    for i in 0..120 {
        let found = c.subject("plan", &format!("plan-g{i}a"), false).await.is_ok();
        assert_eq!(found, i % 4 != 3, "plan-g{i}a");
    }
}

/// A subject whose body is its statement's own body is stored without a second copy (a one-byte marker)
/// and read back whole, before and after an amendment.
#[tokio::test]
async fn subjects_do_not_store_a_second_copy_of_their_statement() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    c.submit(crypto::seal(&plan("d1"), &[&sec.key])).await.unwrap();
    let db = s.dir.join(accord::ledger::PROJECTIONS_FILE);
    let body = |db: &std::path::Path| -> Vec<u8> {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.query_row("SELECT body FROM subjects WHERE kind = 'plan' AND id = 'plan-d1'", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(body(&db), accord::store::DERIVED_BODY);
    let item = c.subject("plan", "plan-d1", true).await.unwrap().item.unwrap();
    let Some(Body::PlanCreated(p)) = item.compiled.unwrap().body else { panic!("not a plan") };
    assert_eq!(p.title, "Regional plan");
    // Amend it: the stored marker now stands for the amendment's new version.
    let mut amended = p.clone();
    amended.title = "Regional plan, amended".into();
    let st = statement(
        "d1-amend",
        Body::Amended(pb::Amended {
            subject_id: "plan-d1".into(),
            rationale: "retitled".into(),
            version: Some(pb::amended::Version::Plan(amended)),
        }),
    );
    c.submit(crypto::seal(&st, &[&sec.key])).await.unwrap();
    assert_eq!(body(&db), accord::store::DERIVED_BODY);
    let subject = s.ledger.read(|v| v.subject(accord::domain::book::PLAN, "plan-d1")).unwrap().unwrap();
    assert_eq!((subject.version, subject.version_at), (2, 2));
    let p: accord_domain::statement::PlanCreated = subject.parsed().unwrap();
    assert_eq!(p.title, "Regional plan, amended");
}

/// Issue 14: identities, leaf hashes and tree hashes are served from memory, loaded at open. After a
/// restart every lookup still finds what was logged before it: a resubmitted envelope is a duplicate at
/// its old index (also inside a batch that appends), an entry is found by identity and by leaf hash, and
/// proofs verify at old and new sizes. A database with the indexes of before issue 14 is migrated on open.
#[tokio::test]
async fn lookups_and_proofs_survive_a_restart_from_memory() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    let envs: Vec<_> = (0..40).map(|i| crypto::seal(&plan(&format!("m{i}")), &[&sec.key])).collect();
    let first = c.submit_batch(envs.clone()).await.unwrap();
    let old = c.checkpoint(None).await.unwrap();
    drop(c);
    let (dir, tmp) = s.stop().await;
    let wal_after_first_stop =
        std::fs::metadata(dir.join(format!("{}-wal", accord::ledger::DB_FILE))).map_or(0, |m| m.len());
    // The indexes a database had before issue 14: two random-key indexes, no log-order identity index.
    let db = dir.join(accord::ledger::DB_FILE);
    for sql in [
        "CREATE INDEX entries_identity_key ON entries (identity_key)",
        "CREATE INDEX entries_leaf_key ON entries (leaf_key)",
        "DROP INDEX entries_idx_identity",
    ] {
        accord::store::raw_execute(&db, sql).expect(sql);
    }
    let s2 = TestServer::start_in(dir).await;
    let mut c2 = s2.client().await;
    let again = c2.submit_batch(vec![envs[7].clone(), crypto::seal(&plan("m-new"), &[&sec.key])]).await.unwrap();
    assert!(again[0].receipt.duplicate, "a logged envelope is found after a restart");
    assert_eq!(again[0].receipt.index, first[7].receipt.index);
    assert!(!again[1].receipt.duplicate);
    assert_eq!(again[1].receipt.index, old.size);
    let mut raw = s2.raw().await;
    for r in [&first[0].receipt, &first[39].receipt, &again[1].receipt] {
        let by_id = raw
            .get_entry(pb::GetEntryRequest { key: Some(pb::get_entry_request::Key::Identity(r.identity.clone())) })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(by_id.entry.unwrap().index, r.index);
        let p = raw
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf: Some(pb::get_inclusion_proof_request::Leaf::LeafHash(r.leaf_hash.clone())),
                tree_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.index, r.index);
        let cp = c2.checkpoint(Some(p.tree_size)).await.unwrap();
        merkle::verify_inclusion(p.index, p.tree_size, &r.leaf_hash, &p.proof, &cp.root).unwrap();
    }
    let new = c2.checkpoint(None).await.unwrap();
    c2.check_consistency(&old, &new).await.unwrap();
    // The first stop left no WAL behind: its final checkpoint copied everything into the database file.
    assert_eq!(wal_after_first_stop, 0, "a clean stop truncates the WAL");
    // An unknown leaf hash or identity is NOT_FOUND, not a wrong entry.
    let err = raw
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            leaf: Some(pb::get_inclusion_proof_request::Leaf::LeafHash(vec![9; 32])),
            tree_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    // The migration dropped the random-key indexes and made the log-order one.
    let names = |sql: &str| accord::store::raw_execute(&s2.dir.join(accord::ledger::DB_FILE), sql);
    assert!(names("DROP INDEX entries_identity_key").is_err(), "the old identity index is gone");
    assert!(names("DROP INDEX entries_leaf_key").is_err(), "the old leaf index is gone");
    drop(tmp);
}

/// Issue 14 (the projector): the subjects are written after the reply, off the sequencer's path, yet a
/// query sent after a reply sees what the reply acknowledged: reads wait for the projections to reach the
/// published checkpoint. Here the projector is held back (another connection holds the projections'
/// write lock): the Submit is still acknowledged, and the query waits until the projector has written the
/// plan, then answers at a checkpoint that covers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_after_a_reply_sees_what_it_acknowledged() {
    let (s, sec, _) = chartered().await;
    let mut c = s.client().await;
    let lock = rusqlite::Connection::open(s.dir.join(accord::ledger::PROJECTIONS_FILE)).expect("projections");
    lock.execute_batch("BEGIN IMMEDIATE").expect("hold the projector back");
    let receipt =
        tokio::time::timeout(std::time::Duration::from_secs(5), c.submit(crypto::seal(&plan("held"), &[&sec.key])))
            .await
            .expect("the reply does not wait for the projector")
            .expect("submit");
    let query = tokio::spawn(async move { c.subject("plan", "plan-held", false).await });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!query.is_finished(), "the query waits for the projector");
    lock.execute_batch("COMMIT").expect("let the projector go");
    let found = query.await.expect("query task").expect("the acknowledged plan is found");
    assert!(found.read_at.expect("read_at").tree_size > receipt.receipt.index);
}
