//! Tamper detection: the whole-ledger audit passes on an honest ledger (from the database file and through
//! a server) and catches each kind of tampering — one byte of one leaf, a deleted row, swapped rows, a
//! checkpoint re-signed over another root, and two checkpoints of the same size — pointing at the right
//! entry or checkpoint, with the evidence written to a file.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use accord::crypto::{self, LogSigner};
use accord::store::raw_execute;
use common::scenario::{self, Coalition};

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn audit(args: &[&str], dir: &Path) -> (i32, serde_json::Value) {
    let out = Command::new(BIN).current_dir(dir).args(["--json", "audit"]).args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap(), v)
}

fn findings(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["findings"].as_array().cloned().unwrap_or_default()
}

fn tampered(base: &Path, name: &str, sql: &[&str]) -> PathBuf {
    let d = base.parent().unwrap().join(name);
    copy_dir(base, &d);
    let db = d.join(accord::ledger::DB_FILE);
    for t in ["entries_no_update", "entries_no_delete", "checkpoints_no_update"] {
        raw_execute(&db, &format!("DROP TRIGGER {t}")).unwrap();
    }
    for s in sql {
        assert_eq!(raw_execute(&db, s).unwrap(), if s.contains("WHERE idx IN") { 2 } else { 1 }, "{s}");
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_passes_honest_and_catches_tampering() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    // Through a live server, trusting only the log key.
    let work = tempfile::tempdir().unwrap();
    let (code, v) = audit(&["--server", &c.server.url, "--log-key", &c.server.verifier_key], work.path());
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    let size = v["entries"].as_u64().unwrap();
    let key_text = std::fs::read_to_string(c.server.dir.join(accord::ledger::KEY_FILE)).unwrap();
    let (dir, _tmp) = c.server.stop().await;
    let base = work.path().join("honest");
    copy_dir(&dir, &base);
    let (code, v) = audit(&["--data-dir", base.to_str().unwrap()], work.path());
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["entries"].as_u64().unwrap(), size);
    assert!(v["checkpoints_checked"].as_u64().unwrap() >= size, "a checkpoint per commit: {v}");
    assert!(v["stored_hashes_checked"].as_u64().unwrap() > size);

    // One byte of one leaf (inside the signed payload): entry 20's signature no longer verifies.
    let d = tampered(
        &base,
        "byte",
        &["UPDATE entries SET leaf = unhex(substr(hex(leaf), 1, 100) || 'FF' || substr(hex(leaf), 103)) WHERE idx = 20"],
    );
    let (code, v) = audit(&["--data-dir", d.to_str().unwrap(), "--evidence", "byte.json"], work.path());
    assert_eq!(code, 1, "{v}");
    let f = findings(&v);
    assert!(f.iter().any(|f| f["check"] == "replay" && f["index"] == 20), "{f:?}");
    assert!(f.iter().any(|f| f["check"] == "checkpoint_root" && f["checkpoint_size"] == 21), "{f:?}");
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("byte.json")).unwrap()).unwrap();
    assert_eq!(evidence["findings"], v["findings"]);

    // A deleted row.
    let d = tampered(&base, "deleted", &["DELETE FROM entries WHERE idx = 30"]);
    let (code, v) = audit(&["--data-dir", d.to_str().unwrap()], work.path());
    assert_eq!(code, 1);
    assert!(findings(&v).iter().any(|f| f["check"] == "entries" && f["index"] == 30), "{v}");

    // Two rows swapped: the first checkpoint that covers one but not the other names the spot.
    let d = tampered(
        &base,
        "swapped",
        &["UPDATE entries SET leaf = CASE idx WHEN 40 THEN (SELECT leaf FROM entries WHERE idx = 41) ELSE (SELECT leaf FROM entries WHERE idx = 40) END WHERE idx IN (40, 41)"],
    );
    let (code, v) = audit(&["--data-dir", d.to_str().unwrap()], work.path());
    assert_eq!(code, 1);
    let f = findings(&v);
    assert!(f.iter().any(|f| f["checkpoint_size"] == 41 && f["check"] == "checkpoint_root"), "{f:?}");

    // A checkpoint re-signed with the real log key over another root.
    let (name, key) = crypto::parse_private_key(&key_text).unwrap();
    let signer = LogSigner::new(&name, key).unwrap();
    let forged = signer.sign_checkpoint(25, &[9u8; 32]);
    let d = tampered(
        &base,
        "resigned",
        &[&format!(
            "UPDATE checkpoints SET note = '{}', root = x'{}' WHERE size = 25",
            forged.replace('\'', "''"),
            hex::encode([9u8; 32])
        )],
    );
    let (code, v) = audit(&["--data-dir", d.to_str().unwrap()], work.path());
    assert_eq!(code, 1);
    let f = findings(&v);
    assert!(f.iter().any(|f| f["check"] == "checkpoint_root" && f["checkpoint_size"] == 25), "{f:?}");

    // A split view: someone was shown another checkpoint of size 25, validly signed.
    std::fs::write(work.path().join("seen.checkpoint"), &forged).unwrap();
    let (code, v) = audit(&["--data-dir", base.to_str().unwrap(), "--checkpoint", "seen.checkpoint"], work.path());
    assert_eq!(code, 1);
    let split: Vec<_> = findings(&v).into_iter().filter(|f| f["check"] == "split_view").collect();
    assert_eq!(split.len(), 1, "{v}");
    assert_eq!(split[0]["checkpoint_size"], 25);
    assert_eq!(split[0]["checkpoints"].as_array().unwrap().len(), 2, "both checkpoints are the evidence");
}

