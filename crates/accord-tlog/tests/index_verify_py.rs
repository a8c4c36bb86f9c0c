//! The independent verifier `scripts/index_verify.py` (written from docs/INDEX.md alone) accepts the
//! answers this crate proves, presence and both kinds of absence, and refuses each tampered variant: a
//! list cut, extended or reordered, a present key claimed absent, another map root, a map checkpoint
//! built at another log size. Needs `python3` (standard library only).
use std::path::{Path, PathBuf};
use std::process::Command;

use accord_tlog::mapcheckpoint::MapCheckpoint;
use accord_tlog::vmap::{Terminal, VerifiableMap};
use base64::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "accord.test/log";
const LOG_SIZE: u64 = 400;

fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/index_verify.py")
}

/// Run the script on `doc`; Ok(stdout) when it accepts, Err(stderr) when it refuses.
fn run(doc: &Value, name: &str) -> Result<String, String> {
    let file = std::env::temp_dir().join(format!("accord-index-verify-{}-{name}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = Command::new("python3").arg(script()).arg(&file).output().expect("python3 is installed");
    let _ = std::fs::remove_file(&file);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match out.status.code() {
        Some(0) => Ok(text(&out.stdout)),
        Some(1) => Err(text(&out.stderr)),
        other => panic!("index_verify.py exited with {other:?}: {}", text(&out.stderr)),
    }
}

/// A map of 300 keys (`party:P<i>` with a few indices each, and three named keys), its answers for the
/// named keys, and absence answers ending at an empty subtree and at another leaf.
fn answers() -> (VerifiableMap, Value) {
    let mut lists: Vec<(String, Vec<u64>)> =
        (0..300u64).map(|i| (format!("party:P{i}"), vec![i, i + 1, i + 50])).collect();
    lists.push(("party:DA".into(), vec![0, 3, 7]));
    lists.push(("plan:P1".into(), vec![0, 1, 2, 3, 399]));
    lists.push(("kind:pledge.announced".into(), vec![3]));
    let map = VerifiableMap::from_lists(lists.iter().map(|(k, l)| (key_hash(k), l.clone()))).unwrap();
    let mut out = Vec::new();
    for (k, l) in lists.iter().rev().take(3) {
        out.push(json!({"key": k, "list": l, "proof": hex::encode(map.prove(&key_hash(k)).unwrap().encode())}));
    }
    let (mut empty, mut other) = (false, false);
    for i in 0.. {
        let k = format!("party:ABSENT{i}");
        let proof = map.prove(&key_hash(&k)).unwrap();
        let kind_seen = match proof.terminal {
            Terminal::Empty => std::mem::replace(&mut empty, true),
            Terminal::Other { .. } => std::mem::replace(&mut other, true),
            Terminal::Present => unreachable!(),
        };
        if !kind_seen {
            out.push(json!({"key": k, "list": null, "proof": hex::encode(proof.encode())}));
        }
        if empty && other {
            break;
        }
    }
    let cp = MapCheckpoint { log_origin: ORIGIN.into(), log_size: LOG_SIZE, log_root: [5; 32], map_root: map.root() };
    let log = format!("{ORIGIN}\n{LOG_SIZE}\n{}\n", BASE64_STANDARD.encode([5u8; 32]));
    (map, json!({"map_checkpoint": cp.body(), "log_checkpoint": log, "answers": out}))
}

#[test]
fn the_independent_verifier_accepts_true_answers_and_refuses_tampered_ones() {
    let (map, doc) = answers();
    let ok = run(&doc, "ok").unwrap_or_else(|e| panic!("the script refused true answers: {e}"));
    assert!(ok.contains("5 answers verify"), "{ok}");

    let tamper = |name: &str, f: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        f(&mut d);
        let refused = run(&d, name).expect_err(name);
        assert!(refused.contains("REFUSED"), "{name}: {refused}");
        refused
    };
    // answers[0] is kind:pledge.announced [3], answers[1] plan:P1 [0,1,2,3,399], answers[2] party:DA.
    let e = tamper("cut", &|d| d["answers"][1]["list"] = json!([0, 1, 2, 3]));
    assert!(e.contains("answers[1]") && e.contains("map root"), "{e}");
    tamper("omitted", &|d| d["answers"][1]["list"] = json!([0, 1, 3, 399]));
    tamper("extended", &|d| d["answers"][0]["list"] = json!([3, 4]));
    tamper("reordered", &|d| d["answers"][2]["list"] = json!([0, 7, 3]));
    tamper("claimed-absent", &|d| d["answers"][2]["list"] = Value::Null);
    tamper("other-key", &|d| d["answers"][2]["key"] = json!("party:DB"));
    tamper("absent-claimed-present", &|d| d["answers"][3]["list"] = json!([1]));
    tamper("absence-for-a-present-key", &|d| d["answers"][3]["key"] = json!("party:DA"));
    let other_root = MapCheckpoint {
        log_origin: ORIGIN.into(),
        log_size: LOG_SIZE,
        log_root: [5; 32],
        map_root: Sha256::digest(map.root()).into(),
    };
    tamper("other-root", &|d| d["map_checkpoint"] = json!(other_root.body()));
    tamper("stale-log", &|d| {
        d["log_checkpoint"] = json!(format!("{ORIGIN}\n{}\n{}\n", LOG_SIZE + 1, BASE64_STANDARD.encode([5u8; 32])))
    });
    tamper("proof-bit", &|d| {
        let mut p = hex::decode(d["answers"][1]["proof"].as_str().unwrap()).unwrap();
        let last = p.len() - 1;
        p[last] ^= 1;
        d["answers"][1]["proof"] = json!(hex::encode(p));
    });
}
