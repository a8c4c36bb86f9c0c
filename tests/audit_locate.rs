//! Tampering that breaks no signature and no domain rule — a stored leaf whose integration time was moved
//! (still in order) — changes only the tree. The audit must still point at the entry: from a database
//! file through the tree hashes stored at integration time, and over the network by bisecting with the
//! server's own consistency proofs against the signed root. And a network audit checks every checkpoint
//! the server stores, not only its latest.
mod common;

use std::path::{Path, PathBuf};

use accord::crypto;
use accord::pb;
use accord::store;
use common::*;
use prost::Message;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// A ledger: the charter, three single plans, a batch of five, two more singles (11 entries). Returns the
/// stopped ledger's directory and log key.
async fn ledger() -> (tempfile::TempDir, PathBuf, String) {
    // An integration clock that moves 1 ms at every reading: each commit has its own integration time
    // (the first test needs entry 9 integrated after entry 8) without letting wall time pass.
    // It starts 10 s behind the system clock, so a restart on the system clock never goes backwards.
    let start = accord::ledger::Clock::system().now() - 10_000;
    let t = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start));
    let clock = accord::ledger::Clock(std::sync::Arc::new(move || t.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
    let (s, sec, _fun) = charter_on(TestServer::start_with_clock(clock).await).await;
    let mut c = s.client().await;
    for i in 0..3 {
        c.submit(crypto::seal(&plan(&format!("single-{i}")), &[&sec.key])).await.unwrap();
    }
    let batch = (0..5).map(|i| crypto::seal(&plan(&format!("batch-{i}")), &[&sec.key])).collect();
    c.submit_batch(batch).await.unwrap();
    for i in 3..5 {
        c.submit(crypto::seal(&plan(&format!("single-{i}")), &[&sec.key])).await.unwrap();
    }
    let key = s.verifier_key.clone();
    let (dir, tmp) = s.stop().await;
    (tmp.expect("temp dir"), dir, key)
}

/// Run `accord --json audit ARGS…` without blocking the runtime an in-process server runs on.
async fn audit(args: &[&str]) -> (i32, Value) {
    let out = tokio::process::Command::new(BIN)
        .current_dir(std::env::temp_dir())
        .args(["--json", "--log", "warn", "audit"])
        .args(args)
        .output()
        .await
        .expect("run accord");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn entry(dir: &Path, index: u64) -> store::EntryRow {
    store::open_read_only(&dir.join(accord::ledger::DB_FILE)).unwrap().entry_by_index(index).unwrap().unwrap()
}

fn indexes(v: &Value) -> Vec<u64> {
    v["findings"].as_array().unwrap().iter().filter_map(|f| f["index"].as_u64()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_integration_time_is_found_at_its_entry_from_the_file_and_over_the_network() {
    let (_tmp, dir, key) = ledger().await;
    // Entry 8 (the last of the batch) takes entry 9's integration time: still in order, same envelope.
    let k = 8u64;
    let (row, next) = (entry(&dir, k), entry(&dir, k + 1));
    assert!(row.integrated_at_ms < next.integrated_at_ms, "entry 9 was integrated later");
    let mut le = pb::LogEntry::decode(row.leaf.as_slice()).unwrap();
    le.integrated_at_ms = next.integrated_at_ms;
    let db = dir.join(accord::ledger::DB_FILE);
    store::raw_execute(&db, "DROP TRIGGER entries_no_update").unwrap();
    let sql = format!(
        "UPDATE entries SET leaf = X'{}', integrated_at_ms = {} WHERE idx = {k}",
        hex::encode(le.encode_to_vec()),
        next.integrated_at_ms
    );
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);

    let (code, v) = audit(&["--data-dir", dir.to_str().unwrap(), "--log-key", &key]).await;
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(indexes(&v).into_iter().min(), Some(k), "the stored-hash finding names the entry: {v:#}");

    let s = TestServer::start_in(dir.clone()).await;
    let (code, v) = audit(&["--server", &s.url, "--log-key", &key]).await;
    assert_eq!(code, 1, "{v:#}");
    let located: Vec<&Value> = v["findings"].as_array().unwrap().iter().filter(|f| f["check"] == "leaf").collect();
    assert_eq!(located.len(), 1, "{v:#}");
    assert_eq!(located[0]["index"], k, "{v:#}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_resigned_over_another_root_is_not_blamed_on_an_entry() {
    let (_tmp, dir, key) = ledger().await;
    // The latest checkpoint, re-signed with the real log key over a root no leaves produce.
    let text = std::fs::read_to_string(dir.join(accord::ledger::KEY_FILE)).unwrap();
    let (name, sk) = crypto::parse_private_key(&text).unwrap();
    let note = crypto::LogSigner::new(&name, sk).unwrap().sign_checkpoint(11, &[9; 32]);
    let db = dir.join(accord::ledger::DB_FILE);
    store::raw_execute(&db, "DROP TRIGGER checkpoints_no_update").unwrap();
    let sql = format!("UPDATE checkpoints SET root = X'{}', note = '{note}' WHERE size = 11", hex::encode([9u8; 32]));
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);
    let s = TestServer::start_in(dir.clone()).await;
    let (code, v) = audit(&["--server", &s.url, "--log-key", &key]).await;
    assert_eq!(code, 1, "{v:#}");
    let f = v["findings"].as_array().unwrap();
    assert!(f.iter().any(|f| f["check"] == "checkpoint_root" && f["checkpoint_size"] == 11), "{v:#}");
    assert!(f.iter().all(|f| f["check"] != "leaf"), "no entry changed, the checkpoint did: {v:#}");
    s.stop().await;
}

/// Re-sign the stored checkpoint of `size` over `root` with the ledger's own key; returns the new note.
fn resign(dir: &Path, size: u64, root: [u8; 32]) -> String {
    let text = std::fs::read_to_string(dir.join(accord::ledger::KEY_FILE)).unwrap();
    let (name, sk) = crypto::parse_private_key(&text).unwrap();
    let note = crypto::LogSigner::new(&name, sk).unwrap().sign_checkpoint(size, &root);
    let db = dir.join(accord::ledger::DB_FILE);
    let _ = store::raw_execute(&db, "DROP TRIGGER checkpoints_no_update");
    let sql = format!("UPDATE checkpoints SET root = X'{}', note = '{note}' WHERE size = {size}", hex::encode(root));
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);
    note
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_audit_checks_every_stored_checkpoint_not_only_the_latest() {
    let (_tmp, dir, key) = ledger().await;
    // An old checkpoint (size 4), re-signed over a foreign root: the server would hand it to anyone asking
    // for size 4, while its latest checkpoint is genuine.
    let forged = resign(&dir, 4, [5; 32]);
    let s = TestServer::start_in(dir.clone()).await;
    let (code, v) = audit(&["--server", &s.url, "--log-key", &key]).await;
    assert_eq!(code, 1, "{v:#}");
    let f = v["findings"].as_array().unwrap();
    let bad: Vec<&Value> = f.iter().filter(|f| f["check"] == "checkpoint_root").collect();
    assert_eq!(bad.len(), 1, "{v:#}");
    assert_eq!(
        (bad[0]["checkpoint_size"].as_u64(), bad[0]["checkpoints"][0].as_str()),
        (Some(4), Some(forged.as_str()))
    );
    assert!(v["checkpoints_checked"].as_u64().unwrap() >= 8, "sizes 0, 1, 2, 3, 4, 9, 10, 11: {v:#}");
    s.stop().await;

    // The honest ledger passes, with every stored checkpoint checked.
    let (_tmp, dir, key) = ledger().await;
    let s = TestServer::start_in(dir.clone()).await;
    let (code, v) = audit(&["--server", &s.url, "--log-key", &key]).await;
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["checkpoints_checked"], 8, "{v:#}");
    s.stop().await;
}

/// A stored leaf that decodes but carries no envelope has no identity. The server must answer DATA_LOSS
/// naming the row, where it used to serve the entry with an empty identity; the file audit still reports
/// the entry as a finding (it reads rows as stored and judges each leaf itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_without_an_envelope_is_reported_as_corrupt_not_served_with_an_empty_identity() {
    let (_tmp, dir, key) = ledger().await;
    let k = 5u64;
    let le = pb::LogEntry { envelope: None, integrated_at_ms: entry(&dir, k).integrated_at_ms };
    let db = dir.join(accord::ledger::DB_FILE);
    store::raw_execute(&db, "DROP TRIGGER entries_no_update").unwrap();
    let sql = format!("UPDATE entries SET leaf = X'{}' WHERE idx = {k}", hex::encode(le.encode_to_vec()));
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);

    let e = accord::error::Error::from(store::open_read_only(&db).unwrap().entry_by_index(k).unwrap_err());
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains(&format!("entries row {k}")), "names the row: {e}");

    let (code, v) = audit(&["--data-dir", dir.to_str().unwrap(), "--log-key", &key]).await;
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(indexes(&v).into_iter().min(), Some(k), "{v:#}");

    let s = TestServer::start_in(dir.clone()).await;
    let mut raw = s.raw().await;
    let get = |i: u64| pb::GetEntryRequest { key: Some(pb::get_entry_request::Key::Index(i)) };
    let err = raw.get_entry(get(k)).await.expect_err("a corrupt row is not served");
    assert_eq!(err.code(), tonic::Code::DataLoss, "{err:?}");
    assert!(err.message().contains(&format!("entries row {k}")), "names the row: {err:?}");
    raw.get_entry(get(k - 1)).await.expect("the rows around it are still served");
    s.stop().await;
}

