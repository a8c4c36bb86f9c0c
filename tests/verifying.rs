//! docs/VERIFYING.md is enough: a verifier written here from the document alone — SHA-256, Ed25519 and
//! base64, no Accord verification code — accepts the proof bundle `accord get --proof-out` writes for an
//! entry of a real ledger whose checkpoint a real witness cosigned, under a policy requiring that witness;
//! and it rejects the bundle when any part is changed. `accord verify --policy` agrees with it, and
//! `accord get --policy` refuses a checkpoint its quorum did not cosign.
mod common;

use std::sync::Arc;
use std::time::Duration;

use accord::crypto::{self, cosign::Cosigner, StrictNoteVerifier};
use accord::pb;
use base64::prelude::*;
use common::*;
use ed25519_dalek::{Signature, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A verifier key `name+hex8+base64(alg ‖ 32-byte key)` whose key ID is SHA-256(name ‖ "\n" ‖ alg ‖ key)[:4].
fn vkey(s: &str, alg: u8) -> Result<(String, [u8; 4], VerifyingKey), String> {
    let mut parts = s.splitn(3, '+');
    let (name, id, b64) = (parts.next().unwrap(), parts.next().ok_or("no id")?, parts.next().ok_or("no key")?);
    let raw = BASE64_STANDARD.decode(b64).map_err(|e| e.to_string())?;
    if raw.len() != 33 || raw[0] != alg {
        return Err(format!("not an algorithm {alg:#04x} key"));
    }
    let key = VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).map_err(|e| e.to_string())?;
    let want: [u8; 4] = sha256(&[name.as_bytes(), b"\n", &[alg], key.as_bytes()])[..4].try_into().unwrap();
    if hex::encode(want) != id {
        return Err("key ID does not match".into());
    }
    Ok((name.to_string(), want, key))
}

/// A signature line's key name and decoded bytes.
type SigLine = (String, Vec<u8>);

/// Signature lines `— name base64(…)` of a note whose text ends at the blank line: (text, lines).
fn note(n: &str) -> Result<(&str, Vec<SigLine>), String> {
    let i = n.find("\n\n").ok_or("no blank line")?;
    let sigs = n[i + 2..]
        .lines()
        .map(|l| {
            let (name, b64) = l.strip_prefix("— ").and_then(|r| r.rsplit_once(' ')).ok_or("bad signature line")?;
            Ok((name.to_string(), BASE64_STANDARD.decode(b64).map_err(|e| e.to_string())?))
        })
        .collect::<Result<_, String>>()?;
    Ok((&n[..=i], sigs))
}

