//! The stateless stage: an envelope's size, payload type, canonical statement, field rules and signatures,
//! checked before the sequencer sees it.
use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;

use super::{Latest, Ledger, Limits};
use crate::crypto;
use crate::domain;
use crate::error::{Error, Result};
use crate::pb::{Envelope, Signature, Statement};
use crate::store::EntryRow;
use crate::PAYLOAD_TYPE;

/// An envelope that passed the stateless stage.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The canonical envelope (signatures sorted by keyid, unknown fields dropped).
    pub envelope: Envelope,
    /// SHA-256 of the canonical envelope's encoding: the same envelope always has the same identity.
    pub identity: [u8; 32],
    /// The statement decoded from the payload.
    pub statement: Statement,
    /// The statement parsed into its typed form at the wire boundary ([`crate::proto`]).
    pub parsed: accord_domain::statement::Statement,
    /// The compiled body ([`crate::proto::compiled`]), typed and encoded, that subjects the statement
    /// creates or versions keep.
    pub compiled: std::sync::Arc<accord_domain::book::Compiled>,
    /// The statement's kind name, e.g. `pledge.announced`.
    pub kind: &'static str,
    /// keyids whose signatures verified.
    pub signers: Vec<String>,
    /// Positions of signatures whose keys were unknown to the snapshot; the sequencer checks them.
    pub unverified: Vec<usize>,
}

impl Prepared {
    /// The statement's `statement_id`, unique in the log.
    pub fn statement_id(&self) -> &str {
        &self.statement.statement_id
    }
}

/// A committed (or already present) entry with the checkpoint that covers it.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The stored entry (the existing one for a duplicate).
    pub entry: Arc<EntryRow>,
    /// The latest checkpoint after the commit; its tree includes the entry.
    pub latest: Latest,
    /// True when the envelope (same identity) was already in the log and nothing was appended.
    pub duplicate: bool,
}

/// The canonical encoding of an envelope: signatures sorted by keyid, unknown fields dropped.
pub fn canonical_envelope(env: &Envelope) -> Envelope {
    let mut sigs: Vec<Signature> =
        env.signatures.iter().map(|s| Signature { sig: s.sig.clone(), keyid: s.keyid.clone() }).collect();
    sigs.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    Envelope { payload: env.payload.clone(), payload_type: env.payload_type.clone(), signatures: sigs }
}

/// `identity = SHA-256(canonical envelope bytes)`.
pub fn identity(canonical: &Envelope) -> [u8; 32] {
    crypto::envelope_identity(canonical)
}

/// The identity of `env`'s canonical form, `identity(&canonical_envelope(env))`, hashed straight from
/// `env` without copying it: the fields in prost's order, empty scalars left out as prost leaves them
/// out, the signatures in keyid order (a stable sort, as [`canonical_envelope`]'s). Every submission's
/// identity is computed before its signatures are checked, to answer a replay from the log.
pub fn canonical_identity(env: &Envelope) -> [u8; 32] {
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    use sha2::{Digest, Sha256};
    /// A length-delimited field's key and length, from a buffer on the stack.
    fn head(h: &mut Sha256, tag: u32, len: usize) {
        let mut buf = [0u8; 16];
        let mut rest = &mut buf[..];
        encode_key(tag, WireType::LengthDelimited, &mut rest);
        encode_varint(len as u64, &mut rest);
        let used = 16usize.saturating_sub(rest.len());
        h.update(buf.get(..used).unwrap_or_default());
    }
    fn field(h: &mut Sha256, tag: u32, data: &[u8]) {
        if !data.is_empty() {
            head(h, tag, data.len());
            h.update(data);
        }
    }
    fn field_len(data: &[u8]) -> usize {
        if data.is_empty() {
            0
        } else {
            encoded_len_varint(data.len() as u64).saturating_add(data.len()).saturating_add(1)
        }
    }
    let mut h = Sha256::new();
    field(&mut h, 1, &env.payload);
    field(&mut h, 2, env.payload_type.as_bytes());
    let mut order: Vec<&Signature> = env.signatures.iter().collect();
    order.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    for s in order {
        head(&mut h, 3, field_len(&s.sig).saturating_add(field_len(s.keyid.as_bytes())));
        field(&mut h, 1, &s.sig);
        field(&mut h, 2, s.keyid.as_bytes());
    }
    h.finalize().into()
}

