//! Witnesses with real processes on loopback: a ledger and three `accord witness serve` processes. With a
//! 2-of-3 policy, verification passes with one witness stopped and fails with two; a witness refuses a
//! checkpoint inconsistent with what it saw; a restarted witness keeps its state; Go's sumdb/note still
//! opens the cosigned checkpoint with the log key alone (tests/interop_go.rs checks the same note form); a
//! witness cosigns the index's map checkpoints, and a policy requires that on complete answers.
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use accord::client::Client;
use accord::crypto::cosign::{CosignatureVerifier, Policy};
use accord::crypto::{self, LogSigner};
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

use common::ChildGuard as Proc;

fn spawn(dir: &Path, args: &[&str]) -> (Proc, serde_json::Value) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(["--json", "--log", "warn"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Proc(child), serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
}

fn witness(dir: &Path, n: usize, log_key: &str, listen: &str) -> (Proc, serde_json::Value) {
    spawn(
        dir,
        &[
            "witness",
            "serve",
            "--listen",
            listen,
            "--key",
            &format!("w{n}.key"),
            "--state",
            &format!("w{n}.state"),
            "--log-key",
            log_key,
        ],
    )
}

/// `accord init` a ledger in `dir/ledger`; returns its verifier key.
fn init_ledger(dir: &Path) -> String {
    let init = Command::new(BIN)
        .current_dir(dir)
        .args(["--json", "init", "--data-dir", "ledger", "--origin", ORIGIN])
        .output()
        .unwrap();
    assert!(init.status.success());
    serde_json::from_slice::<serde_json::Value>(&init.stdout).unwrap()["verifier_key"].as_str().unwrap().to_string()
}

/// Witness `n`'s key pair, `dir/wN.key` and `dir/wN.pub`.
fn witness_key(dir: &Path, n: usize) {
    assert!(Command::new(BIN)
        .current_dir(dir)
        .args(["key", "generate", "--name", &format!("w{n}.example"), "--out", &format!("w{n}")])
        .status()
        .unwrap()
        .success());
}

/// POST a body to a witness; returns (status, body).
fn post(addr: &str, body: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            "--data-binary",
            "@-",
            "-w",
            "\n%{http_code}",
            &format!("http://{addr}/add-checkpoint"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .expect("curl is needed for this test (Debian package curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

/// The witnesses cosign in the background (the ledger's sender pushes each new checkpoint to them) and
/// announce nothing a test could await, so this retries with the bounded backoff of [`wait_until`].
async fn wait_for(mut f: impl AsyncFnMut() -> bool) {
    wait_until("witness condition", Duration::from_secs(10), async || f().await.then_some(())).await
}

/// Start the ledger in `d`, sending its checkpoints to the witnesses at `addrs` with keys `wkeys`.
fn serve_with_witnesses(d: &Path, addrs: &[String], wkeys: &[String]) -> (Proc, serde_json::Value) {
    let mut args =
        vec!["serve".to_string(), "--data-dir".into(), "ledger".into(), "--listen".into(), "127.0.0.1:0".into()];
    for (a, k) in addrs.iter().zip(wkeys) {
        args.push("--witness".into());
        args.push(format!("http://{a}={k}"));
    }
    spawn(d, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_of_witnesses() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let log_key = init_ledger(d);
    let mut ws = Vec::new();
    for n in 1..=3 {
        witness_key(d, n);
        ws.push(witness(d, n, &log_key, "127.0.0.1:0"));
    }
    let addr = |i: usize, ws: &Vec<(Proc, serde_json::Value)>| ws[i].1["listening"].as_str().unwrap().to_string();
    let wkeys: Vec<String> = ws.iter().map(|w| w.1["verifier_key"].as_str().unwrap().to_string()).collect();
    let addrs: Vec<String> = (0..ws.len()).map(|i| addr(i, &ws)).collect();
    let (_ledger, info) = serve_with_witnesses(d, &addrs, &wkeys);
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let policy_text = format!(
        "# two of three witnesses\nlog {log_key}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup two-of-three 2 A B C\nquorum two-of-three\n",
        wkeys[0], wkeys[1], wkeys[2]
    );
    std::fs::write(d.join("policy.txt"), &policy_text).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let mut c = Client::connect(&url, Some(&log_key)).await.unwrap();
    let checkpoint_cli = || {
        let out = Command::new(BIN)
            .current_dir(d)
            .args(["--json", "checkpoint", "--server", &url, "--policy", "policy.txt"])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };

    // All three up: the checkpoint gathers cosignatures and satisfies the policy.
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    wait_for(async || {
        let cp = c.checkpoint(None).await.unwrap();
        cp.size == 1 && policy.check(&cp.note).is_ok_and(|v| v.cosigned_by.len() == 3)
    })
    .await;
    let (code, out) = checkpoint_cli();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\"cosigned_by\":[\"A\",\"B\",\"C\"]"), "{out}");
    // Go's sumdb/note form: the cosigned checkpoint still opens with the log key alone.
    let cp = c.checkpoint(None).await.unwrap();
    assert_eq!(cp.note.matches("\n— ").count(), 4, "log signature plus three cosignatures: {}", cp.note);

    // One witness stopped: 2 of 3 still cosign the next checkpoint.
    drop(ws.pop());
    c.submit(crypto::seal(&plan("p1"), &[&sec.key])).await.unwrap();
    wait_for(async || {
        let cp = c.checkpoint(None).await.unwrap();
        cp.size == 2 && policy.check(&cp.note).is_ok()
    })
    .await;
    assert_eq!(checkpoint_cli().0, Some(0));

    // Two stopped: only A cosigns; the policy refuses the checkpoint.
    drop(ws.pop());
    c.submit(crypto::seal(&plan("p2"), &[&sec.key])).await.unwrap();
    let a_key = CosignatureVerifier::from_verifier_key(&wkeys[0]).unwrap();
    wait_for(async || {
        let cp = c.checkpoint(None).await.unwrap();
        cp.size == 3 && a_key.verify_note(&cp.note).is_some()
    })
    .await;
    let (code, out) = checkpoint_cli();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("quorum"), "{out}");

    // Witness A refuses a checkpoint inconsistent with what it saw (the real log key, another history).
    let key_text = std::fs::read_to_string(d.join("ledger").join(accord::ledger::KEY_FILE)).unwrap();
    let (name, key) = crypto::parse_private_key(&key_text).unwrap();
    let signer = LogSigner::new(&name, key).unwrap();
    let a_addr = addr(0, &ws);
    let forged = signer.sign_checkpoint(5, &[4u8; 32]);
    let (code, body) = post(&a_addr, &format!("old 3\n{}\n\n{forged}", base64_hash(&[1u8; 32])));
    assert_eq!(code, 422, "{body}");
    let same_size_other_root = signer.sign_checkpoint(3, &[5u8; 32]);
    let (code, body) = post(&a_addr, &format!("old 3\n\n{same_size_other_root}"));
    assert_eq!(code, 409, "{body}");
    let (code, body) = post(&a_addr, &format!("old 1\n\n{forged}"));
    assert_eq!((code, body.trim()), (409, "3"), "a stale old size gets the witness's size");
    let stranger = LogSigner::new(ORIGIN, crypto::generate_key()).unwrap().sign_checkpoint(4, &[6u8; 32]);
    assert_eq!(post(&a_addr, &format!("old 3\n\n{stranger}")).0, 403);

    // Restarted on the same state file, A still knows size 3.
    let (proc_a, _) = ws.pop().unwrap();
    drop(proc_a);
    let (_a2, info2) = witness(d, 1, &log_key, &a_addr);
    let (code, body) = post(info2["listening"].as_str().unwrap(), &format!("old 0\n\n{forged}"));
    assert_eq!((code, body.trim()), (409, "3"), "the state survived the restart");
}

fn base64_hash(h: &[u8; 32]) -> String {
    use base64::prelude::*;
    BASE64_STANDARD.encode(h)
}

/// A ledger whose database was rolled back and whose high-water record was lost too is still refused at
/// start: a configured witness that cosigned a larger tree of this log says so (issue 11, finding 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_saw_more_refuses_a_rolled_back_start() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let log_key = init_ledger(d);
    witness_key(d, 1);
    let (_w, winfo) = witness(d, 1, &log_key, "127.0.0.1:0");
    let wkey = winfo["verifier_key"].as_str().unwrap().to_string();
    let target = format!("http://{}={wkey}", winfo["listening"].as_str().unwrap());
    let serve_args = ["serve", "--data-dir", "ledger", "--listen", "127.0.0.1:0", "--witness", &target];
    let (ledger, info) = spawn(d, &serve_args);
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let mut c = Client::connect(&url, Some(&log_key)).await.unwrap();
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    assert!(Command::new(BIN)
        .current_dir(d)
        .args(["backup", "--data-dir", "ledger", "--out", "old"])
        .status()
        .unwrap()
        .success());
    for i in 0..3 {
        c.submit(crypto::seal(&plan(&format!("p{i}")), &[&sec.key])).await.unwrap();
    }
    let w = CosignatureVerifier::from_verifier_key(&wkey).unwrap();
    wait_for(async || {
        let cp = c.checkpoint(None).await.unwrap();
        cp.size == 4 && w.verify_note(&cp.note).is_some()
    })
    .await;
    drop(ledger);
    // The database rolled back to the backup, and the high-water record lost with it.
    for f in ["ledger.db", "ledger.db-wal", "ledger.db-shm", "high-water"] {
        let _ = std::fs::remove_file(d.join("ledger").join(f));
    }
    std::fs::copy(d.join("old").join("ledger.db"), d.join("ledger").join("ledger.db")).unwrap();
    let (_refused, v) = spawn(d, &serve_args);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["exit_code"], 5, "{v}");
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("has cosigned a tree of size 4") && err.contains("holds 1"), "{err}");
}

