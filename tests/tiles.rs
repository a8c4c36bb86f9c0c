//! C2SP tlog-tiles end to end (issue 16): the ledger's HTTP port serves its tree as tiles exactly per the
//! spec; `serve --tiles-dir` and `accord tiles export` keep a static copy; `accord mirror` follows, verifies
//! and re-serves, refusing forged tiles and reporting forks with both checkpoints; `audit`, `verify`,
//! `monitor` and `report verify` work from tiles alone (a live port, a mirror or a plain directory).
// The mirror test reads top to bottom as one story (export, mirror, tampered copies, a fork); split, it
// would rebuild the same ledger four times.
#![allow(clippy::too_many_lines)]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use accord::crypto;
use accord::pb::{self, get_inclusion_proof_request, ledger_service_client::LedgerServiceClient};
use accord_tlog::tiles::{tiles_between, TileCache, TilePath};
use common::{charter_envelope, plan, Founder, TestServer};
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn accord(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("ACCORD_LOG_KEY").output().expect("run accord")
}

fn ok(args: &[&str]) -> String {
    let out = accord(args);
    assert!(
        out.status.success(),
        "accord {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = accord(args);
    assert!(!out.status.success(), "accord {args:?} should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The ledger's public HTTP port (page and tiles), until closed.
struct Http {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Http {
    /// Stop serving and release the ledger (so that it can be stopped and reopened).
    async fn close(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn http(s: &TestServer) -> Http {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(accord::server::web::serve(listener, s.ledger.clone(), async move {
        let _ = rx.await;
    }));
    Http { base, stop, task }
}

/// A chartered ledger with `n` plans, submitted in batches of `batch` (a checkpoint after each).
async fn ledger_with(n: usize, batch: usize, tag: &str) -> (TestServer, Founder) {
    let s = TestServer::start().await;
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut c = s.client().await;
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.expect("charter");
    add_plans(&s, &sec, n, batch, tag).await;
    (s, sec)
}

async fn add_plans(s: &TestServer, sec: &Founder, n: usize, batch: usize, tag: &str) {
    let mut c = s.client().await;
    let ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i:04}")).collect();
    for chunk in ids.chunks(batch) {
        let envs = chunk.iter().map(|id| crypto::seal(&plan(id), &[&sec.key])).collect();
        c.submit_batch(envs).await.expect("plans accepted");
    }
}

async fn get(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let cache = r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
    (status, cache, r.bytes().await.unwrap().to_vec())
}

async fn inclusion(raw: &mut LedgerServiceClient<Channel>, index: u64, size: u64) -> Vec<[u8; 32]> {
    let req =
        pb::GetInclusionProofRequest { leaf: Some(get_inclusion_proof_request::Leaf::Index(index)), tree_size: size };
    let p = raw.get_inclusion_proof(req).await.expect("GetInclusionProof").into_inner();
    p.proof.iter().map(|h| <[u8; 32]>::try_from(h.as_slice()).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_port_serves_the_signed_tree_as_tiles() {
    // 1 + 699 entries in batches of 233: checkpoints at 1, 234, 467, 700 — partial tiles at every level.
    let (s, _sec) = ledger_with(699, 233, "plan").await;
    let web = http(&s).await;
    let base = web.base.clone();
    let log = crypto::StrictNoteVerifier::from_verifier_key(&s.verifier_key).unwrap();
    let source = accord::tiles::Source::open(&base).unwrap();
    let cp = source.checkpoint(&log).await.expect("a checkpoint signed by the log key");
    assert_eq!(cp.size, 700);

    // The checkpoint: the latest signed note, short-lived in caches.
    let (status, cache, body) = get(&format!("{base}/checkpoint")).await;
    assert_eq!((status, cache.as_deref()), (200, Some(accord::server::tiles::CHECKPOINT)));
    assert_eq!(String::from_utf8(body).unwrap(), cp.note);

    // Every entry, from bundles, hashes to the signed root; every hash tile is the tile of that tree.
    let leaves = source.leaves(0, cp.size, cp.size, |_| {}).await.unwrap();
    let mut tree = accord::tiles::Verifier::default();
    tree.extend(leaves.iter().map(Vec::as_slice));
    assert_eq!(tree.root(), cp.root, "the entry bundles hash to the checkpoint's root");
    let mut raw = s.raw().await;
    for (i, leaf) in leaves.iter().enumerate().step_by(97) {
        let e = raw
            .get_entry(pb::GetEntryRequest { key: Some(pb::get_entry_request::Key::Index(i as u64)) })
            .await
            .unwrap()
            .into_inner()
            .entry
            .unwrap();
        assert_eq!(&e.leaf, leaf, "entry bundle leaf {i} is the stored leaf");
    }
    let all = tiles_between(0, cp.size);
    assert!(all.contains(&TilePath::Hashes { level: 1, index: 0, width: 2 }), "{all:?}");
    for t in &all {
        let (status, cache, body) = get(&format!("{base}/{}", t.path())).await;
        assert_eq!(status, 200, "{t}");
        let want = if t.is_full() { accord::server::tiles::IMMUTABLE } else { accord::server::tiles::PARTIAL };
        assert_eq!(cache.as_deref(), Some(want), "{t}");
        if let TilePath::Hashes { .. } = t {
            assert_eq!(body, tree.hash_tile(t).unwrap(), "{t}");
        }
    }
    // A narrower partial tile of an older tree is served; one wider than the tree, or a full tile not yet
    // complete, is not found (and not cached); a malformed path is a bad request.
    assert_eq!(get(&format!("{base}/tile/0/000.p/5")).await.0, 200);
    assert_eq!(get(&format!("{base}/tile/entries/002.p/188")).await.0, 200);
    for p in ["tile/0/002.p/189", "tile/0/002", "tile/entries/003", "tile/1/000", "tile/8/000"] {
        let (status, cache, _) = get(&format!("{base}/{p}")).await;
        assert_eq!((status, cache.as_deref()), (404, Some("no-store")), "{p}");
    }
    for p in [
        "tile/0/2",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/data/000",
        "tile/0/x000/001",
        "tile/0/000/",
        "tile/entries/x1/000",
    ] {
        assert_eq!(get(&format!("{base}/{p}")).await.0, 400, "{p}");
    }

    // Proofs read from the tiles (Go's TileHashReader algorithm, via tlog_tiles) equal the server's, at
    // the latest size and at older sizes (narrower partial tiles).
    for &(size, ref root) in &[(700u64, cp.root), (467, tree.root_at(467).unwrap()), (234, tree.root_at(234).unwrap())]
    {
        let mut cache = TileCache::default();
        for index in [0u64, 1, 255, 256, size / 2, size - 1].into_iter().filter(|i| *i < size) {
            let lh = accord::merkle::leaf_hash(&leaves[index as usize]);
            let from_tiles = source.prove(&mut cache, |c| c.inclusion_proof(size, root, index, &lh)).await.unwrap();
            assert_eq!(from_tiles, inclusion(&mut raw, index, size).await, "index {index} at size {size}");
        }
    }
    web.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tiles_dir_keeps_a_static_copy() {
    let (s, sec) = ledger_with(20, 20, "a").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = accord::tiles::TileDir::create(&tmp.path().join("tiles")).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(accord::server::tiles::keep_dir(s.ledger.clone(), dir.clone(), stop.clone()));
    add_plans(&s, &sec, 300, 100, "b").await;
    let log = crypto::StrictNoteVerifier::from_verifier_key(&s.verifier_key).unwrap();
    common::wait_until("the tiles dir to reach 321", std::time::Duration::from_secs(20), async || {
        (dir.size(&log).ok()? == 321).then_some(())
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    // Every tile of the tree, byte for byte what the HTTP port serves; audit from the directory passes.
    let web = http(&s).await;
    let base = web.base.clone();
    for t in tiles_between(0, 321) {
        let file = std::fs::read(dir.path().join(t.path())).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(file, get(&format!("{base}/{}", t.path())).await.2, "{t}");
    }
    let out = ok(&["audit", "--tiles", dir.path().to_str().unwrap(), "--log-key", &s.verifier_key, "--json"]);
    assert!(out.contains("\"ok\":true") && out.contains("\"entries\":321"), "{out}");
    web.close().await;
    s.stop().await;
}

fn flip(path: &Path, at_from_end: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = b.len() - at_from_end;
    b[i] ^= 1;
    std::fs::write(path, b).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_mirror_and_audit_from_tiles_alone_and_refuse_lies() {
    let (s, sec) = ledger_with(299, 150, "plan").await;
    let web = http(&s).await;
    let base = web.base.clone();
    let key = s.verifier_key.clone();
    let signer = hex::encode(sec.key.verifying_key().to_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();

    // A static export of the live database, and an audit from those files alone.
    let out = ok(&["tiles", "export", &p("static"), "--data-dir", s.dir.to_str().unwrap()]);
    assert!(out.contains("300 entries"), "{out}");
    let out = ok(&["audit", "--tiles", &p("static"), "--log-key", &key]);
    assert!(out.contains("audit passed: 300 entries"), "{out}");

    // A mirror of the live port (also a witness), re-served; an audit and a proof from the mirror.
    let wkey = tmp.path().join("w1");
    ok(&["key", "generate", "--name", "mirror.example/w1", "--out", wkey.to_str().unwrap()]);
    let out = ok(&[
        "mirror",
        "--from",
        &base,
        "--dir",
        &p("mirror"),
        "--log-key",
        &key,
        "--once",
        "--json",
        "--witness-key",
        &format!("{}.key", wkey.display()),
    ]);
    assert!(out.contains("\"event\":\"advanced\"") && out.contains("\"size\":300"), "{out}");
    let mirrored = std::fs::read_to_string(tmp.path().join("mirror/checkpoint")).unwrap();
    let (name, private) =
        crypto::parse_private_key(&std::fs::read_to_string(format!("{}.key", wkey.display())).unwrap()).unwrap();
    let cosigner_key = crypto::cosign::Cosigner::new(&name, private).verifier_key();
    let w = crypto::cosign::CosignatureVerifier::from_verifier_key(&cosigner_key).unwrap();
    assert!(w.verify_note(&mirrored).is_some(), "the mirror cosigns what it verified:\n{mirrored}");
    for t in tiles_between(0, 300) {
        let a = std::fs::read(tmp.path().join("mirror").join(t.path())).unwrap();
        let b = std::fs::read(tmp.path().join("static").join(t.path())).unwrap();
        assert_eq!(a, b, "{t}");
    }
    ok(&["audit", "--tiles", &p("mirror"), "--log-key", &key]);
    // A mirror of the mirror (whose checkpoint carries the first mirror's cosignature): the same tiles.
    ok(&["mirror", "--from", &p("mirror"), "--dir", &p("mirror2"), "--log-key", &key, "--once"]);
    for t in tiles_between(0, 300) {
        let a = std::fs::read(tmp.path().join("mirror2").join(t.path())).unwrap();
        assert_eq!(a, std::fs::read(tmp.path().join("mirror").join(t.path())).unwrap(), "{t}");
    }
    let out = ok(&[
        "verify",
        "--tiles",
        &p("mirror"),
        "--index",
        "123",
        "--log-key",
        &key,
        "--signer",
        &signer,
        "-o",
        &p("e123.tlog-proof"),
    ]);
    assert!(out.contains("entry 123"), "{out}");
    ok(&["verify", &p("e123.tlog-proof"), "--tiles", &base, "--log-key", &key, "--signer", &signer]);

    // A changed leaf in a static copy: the audit fails, a new mirror refuses it.
    let changed = p("changed");
    std::fs::create_dir_all(&changed).unwrap();
    copy_dir(Path::new(&p("static")), Path::new(&changed));
    flip(&Path::new(&changed).join("tile/entries/000"), 100);
    let out = fails(&["audit", "--tiles", &changed, "--log-key", &key, "--evidence", &p("ev1.json")]);
    assert!(out.contains("FAILED"), "{out}");
    let out = fails(&["mirror", "--from", &changed, "--dir", &p("m2"), "--log-key", &key, "--once"]);
    assert!(out.contains("do not hash to the root"), "{out}");
    assert!(!Path::new(&p("m2")).join("checkpoint").exists() && !Path::new(&p("m2")).join("tile/entries/000").exists());

    // A forged hash tile (entries intact): the audit names it, a mirror refuses it.
    let forged = p("forged");
    std::fs::create_dir_all(&forged).unwrap();
    copy_dir(Path::new(&p("static")), Path::new(&forged));
    flip(&Path::new(&forged).join("tile/0/000"), 1);
    let out = fails(&["audit", "--tiles", &forged, "--log-key", &key, "--evidence", &p("ev2.json")]);
    assert!(out.contains("[tiles]") && out.contains("tile/0/000"), "{out}");
    let out = fails(&["mirror", "--from", &forged, "--dir", &p("m3"), "--log-key", &key, "--once"]);
    assert!(out.contains("tile/0/000 is not a tile of the signed tree"), "{out}");

    // A fork: the same log key signs two different continuations of the same 300 entries.
    web.close().await;
    let (dir_a, tmp_a) = s.stop().await;
    let dir_b = tmp.path().join("ledger-b");
    std::fs::create_dir_all(&dir_b).unwrap();
    copy_dir(&dir_a, &dir_b);
    let a = TestServer::start_in(dir_a.clone()).await;
    let b = TestServer::start_in(dir_b.clone()).await;
    add_plans(&a, &sec, 10, 10, "honest").await;
    add_plans(&b, &sec, 10, 10, "forked").await;
    let (web_a, web_b) = (http(&a).await, http(&b).await);
    let (base_a, base_b) = (web_a.base.clone(), web_b.base.clone());
    let out = ok(&["mirror", "--from", &base_a, "--dir", &p("mirror"), "--log-key", &key, "--once", "--json"]);
    assert!(out.contains("\"from\":300") && out.contains("\"size\":310"), "{out}");
    let out = fails(&["mirror", "--from", &base_b, "--dir", &p("mirror"), "--log-key", &key, "--once"]);
    assert!(out.contains("FORK") && out.contains("same size, different root"), "{out}");
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("mirror/fork-evidence.json")).unwrap()).unwrap();
    let log = crypto::StrictNoteVerifier::from_verifier_key(&key).unwrap();
    let trusted = crypto::open_checkpoint(evidence["trusted"].as_str().unwrap().as_bytes(), &log).unwrap();
    let offered = crypto::open_checkpoint(evidence["offered"].as_str().unwrap().as_bytes(), &log).unwrap();
    assert_eq!((trusted.size, offered.size), (310, 310));
    assert_ne!(trusted.root, offered.root, "both checkpoints, both signed, different trees");
    // The mirror still serves the verified tree.
    assert_eq!(
        crypto::open_checkpoint(
            std::fs::read_to_string(tmp.path().join("mirror/checkpoint")).unwrap().as_bytes(),
            &log
        )
        .unwrap()
        .root,
        trusted.root
    );

    // A monitor following tiles: A's checkpoint, then B's tiles — inconsistent, with both notes.
    let state = p("monitor.state");
    ok(&["monitor", "--tiles", &base_a, "--log-key", &key, "--state", &state, "--once", "--replay"]);
    add_plans(&b, &sec, 5, 5, "forked-more").await;
    let out = fails(&["monitor", "--tiles", &base_b, "--log-key", &key, "--state", &state, "--once"]);
    assert!(out.contains("\"event\":\"inconsistent\""), "{out}");
    // A receipt bundle of the honest log, checked against the fork's tiles: refused as a fork; against the
    // honest log's, accepted.
    ok(&[
        "verify",
        "--tiles",
        &base_a,
        "--index",
        "305",
        "--log-key",
        &key,
        "--signer",
        &signer,
        "-o",
        &p("e305.tlog-proof"),
    ]);
    ok(&["verify", &p("e305.tlog-proof"), "--tiles", &p("mirror"), "--log-key", &key, "--signer", &signer]);
    let out = fails(&["verify", &p("e305.tlog-proof"), "--tiles", &base_b, "--log-key", &key, "--signer", &signer]);
    assert!(out.contains("FORK"), "{out}");
    web_a.close().await;
    web_b.close().await;
    a.stop().await;
    b.stop().await;
    drop(tmp_a);
}

/// `report verify --tiles`: scenario A's published report, recomputed from a static tiles directory alone
/// (no gRPC) and found identical; one figure changed in the published file is found and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_report_verifies_from_static_tiles() {
    use common::scenario::{self, Coalition};
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let req = pb::GetReportRequest { plan_id: scenario::PLAN.into(), format: "json".into(), hxl: false };
    let (resp, cp) = c.client.report(req).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    std::fs::write(p("report.json"), &resp.canonical_json).unwrap();
    ok(&["tiles", "export", &p("static"), "--data-dir", c.server.dir.to_str().unwrap()]);
    let key = c.server.verifier_key.clone();
    let args = |report: &str| {
        [
            "report",
            "verify",
            "--tiles",
            &p("static"),
            "--report",
            report,
            "--plan",
            scenario::PLAN,
            "--log-key",
            &key,
            "--json",
        ]
        .map(String::from)
    };
    let out = ok(&args(&p("report.json")).each_ref().map(String::as_str));
    assert!(out.contains("\"ok\":true") && out.contains(&format!("\"tree_size\":{}", cp.size)), "{out}");
    assert!(resp.canonical_json.contains("\"130200000\""), "the scenario's pledged total is in the report");
    std::fs::write(p("edited.json"), resp.canonical_json.replacen("\"130200000\"", "\"130200001\"", 1)).unwrap();
    let out = fails(&args(&p("edited.json")).each_ref().map(String::as_str));
    assert!(out.contains("\"ok\":false") && out.contains("130200001"), "{out}");
    c.server.stop().await;
}
