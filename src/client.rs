//! A typed client that trusts nothing the server says without checking it: every checkpoint must be
//! signed by the trusted log key, every receipt's inclusion proof must verify against it, and every
//! consistency proof must hold. Offline verification of a proof bundle lives here too.
use prost::Message;
use tonic::transport::{Channel, Endpoint};

use crate::crypto::{self, open_checkpoint, StrictNoteVerifier, VerifiedCheckpoint};
use crate::error::{Error, Result};
use crate::merkle::{self, ProofBundle};
use crate::pb::{self, ledger_service_client::LedgerServiceClient, Envelope, LogEntry, Statement};

/// A receipt whose checkpoint and inclusion proof have been verified.
#[derive(Debug, Clone)]
pub struct VerifiedReceipt {
    pub receipt: pb::Receipt,
    pub checkpoint: VerifiedCheckpoint,
}

impl VerifiedReceipt {
    /// The C2SP tlog-proof bundle for this receipt, with the leaf bytes in its `extra` line.
    pub fn bundle(&self) -> ProofBundle {
        ProofBundle {
            extra: Some(self.receipt.leaf.clone()),
            index: self.receipt.index,
            proof: self
                .receipt
                .inclusion_proof
                .iter()
                .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
                .collect(),
            checkpoint: self.receipt.checkpoint.clone(),
        }
    }
}

/// A plain channel to `url` with Accord's connection settings (used by [`Client`] and the load generator).
pub async fn channel(url: &str) -> Result<Channel> {
    Endpoint::from_shared(url.to_string())
        .map_err(|e| Error::invalid("server", format!("{url:?} is not a valid URL: {e}")))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .initial_stream_window_size(crate::server::WINDOW_BYTES)
        .initial_connection_window_size(2 * crate::server::WINDOW_BYTES)
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| Error::new(crate::error::Kind::Unavailable, "server", format!("cannot connect to {url}: {e}")))
}

/// Turn a transport status into our error, keeping the server's words.
fn from_status(s: tonic::Status) -> Error {
    use crate::error::Kind;
    let kind = match s.code() {
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => Kind::InvalidArgument,
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => Kind::PermissionDenied,
        tonic::Code::NotFound => Kind::NotFound,
        tonic::Code::AlreadyExists => Kind::AlreadyExists,
        tonic::Code::FailedPrecondition => Kind::FailedPrecondition,
        tonic::Code::ResourceExhausted => Kind::ResourceExhausted,
        tonic::Code::Unavailable => Kind::Unavailable,
        _ => Kind::Internal,
    };
    Error::new(kind, "", format!("server: {}", s.message()))
}

/// The log-checking client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: LedgerServiceClient<Channel>,
    log: StrictNoteVerifier,
}