/// The ledger's witness sender stops when its token is cancelled, at once, even in the middle of a request
/// to a witness that accepted the connection and never answers, and it closes that connection. (Before, the
/// sender could only be dropped by a `select!` in `accord serve`; on its own it waited out its 10 s answer
/// timeout and then retried forever.) The 5 s bounds are bounds on a hang, not performance assertions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_stuck_on_a_silent_witness_stops_when_cancelled() {
    use accord::crypto::cosign::Cosigner;
    use accord::server::witness::{run_sender, WitnessTarget};
    use tokio::io::AsyncReadExt;
    use tokio::time::timeout;
    use tokio_util::sync::CancellationToken;

    let s = TestServer::start().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wkey = Cosigner::new("silent.example/w1", crypto::generate_key()).verifier_key();
    let target = WitnessTarget::parse(&format!("http://{}={wkey}", silent.local_addr().unwrap())).unwrap();
    let stop = CancellationToken::new();
    let sender = tokio::spawn(run_sender(s.ledger.clone(), target, stop.clone()));

    // The sender's first submission arrives: read its request head, and never answer.
    let (mut conn, _) = timeout(Duration::from_secs(5), silent.accept()).await.expect("the sender connects").unwrap();
    let mut request = Vec::new();
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut buf = [0u8; 1024];
        let n = timeout(Duration::from_secs(5), conn.read(&mut buf)).await.expect("the request arrives").unwrap();
        assert!(n > 0, "the sender closed the connection before its request was complete");
        request.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&request).into_owned();
    assert!(head.starts_with("POST /add-checkpoint HTTP/1.1\r\n"), "{head}");

    // Mid-request: cancelled, the sender ends...
    stop.cancel();
    timeout(Duration::from_secs(5), sender).await.expect("the sender stops when cancelled").unwrap();
    // ...and its connection is closed: the witness reads the rest of the request, then end of stream.
    timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        while conn.read(&mut buf).await.unwrap_or(0) > 0 {}
    })
    .await
    .expect("the sender's connection is closed when it stops");
}

