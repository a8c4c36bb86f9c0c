//! Keys, DSSE envelopes and signed-note checkpoints.
//!
//! Every signature Accord accepts is checked with ed25519-dalek's `verify_strict` (rejects small-order
//! keys and malleable signatures). This module never touches storage or the network.
use base64::prelude::*;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use signed_note::{Note, Verifier as _, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::error::{Error, Result};

pub mod cosign;

pub use ed25519_dalek::{SigningKey as PrivateKey, VerifyingKey as PublicKey};

const ALG_ED25519: u8 = 1;

/// `keyid` = lowercase hex SHA-256 of the 32-byte public key (DESIGN.md §2).
pub fn keyid(key: &VerifyingKey) -> String {
    keyid_of_bytes(key.as_bytes())
}

/// [`keyid`] of raw public-key bytes (as carried in statements, before they are parsed).
pub fn keyid_of_bytes(key: &[u8]) -> String {
    hex::encode(Sha256::digest(key))
}

/// A keyid is exactly 64 lowercase hex characters.
pub fn is_valid_keyid(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
///
/// ```
/// assert_eq!(accord::crypto::pae("text/plain", b"hi"), b"DSSEv1 10 text/plain 2 hi".to_vec());
/// ```
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len().saturating_add(payload_type.len()).saturating_add(32));
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Sign `PAE(payload_type, payload)`; returns the 64-byte signature.
pub fn sign_pae(key: &SigningKey, payload_type: &str, payload: &[u8]) -> [u8; 64] {
    key.sign(&pae(payload_type, payload)).to_bytes()
}

/// Check one DSSE signature with `verify_strict`.
pub fn verify_pae(key: &VerifyingKey, payload_type: &str, payload: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(sig) else { return false };
    key.verify_strict(&pae(payload_type, payload), &ed25519_dalek::Signature::from_bytes(&sig)).is_ok()
}

/// Parse a 32-byte Ed25519 public key, refusing weak (small-order) keys.
pub fn public_key_from_bytes(bytes: &[u8]) -> Result<VerifyingKey> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::invalid("", format!("an Ed25519 public key is 32 bytes, got {}", bytes.len())))?;
    let key = VerifyingKey::from_bytes(&arr)
        .map_err(|_| Error::invalid("", "not a valid Ed25519 public key (not a curve point)"))?;
    if key.is_weak() {
        return Err(Error::invalid("", "weak (small-order) Ed25519 public key"));
    }
    Ok(key)
}

/// A fresh key from the operating system's CSPRNG.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// signed-note key ID: first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey)`.
pub fn note_key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut pk = vec![ALG_ED25519];
    pk.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &pk)
}

/// Verifier key in note form: `name+hex8+base64(0x01‖pubkey)`.
pub fn verifier_key_string(name: &str, key: &VerifyingKey) -> String {
    signed_note::new_ed25519_verifier_key(name, key)
}

/// Private key in signed-note form: `PRIVATE+KEY+name+hex8+base64(0x01‖seed)`.
pub fn private_key_string(name: &str, key: &SigningKey) -> String {
    let mut sk = vec![ALG_ED25519];
    sk.extend_from_slice(&key.to_bytes());
    format!("PRIVATE+KEY+{name}+{:08x}+{}", note_key_id(name, &key.verifying_key()), BASE64_STANDARD.encode(sk))
}

/// Split `name+hex8+base64(0x01 ‖ 32 bytes)` (the shared shape of signed-note private and verifier keys)
/// into the name, the key ID and the 32 key bytes, checking the name and the algorithm byte.
fn split_note_key<'a>(s: &'a str, field: &'static str, what: &str) -> Result<(&'a str, u32, [u8; 32])> {
    split_note_key_alg(s, field, what, ALG_ED25519)
}

/// Split `name+hex8+base64(alg‖key)` for a given signature algorithm byte.
pub(crate) fn split_note_key_alg<'a>(
    s: &'a str,
    field: &'static str,
    what: &str,
    alg: u8,
) -> Result<(&'a str, u32, [u8; 32])> {
    let bad = |m: String| Error::invalid(field, m);
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id16), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+hex8+base64".into()));
    };
    if !signed_note::is_key_name_valid(name) {
        return Err(bad("key name must be non-empty with no spaces or '+'".into()));
    }
    let raw = BASE64_STANDARD.decode(b64).map_err(|_| bad("key is not valid base64".into()))?;
    let key: Option<[u8; 32]> = match raw.split_first() {
        Some((first, key)) if *first == alg => key.try_into().ok(),
        _ => None,
    };
    let Some(key) = key else {
        return Err(bad(format!("key must be 0x{alg:02x} followed by a 32-byte Ed25519 {what}")));
    };
    let id = u32::from_str_radix(id16, 16)
        .ok()
        .filter(|_| id16.len() == 8)
        .ok_or_else(|| bad("key ID is not 8 hex digits".into()))?;
    Ok((name, id, key))
}

