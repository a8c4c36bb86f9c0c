//! Known-answer tests: every RFC 6962 proof vector from transparency-dev/merkle (vendored in tests/data,
//! Apache-2.0), including the negative ones, and the published signed-note vectors.
use std::path::{Path, PathBuf};

use accord_tlog::merkle;
use accord_tlog::note::{self as crypto, StrictNoteVerifier};
use base64::prelude::*;
use serde::Deserialize;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e} (the vendored vectors)", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn b64(s: &str) -> Vec<u8> {
    BASE64_STANDARD.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inclusion {
    leaf_idx: u64,
    tree_size: u64,
    root: Option<String>,
    leaf_hash: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Consistency {
    size1: u64,
    size2: u64,
    root1: Option<String>,
    root2: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[test]
fn rfc6962_inclusion_vectors() {
    let files = json_files(&vectors_dir().join("rfc6962-proofs/inclusion"));
    assert!(files.len() > 20, "expected the inclusion vectors, found {}", files.len());
    let (mut ok, mut rejected) = (0, 0);
    for f in files {
        let v: Inclusion = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let root = v.root.as_deref().map(b64).unwrap_or_default();
        let leaf = v.leaf_hash.as_deref().map(b64).unwrap_or_default();
        let res = std::panic::catch_unwind(|| merkle::verify_inclusion(v.leaf_idx, v.tree_size, &leaf, &proof, &root));
        let res = res.unwrap_or_else(|_| panic!("{}: verifier panicked", f.display()));
        assert_eq!(res.is_err(), v.want_err, "{} ({}): got {res:?}", f.display(), v.desc);
        if v.want_err {
            rejected += 1
        } else {
            ok += 1
        }
    }
    assert!(ok > 0 && rejected > 0);
}

#[test]
fn rfc6962_consistency_vectors() {
    let files = json_files(&vectors_dir().join("rfc6962-proofs/consistency"));
    assert!(files.len() > 20, "expected the consistency vectors, found {}", files.len());
    for f in files {
        let v: Consistency = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let proof: Vec<Vec<u8>> = v.proof.unwrap_or_default().iter().map(|p| b64(p)).collect();
        let r1 = v.root1.as_deref().map(b64).unwrap_or_default();
        let r2 = v.root2.as_deref().map(b64).unwrap_or_default();
        let res = std::panic::catch_unwind(|| merkle::verify_consistency(v.size1, v.size2, &r1, &r2, &proof));
        let res = res.unwrap_or_else(|_| panic!("{}: verifier panicked", f.display()));
        assert_eq!(res.is_err(), v.want_err, "{} ({}): got {res:?}", f.display(), v.desc);
    }
}

/// Our own trees reproduce the vectors' 8-leaf root and proofs (leaves are the RFC 6962 test leaves).
#[test]
fn builds_the_reference_tree() {
    let leaves: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x10],
        vec![0x20, 0x21],
        vec![0x30, 0x31],
        vec![0x40, 0x41, 0x42, 0x43],
        vec![0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        vec![0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ];
    let mut t = merkle::MemoryHashes::default();
    assert_eq!(t.root(), merkle::empty_root());
    assert_eq!(hex::encode(merkle::empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for l in &leaves {
        t.append(l);
    }
    assert_eq!(BASE64_STANDARD.encode(t.root()), "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=");
    let v: Inclusion = serde_json::from_str(
        &std::fs::read_to_string(vectors_dir().join("rfc6962-proofs/inclusion/1/happy-path.json")).unwrap(),
    )
    .unwrap();
    let p = merkle::prove_record(8, v.leaf_idx, &t).unwrap();
    let ours: Vec<String> = p.iter().map(|h| BASE64_STANDARD.encode(h.0)).collect();
    let direct: Vec<String> =
        merkle::inclusion_proof(8, v.leaf_idx, &t).unwrap().iter().map(|h| BASE64_STANDARD.encode(h)).collect();
    assert_eq!(direct, ours);
    assert_eq!(ours, v.proof.unwrap());
}

/// `inclusion_proof` (one stored hash at a time), with or without the tree's right edge (and ignoring an
/// edge of another size), gives exactly `prove_record`'s audit path: every leaf of
/// every tree up to 260 leaves, and a sample of the leaves of larger trees around powers of two; a leaf at
/// or past the size, or a size the stored hashes do not reach, is refused.
#[test]
fn inclusion_proof_is_prove_record() {
    let mut t = merkle::MemoryHashes::default();
    for i in 0u32..4200 {
        t.append(&i.to_be_bytes());
    }
    let same = |size: u64, index: u64| {
        let want: Vec<[u8; 32]> = merkle::prove_record(size, index, &t).unwrap().into_iter().map(|h| h.0).collect();
        assert_eq!(merkle::inclusion_proof(size, index, &t).unwrap(), want, "size {size}, leaf {index}");
        let edge = merkle::RightEdge::new(size, &t).unwrap();
        assert_eq!(merkle::inclusion_proof_with(size, index, &t, Some(&edge)).unwrap(), want, "with the edge");
        let other = merkle::RightEdge::new(size.saturating_sub(1).max(1), &t).unwrap();
        assert_eq!(merkle::inclusion_proof_with(size, index, &t, Some(&other)).unwrap(), want, "another size's edge");
        merkle::verify_inclusion(
            index,
            size,
            &merkle::leaf_hash(&u32::try_from(index).unwrap().to_be_bytes()),
            &want.iter().map(|h| h.to_vec()).collect::<Vec<_>>(),
            &merkle::tree_hash(size, &t).unwrap(),
        )
        .unwrap();
    };
    for size in 1..=260u64 {
        for index in 0..size {
            same(size, index);
        }
    }
    for size in [1023u64, 1024, 1025, 2047, 2048, 2049, 3000, 4095, 4096, 4097, 4200] {
        for index in (0..size).step_by(13).chain([size - 1]) {
            same(size, index);
        }
    }
    assert!(merkle::inclusion_proof(5, 5, &t).is_err());
    assert!(merkle::inclusion_proof(0, 0, &t).is_err());
    assert!(merkle::inclusion_proof(5000, 4500, &t).is_err(), "hashes past the stored tree");
}

fn note_parts(text: &str, sig_line: &str) -> String {
    format!("{text}\n{sig_line}\n")
}

#[test]
fn signed_note_vectors() {
    let cases = [
        (
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "This is an example message.\n",
            "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=",
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n",
            "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        ),
    ];
    // The vectors file must still say what we test.
    let md = std::fs::read_to_string(vectors_dir().join("signed-note.md")).unwrap();
    for (vkey, text, sig) in cases {
        assert!(md.contains(vkey) && md.contains(sig), "vector {vkey} not in signed-note.md");
        let v = StrictNoteVerifier::from_verifier_key(vkey).unwrap();
        // Key ID recomputes as SHA-256(name || 0x0A || 0x01 || pubkey)[:4].
        let (name, key) = crypto::parse_verifier_key(vkey).unwrap();
        let id = crypto::note_key_id(&name, &key);
        assert_eq!(format!("{id:08x}"), vkey.split('+').nth(1).unwrap());
        let note = note_parts(text, sig);
        assert_eq!(crypto::open_note(note.as_bytes(), &v).unwrap(), text.as_bytes());
        // A changed byte in the text.
        let tampered = note.replacen('e', "E", 1);
        assert!(crypto::open_note(tampered.as_bytes(), &v).is_err());
        // A truncated signature.
        let short = note_parts(text, &sig[..sig.len() - 8]);
        assert!(crypto::open_note(short.as_bytes(), &v).is_err());
    }
    // A signature line for an unknown key only: no known key verifies.
    let v = StrictNoteVerifier::from_verifier_key(cases[0].0).unwrap();
    assert!(crypto::open_note(note_parts(cases[1].1, cases[1].2).as_bytes(), &v).is_err());
    // Key names containing '+' or a space are refused.
    assert!(crypto::parse_verifier_key("bad name+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").is_err());
    assert!(crypto::parse_verifier_key("bad+name+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").is_err());
}