/// `accord serve` stops promptly on SIGTERM while its witness sender is stuck on a witness that never
/// answers: the sender holds a child of the shutdown token and the drain waits for it like for a listener.
/// A sender left out of the token tree would keep the drain waiting for its whole grace period (the 30 s
/// request deadline) or be aborted at its end; the 10 s bound is a bound on that hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_on_sigterm_with_its_sender_stuck_on_a_silent_witness() {
    use accord::crypto::cosign::Cosigner;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_ledger(d);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        // The start's view check is refused at once (the connection is closed: only a warning), so the
        // ledger starts; the sender's first submission is then held open and never answered.
        drop(silent.accept().await);
        let held = silent.accept().await;
        let _ = held_tx.send(());
        let _held = held;
        std::future::pending::<()>().await
    });
    let wkey = Cosigner::new("silent.example/w1", crypto::generate_key()).verifier_key();
    let (ledger, _info) = serve_with_witnesses(d, &[addr], &[wkey]);
    tokio::time::timeout(Duration::from_secs(10), held_rx).await.expect("the sender connects").unwrap();

    let pid = ledger.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopped = tokio::task::spawn_blocking(move || {
        let mut ledger = ledger;
        ledger.0.wait().map(|s| s.code())
    });
    let code = tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the ledger did not stop within 10 s of SIGTERM")
        .unwrap()
        .unwrap();
    assert_eq!(code, Some(0), "a clean stop");
}

