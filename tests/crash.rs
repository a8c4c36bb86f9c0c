//! Crash safety: a server child process is killed with SIGKILL in the middle of a load. After restart every
//! acknowledged entry is present at the index its receipt gave and verifiable, the tree and checkpoints
//! are consistent, and no checkpoint went backwards or forked.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord::client::{Client, VerifiedReceipt};
use accord::crypto;
use accord::merkle;
use accord::pb;
use common::*;

fn spawn_server(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["--json", "--log", "warn", "serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn accord serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (child, format!("http://{}", v["listening"].as_str().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_nothing_acknowledged() {
    stop_mid_load(false).await;
}

/// Graceful shutdown: SIGTERM under load stops accepting, finishes what is in flight, closes the ledger and
/// exits 0; every acknowledged entry is there, the last checkpoint covers exactly the stored entries, and
/// the projections rebuild identically (nothing half-written).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_mid_load_is_graceful() {
    stop_mid_load(true).await;
}

async fn stop_mid_load(graceful: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_server(tmp.path());
    let mut c = connect_when_up(&url).await;
    let log_key = c.log_key().verifier_key();
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();

    let acked: Arc<Mutex<Vec<VerifiedReceipt>>> = Arc::default();
    // How many receipts the writers hold, announced after each one (the kill waits on it, not on a timer).
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let count_tx = Arc::new(count_tx);
    let mut tasks = Vec::new();
    for w in 0..12 {
        let (url, key, acked, count_tx) = (url.clone(), sec.key.clone(), acked.clone(), count_tx.clone());
        let push = move |rs: Vec<VerifiedReceipt>| {
            let mut a = acked.lock().unwrap();
            a.extend(rs);
            count_tx.send_replace(a.len());
        };
        let log_key = log_key.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = Client::connect(&url, Some(&log_key)).await else { return };
            for i in 0.. {
                let env = if w % 4 == 0 {
                    // Some writers use SubmitBatch so group commits mix both paths.
                    let envs: Vec<_> = (0..8).map(|j| crypto::seal(&plan(&format!("w{w}-{i}-{j}")), &[&key])).collect();
                    match c.submit_batch(envs).await {
                        Ok(rs) => {
                            push(rs);
                            continue;
                        }
                        Err(_) => return,
                    }
                } else {
                    crypto::seal(&plan(&format!("w{w}-{i}")), &[&key])
                };
                match c.submit(env).await {
                    Ok(r) => push(vec![r]),
                    Err(_) => return, // the server died
                }
            }
        }));
    }
    // Let the load run until a good number of entries were acknowledged (at most 6 s: a slow machine
    // pulls the plug with fewer, checked below), then pull the plug.
    let _ = tokio::time::timeout(Duration::from_secs(6), count_rx.wait_for(|n| *n >= 1500)).await;
    if graceful {
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        // Wait for the exit itself (the child's status), not poll for it.
        let exited = tokio::task::spawn_blocking(move || child.wait());
        let st = tokio::time::timeout(Duration::from_secs(10), exited)
            .await
            .expect("the server did not stop within 10 s of SIGTERM")
            .unwrap()
            .unwrap();
        assert!(st.success(), "graceful shutdown must exit 0, got {st:?}");
    } else {
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }
    for t in tasks {
        let _ = t.await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() >= 100, "too little load before the kill: {}", acked.len());

    if graceful {
        // Nothing half-written: the last stored checkpoint covers exactly the stored entries, and the
        // projections replay identically from the log.
        let r = accord::store::open_read_only(&tmp.path().join(accord::ledger::DB_FILE)).unwrap();
        let cp = r.latest_checkpoint().unwrap().unwrap();
        assert!(r.entry_by_index(cp.size - 1).unwrap().is_some());
        assert!(r.entry_by_index(cp.size).unwrap().is_none(), "entries beyond the last checkpoint");
        drop(r);
        let rebuilt = accord::ledger::rebuild(tmp.path(), |_, _| {}).expect("projections rebuild from the log");
        assert_eq!(rebuilt.entries, cp.size);
    }
    // Restart on the same data directory.
    let (mut child2, url2) = spawn_server(tmp.path());
    let mut c2 = Client::connect(&url2, Some(&log_key)).await.unwrap();
    let latest = c2.checkpoint(None).await.unwrap();
    let max_acked = acked.iter().map(|r| r.receipt.tree_size).max().unwrap();
    assert!(latest.size >= max_acked, "checkpoint went backwards: {} < {max_acked}", latest.size);

    // Every acknowledged entry is there, at its index, with the same leaf, provably in the new checkpoint.
    for r in &acked {
        let (e, cp) = c2.entry(pb::get_entry_request::Key::Index(r.receipt.index)).await.unwrap();
        assert_eq!(e.leaf, r.receipt.leaf, "entry {} changed", r.receipt.index);
        assert_eq!(cp.size, latest.size);
    }
    // Every checkpoint any client was given is consistent with the one after restart (no fork).
    let mut seen: Vec<_> = acked.iter().map(|r| r.checkpoint.clone()).collect();
    seen.sort_by_key(|c| c.size);
    seen.dedup_by_key(|c| c.size);
    for cp in &seen {
        c2.check_consistency(cp, &latest).await.unwrap_or_else(|e| panic!("checkpoint {} forked: {e}", cp.size));
    }
    // The whole tree recomputes from the leaves, and integration times never decrease.
    let mut raw = pb::ledger_service_client::LedgerServiceClient::connect(url2.clone()).await.unwrap();
    let mut stream = raw
        .stream_entries(pb::StreamEntriesRequest { start_index: 0, end_index: latest.size, follow: false })
        .await
        .unwrap()
        .into_inner();
    let mut t = merkle::MemoryHashes::default();
    let mut last_ms = 0;
    while let Some(e) = stream.message().await.unwrap() {
        assert_eq!(e.index, t.leaves());
        assert!(e.integrated_at_ms >= last_ms);
        last_ms = e.integrated_at_ms;
        t.append(&e.leaf);
    }
    assert_eq!(t.leaves(), latest.size);
    assert_eq!(t.root(), latest.root);
    // And the restarted ledger keeps accepting.
    let r = c2.submit(crypto::seal(&plan("after-restart"), &[&sec.key])).await.unwrap();
    assert_eq!(r.receipt.index, latest.size);
    child2.kill().unwrap();
    child2.wait().unwrap();
    eprintln!(
        "{} test: {} acknowledged before the signal, {} entries after restart",
        if graceful { "SIGTERM" } else { "SIGKILL" },
        acked.len(),
        latest.size
    );
}