impl Ledger {
    /// [`prepare_unsigned`] with this ledger's origin and limits.
    pub fn prepare_unsigned(&self, st: &Statement) -> Result<Prepared> {
        prepare_unsigned(st, &self.origin, &self.limits)
    }

    /// Stateless stage: sizes, payload type, statement decoding and canonical form, field rules, and
    /// every signature whose key is known (or introduced by the statement) checked with verify_strict.
    /// CPU-bound: call from a blocking context.
    pub fn prepare(&self, env: &Envelope) -> Result<Prepared> {
        self.prepare_identified(env, None)
    }

    /// [`Self::prepare`] of an envelope whose [`canonical_identity`] the caller has computed already.
    pub fn prepare_identified(&self, env: &Envelope, identity: Option<[u8; 32]>) -> Result<Prepared> {
        let keys = crate::sync::read(&self.shared.keys);
        prepare_inner(env, &self.origin, &self.limits, |kid| keys.get(kid).copied(), false, identity)
    }
}

/// The stateless stage with an explicit key lookup (shared by the server and offline verification).
pub fn prepare_with(
    env: &Envelope,
    origin: &str,
    limits: &Limits,
    lookup: impl Fn(&str) -> Option<crypto::PublicKey>,
) -> Result<Prepared> {
    prepare_inner(env, origin, limits, lookup, false, None)
}

/// The stateless stage of a statement not signed yet, as an envelope with no signatures: every check
/// but the signature count (for a dry run that says who must sign).
pub fn prepare_unsigned(st: &Statement, origin: &str, limits: &Limits) -> Result<Prepared> {
    let env = Envelope { payload: st.encode_to_vec(), payload_type: PAYLOAD_TYPE.into(), signatures: Vec::new() };
    prepare_inner(&env, origin, limits, |_| None, true, None)
}

fn prepare_inner(
    env: &Envelope,
    origin: &str,
    limits: &Limits,
    lookup: impl Fn(&str) -> Option<crypto::PublicKey>,
    unsigned: bool,
    identity: Option<[u8; 32]>,
) -> Result<Prepared> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(Error::invalid("envelope.payload_type", format!("must be {PAYLOAD_TYPE:?}")));
    }
    if env.payload.is_empty() {
        return Err(Error::invalid("envelope.payload", "is empty"));
    }
    if env.payload.len() > limits.max_payload_bytes {
        return Err(Error::invalid(
            "envelope.payload",
            format!("is {} bytes; the limit is {}", env.payload.len(), limits.max_payload_bytes),
        ));
    }
    if env.signatures.is_empty() && !unsigned {
        return Err(Error::invalid("envelope.signatures", "at least one signature is required"));
    }
    if env.signatures.len() > limits.max_signatures {
        return Err(Error::invalid("envelope.signatures", format!("at most {} signatures", limits.max_signatures)));
    }
    // The leaf (LogEntry: the envelope and the integration time) must fit a tlog-tiles entry bundle, whose
    // length prefix is a uint16; 15 bytes bound LogEntry's framing (two tags, a length, a 64-bit varint).
    let leaf_max = prost::Message::encoded_len(env).saturating_add(15);
    if leaf_max > accord_tlog::tiles::MAX_ENTRY_BYTES {
        return Err(Error::invalid(
            "envelope",
            format!(
                "with its signatures the log entry would be up to {leaf_max} bytes; an entry is at most {} \
                 (a C2SP tlog-tiles entry bundle's uint16 length)",
                accord_tlog::tiles::MAX_ENTRY_BYTES
            ),
        ));
    }
    let statement = Statement::decode(env.payload.as_slice())
        .map_err(|e| Error::invalid("envelope.payload", format!("is not an accord.v1.Statement: {e}")))?;
    if statement.encode_to_vec() != env.payload {
        return Err(Error::invalid(
            "envelope.payload",
            "is not the canonical encoding of the statement (fields out of order, defaults or unknown fields)",
        ));
    }
    let parsed =
        crate::proto::parse_statement_as(&statement, &env.payload, origin).map_err(|e| e.scope("statement"))?;
    let kind = parsed.body.kind_name();
    let canonical = canonical_envelope(env);
    for w in canonical.signatures.windows(2) {
        if let [a, b] = w {
            if a.keyid == b.keyid {
                return Err(Error::invalid("envelope.signatures", format!("keyid {} signs twice", a.keyid)));
            }
        }
    }
    let (signers, unverified) = verify_signatures(&parsed, &canonical, lookup)?;
    let identity = identity.unwrap_or_else(|| canonical_identity(env));
    let compiled = crate::proto::compiled(&statement, &parsed);
    Ok(Prepared { envelope: canonical, identity, statement, parsed, compiled, kind, signers, unverified })
}

