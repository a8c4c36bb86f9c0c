//! Signed notes (C2SP signed-note) with Ed25519 keys, and C2SP checkpoints: key formats, a verifier that
//! accepts exactly what `verify_strict` accepts, the log's checkpoint signer, and opening a checkpoint.
use base64::prelude::*;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, Verifier as _, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::error::{Error, Result};

/// Whether `name` may be a note key name (non-empty, no spaces, no `+`).
pub use signed_note::is_key_name_valid;

const ALG_ED25519: u8 = 1;

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
    let key = public_key_from_bytes(&pk).map_err(|e| Error::invalid("verifier_key", e.rule()))?;
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
    /// A verifier for the key `name` (the note key name).
    pub fn new(name: &str, key: VerifyingKey) -> Self {
        Self { name: name.to_string(), id: note_key_id(name, &key), key }
    }
    /// Parse a verifier key `name+hex8+base64(0x01‖pubkey)`.
    pub fn from_verifier_key(s: &str) -> Result<Self> {
        let (name, key) = parse_verifier_key(s)?;
        Ok(Self::new(&name, key))
    }
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
    /// The verifier key in note form.
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
    pub(crate) key: SigningKey,
    verifier: StrictNoteVerifier,
}

impl LogSigner {
    /// A signer for the log `origin` (its key name); refuses an origin that is not a valid key name.
    pub fn new(origin: &str, key: SigningKey) -> Result<Self> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(Error::invalid("origin", "must be non-empty with no spaces or '+' (it is the key name)"));
        }
        let verifier = StrictNoteVerifier::new(origin, key.verifying_key());
        Ok(Self { origin: origin.to_string(), key, verifier })
    }
    /// The log origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The verifier of the log's signatures.
    pub fn verifier(&self) -> &StrictNoteVerifier {
        &self.verifier
    }
    /// The log's verifier key in note form.
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
    /// The log origin (first line).
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The RFC 6962 root hash.
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
