//! Interoperability: Go's reference implementations, `golang.org/x/mod/sumdb/note` and
//! `golang.org/x/mod/sumdb/tlog`, must accept what a real server publishes (DESIGN.md §2): every signed
//! checkpoint (including the size-0 one, whose root must be SHA-256("")), every inclusion proof and every
//! consistency proof between stored sizes. The Go side (`tests/interop/go/verify.go`) also recomputes the
//! roots and proofs from the leaves and checks that tampered notes and proofs are rejected.
//!
//! Needs Go and Debian's `golang-golang-x-mod-dev` (`scripts/test.sh` installs both); builds offline.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use accord::crypto;
use accord::pb::{self, get_entry_request, get_inclusion_proof_request, ledger_service_client::LedgerServiceClient};
use base64::prelude::*;
use common::{charter_envelope, plan, Founder, TestServer};
use serde_json::{json, Value};
use tonic::transport::Channel;

/// The Go module, whose go.mod replaces golang.org/x/mod with this directory.
const XMOD_DIR: &str = "/usr/share/gocode/src/golang.org/x/mod";
const INSTALL_HINT: &str = "run scripts/test.sh (it installs the Debian packages golang-go and \
                            golang-golang-x-mod-dev), or: apt-get install -y golang-go golang-golang-x-mod-dev";

fn go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/go")
}

fn b64(bytes: &[u8]) -> String {
    BASE64_STANDARD.encode(bytes)
}

/// `go` with settings that never touch the network: no module proxy, no checksum database, no toolchain
/// download, no workspace; caches under cargo's target directory so they survive between runs.
fn go_command(args: &[&str]) -> tokio::process::Command {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut cmd = tokio::process::Command::new("go");
    cmd.args(args)
        .current_dir(go_dir())
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=readonly")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env("GO111MODULE", "on")
        .env("GOPATH", tmp.join("gopath"))
        .env("GOCACHE", tmp.join("go-build"));
    cmd
}

