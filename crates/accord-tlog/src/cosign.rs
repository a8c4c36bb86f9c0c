//! Witness cosignatures (C2SP tlog-cosignature, Ed25519 `cosignature/v1`) and trust policies (C2SP
//! tlog-policy): which logs and witnesses a verifier trusts, and the quorum of cosignatures it requires.
use std::collections::{BTreeMap, BTreeSet};

use base64::prelude::*;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::mapcheckpoint::{map_verifier, open_map_checkpoint, MapCheckpoint};
use crate::note::{open_checkpoint, split_note_key_alg, StrictNoteVerifier, VerifiedCheckpoint};

/// Signature type byte of Ed25519 cosignature/v1 keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Key ID of a cosigner: SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4].
pub fn cosigner_key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_COSIGNATURE_V1]);
    h.update(key.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    d.first_chunk::<4>().copied().unwrap_or_default()
}

/// The message a cosigner signs: `cosignature/v1`, `time T`, then the checkpoint body (with its final
/// newline, without signature lines).
pub fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// Split a signed note into its body (through the newline before the blank line) and signature lines.
pub fn split_note(note: &str) -> Result<(&str, Vec<&str>)> {
    let i = note.find("\n\n").ok_or_else(|| Error::invalid("checkpoint", "not a signed note (no blank line)"))?;
    // The body keeps its final newline; the signatures follow the blank line.
    let (body, rest) = note.split_at(i.saturating_add(1));
    let sigs = rest.strip_prefix('\n').unwrap_or(rest).lines().filter(|l| !l.is_empty()).collect();
    Ok((body, sigs))
}

/// A witness's signing side.
#[derive(Debug, Clone)]
pub struct Cosigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl Cosigner {
    /// A cosigner named `name` (its witness name) signing with `key`.
    pub fn new(name: &str, key: SigningKey) -> Self {
        let id = cosigner_key_id(name, &key.verifying_key());
        Self { name: name.to_string(), key, id }
    }
    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `name+hex8+base64(0x04 ‖ public key)`.
    pub fn verifier_key(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), BASE64_STANDARD.encode(raw))
    }
    /// A note signature line `— name base64(key ID ‖ timestamp ‖ signature)` (with its newline).
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let sig = self.key.sign(cosigned_message(body, timestamp).as_bytes());
        let mut raw = Vec::with_capacity(76);
        raw.extend_from_slice(&self.id);
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        format!("— {} {}\n", self.name, BASE64_STANDARD.encode(raw))
    }
}

/// A witness's verifying side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    /// The witness name.
    pub name: String,
    key: VerifyingKey,
    id: [u8; 4],
}

impl CosignatureVerifier {
    /// Parse `name+hex8+base64(0x04 ‖ public key)`.
    pub fn from_verifier_key(s: &str) -> Result<Self> {
        let (name, id, pk) = split_note_key_alg(s.trim(), "witness_key", "cosigner public key", ALG_COSIGNATURE_V1)?;
        let key = crate::note::public_key_from_bytes(&pk).map_err(|e| Error::invalid("witness_key", e.rule()))?;
        let want = cosigner_key_id(name, &key);
        if id != u32::from_be_bytes(want) {
            return Err(Error::invalid("witness_key", "key ID does not match the name and key"));
        }
        Ok(Self { name: name.to_string(), key, id: want })
    }
    /// `name+hex8+base64(0x04 ‖ public key)`.
    pub fn verifier_key(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), BASE64_STANDARD.encode(raw))
    }
    /// Check one signature line against a note body; returns the cosignature's timestamp.
    pub fn verify_line(&self, body: &str, line: &str) -> Option<u64> {
        let rest = line.strip_prefix("— ")?;
        let (name, b64) = rest.rsplit_once(' ')?;
        if name != self.name {
            return None;
        }
        let raw = BASE64_STANDARD.decode(b64).ok()?;
        let (id, rest) = raw.split_first_chunk::<4>()?;
        let (ts, sig) = rest.split_first_chunk::<8>()?;
        let sig: &[u8; 64] = sig.try_into().ok()?;
        if *id != self.id {
            return None;
        }
        let ts = u64::from_be_bytes(*ts);
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.key.verify_strict(cosigned_message(body, ts).as_bytes(), &sig).ok()?;
        Some(ts)
    }
    /// The timestamp of this witness's valid cosignature on the note, if there is one.
    pub fn verify_note(&self, note: &str) -> Option<u64> {
        let (body, lines) = split_note(note).ok()?;
        lines.iter().find_map(|l| self.verify_line(body, l))
    }
}

