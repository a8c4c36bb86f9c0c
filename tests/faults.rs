//! Fault injection against real `accord serve` processes: a full disk (a small tmpfs), failing fsync (an
//! LD_PRELOAD shim), a database lost or rolled back behind the log's back, a corrupted page, a second
//! server on one data directory, a read-only data directory. Each asserts what docs/SECURITY.md promises:
//! nothing acknowledged is lost, no second history is ever signed, and the refusal is clear (exit code 5
//! and a message naming what to do for a refused data directory).
//!
//! Mounting needs root (CI runs as root); without it the tests fail with that message, they never skip.
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use accord::client::{Client, VerifiedReceipt};
use accord::crypto;
use accord::error::Kind;
use accord::pb;
use common::*;

fn accord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

/// `accord serve` on a free port over `dir`; returns the child and its URL, or the exit status and stderr
/// when it refuses to start.
fn serve(dir: &Path, env: &[(&str, &str)], extra: &[&str]) -> Result<(ChildGuard, String), (i32, String)> {
    let mut cmd = accord();
    cmd.args(["--json", "--log", "warn", "serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn accord serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    match serde_json::from_str::<serde_json::Value>(&line) {
        Ok(v) if v["listening"].is_string() => {
            let url = format!("http://{}", v["listening"].as_str().unwrap_or_default());
            Ok((ChildGuard(child), url))
        }
        _ => {
            let out = child.wait_with_output().expect("wait");
            Err((out.status.code().unwrap_or(-1), format!("{line}{}", String::from_utf8_lossy(&out.stderr))))
        }
    }
}

fn refused(dir: &Path, extra: &[&str]) -> String {
    match serve(dir, &[], extra) {
        Ok(_) => panic!("the server started over {} but must refuse it", dir.display()),
        Err((code, msg)) => {
            assert_eq!(code, 5, "a refused data directory exits 5: {msg}");
            msg
        }
    }
}

/// The service's health once it has become `want` (watched, not polled), or the last status seen within
/// 5 s: health follows the write state through a watch channel, a moment after the reply that changed it.
async fn health_becomes(url: &str, service: &str, want: i32) -> i32 {
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let channel =
        tonic::transport::Channel::from_shared(url.to_string()).expect("url").connect().await.expect("connect");
    let mut stream = HealthClient::new(channel)
        .watch(HealthCheckRequest { service: service.into() })
        .await
        .expect("watch")
        .into_inner();
    let mut last = -1;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(m)) = stream.message().await {
            last = m.status;
            if last == want {
                break;
            }
        }
    })
    .await;
    last
}

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;
const LEDGER: &str = "accord.v1.LedgerService";