/// Fail (never skip) when Go or x/mod is missing.
async fn require_go() -> String {
    let out = go_command(&["version"]).output().await.unwrap_or_else(|e| {
        panic!("Go is not installed (`go version`: {e}); this test needs it: {INSTALL_HINT}");
    });
    assert!(
        out.status.success(),
        "`go version` failed ({}): {}; {INSTALL_HINT}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        Path::new(XMOD_DIR).join("sumdb/note/note.go").is_file(),
        "golang.org/x/mod sources are missing from {XMOD_DIR}; {INSTALL_HINT}"
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn build_verifier() -> PathBuf {
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("accord-interop-go-verify");
    let out =
        go_command(&["build", "-o", bin.to_str().expect("UTF-8 path"), "."]).output().await.expect("run go build");
    assert!(
        out.status.success(),
        "go build in {} failed ({}):\n{}{}\n(offline build: GOPROXY=off, golang.org/x/mod replaced by {XMOD_DIR}; \
         {INSTALL_HINT})",
        go_dir().display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Run the Go verifier on `input`; returns (success, combined output).
async fn run_verifier(bin: &Path, input: &Value, dir: &Path, name: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(input).unwrap()).unwrap();
    let out = tokio::process::Command::new(bin).arg(&path).output().await.expect("run the Go verifier");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn checkpoint(raw: &mut LedgerServiceClient<Channel>, size: Option<u64>) -> pb::GetCheckpointResponse {
    raw.get_checkpoint(pb::GetCheckpointRequest { tree_size: size }).await.expect("GetCheckpoint").into_inner()
}

#[tokio::test]
async fn go_sumdb_accepts_our_checkpoints_and_proofs() {
    let started = Instant::now();
    let go_version = require_go().await;
    let bin = build_verifier().await;
    println!("{go_version}; verifier built in {:?}", started.elapsed());

    // The size-0 checkpoint is only reachable through the API while the log is empty (GetCheckpoint's
    // tree_size 0 means "latest"), so take it before the charter; then found the coalition as
    // common::chartered() does.
    let s = TestServer::start().await;
    let mut raw = s.raw().await;
    let empty = checkpoint(&mut raw, None).await;
    assert_eq!(empty.tree_size, 0, "a fresh ledger's latest checkpoint is the empty tree");
    assert_eq!(empty.root_hash, accord::merkle::empty_root().to_vec());
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut client = s.client().await;
    let mut receipts = vec![client.submit(charter_envelope(&[&sec, &fun], 1)).await.expect("charter accepted")];

    // 20 single submissions (a checkpoint at every size 2..=21), then two batches (checkpoints at 28 and 41).
    for i in 1..=20 {
        let env = crypto::seal(&plan(&format!("single-{i:02}")), &[&sec.key]);
        receipts.push(client.submit(env).await.expect("plan accepted"));
    }
    for (name, n) in [("batch-a", 7), ("batch-b", 13)] {
        let envs = (1..=n).map(|i| crypto::seal(&plan(&format!("{name}-{i:02}")), &[&sec.key])).collect();
        receipts.extend(client.submit_batch(envs).await.expect("batch accepted"));
    }
    let total = receipts.len() as u64;
    assert_eq!(total, 41);

    // Checkpoints: every stored size, fetched by size; each receipt's checkpoint must be the stored one.
    let mut notes: BTreeMap<u64, String> = BTreeMap::from([(0, empty.checkpoint)]);
    for r in &receipts {
        let size = r.receipt.tree_size;
        let cp = checkpoint(&mut raw, Some(size)).await;
        assert_eq!(cp.tree_size, size);
        assert_eq!(cp.checkpoint, r.receipt.checkpoint, "receipt checkpoint of size {size} is the stored one");
        notes.insert(size, cp.checkpoint);
    }
    let sizes: Vec<u64> = notes.keys().copied().collect();
    assert_eq!(sizes.len(), 24, "sizes 0..=21, 28 and 41: {sizes:?}");

    // Leaves, verbatim.
    let mut leaves = Vec::new();
    for i in 0..total {
        let req = pb::GetEntryRequest { key: Some(get_entry_request::Key::Index(i)) };
        let e = raw.get_entry(req).await.expect("GetEntry").into_inner().entry.expect("entry");
        assert_eq!(e.index, i);
        assert_eq!(e.leaf, receipts[i as usize].receipt.leaf, "GetEntry({i}) returns the receipt's leaf bytes");
        leaves.push(e.leaf);
    }

    // Inclusion proofs of every leaf in every stored tree that contains it.
    let mut inclusion = Vec::new();
    for &size in sizes.iter().filter(|s| **s > 0) {
        for index in 0..size {
            let req = pb::GetInclusionProofRequest {
                leaf: Some(get_inclusion_proof_request::Leaf::Index(index)),
                tree_size: size,
            };
            let p = raw.get_inclusion_proof(req).await.expect("GetInclusionProof").into_inner();
            assert_eq!((p.index, p.tree_size), (index, size));
            assert_eq!(p.checkpoint, notes[&size], "inclusion proof at {size} names the stored checkpoint");
            inclusion.push(json!({
                "index": index,
                "tree_size": size,
                "leaf": b64(&leaves[index as usize]),
                "proof": p.proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
            }));
        }
    }

    // Consistency proofs between every pair of stored sizes, including equal sizes and from 0 (but not
    // 0 -> 0: to_size 0 means "latest").
    let mut consistency = Vec::new();
    for (i, &old) in sizes.iter().enumerate() {
        for &new in sizes[i..].iter().filter(|n| **n > 0) {
            let req = pb::GetConsistencyProofRequest { from_size: old, to_size: Some(new) };
            let p = raw.get_consistency_proof(req).await.expect("GetConsistencyProof").into_inner();
            assert_eq!((p.from_size, p.to_size), (old, new));
            consistency.push(json!({
                "old_size": old,
                "new_size": new,
                "proof": p.proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
            }));
        }
    }
    // The verifier key as the server publishes it.
    let info = raw.get_log_info(pb::GetLogInfoRequest {}).await.expect("GetLogInfo").into_inner();
    assert_eq!(info.verifier_key, s.verifier_key);
    assert_eq!(info.origin, common::ORIGIN);
    let collected = started.elapsed();
    s.stop().await;
    // A witness-cosigned checkpoint (C2SP tlog-cosignature line appended) must still open in Go with the
    // log key alone: the newest note goes to Go with a cosignature from a test witness.
    let last = *notes.keys().last().unwrap();
    let witness = accord::crypto::cosign::Cosigner::new("witness.example/w1", accord::crypto::generate_key());
    let (body, _) = accord::crypto::cosign::split_note(&notes[&last]).unwrap();
    let cosigned = format!("{}{}", notes[&last], witness.cosign(body, 1_800_000_000));
    notes.insert(last, cosigned);

    let input = json!({
        "verifier_key": info.verifier_key,
        "checkpoints": notes.values().collect::<Vec<_>>(),
        "leaves": leaves.iter().map(|l| b64(l)).collect::<Vec<_>>(),
        "inclusion": inclusion,
        "consistency": consistency,
    });
    let tmp = tempfile::tempdir().unwrap();
    let (ok, output) = run_verifier(&bin, &input, tmp.path(), "published.json").await;
    println!("{output}");
    assert!(ok && output.contains("RESULT: OK"), "Go's sumdb/note and sumdb/tlog rejected our output:\n{output}");

    // The verifier must be able to fail: one flipped byte in one published consistency proof.
    let mut bad = input.clone();
    let victim = bad["consistency"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["old_size"] == 5 && c["new_size"] == 41)
        .expect("the 5 -> 41 consistency proof");
    let mut h = BASE64_STANDARD.decode(victim["proof"][0].as_str().unwrap()).unwrap();
    h[0] ^= 1;
    victim["proof"][0] = json!(b64(&h));
    let (ok, output) = run_verifier(&bin, &bad, tmp.path(), "tampered.json").await;
    assert!(!ok && output.contains("consistency 5 -> 41: tlog.CheckTree"), "tampered input was accepted:\n{output}");
    println!("interop test: data collected in {collected:?}, total {:?}", started.elapsed());
}

/// Go's `sumdb/tlog` reads Accord's C2SP tlog-tiles from the live HTTP port (paths translated only by the
/// height segment): `ParseTilePath` round-trips every path, `TileHashReader` authenticates the tiles
/// against each signed root, and `ProveRecord`/`CheckRecord` prove sampled entries read from entry
/// bundles — with proofs equal to Accord's GetInclusionProof — at sizes whose edges are partial tiles at
/// levels 0 and 1, including older sizes read after the log grew. A lying tile server is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sumdb_reads_our_tiles() {
    require_go().await;
    let bin = build_verifier().await;
    let s = TestServer::start().await;
    let mut raw = s.raw().await;
    let empty = checkpoint(&mut raw, None).await;
    let sec = Founder::new("XM-SEC", &["secretariat"]);
    let fun = Founder::new("XM-DAC-1", &["funder"]);
    let mut client = s.client().await;
    client.submit(charter_envelope(&[&sec, &fun], 1)).await.expect("charter accepted");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let web = tokio::spawn(accord::server::web::serve(listener, s.ledger.clone(), async move {
        let _ = rx.await;
    }));

    // Grow the log to each size in turn (one batch per step: a signed checkpoint at each size).
    let sizes = [2u64, 255, 256, 257, 511, 512, 513, 700, 1000];
    let mut notes = vec![empty.checkpoint];
    let mut size = 1u64;
    for &target in &sizes {
        let envs: Vec<_> = (size..target).map(|i| crypto::seal(&plan(&format!("tile-{i:05}")), &[&sec.key])).collect();
        client.submit_batch(envs).await.expect("plans accepted");
        size = target;
        notes.push(checkpoint(&mut raw, Some(size)).await.checkpoint);
    }
    // Checks at every size after the log reached its last one: older trees read through narrower tiles.
    let mut checks = Vec::new();
    for &n in &sizes {
        let indexes: Vec<u64> = [0, 1, n / 2, n.saturating_sub(2), n - 1, 255, 256, 511]
            .into_iter()
            .filter(|i| *i < n)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut proofs = Vec::new();
        for &index in &indexes {
            let req = pb::GetInclusionProofRequest {
                leaf: Some(get_inclusion_proof_request::Leaf::Index(index)),
                tree_size: n,
            };
            let p = raw.get_inclusion_proof(req).await.expect("GetInclusionProof").into_inner();
            proofs.push(p.proof.iter().map(|h| b64(h)).collect::<Vec<_>>());
        }
        checks.push(json!({"tree_size": n, "indexes": indexes, "proofs": proofs}));
    }
    let input = json!({
        "verifier_key": s.verifier_key,
        "checkpoints": notes,
        "tiles": {"base": base, "checks": checks},
    });
    let tmp = tempfile::tempdir().unwrap();
    let (ok, output) = run_verifier(&bin, &input, tmp.path(), "tiles.json").await;
    println!("{output}");
    assert!(ok && output.contains("RESULT: OK"), "Go's sumdb/tlog rejected our tiles:\n{output}");
    assert!(output.contains("tiles: size 1000:") && output.contains("tiles: size 257:"), "{output}");
    let _ = stop.send(());
    web.await.unwrap().unwrap();
    s.stop().await;
}
