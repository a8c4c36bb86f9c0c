//! Keys and DSSE envelopes; signed notes, checkpoints and cosignatures come from `accord-tlog` and are
//! re-exported here so that every signature Accord makes or checks is found in one place.
//!
//! Every signature Accord accepts is checked with ed25519-dalek's `verify_strict` (rejects small-order
//! keys and malleable signatures). This module never touches storage or the network.
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use accord_tlog::cosign;
pub use accord_tlog::note::{
    is_key_name_valid, note_key_id, open_checkpoint, open_note, parse_private_key, parse_verifier_key,
    private_key_string, public_key_from_bytes, verifier_key_id, verifier_key_string, LogSigner, StrictNoteVerifier,
    VerifiedCheckpoint,
};
pub use ed25519_dalek::{SigningKey as PrivateKey, VerifyingKey as PublicKey};

/// `keyid` = lowercase hex SHA-256 of the 32-byte public key (DESIGN.md §2).
pub fn keyid(key: &VerifyingKey) -> String {
    keyid_of_bytes(key.as_bytes())
}

/// [`keyid`] of raw public-key bytes (as carried in statements, before they are parsed).
pub fn keyid_of_bytes(key: &[u8]) -> String {
    accord_domain::ids::keyid_of_bytes(key)
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

/// A fresh key from the operating system's CSPRNG.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
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