/// The checkpoints a server stores, by AuditService.ListCheckpoints (all pages): (size, note).
async fn listed_checkpoints(url: &str) -> Vec<(u64, String)> {
    let mut c = accord::pb::audit_service_client::AuditServiceClient::connect(url.to_string()).await.unwrap();
    let (mut out, mut next) = (Vec::new(), Some(0));
    while let Some(start) = next {
        let resp =
            c.list_checkpoints(accord::pb::ListCheckpointsRequest { start_size: start, limit: 0 }).await.unwrap();
        let resp = resp.into_inner();
        out.extend(resp.checkpoints.into_iter().map(|cp| (cp.tree_size, cp.checkpoint)));
        next = resp.next_size;
    }
    out
}

/// Witness cosignatures are stored in the database with the checkpoint they cosign (issue 16, item 5).
/// (a) After the ledger is stopped (killed), its only witness stopped too so it cannot be asked again, and
/// the ledger restarted on the same database, GetCheckpoint and /checkpoint.txt carry the witness's
/// cosignature at once, verifying with the witness's key. (b) ListCheckpoints serves each historical
/// checkpoint with its cosignature, and a network audit accepts those notes. Before, cosignatures lived in
/// memory only: the restarted ledger served bare notes, and ListCheckpoints never carried any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosignatures_survive_a_restart_without_the_witness_and_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let log_key = init_ledger(d);
    witness_key(d, 1);
    let (w, winfo) = witness(d, 1, &log_key, "127.0.0.1:0");
    let wkey = winfo["verifier_key"].as_str().unwrap().to_string();
    let wv = CosignatureVerifier::from_verifier_key(&wkey).unwrap();
    let target = format!("http://{}={wkey}", winfo["listening"].as_str().unwrap());
    let serve_args =
        ["serve", "--data-dir", "ledger", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--witness", &target];
    let (ledger, info) = spawn(d, &serve_args);
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let mut c = Client::connect(&url, Some(&log_key)).await.unwrap();
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    for size in 1..=3u64 {
        if size > 1 {
            c.submit(crypto::seal(&plan(&format!("p{size}")), &[&sec.key])).await.unwrap();
        }
        wait_for(async || {
            let cp = c.checkpoint(None).await.unwrap();
            cp.size == size && wv.verify_note(&cp.note).is_some()
        })
        .await;
    }
    // Killed (no clean stop), and the witness gone for good.
    drop(ledger);
    drop(w);

    let (_ledger, info) = spawn(d, &serve_args);
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let mut c = Client::connect(&url, Some(&log_key)).await.unwrap();
    let cp = c.checkpoint(None).await.unwrap();
    assert_eq!(cp.size, 3);
    assert!(wv.verify_note(&cp.note).is_some(), "the restarted ledger serves the stored cosignature: {}", cp.note);
    assert_eq!(cp.note.matches("\n— ").count(), 2, "the log's signature and one cosignature: {}", cp.note);
    let older = c.checkpoint(Some(2)).await.unwrap();
    assert!(wv.verify_note(&older.note).is_some(), "an older checkpoint too: {}", older.note);
    let http = info["http"].as_str().unwrap();
    let text = Command::new("curl").args(["-sS", "--fail", &format!("http://{http}/checkpoint.txt")]).output().unwrap();
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with(&format!("{ORIGIN}\n3\n")), "{text}");
    assert!(wv.verify_note(&text).is_some(), "/checkpoint.txt carries the cosignature: {text}");

    // (b) Every historical checkpoint the witness cosigned is listed with its cosignature, under the log's
    // signature that still verifies.
    let log = crypto::StrictNoteVerifier::from_verifier_key(&log_key).unwrap();
    let listed = listed_checkpoints(&url).await;
    assert_eq!(listed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for (size, note) in listed.iter().filter(|(s, _)| *s >= 1) {
        assert_eq!(crypto::open_checkpoint(note.as_bytes(), &log).unwrap().size, *size);
        assert!(wv.verify_note(note).is_some(), "checkpoint {size} is listed with its cosignature: {note}");
        assert_eq!(note.matches("\n— ").count(), 2, "{note}");
    }
    // The auditor's client takes the cosigned notes as they are (unknown signatures are allowed in a note).
    let audit = Command::new(BIN)
        .current_dir(d)
        .args(["--json", "--log", "warn", "audit", "--server", &url, "--log-key", &log_key])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&audit.stdout).into_owned() + &String::from_utf8_lossy(&audit.stderr);
    assert_eq!(audit.status.code(), Some(0), "{out}");
    assert!(out.contains("\"checkpoints_checked\":4") || out.contains("\"checkpoints_checked\":5"), "{out}");
}