/// A stored public key or checkpoint root that is not 32 bytes is corruption: reading it (and so opening
/// the ledger) fails with DATA_LOSS naming the table and the row, instead of a key or root read as zeros
/// or an anonymous conversion error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_or_root_of_the_wrong_length_is_reported_with_its_table_and_row() {
    let (_tmp, dir, _key) = ledger().await;
    let db = dir.join(accord::ledger::DB_FILE);
    let keyid = store::open_read_only(&db).unwrap().governance().unwrap().keys.keys().next().unwrap().clone();
    let sql = format!("UPDATE party_keys SET public_key = X'0102' WHERE keyid = '{keyid}'");
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);
    let e = accord::error::Error::from(store::open_read_only(&db).unwrap().governance().unwrap_err());
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains(&format!("party_keys row {keyid}: public_key has 2 bytes")), "{e}");
    // 32 bytes that are not an Ed25519 point: the same, where the key was silently dropped at start.
    let not_a_point = (0u8..=255).map(|b| [b; 32]).find(|k| crypto::public_key_from_bytes(k).is_err()).unwrap();
    let sql = format!("UPDATE party_keys SET public_key = X'{}' WHERE keyid = '{keyid}'", hex::encode(not_a_point));
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);
    let e = accord::error::Error::from(store::open_read_only(&db).unwrap().governance().unwrap_err());
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains(&format!("party_keys row {keyid}: public_key: ")), "{e}");
    let mut opts = accord::ledger::Options::new(&dir);
    opts.origin = Some(ORIGIN.to_string());
    let Err(e) = accord::ledger::Ledger::open(opts) else { panic!("a ledger with a corrupt key row does not open") };
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains(&format!("party_keys row {keyid}")), "{e}");

    store::raw_execute(&db, "DROP TRIGGER checkpoints_no_update").unwrap();
    assert_eq!(store::raw_execute(&db, "UPDATE checkpoints SET root = X'00' WHERE size = 4").unwrap(), 1);
    let e = accord::error::Error::from(store::open_read_only(&db).unwrap().checkpoint(4).unwrap_err());
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains("checkpoints row 4: root has 1 bytes"), "{e}");
}