/// A C2SP tlog-policy: trusted logs, witnesses, groups and the quorum.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The logs whose checkpoints the policy accepts.
    pub logs: Vec<StrictNoteVerifier>,
    /// Witnesses by policy name, with the verifier key and the optional submission URL.
    pub witnesses: BTreeMap<String, (CosignatureVerifier, Option<String>)>,
    groups: BTreeMap<String, (usize, Vec<String>)>,
    quorum: String,
}

/// What a policy check found.
#[derive(Debug, Clone)]
pub struct PolicyVerdict {
    /// The checkpoint, signed by one of the policy's logs.
    pub checkpoint: VerifiedCheckpoint,
    /// Witnesses (by policy name) with a valid cosignature.
    pub cosigned_by: Vec<String>,
}

impl Policy {
    /// Parse the line-based policy format (`log`, `witness`, `group`, `quorum`; `#` comments).
    pub fn parse(text: &str) -> Result<Self> {
        let mut p =
            Policy { logs: Vec::new(), witnesses: BTreeMap::new(), groups: BTreeMap::new(), quorum: String::new() };
        let mut names: BTreeSet<String> = BTreeSet::new();
        // The spec's rules that keep one key from counting twice towards a quorum: no two witnesses (or
        // logs) with the same public key — an Ed25519 cosignature does not commit to the witness's name, so
        // its line could be relabelled for a second name — and no name listed as a group member twice.
        let mut witness_keys: BTreeMap<[u8; 32], String> = BTreeMap::new();
        let mut members_used: BTreeSet<String> = BTreeSet::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f = format!("policy line {}", n.saturating_add(1));
            let w: Vec<&str> = line.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
            match w.as_slice() {
                ["log", key] | ["log", key, _] => {
                    let log = StrictNoteVerifier::from_verifier_key(key).map_err(|e| e.scope(&f))?;
                    if p.logs.iter().any(|l| l.key() == log.key()) {
                        return Err(Error::invalid(f, "this log's public key is already listed"));
                    }
                    p.logs.push(log);
                }
                ["witness", name, key, url @ ..] if url.len() <= 1 => {
                    let v = CosignatureVerifier::from_verifier_key(key).map_err(|e| e.scope(&f))?;
                    if *name == "none" || !names.insert(name.to_string()) {
                        return Err(Error::invalid(f, format!("name {name:?} is already defined")));
                    }
                    if let Some(other) = witness_keys.insert(*v.key.as_bytes(), name.to_string()) {
                        return Err(Error::invalid(
                            f,
                            format!("witness {name:?} has the same public key as witness {other:?}"),
                        ));
                    }
                    p.witnesses.insert(name.to_string(), (v, url.first().map(|s| s.to_string())));
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    let members: Vec<String> = members.iter().map(|s| s.to_string()).collect();
                    for m in &members {
                        if !names.contains(m) {
                            return Err(Error::invalid(&f, format!("member {m:?} is not defined on an earlier line")));
                        }
                        if !members_used.insert(m.clone()) {
                            return Err(Error::invalid(
                                &f,
                                format!("{m:?} is already a group member (each name may be listed once)"),
                            ));
                        }
                    }
                    let k = match *threshold {
                        "all" => members.len(),
                        "any" => 1,
                        k => k.parse().ok().filter(|k| (1..=members.len()).contains(k)).ok_or_else(|| {
                            Error::invalid(&f, format!("threshold {k:?} must be all, any or 1..={}", members.len()))
                        })?,
                    };
                    if *name == "none" || !names.insert(name.to_string()) {
                        return Err(Error::invalid(f, format!("name {name:?} is already defined")));
                    }
                    p.groups.insert(name.to_string(), (k, members));
                }
                ["quorum", q] => {
                    if !p.quorum.is_empty() {
                        return Err(Error::invalid(f, "a policy has exactly one quorum line"));
                    }
                    if *q != "none" && !names.contains(*q) {
                        return Err(Error::invalid(f, format!("quorum {q:?} is not defined on an earlier line")));
                    }
                    p.quorum = q.to_string();
                }
                _ => return Err(Error::invalid(f, format!("cannot parse {line:?}"))),
            }
        }
        if p.quorum.is_empty() {
            return Err(Error::invalid("policy", "a quorum line is required (quorum none for no witnesses)"));
        }
        Ok(p)
    }

    fn satisfied(&self, name: &str, signed: &BTreeSet<String>) -> bool {
        if name == "none" {
            return true;
        }
        if self.witnesses.contains_key(name) {
            return signed.contains(name);
        }
        self.groups
            .get(name)
            .is_some_and(|(k, members)| members.iter().filter(|m| self.satisfied(m, signed)).count() >= *k)
    }

    /// Accept a checkpoint only when a trusted log signed it and the quorum of witnesses cosigned it.
    pub fn check(&self, note: &str) -> Result<PolicyVerdict> {
        let mut last = Error::denied("checkpoint", "the policy lists no log");
        let mut verified = None;
        for log in &self.logs {
            match open_checkpoint(note.as_bytes(), log) {
                Ok(cp) => {
                    verified = Some(cp);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let checkpoint = verified.ok_or(last)?;
        let cosigned_by = self.check_quorum("checkpoint", note)?;
        Ok(PolicyVerdict { checkpoint, cosigned_by })
    }

    /// Accept a map checkpoint (docs/INDEX.md §7) only when the map key of one of the policy's logs
    /// (`<log origin>/index`, [`map_verifier`]) signed it and the quorum of witnesses cosigned it, as
    /// [`Policy::check`] does for log checkpoints. Returns the map checkpoint and the witnesses (by policy
    /// name) with a valid cosignature.
    pub fn check_map(&self, note: &str) -> Result<(MapCheckpoint, Vec<String>)> {
        let mut last = Error::denied("map_checkpoint", "the policy lists no log");
        let mut verified = None;
        for log in &self.logs {
            match open_map_checkpoint(note.as_bytes(), &map_verifier(log)) {
                Ok(cp) => {
                    verified = Some(cp);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let map = verified.ok_or(last)?;
        let cosigned_by = self.check_quorum("map_checkpoint", note)?;
        Ok((map, cosigned_by))
    }

    /// The witnesses (by policy name) with a valid cosignature on the signed note `note`, when they meet the
    /// quorum; else an error naming `field`. The note's own signer is not checked here.
    fn check_quorum(&self, field: &str, note: &str) -> Result<Vec<String>> {
        let cosigned_by: BTreeSet<String> =
            self.witnesses.iter().filter(|(_, (v, _))| v.verify_note(note).is_some()).map(|(n, _)| n.clone()).collect();
        if !self.satisfied(&self.quorum, &cosigned_by) {
            return Err(Error::denied(
                field,
                format!(
                    "the quorum {:?} is not met: cosigned by {} of {} witness(es) ({})",
                    self.quorum,
                    cosigned_by.len(),
                    self.witnesses.len(),
                    cosigned_by.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(cosigned_by.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::LogSigner;

    fn generate_key() -> SigningKey {
        SigningKey::generate(&mut rand_core::OsRng)
    }

    #[test]
    fn cosignatures_and_quorum() {
        let log = LogSigner::new("example.com/log", generate_key()).unwrap();
        let note = log.sign_checkpoint(5, &[7; 32]);
        let (body, _) = split_note(&note).unwrap();
        let ws: Vec<Cosigner> = (0..3).map(|i| Cosigner::new(&format!("w{i}.example"), generate_key())).collect();
        let policy = format!(
            "log {}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup G 2 A B C\nquorum G\n",
            log.verifier_key(),
            ws[0].verifier_key(),
            ws[1].verifier_key(),
            ws[2].verifier_key()
        );
        let p = Policy::parse(&policy).unwrap();
        let one = format!("{note}{}", ws[0].cosign(body, 1_700_000_000));
        assert!(p.check(&one).unwrap_err().rule().contains("quorum"));
        let two = format!("{one}{}", ws[2].cosign(body, 1_700_000_001));
        assert_eq!(p.check(&two).unwrap().cosigned_by, ["A", "C"]);
        // A cosignature over another checkpoint does not count.
        let other = log.sign_checkpoint(6, &[8; 32]);
        let (obody, _) = split_note(&other).unwrap();
        let forged = format!("{one}{}", ws[1].cosign(obody, 1));
        assert!(p.check(&forged).is_err());
        // The log signature still opens with the log key alone.
        assert_eq!(open_checkpoint(two.as_bytes(), log.verifier()).unwrap().size, 5);
        assert!(CosignatureVerifier::from_verifier_key(&log.verifier_key()).is_err(), "0x01 is not a cosigner key");
        assert!(Policy::parse("witness A x\nquorum A").is_err());
        // One key cannot count twice: the cosignature message does not name the witness, so a line by A
        // relabelled as B would verify under B if both held the same key.
        let same_key = Cosigner::new("b.example", ws[0].key.clone());
        let dup = format!(
            "log {}\nwitness A {}\nwitness B {}\ngroup G 2 A B\nquorum G\n",
            log.verifier_key(),
            ws[0].verifier_key(),
            same_key.verifier_key()
        );
        let e = Policy::parse(&dup).unwrap_err();
        assert!(e.rule().contains("same public key"), "{e}");
        let relabelled = format!("{one}{}", same_key.cosign(body, 1_700_000_000));
        assert!(p.check(&relabelled).is_err(), "B's name with A's key is not B's cosignature");
        // Nor can one name be listed twice.
        for bad in
            ["group G 2 A A\nquorum G", "group G any A\ngroup H 2 A B\nquorum H", "group none any A\nquorum none"]
        {
            let text = format!(
                "log {}\nwitness A {}\nwitness B {}\n{bad}\n",
                log.verifier_key(),
                ws[0].verifier_key(),
                ws[1].verifier_key()
            );
            assert!(Policy::parse(&text).is_err(), "{bad}");
        }
        let two_logs = format!("log {}\nlog {}\nquorum none\n", log.verifier_key(), log.verifier_key());
        assert!(Policy::parse(&two_logs).is_err());
        assert!(Policy::parse("log x").is_err());
    }

    #[test]
    fn map_checkpoints_meet_the_quorum_as_log_checkpoints_do() {
        use crate::mapcheckpoint::MapSigner;
        let log = LogSigner::new("example.com/log", generate_key()).unwrap();
        let map = MapSigner::for_log(&log).unwrap();
        let note = map.sign(5, &[7; 32], &[8; 32]);
        let (body, _) = split_note(&note).unwrap();
        let ws: Vec<Cosigner> = (0..2).map(|i| Cosigner::new(&format!("w{i}.example"), generate_key())).collect();
        let policy = format!(
            "log {}\nwitness A {}\nwitness B {}\ngroup G 2 A B\nquorum G\n",
            log.verifier_key(),
            ws[0].verifier_key(),
            ws[1].verifier_key()
        );
        let p = Policy::parse(&policy).unwrap();
        let one = format!("{note}{}", ws[0].cosign(body, 1));
        let e = p.check_map(&one).unwrap_err();
        assert!(e.field() == "map_checkpoint" && e.rule().contains("quorum"), "{e}");
        let two = format!("{one}{}", ws[1].cosign(body, 2));
        let (cp, by) = p.check_map(&two).unwrap();
        assert_eq!((cp.log_size, by.as_slice()), (5, ["A".to_string(), "B".to_string()].as_slice()));
        // Signed by the log key under the log's own name, a map note is not the policy log's map.
        assert!(p.check(&two).is_err(), "a map checkpoint is no log checkpoint");
        let log_note = log.sign_checkpoint(5, &[7; 32]);
        assert!(p.check_map(&log_note).is_err(), "a log checkpoint is no map checkpoint");
        // Another key's map, cosigned by both witnesses: refused for its signer.
        let other = MapSigner::new("example.com/log", generate_key()).unwrap().sign(5, &[7; 32], &[8; 32]);
        let (obody, _) = split_note(&other).unwrap();
        let forged = format!("{other}{}{}", ws[0].cosign(obody, 1), ws[1].cosign(obody, 1));
        assert!(Policy::parse(&policy).unwrap().check_map(&forged).is_err());
        // Without witnesses (quorum none) the map key's signature is enough.
        let none = Policy::parse(&format!("log {}\nquorum none\n", log.verifier_key())).unwrap();
        assert!(none.check_map(&note).unwrap().1.is_empty());
    }
}