/// RFC 9162 §2.1.3.2.
fn inclusion_ok(index: u64, size: u64, leaf_hash: [u8; 32], proof: &[[u8; 32]], root: [u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s, mut r) = (index, size - 1, leaf_hash);
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = sha256(&[&[1], p, &r]);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = sha256(&[&[1], &r, p]);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

/// Steps 1–4 of docs/VERIFYING.md for a bundle, with a policy of one log key, witness keys and a threshold
/// over all of them, and the signer keys. Returns the witnesses that cosigned.
fn verify(
    bundle: &str,
    log: &str,
    witnesses: &[&str],
    k: usize,
    signers: &[VerifyingKey],
) -> Result<Vec<String>, String> {
    let (head, checkpoint) = bundle.split_once("\n\n").ok_or("no checkpoint")?;
    let mut lines = head.lines();
    if lines.next() != Some("c2sp.org/tlog-proof@v1") {
        return Err("not a tlog-proof".into());
    }
    let leaf = BASE64_STANDARD
        .decode(lines.next().and_then(|l| l.strip_prefix("extra ")).ok_or("no extra")?)
        .map_err(|e| e.to_string())?;
    let index: u64 =
        lines.next().and_then(|l| l.strip_prefix("index ")).ok_or("no index")?.parse().map_err(|_| "index")?;
    let proof: Vec<[u8; 32]> = lines
        .map(|l| BASE64_STANDARD.decode(l).ok().and_then(|h| h.try_into().ok()).ok_or("proof hash"))
        .collect::<Result<_, _>>()?;
    // 1. The checkpoint is the log's.
    let (name, id, key) = vkey(log, 0x01)?;
    let (text, sigs) = note(checkpoint)?;
    let sig = sigs.iter().find(|(n, s)| n == &name && s.len() == 68 && s[..4] == id).ok_or("no log signature")?;
    key.verify_strict(text.as_bytes(), &Signature::from_bytes(&sig.1[4..].try_into().unwrap()))
        .map_err(|_| "log signature")?;
    let body: Vec<&str> = text.lines().collect();
    if body.len() != 3 || body[0] != name {
        return Err("origin".into());
    }
    let size: u64 = body[1].parse().map_err(|_| "size")?;
    let root: [u8; 32] = BASE64_STANDARD.decode(body[2]).ok().and_then(|r| r.try_into().ok()).ok_or("root")?;
    // 2. The witnesses saw it.
    let mut cosigned = Vec::new();
    for w in witnesses {
        let (wname, wid, wkey) = vkey(w, 0x04)?;
        for (n, s) in &sigs {
            if n == &wname && s.len() == 76 && s[..4] == wid {
                let t = u64::from_be_bytes(s[4..12].try_into().unwrap());
                let msg = format!("cosignature/v1\ntime {t}\n{text}");
                if wkey.verify_strict(msg.as_bytes(), &Signature::from_bytes(&s[12..].try_into().unwrap())).is_ok() {
                    cosigned.push(wname.clone());
                }
            }
        }
    }
    if cosigned.len() < k {
        return Err(format!("quorum: {} of {k}", cosigned.len()));
    }
    // 3. The entry is in the tree.
    if !inclusion_ok(index, size, sha256(&[&[0], &leaf]), &proof, root) {
        return Err("inclusion".into());
    }
    // 4. The leaf is what was signed: DSSE PAE, keyid = hex SHA-256(key), the statement names the ledger.
    let le = pb::LogEntry::decode(leaf.as_slice()).map_err(|e| e.to_string())?;
    let env = le.envelope.ok_or("no envelope")?;
    let ty = "application/vnd.accord.statement.v1+protobuf";
    if env.payload_type != ty {
        return Err("payload type".into());
    }
    let mut pae = format!("DSSEv1 {} {ty} {} ", ty.len(), env.payload.len()).into_bytes();
    pae.extend_from_slice(&env.payload);
    for s in &env.signatures {
        let k = signers.iter().find(|k| hex::encode(sha256(&[k.as_bytes()])) == s.keyid).ok_or("unknown signer")?;
        k.verify_strict(&pae, &Signature::from_bytes(&s.sig.as_slice().try_into().map_err(|_| "sig")?))
            .map_err(|_| "envelope signature")?;
    }
    let st = pb::Statement::decode(env.payload.as_slice()).map_err(|e| e.to_string())?;
    if st.ledger != name {
        return Err("statement for another ledger".into());
    }
    Ok(cosigned)
}

/// A witness, in this process, on loopback, keeping its state in `dir`; the ledger sends it every new
/// checkpoint. Returns the witness's verifier key.
async fn start_witness(s: &TestServer, dir: &std::path::Path) -> String {
    let cosigner = Cosigner::new("witness.example/w1", crypto::generate_key());
    let wkey = cosigner.verifier_key();
    let log = StrictNoteVerifier::from_verifier_key(&s.verifier_key).unwrap();
    let w = Arc::new(accord::server::witness::Witness::open(cosigner, vec![log], &dir.join("w1.state")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let waddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, accord::server::witness::router(w)).await });
    let target = accord::server::witness::WitnessTarget::parse(&format!("http://{waddr}={wkey}")).unwrap();
    tokio::spawn(accord::server::witness::run_sender(s.ledger.clone(), target, CancellationToken::new()));
    wkey
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_procedure_verifies_a_cosigned_bundle_without_accord_code() {
    let (s, sec, _fun) = chartered().await;
    let tmp = tempfile::tempdir().unwrap();
    let wkey = start_witness(&s, tmp.path()).await;

    let mut c = s.client().await;
    for i in 0..4 {
        c.submit(crypto::seal(&plan(&format!("p{i}")), &[&sec.key])).await.unwrap();
    }
    // The sender pushes checkpoints to the witness in the background and announces nothing a test could
    // await: retry with a bounded backoff until the served checkpoint carries the cosignature.
    wait_until("the witness cosigned the latest checkpoint", Duration::from_secs(10), async || {
        let cp = c.checkpoint(None).await.unwrap();
        (cp.size == 5 && cp.note.contains("— witness.example/w1 ")).then_some(())
    })
    .await;

    let bundle_path = tmp.path().join("entry-3.tlog-proof");
    let out = tokio::process::Command::new(BIN)
        .args(["--log", "warn", "get", "--server", &s.url, "--log-key", &s.verifier_key, "--index", "3", "--proof-out"])
        .arg(&bundle_path)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle = std::fs::read_to_string(&bundle_path).unwrap();
    let signers = [sec.key.verifying_key()];

    assert_eq!(verify(&bundle, &s.verifier_key, &[&wkey], 1, &signers), Ok(vec!["witness.example/w1".to_string()]));
    // The cosignature's key ID is computed with 0x04, not the 0x01 of note signatures.
    let (wname, wid, wpk) = vkey(&wkey, 0x04).unwrap();
    let line = bundle.lines().find(|l| l.starts_with("— witness.example/w1 ")).unwrap();
    let raw = BASE64_STANDARD.decode(line.rsplit_once(' ').unwrap().1).unwrap();
    assert_eq!((raw.len(), &raw[..4]), (76, &wid[..]));
    assert_ne!(&raw[..4], &sha256(&[wname.as_bytes(), b"\n", &[0x01], wpk.as_bytes()])[..4]);
    // Every part matters: a flipped cosignature, leaf or proof hash, a missing signer key, a larger quorum.
    let flip = |s: &str, at: usize| {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let cos_at = bundle.find("— witness.example/w1 ").unwrap() + "— witness.example/w1 ".len() + 30;
    assert_eq!(verify(&flip(&bundle, cos_at), &s.verifier_key, &[&wkey], 1, &signers), Err("quorum: 0 of 1".into()));
    let extra_at = bundle.find("extra ").unwrap() + 40;
    assert!(verify(&flip(&bundle, extra_at), &s.verifier_key, &[&wkey], 1, &signers).is_err());
    let proof_at = bundle.find("index 3\n").unwrap() + 10;
    assert_eq!(verify(&flip(&bundle, proof_at), &s.verifier_key, &[&wkey], 1, &signers), Err("inclusion".into()));
    assert!(verify(&bundle, &s.verifier_key, &[&wkey], 1, &[]).is_err());
    assert!(verify(&bundle, &s.verifier_key, &[&wkey], 2, &signers).is_err(), "a quorum of two needs two");

    // accord verify --policy agrees.
    let policy = tmp.path().join("policy.txt");
    std::fs::write(&policy, format!("log {}\nwitness W1 {wkey}\nquorum W1\n", s.verifier_key)).unwrap();
    let pubf = tmp.path().join("sec.pub");
    std::fs::write(&pubf, crypto::verifier_key_string("XM-SEC", &sec.key.verifying_key())).unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(["--log", "warn", "verify", "--policy"])
        .arg(&policy)
        .arg(&bundle_path)
        .arg("--signer")
        .arg(&pubf)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // accord get --policy proves the entry only in a checkpoint the quorum cosigned: one witness meets a
    // one-witness quorum; a policy also requiring a witness that never saw the log is refused.
    let get = |policy: std::path::PathBuf| {
        tokio::process::Command::new(BIN)
            .args(["--log", "warn", "get", "--server", &s.url, "--index", "3", "--policy"])
            .arg(policy)
            .output()
    };
    let out = get(policy.clone()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let absent = Cosigner::new("witness.example/w2", crypto::generate_key()).verifier_key();
    let strict = tmp.path().join("strict.txt");
    std::fs::write(
        &strict,
        format!("log {}\nwitness W1 {wkey}\nwitness W2 {absent}\ngroup both all W1 W2\nquorum both\n", s.verifier_key),
    )
    .unwrap();
    let out = get(strict).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quorum"), "{}", String::from_utf8_lossy(&out.stderr));
    s.stop().await;
}