/// Check every signature of the canonical envelope whose key is known: introduced by the statement itself
/// or found by `lookup`. Returns the keyids that signed (those whose keys are unknown included, last) and
/// the positions of the signatures left unverified for the sequencer.
fn verify_signatures(
    statement: &accord_domain::statement::Statement,
    canonical: &Envelope,
    lookup: impl Fn(&str) -> Option<crypto::PublicKey>,
) -> Result<(Vec<String>, Vec<usize>)> {
    let introduced: HashMap<String, [u8; 32]> =
        domain::introduced_keys(statement).into_iter().map(|k| (crypto::keyid_of_bytes(&k), k)).collect();
    let mut signers = Vec::with_capacity(canonical.signatures.len());
    let mut unverified = Vec::new();
    for (i, s) in canonical.signatures.iter().enumerate() {
        // Named only on an error: built for every signature, the path was an allocation per entry.
        let field = |part: &str| format!("envelope.signatures[{i}]{part}");
        if !crypto::is_valid_keyid(&s.keyid) {
            return Err(Error::invalid(
                field(".keyid"),
                "must be 64 lowercase hex characters (SHA-256 of the public key)",
            ));
        }
        if s.sig.len() != 64 {
            return Err(Error::invalid(
                field(".sig"),
                format!("an Ed25519 signature is 64 bytes, got {}", s.sig.len()),
            ));
        }
        let key = match introduced.get(&s.keyid) {
            Some(pk) => crypto::public_key_from_bytes(pk).map_err(|e| e.scope(&field(".keyid")))?,
            None => match lookup(&s.keyid) {
                Some(key) => key,
                None => {
                    unverified.push(i);
                    continue;
                }
            },
        };
        if !crypto::verify_pae(&key, &canonical.payload_type, &canonical.payload, &s.sig) {
            return Err(Error::denied(
                field(".sig"),
                "signature does not verify (Ed25519 verify_strict over DSSE PAE)",
            ));
        }
        signers.push(s.keyid.clone());
    }
    // Keys unknown to the snapshot are left to the sequencer, which rejects unregistered ones.
    for &i in &unverified {
        signers.extend(canonical.signatures.get(i).map(|s| s.keyid.clone()));
    }
    Ok((signers, unverified))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity hashed straight from an envelope is the hash of its canonical form's encoding, for
    /// empty and long fields, signatures out of order, a repeated keyid and empty signatures.
    #[test]
    fn canonical_identity_is_the_identity_of_the_canonical_envelope() {
        let sig = |keyid: &str, sig: Vec<u8>| Signature { sig, keyid: keyid.into() };
        let cases = [
            Envelope::default(),
            Envelope { payload: vec![1, 2, 3], payload_type: PAYLOAD_TYPE.into(), signatures: vec![] },
            Envelope {
                payload: vec![7; 300],
                payload_type: PAYLOAD_TYPE.into(),
                signatures: vec![sig("cc", vec![3; 64]), sig("aa", vec![1; 64]), sig("bb", vec![2; 64])],
            },
            Envelope {
                payload: vec![9; 20_000],
                payload_type: String::new(),
                signatures: vec![sig("b", vec![]), sig("", vec![5; 64]), sig("b", vec![6; 200]), Signature::default()],
            },
        ];
        for env in cases {
            assert_eq!(canonical_identity(&env), identity(&canonical_envelope(&env)), "{env:?}");
        }
    }
}