/// Parse a signed-note private key; returns the name and the key. The key ID must match.
pub fn parse_private_key(s: &str) -> Result<(String, SigningKey)> {
    let rest = s
        .trim()
        .strip_prefix("PRIVATE+KEY+")
        .ok_or_else(|| Error::invalid("private_key", "must start with PRIVATE+KEY+"))?;
    let (name, id, seed) = split_note_key(rest, "private_key", "seed")?;
    let key = SigningKey::from_bytes(&seed);
    if id != note_key_id(name, &key.verifying_key()) {
        return Err(Error::invalid("private_key", "key ID does not match the name and key"));
    }
    Ok((name.to_string(), key))
}

/// Parse a verifier key `name+hex8+base64(0x01‖pubkey)`; returns the name and the key.
pub fn parse_verifier_key(s: &str) -> Result<(String, VerifyingKey)> {
    let (name, id, pk) = split_note_key(s.trim(), "verifier_key", "public key")?;
    let key = public_key_from_bytes(&pk).map_err(|e| Error::invalid("verifier_key", e.message))?;
    if id != note_key_id(name, &key) {
        return Err(Error::invalid("verifier_key", "key ID does not match the name and key"));
    }
    Ok((name.to_string(), key))
}

/// A signed-note verifier that accepts exactly what `verify_strict` accepts.
#[derive(Clone, Debug)]
pub struct StrictNoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl StrictNoteVerifier {
    pub fn new(name: &str, key: VerifyingKey) -> Self {
        Self { name: name.to_string(), id: note_key_id(name, &key), key }
    }
    pub fn from_verifier_key(s: &str) -> Result<Self> {
        let (name, key) = parse_verifier_key(s)?;
        Ok(Self::new(&name, key))
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
    pub fn verifier_key(&self) -> String {
        verifier_key_string(&self.name, &self.key)
    }
}

impl signed_note::Verifier for StrictNoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else { return false };
        self.key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig)).is_ok()
    }
}

/// The log's checkpoint signer. The key name is the log origin.
#[derive(Debug)]
pub struct LogSigner {
    origin: String,
    key: SigningKey,
    verifier: StrictNoteVerifier,
}

impl LogSigner {
    pub fn new(origin: &str, key: SigningKey) -> Result<Self> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(Error::invalid("origin", "must be non-empty with no spaces or '+' (it is the key name)"));
        }
        let verifier = StrictNoteVerifier::new(origin, key.verifying_key());
        Ok(Self { origin: origin.to_string(), key, verifier })
    }
    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn verifier(&self) -> &StrictNoteVerifier {
        &self.verifier
    }
    pub fn verifier_key(&self) -> String {
        self.verifier.verifier_key()
    }
    /// Sign the C2SP checkpoint for (size, root) and return the whole signed note.
    pub fn sign_checkpoint(&self, size: u64, root: &[u8; 32]) -> String {
        // The origin was validated by `new`, so the checkpoint always builds; the fallback is the same text.
        let text = match Checkpoint::new(&self.origin, size, Hash(*root), "") {
            Ok(cp) => cp.to_bytes(),
            Err(_) => format!("{}\n{size}\n{}\n", self.origin, BASE64_STANDARD.encode(root)).into_bytes(),
        };
        let sig = self.key.sign(&text).to_bytes();
        let mut line = self.verifier.id.to_be_bytes().to_vec();
        line.extend_from_slice(&sig);
        let mut note = String::from_utf8_lossy(&text).into_owned();
        note.push('\n');
        note.push_str(&format!("— {} {}\n", self.origin, BASE64_STANDARD.encode(line)));
        note
    }
}

/// A checkpoint that passed [`open_checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    /// The note exactly as received.
    pub note: String,
}