/// A database created before the cosignatures table (issue 16, item 5) gains it at open: cosignatures are
/// then stored, served after a restart, and — for a checkpoint older than the ones kept in memory — read
/// back from the database. The table is append-only, like the log's. Without the migration the write
/// fails (no such table) and nothing is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_the_cosignatures_table_gains_it_at_open() {
    use accord::crypto::cosign::{split_note, Cosigner};
    use accord::store::raw_execute;

    let (s, sec, _fun) = chartered().await;
    let mut c = s.client().await;
    // More cosigned checkpoints than the ledger keeps in memory (64 sizes).
    let batch: Vec<_> = (0..69).map(|i| crypto::seal(&plan(&format!("p{i}")), &[&sec.key])).collect();
    for env in batch {
        c.submit(env).await.unwrap();
    }
    let (dir, tmp) = s.stop().await;
    let db = dir.join(accord::ledger::DB_FILE);
    // The schema as it was before: no cosignatures table (dropping it drops its triggers).
    raw_execute(&db, "DROP TABLE cosignatures").unwrap();
    assert!(raw_execute(&db, "INSERT INTO cosignatures (size, witness, line, received_ms) VALUES (1, 'w', 'l', 0)")
        .unwrap_err()
        .contains("no such table"));

    let s = TestServer::start_in(dir.clone()).await;
    let witness = Cosigner::new("w1.example", crypto::generate_key());
    let wv = CosignatureVerifier::from_verifier_key(&witness.verifier_key()).unwrap();
    let mut c = s.client().await;
    for size in 1..=70u64 {
        let note = c.checkpoint(Some(size)).await.unwrap().note;
        let (body, _) = split_note(&note).unwrap();
        let line = witness.cosign(body, 1_780_000_000 + size);
        assert!(s.ledger.add_cosignature(size, "w1.example", &line).await, "cosignature {size} stored");
        // A second cosignature of the same checkpoint by the same witness is ignored: the first one stays.
        let again = witness.cosign(body, 1_790_000_000);
        assert!(s.ledger.add_cosignature(size, "w1.example", &again).await);
    }
    let (dir, _tmp2) = s.stop().await;
    let err = raw_execute(&db, "UPDATE cosignatures SET line = 'x' WHERE size = 1").unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = raw_execute(&db, "DELETE FROM cosignatures WHERE size = 1").unwrap_err();
    assert!(err.contains("append-only"), "{err}");

    let s = TestServer::start_in(dir).await;
    let mut c = s.client().await;
    for size in [1u64, 5, 6, 7, 70] {
        let note = c.checkpoint(Some(size)).await.unwrap().note;
        assert_eq!(
            wv.verify_note(&note),
            Some(1_780_000_000 + size),
            "checkpoint {size}: the first cosignature: {note}"
        );
        assert_eq!(note.matches("\n— ").count(), 2, "{note}");
    }
    assert_eq!(wv.verify_note(&c.checkpoint(None).await.unwrap().note), Some(1_780_000_070));
    let listed = listed_checkpoints(&s.url).await;
    assert_eq!(listed.len(), 71);
    for (size, note) in &listed {
        let want = (*size >= 1).then_some(1_780_000_000 + size);
        assert_eq!(wv.verify_note(note), want, "checkpoint {size}: {note}");
    }
    // A cosignature that cannot be stored (the ledger is closed) is refused, logged and counted, not kept.
    s.ledger.close();
    let (body, _) = split_note(&listed[70].1).unwrap();
    assert!(!s.ledger.add_cosignature(70, "w2.example+00000000", &witness.cosign(body, 1)).await);
    let metrics = accord::metrics::metrics().render(&[]);
    assert!(metrics.contains("accord_cosignature_store_failures_total 1"), "{metrics}");
    drop(tmp);
}