impl Client {
    /// Connect to `url`. With `trusted_key = None` the log key is taken from the server (trust on first
    /// use): pin it with `--log-key` for real verification.
    pub async fn connect(url: &str, trusted_key: Option<&str>) -> Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| Error::invalid("server", format!("{url:?} is not a valid URL: {e}")))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .initial_stream_window_size(crate::server::WINDOW_BYTES)
            .initial_connection_window_size(2 * crate::server::WINDOW_BYTES);
        let channel = endpoint.connect().await.map_err(|e| {
            Error::new(crate::error::Kind::Unavailable, "server", format!("cannot connect to {url}: {e}"))
        })?;
        let mut inner = LedgerServiceClient::new(channel)
            .max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(crate::server::MAX_MESSAGE_BYTES);
        let log = match trusted_key {
            Some(k) => StrictNoteVerifier::from_verifier_key(k)?,
            None => {
                let info = inner.get_log_info(pb::GetLogInfoRequest {}).await.map_err(from_status)?.into_inner();
                StrictNoteVerifier::from_verifier_key(&info.verifier_key)?
            }
        };
        Ok(Self { inner, log })
    }

    pub fn log_key(&self) -> &StrictNoteVerifier {
        &self.log
    }

    pub fn raw(&mut self) -> &mut LedgerServiceClient<Channel> {
        &mut self.inner
    }

    /// Submit one envelope and verify the receipt.
    pub async fn submit(&mut self, env: Envelope) -> Result<VerifiedReceipt> {
        let resp = self
            .inner
            .submit(pb::SubmitRequest { envelope: Some(env.clone()) })
            .await
            .map_err(from_status)?
            .into_inner();
        let receipt = resp.receipt.ok_or_else(|| Error::internal("server sent no receipt"))?;
        self.check_receipt(&env, receipt)
    }

    /// Submit many envelopes atomically and verify every receipt.
    pub async fn submit_batch(&mut self, envs: Vec<Envelope>) -> Result<Vec<VerifiedReceipt>> {
        let resp = self
            .inner
            .submit_batch(pb::SubmitBatchRequest { envelopes: envs.clone() })
            .await
            .map_err(from_status)?
            .into_inner();
        if resp.receipts.len() != envs.len() {
            return Err(Error::internal("server sent a receipt count that differs from the envelopes sent"));
        }
        envs.iter().zip(resp.receipts).map(|(e, r)| self.check_receipt(e, r)).collect()
    }

    /// Check that the receipt proves that `env` (canonicalised) is in a checkpoint signed by the log key.
    pub fn check_receipt(&self, env: &Envelope, receipt: pb::Receipt) -> Result<VerifiedReceipt> {
        let cp = open_checkpoint(receipt.checkpoint.as_bytes(), &self.log)?;
        if cp.size != receipt.tree_size {
            return Err(Error::denied("receipt.tree_size", "does not match the checkpoint"));
        }
        let leaf = LogEntry::decode(receipt.leaf.as_slice())
            .map_err(|_| Error::denied("receipt.leaf", "is not a LogEntry"))?;
        if leaf.envelope.as_ref() != Some(&crate::log::canonical_envelope(env)) {
            return Err(Error::denied("receipt.leaf", "does not hold the envelope that was submitted"));
        }
        let lh = merkle::leaf_hash(&receipt.leaf);
        if lh.as_slice() != receipt.leaf_hash {
            return Err(Error::denied("receipt.leaf_hash", "is not the hash of the leaf"));
        }
        merkle::verify_inclusion(receipt.index, cp.size, &lh, &receipt.inclusion_proof, &cp.root)?;
        Ok(VerifiedReceipt { receipt, checkpoint: cp })
    }

    /// The latest checkpoint, verified.
    pub async fn checkpoint(&mut self, size: Option<u64>) -> Result<VerifiedCheckpoint> {
        let r = self
            .inner
            .get_checkpoint(pb::GetCheckpointRequest { tree_size: size })
            .await
            .map_err(from_status)?
            .into_inner();
        let cp = open_checkpoint(r.checkpoint.as_bytes(), &self.log)?;
        if let Some(s) = size {
            if cp.size != s {
                return Err(Error::denied("checkpoint", format!("asked for size {s}, got {}", cp.size)));
            }
        }
        Ok(cp)
    }

    /// Fetch and verify a consistency proof between two verified checkpoints.
    pub async fn check_consistency(
        &mut self,
        old: &VerifiedCheckpoint,
        new: &VerifiedCheckpoint,
    ) -> Result<Vec<Vec<u8>>> {
        if old.size > new.size {
            return Err(Error::invalid(
                "checkpoints",
                format!("the first ({}) is larger than the second ({})", old.size, new.size),
            ));
        }
        if old.size == 0 {
            return Ok(Vec::new()); // every tree extends the empty tree
        }
        let proof = if old.size == new.size {
            Vec::new()
        } else {
            self.inner
                .get_consistency_proof(pb::GetConsistencyProofRequest { from_size: old.size, to_size: Some(new.size) })
                .await
                .map_err(from_status)?
                .into_inner()
                .proof
        };
        merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)?;
        Ok(proof)
    }

    /// One entry, with its inclusion in the latest checkpoint verified.
    pub async fn entry(&mut self, key: pb::get_entry_request::Key) -> Result<(pb::Entry, VerifiedCheckpoint)> {
        let entry = self
            .inner
            .get_entry(pb::GetEntryRequest { key: Some(key) })
            .await
            .map_err(from_status)?
            .into_inner()
            .entry
            .ok_or_else(|| Error::internal("server sent no entry"))?;
        let cp = self.checkpoint(None).await?;
        let proof = self
            .inner
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(entry.index)),
                tree_size: cp.size,
            })
            .await
            .map_err(from_status)?
            .into_inner();
        let lh = merkle::leaf_hash(&entry.leaf);
        merkle::verify_inclusion(entry.index, cp.size, &lh, &proof.proof, &cp.root)?;
        Ok((entry, cp))
    }
}

/// What offline verification established.
#[derive(Debug, Clone)]
pub struct OfflineVerified {
    pub index: u64,
    pub checkpoint: VerifiedCheckpoint,
    pub entry: LogEntry,
    pub statement: Statement,
    /// keyids whose signatures verified.
    pub verified_signers: Vec<String>,
}

/// Verify an entry offline: the checkpoint is signed by the trusted log key, the leaf is included at the
/// bundle's index in that checkpoint's tree, the envelope is an Accord statement for this log, and every
/// signature verifies (`verify_strict`) with a key from `signer_keys` or introduced by the statement.
pub fn verify_offline(
    leaf: &[u8],
    bundle: &ProofBundle,
    log: &StrictNoteVerifier,
    signer_keys: &[crypto::PublicKey],
) -> Result<OfflineVerified> {
    let cp = open_checkpoint(bundle.checkpoint.as_bytes(), log)?;
    let lh = merkle::leaf_hash(leaf);
    merkle::verify_inclusion(bundle.index, cp.size, &lh, &bundle.proof_vecs(), &cp.root)?;
    let entry = LogEntry::decode(leaf).map_err(|_| Error::invalid("leaf", "is not an accord.v1.LogEntry"))?;
    let env = entry.envelope.clone().ok_or_else(|| Error::invalid("leaf.envelope", "is missing"))?;
    let keys: std::collections::HashMap<String, crypto::PublicKey> =
        signer_keys.iter().map(|k| (crypto::keyid(k), *k)).collect();
    let limits = crate::log::Limits { max_payload_bytes: usize::MAX, ..Default::default() };
    // Keys introduced by the statement itself (charter, admission, rotation) verify their own signatures.
    let prepared = crate::log::prepare_with(&env, &cp.origin, &limits, |kid| keys.get(kid).copied())
        .map_err(|e| e.scope("leaf"))?;
    if let Some(&i) = prepared.unverified.first() {
        return Err(Error::denied(
            format!("leaf.envelope.signatures[{i}].keyid"),
            format!("no public key given for signer {} (pass it with --signer)", prepared.envelope.signatures[i].keyid),
        ));
    }
    Ok(OfflineVerified {
        index: bundle.index,
        checkpoint: cp,
        entry,
        statement: prepared.statement,
        verified_signers: prepared.signers,
    })
}