/// Parse a signed checkpoint and check everything: the note is well-formed, the log key signed it
/// (strictly), the origin line equals the key name, and the body is a C2SP checkpoint. Signatures by
/// other keys (witnesses) are ignored here.
pub fn open_checkpoint(note: &[u8], log: &StrictNoteVerifier) -> Result<VerifiedCheckpoint> {
    let bad = |m: String| Error::denied("checkpoint", m);
    let parsed = Note::from_bytes(note).map_err(|e| Error::invalid("checkpoint", format!("not a signed note: {e}")))?;
    let list = VerifierList::new(vec![Box::new(log.clone())]);
    parsed.verify(&list).map_err(|e| bad(format!("not signed by the log key {}: {e}", log.verifier_key())))?;
    let cp = Checkpoint::from_bytes(parsed.text())
        .map_err(|_| Error::invalid("checkpoint", "note text is not a C2SP checkpoint"))?;
    if cp.origin() != log.name() {
        return Err(bad(format!("origin {:?} is not the log key's name {:?}", cp.origin(), log.name())));
    }
    Ok(VerifiedCheckpoint {
        origin: cp.origin().to_string(),
        size: cp.size(),
        root: cp.hash().0,
        note: String::from_utf8_lossy(note).into_owned(),
    })
}

/// Verify a generic signed note against one verifier key; returns the text.
pub fn open_note(note: &[u8], verifier: &StrictNoteVerifier) -> Result<Vec<u8>> {
    let parsed = Note::from_bytes(note).map_err(|e| Error::invalid("note", format!("not a signed note: {e}")))?;
    let list = VerifierList::new(vec![Box::new(verifier.clone())]);
    parsed.verify(&list).map_err(|e| Error::denied("note", e.to_string()))?;
    Ok(parsed.text().to_vec())
}

/// Check that a verifier key string's embedded ID is consistent (used by tests with published vectors).
pub fn verifier_key_id(s: &str) -> Result<u32> {
    let v = StrictNoteVerifier::from_verifier_key(s)?;
    Ok(v.key_id())
}

/// Sign a statement into a DSSE envelope with one or more keys.
pub fn seal(statement: &crate::pb::Statement, keys: &[&SigningKey]) -> crate::pb::Envelope {
    use prost::Message;
    let mut env = crate::pb::Envelope {
        payload: statement.encode_to_vec(),
        payload_type: crate::PAYLOAD_TYPE.to_string(),
        signatures: Vec::new(),
    };
    for k in keys {
        add_signature(&mut env, k);
    }
    env
}

/// Add (or replace) this key's signature on an envelope.
pub fn add_signature(env: &mut crate::pb::Envelope, key: &SigningKey) {
    let kid = keyid(&key.verifying_key());
    env.signatures.retain(|s| s.keyid != kid);
    let sig = sign_pae(key, &env.payload_type, &env.payload);
    env.signatures.push(crate::pb::Signature { sig: sig.to_vec(), keyid: kid });
    env.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
}

/// Merge the signatures of envelopes over the same payload (founders sign separately, then combine).
pub fn combine(envs: &[crate::pb::Envelope]) -> Result<crate::pb::Envelope> {
    let first = envs.first().ok_or_else(|| Error::invalid("envelopes", "nothing to combine"))?;
    let mut out = crate::pb::Envelope {
        payload: first.payload.clone(),
        payload_type: first.payload_type.clone(),
        signatures: Vec::new(),
    };
    for (i, e) in envs.iter().enumerate() {
        if e.payload != first.payload || e.payload_type != first.payload_type {
            return Err(Error::invalid(format!("envelopes[{i}]"), "signs a different payload than envelopes[0]"));
        }
        for s in &e.signatures {
            match out.signatures.iter().find(|o| o.keyid == s.keyid) {
                Some(o) if o.sig != s.sig => {
                    return Err(Error::invalid(
                        format!("envelopes[{i}]"),
                        format!("two different signatures by key {}", s.keyid),
                    ))
                }
                Some(_) => {}
                None => out.signatures.push(s.clone()),
            }
        }
    }
    out.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    Ok(out)
}

/// `identity = SHA-256(canonical envelope bytes)`; the envelope must already be canonical.
pub fn envelope_identity(canonical: &crate::pb::Envelope) -> [u8; 32] {
    use prost::Message;
    Sha256::digest(canonical.encode_to_vec()).into()
}

/// The identity of the envelope inside a leaf (`accord.v1.LogEntry`), or None if the leaf does not decode.
pub fn leaf_identity(leaf: &[u8]) -> Option<[u8; 32]> {
    use prost::Message;
    let entry = crate::pb::LogEntry::decode(leaf).ok()?;
    Some(envelope_identity(&entry.envelope?))
}