/// The sender does not ask a witness again for a checkpoint whose cosignature from that witness is stored
/// (as after a restart), and still submits each new checkpoint at once. Before, the sender always asked
/// for the latest checkpoint when it started. The 3 s wait spans the sender's 2 s rounds; it bounds what
/// must not happen, and is no performance assertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_does_not_ask_again_for_a_stored_cosignature() {
    use accord::crypto::cosign::{split_note, Cosigner};
    use accord::server::witness::{run_sender, WitnessTarget};
    use tokio::time::timeout;
    use tokio_util::sync::CancellationToken;

    let s = TestServer::start().await;
    let w = Cosigner::new("quiet.example/w1", crypto::generate_key());
    let latest = s.ledger.latest();
    let (body, _) = split_note(&latest.note).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target =
        WitnessTarget::parse(&format!("http://{}={}", listener.local_addr().unwrap(), w.verifier_key())).unwrap();
    // Stored under the key's name and key ID, the start of its verifier key.
    assert_eq!(target.id(), w.verifier_key()[..w.name().len() + 9]);
    assert!(s.ledger.add_cosignature(latest.size, &target.id(), &w.cosign(body, 1_780_000_000)).await);
    let stop = CancellationToken::new();
    let sender = tokio::spawn(run_sender(s.ledger.clone(), target, stop.clone()));
    assert!(
        timeout(Duration::from_secs(3), listener.accept()).await.is_err(),
        "the sender asked again for a checkpoint whose cosignature is stored"
    );
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    s.client().await.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    timeout(Duration::from_secs(5), listener.accept()).await.expect("a new checkpoint is submitted").unwrap();
    stop.cancel();
    sender.await.unwrap();
}

/// An in-process witness that answers 503 to its first `failures` submissions, then cosigns the checkpoint
/// of each (it checks no consistency: only the ledger's sender is under test here). Counts the POSTs.
fn flaky_witness(
    w: std::sync::Arc<accord::crypto::cosign::Cosigner>,
    failures: usize,
) -> (axum::Router, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let posts = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let handler = move |body: String| {
        let (w, posts) = (w.clone(), counted.clone());
        async move {
            if posts.fetch_add(1, Ordering::SeqCst) < failures {
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy, try again".to_string());
            }
            let note = body.split_once("\n\n").map_or("", |(_, n)| n);
            let (nbody, _) = accord::crypto::cosign::split_note(note).unwrap();
            (axum::http::StatusCode::OK, format!("{}\n", w.cosign(nbody, 1_780_000_000)))
        }
    };
    (axum::Router::new().route("/add-checkpoint", axum::routing::post(handler)), posts)
}

/// The failure counter of `witness` for `reason` in this process's metrics, if its series exists yet (the
/// sender creates it when it starts, which a test may observe before it happens).
fn witness_failures_series(witness: &str, reason: &str) -> Option<u64> {
    let series = format!("accord_witness_failures_total{{witness=\"{witness}\",reason=\"{reason}\"}} ");
    accord::metrics::metrics().render(&[]).lines().find_map(|l| l.strip_prefix(&series)?.parse().ok())
}

/// The failure counter of `witness` for `reason`, whose series must exist.
fn witness_failures(witness: &str, reason: &str) -> u64 {
    witness_failures_series(witness, reason).unwrap_or_else(|| panic!("no series for {witness} {reason}"))
}

