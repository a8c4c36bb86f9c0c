//! `accord monitor` as a long-running process against a real `accord serve` process: it verifies every new
//! checkpoint, downloads only the entries it has not checked yet (--replay), rides out the server being
//! down (reported as `unreachable`, never as an inconsistency) and carries on when it returns; with --once
//! an unreachable server is exit code 3.
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use accord::client::Client;
use accord::crypto;
use common::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

use common::ChildGuard as Proc;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `accord serve` on a fixed address (so it can come back on the same one); returns it with its log key.
fn serve(dir: &Path, addr: &str) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(["--json", "--log", "warn", "serve", "--listen", addr, "--origin", ORIGIN, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    (Proc(child), v["verifier_key"].as_str().unwrap().to_string())
}

/// The monitor's JSON lines, as they come.
fn lines(out: ChildStdout) -> Receiver<Value> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line that satisfies `want` (within 20 s), failing on any inconsistency report.
fn until(rx: &Receiver<Value>, want: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = rx.recv_timeout(Duration::from_secs(20)).expect("the monitor went quiet");
        assert_ne!(v["event"], "inconsistent", "{v}");
        if want(&v) {
            return v;
        }
    }
}

/// Connect to a server [`serve`] started: it returned after the server's `listening` line, printed once the
/// listener is bound, so one attempt suffices (the connection waits in the backlog until accepted).
async fn connect(url: &str, key: &str) -> Client {
    Client::connect(url, Some(key)).await.unwrap_or_else(|e| panic!("{url} announced itself but refuses: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_follows_rides_out_a_restart_and_downloads_only_new_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ledger");
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{addr}");
    let (server, key) = serve(&data, &addr);
    let mut c = connect(&url, &key).await;
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    for i in 0..4 {
        c.submit(crypto::seal(&plan(&format!("p{i}")), &[&sec.key])).await.unwrap();
    }

    let state = tmp.path().join("monitor.state");
    let mut mon = Command::new(BIN)
        .args([
            "--json",
            "--log",
            "error",
            "monitor",
            "--server",
            &url,
            "--log-key",
            &key,
            "--replay",
            "--interval",
            "1",
        ])
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(mon.stdout.take().unwrap());
    let mon = Proc(mon);
    let v = until(&rx, |v| v["event"] == "verified");
    assert_eq!((v["tree_size"].as_u64(), v["entries_downloaded"].as_u64()), (Some(5), Some(5)), "{v}");

    for i in 4..7 {
        c.submit(crypto::seal(&plan(&format!("p{i}")), &[&sec.key])).await.unwrap();
    }
    let v = until(&rx, |v| v["tree_size"] == 8);
    assert_eq!(
        (v["previous_size"].as_u64(), v["entries_downloaded"].as_u64()),
        (Some(5), Some(3)),
        "only the new entries: {v}"
    );

    // The server goes away: reported, not an inconsistency, and the monitor keeps running.
    drop(c);
    drop(server);
    let v = until(&rx, |v| v["event"] == "unreachable");
    assert_eq!(v["server"], url.as_str(), "{v}");
    assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
    let out = Command::new(BIN)
        .args(["--json", "--log", "error", "monitor", "--server", &url, "--log-key", &key, "--once"])
        .arg("--state")
        .arg(tmp.path().join("other.state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "--once: unreachable is exit 3: {}", String::from_utf8_lossy(&out.stdout));

    // It comes back on the same address with more entries: the monitor carries on from what it verified.
    let (_server, _) = serve(&data, &addr);
    let mut c = connect(&url, &key).await;
    c.submit(crypto::seal(&plan("after-restart"), &[&sec.key])).await.unwrap();
    let v = until(&rx, |v| v["tree_size"] == 9);
    assert_eq!((v["previous_size"].as_u64(), v["entries_downloaded"].as_u64()), (Some(8), Some(1)), "{v}");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.starts_with(&format!("{ORIGIN}\n9\n")), "{saved}");
    drop(mon);
}