/// A subject whose stored tally is not JSON is corrupt: reading it is DATA_LOSS naming the subjects row
/// (it was an anonymous internal error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_tally_is_reported_with_its_row() {
    let (_tmp, dir, _key) = ledger().await;
    let db = dir.join(accord::ledger::DB_FILE);
    let sql = "UPDATE subjects SET tally = '{not json' WHERE kind = 'plan' AND id = 'plan-single-0'";
    assert_eq!(store::raw_execute(&db, sql).unwrap(), 1);
    let e = accord::error::Error::from(
        store::open_read_only(&db).unwrap().subject(accord::domain::book::PLAN, "plan-single-0").unwrap_err(),
    );
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains("subjects row plan plan-single-0: the tally does not parse"), "{e}");
}

/// A subject whose stored status is not one the rules write, or whose tally holds an outcome or a day that
/// is not one, is corrupt: reading it is DATA_LOSS naming the row and the values allowed (it was read as
/// any text and shown as it was).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_stored_status_or_outcome_is_reported_with_its_row() {
    let (_tmp, dir, _key) = ledger().await;
    let db = dir.join(accord::ledger::DB_FILE);
    let read = |id: &str| {
        accord::error::Error::from(
            store::open_read_only(&db).unwrap().subject(accord::domain::book::PLAN, id).unwrap_err(),
        )
    };
    let sql = "UPDATE subjects SET status = 'actve' WHERE kind = 'plan' AND id = 'plan-single-0'";
    assert_eq!(store::raw_execute(&db, sql).unwrap(), 1);
    let e = read("plan-single-0");
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains("subjects row plan plan-single-0: status \"actve\" is not one of active, "), "{e}");

    let tally = r#"{"outcomes":{"":{"outcome":"unmet","date":"2026-05-01","index":3}}}"#;
    let sql = format!("UPDATE subjects SET tally = '{tally}' WHERE kind = 'plan' AND id = 'plan-single-1'");
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);
    let e = read("plan-single-1");
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(
        e.to_string().contains(
            "subjects row plan plan-single-1: the tally does not parse: \"unmet\" is not one of met, not_met, "
        ),
        "{e}"
    );

    let tally = r#"{"milestones":{"M1":{"status":"met","date":"2026-13-01","index":3}}}"#;
    let sql = format!("UPDATE subjects SET tally = '{tally}' WHERE kind = 'plan' AND id = 'plan-single-2'");
    assert_eq!(store::raw_execute(&db, &sql).unwrap(), 1);
    let e = read("plan-single-2");
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains("the tally does not parse: \"2026-13-01\" is not a date"), "{e}");

    // A history action the rules never write is corruption too, named with its row.
    let sql = "UPDATE history SET action = 'creatd' WHERE kind = 'plan' AND id = 'plan-single-3'";
    assert_eq!(store::raw_execute(&db, sql).unwrap(), 1);
    let reader = store::open_read_only(&db).unwrap();
    let e = accord::error::Error::from(reader.history(accord::domain::book::PLAN, "plan-single-3").unwrap_err());
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(e.to_string().contains("history row plan plan-single-3 "), "{e}");
    assert!(e.to_string().contains("action \"creatd\" is not one of created, amended, "), "{e}");

    // So is a party role no statement can grant.
    let sql = "UPDATE parties SET roles = roles || ',banker' WHERE party_id = (SELECT MIN(party_id) FROM parties)";
    assert_eq!(store::raw_execute(&db, sql).unwrap(), 1);
    let e = accord::error::Error::from(reader.governance().unwrap_err());
    assert_eq!(e.kind, accord::error::Kind::DataLoss, "{e}");
    assert!(
        e.to_string().contains("parties row ") && e.to_string().contains("role \"banker\" is not one of funder, "),
        "{e}"
    );
}