/// A witness that is briefly unavailable (503 twice) is retried with backoff within the same submission:
/// the cosignature arrives on the third attempt and the round does not fail. Before, the hand-rolled client
/// gave up at the first 503 and counted a failed round ("refused"), asking again only at the next round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_briefly_unavailable_witness_is_retried_with_backoff() {
    use accord::crypto::cosign::Cosigner;
    use accord::server::witness::{run_sender, WitnessTarget};
    use std::sync::atomic::Ordering;
    use tokio_util::sync::CancellationToken;

    let s = TestServer::start().await;
    let w = std::sync::Arc::new(Cosigner::new("flaky.example/w", crypto::generate_key()));
    let (router, posts) = flaky_witness(w.clone(), 2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let target = WitnessTarget::parse(&format!("{url}={}", w.verifier_key())).unwrap();
    let id = target.id();
    let stop = CancellationToken::new();
    let sender = tokio::spawn(run_sender(s.ledger.clone(), target, stop.clone()));
    let size = s.ledger.latest().size;
    wait_until("the cosignature after two 503s", Duration::from_secs(10), async || {
        s.ledger.has_cosignature(size, &id).then_some(())
    })
    .await;
    stop.cancel();
    sender.await.unwrap();
    assert_eq!(posts.load(Ordering::SeqCst), 3, "two refused attempts, then the cosigned one");
    for reason in accord::metrics::WITNESS_FAILURE_REASONS {
        assert_eq!(witness_failures(&url, reason), 0, "{reason}: the retried submission is no failed round");
    }
}

/// A witness reached over HTTPS, its certificate issued by a private CA the ledger is told to trust
/// (`--witness-ca`): the cosignature arrives. Without the CA, the certificate is refused and the failure
/// counted. Before, only http:// witness URLs were accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_over_https_with_a_private_ca() {
    use accord::crypto::cosign::Cosigner;
    use accord::server::witness::{run_sender, WitnessTarget};
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use tokio_util::sync::CancellationToken;

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Accord witness test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let srv_key = KeyPair::generate().unwrap();
    let srv = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&srv_key, &ca).unwrap();

    let s = TestServer::start().await;
    let w = std::sync::Arc::new(Cosigner::new("tls.example/w", crypto::generate_key()));
    let (router, _posts) = flaky_witness(w.clone(), 0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let (cert, key) = (srv.pem(), srv_key.serialize_pem());
    tokio::spawn(async move {
        accord::server::web::serve_tls(listener, router, cert.as_bytes(), key.as_bytes(), std::future::pending())
            .await
            .unwrap()
    });
    let size = s.ledger.latest().size;

    // Without the CA: the system's roots do not know it; the round fails and is counted.
    let untrusted = WitnessTarget::parse(&format!("{url}={}", w.verifier_key())).unwrap();
    let stop = CancellationToken::new();
    let sender = tokio::spawn(run_sender(s.ledger.clone(), untrusted.clone(), stop.clone()));
    wait_until("an untrusted certificate counted as a failure", Duration::from_secs(20), async || {
        (witness_failures_series(&url, "unreachable").unwrap_or(0) >= 1).then_some(())
    })
    .await;
    stop.cancel();
    sender.await.unwrap();
    assert!(!s.ledger.has_cosignature(size, &untrusted.id()));

    // With the CA trusted.
    let target =
        WitnessTarget::parse_trusting(&format!("{url}={}", w.verifier_key()), Some(ca.pem().as_bytes())).unwrap();
    let id = target.id();
    let stop = CancellationToken::new();
    let sender = tokio::spawn(run_sender(s.ledger.clone(), target, stop.clone()));
    wait_until("the cosignature over HTTPS", Duration::from_secs(10), async || {
        s.ledger.has_cosignature(size, &id).then_some(())
    })
    .await;
    stop.cancel();
    sender.await.unwrap();
    // A CA file that holds no certificate is refused, naming the setting.
    let e = WitnessTarget::parse_trusting(&format!("{url}={}", w.verifier_key()), Some(b"not a pem")).unwrap_err();
    assert!(e.to_string().contains("witness_ca"), "{e}");
}