/// The monitor: verifies that each new checkpoint extends the one it saved, and reports a fork with both
/// checkpoints as evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_follows_and_reports_a_fork() {
    let mut c = Coalition::start().await;
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("monitor.state");
    let (url, vkey) = (c.server.url.clone(), c.server.verifier_key.clone());
    let monitor = |state: &Path| {
        let out = Command::new(BIN)
            .args(["monitor", "--once", "--replay", "--server", &url, "--log-key", &vkey])
            .arg("--state")
            .arg(state)
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
        (out.status.code().unwrap(), serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default())
    };
    let (code, v) = monitor(&state);
    assert_eq!(code, 0, "{v}");
    let first = v["tree_size"].as_u64().unwrap();
    scenario::plan_and_goals(&mut c).await;
    let (code, v) = monitor(&state);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["previous_size"].as_u64().unwrap(), first);
    assert!(v["tree_size"].as_u64().unwrap() > first);
    // The monitor had been shown a different history of the same size (signed with the log key).
    let key_text = std::fs::read_to_string(c.server.dir.join(accord::ledger::KEY_FILE)).unwrap();
    let (name, key) = crypto::parse_private_key(&key_text).unwrap();
    let forged = LogSigner::new(&name, key).unwrap().sign_checkpoint(first, &[3u8; 32]);
    let forked = work.path().join("forked.state");
    std::fs::write(&forked, &forged).unwrap();
    let (code, v) = monitor(&forked);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(v["verified_checkpoint"], forged.as_str());
    assert!(v["served_checkpoint"].as_str().unwrap().contains(&name));
}

/// The auditor's workflow through the binary: select a subject's entries, list them, sign the attestation;
/// anyone can then resolve what it covers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attest_selected_entries() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let work = tempfile::tempdir().unwrap();
    let y = &c.parties["Y"];
    std::fs::write(work.path().join("y.key"), crypto::private_key_string("Y", &y.key)).unwrap();
    let out = Command::new(BIN)
        .current_dir(work.path())
        .args(["--json", "attest", "--server", &c.server.url, "--log-key", &c.server.verifier_key])
        .args(["--key", "y.key", "--auditor", "Y", "--subject", "report:R-SV-2026", "--opinion", "not_verified"])
        .args(["--attestation-id", "A-SV"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let covered = v["covers"].as_array().unwrap();
    assert_eq!(covered.len(), 1);
    assert_eq!(covered[0]["kind"], "progress.reported");
    // Anyone: the attestation is in the log, signed by Y, and covers exactly that entry.
    let att = c.client.subject("attestation", "A-SV", true).await.unwrap().item.unwrap();
    assert_eq!(att.status, "not_verified");
    assert_eq!(att.figures.unwrap().covered_indexes, [covered[0]["index"].as_u64().unwrap()]);
    // A non-auditor cannot attest.
    let x = &c.parties["X"];
    std::fs::write(work.path().join("x.key"), crypto::private_key_string("X", &x.key)).unwrap();
    let out = Command::new(BIN)
        .current_dir(work.path())
        .args(["attest", "--server", &c.server.url, "--log-key", &c.server.verifier_key])
        .args(["--key", "x.key", "--auditor", "X", "--party", "GT"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("auditor role"));
}