/// A tmpfs mounted for the test's lifetime (unmounted on drop).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mkdir");
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(dir).output();
        match out {
            Ok(o) if o.status.success() => Self(dir.to_path_buf()),
            Ok(o) => panic!(
                "mounting a tmpfs at {} failed ({}): the fault tests need root, as scripts/test.sh and CI run",
                dir.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("cannot run mount ({e}): the fault tests need util-linux's mount and root"),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A server over `dir` with its client and the two founders (nothing submitted yet).
async fn loaded(dir: &Path) -> (ChildGuard, Client, Founder, Founder) {
    let (child, url) = serve(dir, &[], &[]).expect("start");
    let c = connect_when_up(&url).await;
    (child, c, Founder::new("XM-SEC", &["secretariat"]), Founder::new("XM-DAC-1", &["funder"]))
}

/// A charter, then `n` acknowledged plans.
async fn load(c: &mut Client, sec: &Founder, fun: &Founder, prefix: &str, n: usize) -> Vec<VerifiedReceipt> {
    let mut acked = Vec::new();
    if c.checkpoint(None).await.expect("checkpoint").size == 0 {
        acked.push(c.submit(charter_envelope(&[sec, fun], 1)).await.expect("charter"));
    }
    for i in 0..n {
        acked.push(c.submit(crypto::seal(&plan(&format!("{prefix}{i}")), &[&sec.key])).await.expect("plan"));
    }
    acked
}

/// Every acknowledged entry is in the served log at its index with the same leaf hash, and the served
/// checkpoint is consistent with the receipts' checkpoints.
async fn all_present(c: &mut Client, acked: &[VerifiedReceipt]) {
    let latest = c.checkpoint(None).await.expect("checkpoint");
    for r in acked {
        let r = &r.receipt;
        let (e, _) = c.entry(pb::get_entry_request::Key::Index(r.index)).await.expect("acknowledged entry is served");
        assert_eq!(e.leaf_hash, r.leaf_hash, "entry {} changed", r.index);
        assert!(r.index < latest.size);
    }
    if let Some(first) = acked.first() {
        c.check_consistency(&first.checkpoint, &latest).await.expect("no fork");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_writes_says_so_and_resumes_by_itself() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mnt = tmp.path().join("small");
    let _fs = Tmpfs::mount(&mnt, "size=24m");
    let dir = mnt.join("data");
    let (_child, url) = serve(&dir, &[], &[]).expect("start");
    let mut c = connect_when_up(&url).await;
    let (sec, fun) = (Founder::new("XM-SEC", &["secretariat"]), Founder::new("XM-DAC-1", &["funder"]));
    let mut acked = load(&mut c, &sec, &fun, "before-", 5).await;
    // Take every free byte.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![7u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    // Keep writing (4 KiB descriptions) until the disk refuses: bounded.
    let mut refusal = None;
    for i in 0..4000 {
        let mut st = plan(&format!("full-{i}"));
        if let Some(pb::statement::Body::PlanCreated(p)) = st.body.as_mut() {
            p.description = "x".repeat(4000);
        }
        match c.submit(crypto::seal(&st, &[&sec.key])).await {
            Ok(r) => acked.push(r),
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    let e = refusal.expect("a full disk must refuse writes");
    assert_eq!(e.kind, Kind::ResourceExhausted, "a full disk is RESOURCE_EXHAUSTED: {e}");
    assert!(e.message.contains("disk"), "{e}");
    assert_eq!(health_becomes(&url, LEDGER, NOT_SERVING).await, NOT_SERVING, "health reports the full disk");
    // Reads go on.
    all_present(&mut c, &acked).await;
    // Space returns: writing resumes without a restart.
    std::fs::remove_file(&filler).expect("free space");
    // Nothing announces free space: the server finds it on its next write, so each retry (bounded backoff)
    // is the probe itself. The space is free once remove_file returns; the first attempt normally succeeds.
    let mut i = 0;
    let resumed = wait_until("writes resume once space returns", Duration::from_secs(5), async || {
        i += 1;
        match c.submit(crypto::seal(&plan(&format!("after-{i}")), &[&sec.key])).await {
            Ok(r) => Some(r),
            Err(e) => {
                assert_eq!(e.kind, Kind::ResourceExhausted, "{e}");
                None
            }
        }
    })
    .await;
    acked.push(resumed);
    assert_eq!(health_becomes(&url, LEDGER, SERVING).await, SERVING);
    all_present(&mut c, &acked).await;
}

const SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
static int failing(void) {
    const char *f = getenv("ACCORD_FAULT_FSYNC");
    return f && access(f, F_OK) == 0;
}
int fsync(int fd) {
    if (failing()) { errno = EIO; return -1; }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}
int fdatasync(int fd) {
    if (failing()) { errno = EIO; return -1; }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
"#;

/// Build the fsync-failing shim with the system C compiler.
fn shim(dir: &Path) -> PathBuf {
    let src = dir.join("failsync.c");
    let lib = dir.join("libfailsync.so");
    std::fs::write(&src, SHIM).expect("write shim");
    let out = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).arg("-ldl").output();
    match out {
        Ok(o) if o.status.success() => lib,
        Ok(o) => panic!("compiling the fsync shim failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("the fault tests need a C compiler (cc) for the fsync shim: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fsync_stops_acknowledgements_for_good() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lib = shim(tmp.path());
    let flag = tmp.path().join("fail-now");
    let dir = tmp.path().join("data");
    let env =
        [("LD_PRELOAD", lib.to_str().unwrap_or_default()), ("ACCORD_FAULT_FSYNC", flag.to_str().unwrap_or_default())];
    let (mut child, url) = serve(&dir, &env, &[]).expect("start");
    let mut c = connect_when_up(&url).await;
    let (sec, fun) = (Founder::new("XM-SEC", &["secretariat"]), Founder::new("XM-DAC-1", &["funder"]));
    let acked = load(&mut c, &sec, &fun, "ok-", 10).await;
    std::fs::write(&flag, b"").expect("flag");
    let e =
        c.submit(crypto::seal(&plan("during"), &[&sec.key])).await.expect_err("a failed fsync acknowledges nothing");
    assert_eq!(e.kind, Kind::Unavailable, "{e}");
    // The disk "recovers": the ledger must still refuse (after a failed fsync the kernel may have dropped
    // the pages it could not write; only a restart, which re-reads the disk, may go on).
    std::fs::remove_file(&flag).expect("unflag");
    let e = c.submit(crypto::seal(&plan("after"), &[&sec.key])).await.expect_err("never retry and continue");
    assert_eq!(e.kind, Kind::Unavailable, "{e}");
    assert_eq!(
        health_becomes(&url, "", NOT_SERVING).await,
        NOT_SERVING,
        "a stopped sequencer makes the server NOT_SERVING"
    );
    all_present(&mut c, &acked).await;
    let _ = child.0.kill();
    let _ = child.0.wait();
    // A restart on a healthy disk: everything acknowledged is there, and the log goes on consistently.
    let (_child, url) = serve(&dir, &[], &[]).expect("restart");
    let mut c = connect_when_up(&url).await;
    all_present(&mut c, &acked).await;
    let r = c.submit(crypto::seal(&plan("restarted"), &[&sec.key])).await.expect("writes after restart");
    let mut all = acked.clone();
    all.push(r);
    all_present(&mut c, &all).await;
}

/// Stop a server child gracefully (SIGTERM) and wait for it.
fn stop(mut child: ChildGuard) {
    let _ = Command::new("kill").arg("-TERM").arg(child.0.id().to_string()).status();
    let _ = child.0.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_behind_the_high_water_record_is_refused_and_audit_names_the_gap() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let (child, mut c, sec, fun) = loaded(&dir).await;
    load(&mut c, &sec, &fun, "a-", 5).await;
    // An "older copy" of the database: a backup taken now, put back after more entries were acknowledged.
    let old = tmp.path().join("old");
    let st =
        accord().args(["--json", "backup", "--data-dir"]).arg(&dir).arg("--out").arg(&old).status().expect("backup");
    assert!(st.success());
    load(&mut c, &sec, &fun, "b-", 5).await;
    let size = c.checkpoint(None).await.expect("cp").size;
    stop(child);
    for f in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::copy(old.join("ledger.db"), dir.join("ledger.db")).expect("put the old copy back");
    let msg = refused(&dir, &[]);
    assert!(msg.contains(&format!("checkpoint of size {size}")) && msg.contains("high-water"), "{msg}");
    // The audit of that directory reports the gap (the high-water record is read with it).
    let out = accord()
        .args(["--json", "audit", "--data-dir"])
        .arg(&dir)
        .arg("--evidence")
        .arg(tmp.path().join("ev.json"))
        .output()
        .expect("audit");
    assert!(!out.status.success(), "the audit must fail");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("covers entries the log does not hold"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_key_without_its_database_never_starts_a_second_history() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let (child, mut c, sec, fun) = loaded(&dir).await;
    load(&mut c, &sec, &fun, "a-", 3).await;
    stop(child);
    for f in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let msg = refused(&dir, &[]);
    assert!(msg.contains("log.key") && msg.contains("--new-ledger-with-existing-key"), "{msg}");
    // The operator's explicit decision starts a new ledger (size 0) with the key.
    let (_child, url) = serve(&dir, &[], &["--new-ledger-with-existing-key"]).expect("explicit new ledger");
    let mut c = connect_when_up(&url).await;
    assert_eq!(c.checkpoint(None).await.expect("cp").size, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_page_is_refused_at_start_and_by_audit() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let (child, mut c, sec, fun) = loaded(&dir).await;
    load(&mut c, &sec, &fun, "a-", 40).await;
    stop(child);
    // Damage the b-tree page header of the entries table's root page.
    let db = dir.join("ledger.db");
    let (root, page_size): (i64, i64) = {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let root = conn
            .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'entries'", [], |r| r.get(0))
            .expect("root");
        let ps = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).expect("page size");
        (root, ps)
    };
    let mut bytes = std::fs::read(&db).expect("read");
    let off = usize::try_from((root - 1) * page_size).expect("offset");
    bytes[off] = 0xff;
    std::fs::write(&db, &bytes).expect("write");
    let msg = refused(&dir, &[]);
    assert!(msg.contains("quick_check") || msg.contains("malformed") || msg.contains("damaged"), "{msg}");
    let out = accord().args(["audit", "--data-dir"]).arg(&dir).output().expect("audit");
    assert!(!out.status.success(), "audit must fail on a damaged database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_per_data_directory_and_a_read_only_one_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let (_first, _url) = serve(&dir, &[], &[]).expect("start");
    let msg = refused(&dir, &[]);
    assert!(msg.contains("another process"), "{msg}");
    // A read-only file system (root ignores permission bits, so mount one).
    let ro = tmp.path().join("ro");
    let _fs = Tmpfs::mount(&ro, "ro,size=1m");
    let msg = refused(&ro, &[]);
    assert!(msg.contains("not writable"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_are_verified_at_start_and_rebuilt_by_restore() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let (child, mut c, sec, fun) = loaded(&dir).await;
    load(&mut c, &sec, &fun, "a-", 3).await;
    let backup = tmp.path().join("backup");
    assert!(accord()
        .args(["backup", "--data-dir"])
        .arg(&dir)
        .arg("--out")
        .arg(&backup)
        .status()
        .expect("backup")
        .success());
    stop(child);
    // A stranger's key injected into the projection of party keys, in the live directory and in the backup.
    let intruder = crypto::generate_key();
    let inject = |db: &Path| {
        let conn = rusqlite::Connection::open(db).expect("open");
        conn.execute(
            "INSERT INTO party_keys (keyid, party_id, public_key, added_at, revoked_at) VALUES (?1, 'XM-SEC', ?2, 0, NULL)",
            rusqlite::params![crypto::keyid(&intruder.verifying_key()), intruder.verifying_key().as_bytes().to_vec()],
        )
        .expect("inject");
        // INSERT OR REPLACE must not get round the append-only log tables either.
        let replaced = conn.execute("INSERT OR REPLACE INTO entries SELECT * FROM entries WHERE idx = 1", []);
        assert!(replaced.is_err(), "REPLACE over a log row must be refused");
        let replaced = conn.execute("REPLACE INTO checkpoints SELECT * FROM checkpoints WHERE size = 1", []);
        assert!(replaced.is_err(), "REPLACE over a checkpoint must be refused");
    };
    inject(&dir.join("ledger.db"));
    inject(&backup.join("ledger.db"));
    let msg = refused(&dir, &[]);
    assert!(msg.contains("differ from what the log"), "{msg}");
    // Restore rebuilds the projections from the audited log: the injected key is gone. The target already
    // holds a projections' file that covers the same tree, with a subject edited by hand: restore replaces
    // it with the copy's rebuilt one (its position alone would have kept it).
    let restored = tmp.path().join("restored");
    std::fs::create_dir_all(&restored).expect("target");
    let stale = restored.join(accord::ledger::PROJECTIONS_FILE);
    std::fs::copy(dir.join(accord::ledger::PROJECTIONS_FILE), &stale).expect("a stale projections file");
    let edited = "SELECT count(*) FROM subjects WHERE kind = 'plan' AND status = 'withdrawn'";
    let count =
        |p: &Path| -> i64 { rusqlite::Connection::open(p).unwrap().query_row(edited, [], |r| r.get(0)).unwrap() };
    rusqlite::Connection::open(&stale)
        .unwrap()
        .execute("UPDATE subjects SET status = 'withdrawn' WHERE kind = 'plan'", [])
        .unwrap();
    assert!(count(&stale) > 0);
    let out =
        accord().args(["restore", "--from"]).arg(&backup).arg("--data-dir").arg(&restored).output().expect("restore");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count(&stale), 0, "restore installs the copy's rebuilt projections");
    let (_child, url) = serve(&restored, &[], &[]).expect("restored ledger starts");
    let mut c = connect_when_up(&url).await;
    let e = c
        .submit(crypto::seal(&plan("intruder"), &[&intruder]))
        .await
        .expect_err("a key injected into a projection signs nothing");
    assert_eq!(e.kind, Kind::PermissionDenied, "{e}");
}