/// Witnesses cosign map checkpoints (issue 17 item 4, docs/INDEX.md §7.1), with real processes: once a
/// complete query has built the map, the ledger sends its map checkpoint to its witness, and later complete
/// answers carry the witness's cosignature over the map note's body. A client whose policy requires that
/// witness accepts complete lists and histories; one whose policy also requires a witness that never
/// cosigned refuses them (PERMISSION_DENIED), as it would a log checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witnesses_cosign_map_checkpoints_and_policies_require_them() {
    use accord::crypto::cosign::Cosigner;
    use accord::error::Kind;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let log_key = init_ledger(d);
    witness_key(d, 1);
    let (_w, winfo) = witness(d, 1, &log_key, "127.0.0.1:0");
    let wkey = winfo["verifier_key"].as_str().unwrap().to_string();
    let waddr = winfo["listening"].as_str().unwrap().to_string();
    let (_ledger, info) = serve_with_witnesses(d, &[waddr], std::slice::from_ref(&wkey));
    let url = format!("http://{}", info["listening"].as_str().unwrap());
    let mut c = Client::connect(&url, Some(&log_key)).await.unwrap();
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.unwrap();
    c.submit(crypto::seal(&plan("p1"), &[&sec.key])).await.unwrap();
    let w = CosignatureVerifier::from_verifier_key(&wkey).unwrap();
    wait_for(async || {
        let cp = c.checkpoint(None).await.unwrap();
        cp.size == 2 && w.verify_note(&cp.note).is_some()
    })
    .await;

    // The first complete query builds the map (signed by the ledger only); the sender then has it cosigned.
    let all_plans = accord::pb::ListRequest::default;
    let (_, proven) = c.list_complete("plan", all_plans()).await.expect("a complete list without a policy");
    assert_eq!((proven.size, proven.items), (2, 1));
    let mut served = String::new();
    wait_for(async || {
        let (resp, _) = c.list_complete("plan", all_plans()).await.expect("complete list");
        served = resp.completeness.expect("completeness").map_checkpoint;
        w.verify_note(&served).is_some()
    })
    .await;
    assert_eq!(served.matches("\n— ").count(), 2, "the map key's signature and one cosignature: {served}");
    assert!(served.starts_with(&format!("{ORIGIN}/index\naccord-index/v1\n2\n")), "{served}");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("w1.state")).unwrap()).unwrap();
    assert_eq!(state[ORIGIN]["map"]["size"], 2, "the witness keeps the map it cosigned: {state}");

    // A policy requiring that witness accepts complete answers, list and history.
    let cosigned = Policy::parse(&format!("log {log_key}\nwitness A {wkey}\nquorum A\n")).unwrap();
    let mut with_a = Client::connect(&url, Some(&log_key)).await.unwrap().with_policy(cosigned);
    let (_, proven) = with_a.list_complete("plan", all_plans()).await.expect("cosigned by A");
    assert_eq!(proven.items, 1);
    with_a.subject_complete("plan", "plan-p1").await.expect("a cosigned history");

    // A policy also requiring a witness that never cosigned refuses them.
    let never = Cosigner::new("w9.example", crypto::generate_key()).verifier_key();
    let both =
        Policy::parse(&format!("log {log_key}\nwitness A {wkey}\nwitness Z {never}\ngroup AZ all A Z\nquorum AZ\n"))
            .unwrap();
    let mut with_z = Client::connect(&url, Some(&log_key)).await.unwrap().with_policy(both);
    let e = with_z.list_complete("plan", all_plans()).await.expect_err("Z never cosigned the map");
    assert_eq!(e.kind, Kind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("map_checkpoint") && e.to_string().contains("quorum"), "{e}");
    let e = with_z.subject_complete("plan", "plan-p1").await.expect_err("Z never cosigned the map");
    assert_eq!(e.kind, Kind::PermissionDenied, "{e}");

    // The same through the CLI's --policy: query --complete and report verify --complete.
    let policy_file = |name: &str, text: String| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let a_file = policy_file("a.policy", format!("log {log_key}\nwitness A {wkey}\nquorum A\n"));
    let az_file = policy_file(
        "az.policy",
        format!("log {log_key}\nwitness A {wkey}\nwitness Z {never}\ngroup AZ all A Z\nquorum AZ\n"),
    );
    let cli = |args: &[&str], policy: &std::path::Path| {
        Command::new(BIN).args(args).args(["--complete", "--server", &url, "--policy"]).arg(policy).output().unwrap()
    };
    for args in [&["query", "plans"][..], &["report", "verify", "--plan", "plan-p1"][..]] {
        let ok = cli(args, &a_file);
        assert!(ok.status.success(), "{args:?}: {}", String::from_utf8_lossy(&ok.stderr));
        let refused = cli(args, &az_file);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && stderr.contains("quorum"), "{args:?}: {stderr}");
    }
}
