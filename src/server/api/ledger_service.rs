//! `accord.v1.LedgerService`: submissions (answered with receipts and inclusion proofs), entries,
//! checkpoints, proofs, the entry stream and the log's description.
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status};

use super::verifying::VerifyQueue;
use super::{blocking, inline, limits, status};
use crate::error::Error;
use crate::ledger::{Committed, EntryRow, Ledger};
use crate::pb::{self, ledger_service_server::LedgerService};

/// `accord.v1.LedgerService`.
#[derive(Debug, Clone)]
pub struct LedgerApi {
    ledger: Arc<Ledger>,
    limiter: Arc<limits::RateLimiter>,
    require_client_cert: bool,
    /// Cancelled when the server drains: followed entry streams end (with UNAVAILABLE) instead of holding
    /// the shutdown open.
    shutdown: tokio_util::sync::CancellationToken,
    /// SubmitBatch's signature checks, one batch at a time in arrival order.
    verifying: Arc<VerifyQueue>,
}

impl LedgerApi {
    /// The service over `ledger`, with the default rate limits.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        Self::with_limits(ledger, limits::RateLimiter::default())
    }
    /// The service over `ledger`, with `limiter`'s rate limits.
    pub fn with_limits(ledger: Arc<Ledger>, limiter: limits::RateLimiter) -> Self {
        Self {
            ledger,
            limiter: Arc::new(limiter),
            require_client_cert: false,
            shutdown: tokio_util::sync::CancellationToken::new(),
            verifying: Arc::new(VerifyQueue::start()),
        }
    }
    /// Streams end when `shutdown` is cancelled (the server's drain), so none holds the shutdown open.
    pub fn with_shutdown(mut self, shutdown: tokio_util::sync::CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }
    /// Submissions need a verified TLS client certificate (reads stay public).
    pub fn require_client_cert(mut self, on: bool) -> Self {
        self.require_client_cert = on;
        self
    }
    fn check_client_cert<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if self.require_client_cert && req.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated(
                "submissions on this server need a TLS client certificate from the coalition's CA; reads stay public",
            ));
        }
        Ok(())
    }
    /// Apply the per-key rate limits to prepared envelopes (all signers of all of them).
    fn rate_check(&self, items: &[crate::ledger::Prepared]) -> Result<(), Error> {
        if !self.limiter.enabled() || items.is_empty() {
            return Ok(());
        }
        let mut signers: Vec<(String, Option<String>)> = Vec::new();
        for p in items {
            for k in &p.signers {
                if !signers.iter().any(|(s, _)| s == k) {
                    signers.push((k.clone(), self.ledger.party_of_key(k)));
                }
            }
        }
        self.limiter.check(&signers, items.len(), std::time::Instant::now())
    }
    /// The per-client limit, taken before any signature work: `n` envelopes from the request's client.
    fn client_check(&self, client: &str, n: usize) -> Result<(), Status> {
        if !self.limiter.client_enabled() {
            return Ok(());
        }
        self.limiter.check_client(client, n, std::time::Instant::now()).map_err(status)
    }
}

/// Who a request comes from, for the per-client limit: the TLS client certificate when one was presented
/// (its SHA-256, shortened), else the remote IP address (every port of one host is one client).
fn client_identity<T>(req: &Request<T>) -> String {
    use sha2::Digest;
    if let Some(cert) = req.peer_certs().as_ref().and_then(|c| c.first().cloned()) {
        let d = sha2::Sha256::digest(cert.as_ref());
        return format!("cert:{}", hex::encode(d.get(..16).unwrap_or_default()));
    }
    req.remote_addr().map_or_else(|| "unknown".to_string(), |a| a.ip().to_string())
}

/// A dry run's refusal: the error Submit would give, as its gRPC code name, field and message. An internal
/// failure is not a verdict on the statement and stays an error.
fn refused(e: Error) -> Result<pb::CheckResponse, Status> {
    use crate::error::Kind;
    if matches!(e.kind, Kind::ResourceExhausted | Kind::Unavailable | Kind::Internal | Kind::DataLoss) {
        return Err(status(e));
    }
    let e = e.in_json_names();
    Ok(pb::CheckResponse {
        ok: false,
        code: e.code_name().into(),
        field: e.field.to_string(),
        message: e.to_string(),
        ..Default::default()
    })
}

/// Envelopes already in the log, found by identity (SHA-256 of the canonical envelope) without any signature
/// work, each with the checkpoint it is answered at. A logged envelope was checked when it was first
/// accepted; answering a replay from the log costs no one's rate budget.
/// `ids` are the envelopes' identities ([`crate::ledger::canonical_identity`]), which the caller passes on
/// to the stateless stage of those not logged.
fn already_logged(ledger: &Ledger, ids: &[[u8; 32]]) -> Result<Vec<Option<Committed>>, Error> {
    let latest = ledger.latest();
    ledger.read_log(|v| {
        ids.iter()
            .map(|id| {
                Ok(v.entry_by_identity(id)?.filter(|e| e.index < latest.size).map(|e| Committed {
                    entry: Arc::new(e),
                    latest: latest.clone(),
                    duplicate: true,
                }))
            })
            .collect()
    })
}

fn entry_pb(e: &EntryRow) -> pb::Entry {
    pb::Entry {
        index: e.index,
        leaf: e.leaf.clone(),
        identity: e.identity.clone(),
        leaf_hash: e.leaf_hash.clone(),
        statement_id: e.statement_id.clone(),
        kind: e.kind.clone(),
        integrated_at_ms: e.integrated_at_ms,
    }
}

/// Receipts with inclusion proofs at the committing checkpoint (blocking).
fn receipts(ledger: &Ledger, committed: Vec<Committed>) -> Result<Vec<pb::Receipt>, Error> {
    // Every entry of one request is covered by the same checkpoint (one commit).
    let size = committed.first().map(|c| c.latest.size).unwrap_or(0);
    let indexes: Vec<u64> = committed.iter().map(|c| c.entry.index).collect();
    let proofs = ledger.inclusion_proofs(&indexes, size)?;
    committed
        .into_iter()
        .zip(proofs)
        .map(|(c, proof)| {
            debug_assert_eq!(c.latest.size, size);
            Ok(pb::Receipt {
                index: c.entry.index,
                identity: c.entry.identity.clone(),
                leaf_hash: c.entry.leaf_hash.clone(),
                integrated_at_ms: c.entry.integrated_at_ms,
                checkpoint: c.latest.note.to_string(),
                tree_size: c.latest.size,
                inclusion_proof: proof.into_iter().map(|h| h.to_vec()).collect(),
                duplicate: c.duplicate,
                leaf: c.entry.leaf.clone(),
            })
        })
        .collect()
}

type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::Entry, Status>> + Send>>;

/// Entries read per database round trip when streaming.
const STREAM_PAGE: usize = 512;

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    async fn submit(&self, req: Request<pb::SubmitRequest>) -> Result<Response<pb::SubmitResponse>, Status> {
        self.check_client_cert(&req)?;
        self.client_check(&client_identity(&req), 1)?;
        let env = req.into_inner().envelope.ok_or_else(|| status(Error::invalid("envelope", "is required")))?;
        let ledger = self.ledger.clone();
        // A replay of a logged envelope is answered from the log: no signature work, no rate budget.
        let id = crate::ledger::canonical_identity(&env);
        if let Some(Some(c)) = inline(|| already_logged(&ledger, &[id]))?.pop() {
            let mut r = inline(|| receipts(&ledger, vec![c]))?;
            return Ok(Response::new(pb::SubmitResponse { receipt: r.pop() }));
        }
        let prepared = inline(|| ledger.prepare_identified(&env, Some(id)))?;
        self.rate_check(std::slice::from_ref(&prepared)).map_err(status)?;
        let committed = self.ledger.submit(vec![prepared]).await.map_err(status)?;
        let ledger = self.ledger.clone();
        let mut r = inline(|| receipts(&ledger, committed))?;
        Ok(Response::new(pb::SubmitResponse { receipt: r.pop() }))
    }

    async fn submit_batch(
        &self,
        req: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        self.check_client_cert(&req)?;
        let client = client_identity(&req);
        let envs = req.into_inner().envelopes;
        if envs.is_empty() {
            return Err(status(Error::invalid("envelopes", "at least one envelope is required")));
        }
        let max = self.ledger.limits().max_batch;
        if envs.len() > max {
            return Err(status(Error::invalid("envelopes", format!("{} envelopes; the limit is {max}", envs.len()))));
        }
        self.client_check(&client, envs.len())?;
        let t0 = std::time::Instant::now();
        let ledger = self.ledger.clone();
        // Envelopes already logged are answered from the log (no signature work, no rate budget); only the
        // others are prepared, limited and sequenced. The lookup runs before the batch takes its turn in
        // the verification queue, beside the verification of the batch ahead.
        let (envs, ids, logged) = blocking(move || {
            let ids: Vec<[u8; 32]> = envs.iter().map(crate::ledger::canonical_identity).collect();
            let logged = already_logged(&ledger, &ids)?;
            Ok((envs, ids, logged))
        })
        .await?;
        let t_looked_up = std::time::Instant::now();
        let to_verify = logged.iter().filter(|l| l.is_none()).count();
        let (logged, prepared) = if to_verify == 0 {
            (logged, Vec::new())
        } else {
            let ledger = self.ledger.clone();
            self.verifying
                .verify(to_verify, move || {
                    use rayon::prelude::*;
                    let prepared = envs
                        .par_iter()
                        .zip(ids.par_iter())
                        .enumerate()
                        .filter(|(i, _)| logged.get(*i).is_none_or(|l| l.is_none()))
                        .map(|(i, (e, id))| {
                            ledger.prepare_identified(e, Some(*id)).map_err(|err| err.scope(format!("envelopes[{i}]")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((logged, prepared))
                })
                .await?
        };
        self.rate_check(&prepared).map_err(status)?;
        let t1 = std::time::Instant::now();
        let fresh =
            if prepared.is_empty() { Vec::new() } else { self.ledger.submit(prepared).await.map_err(status)? };
        let t2 = std::time::Instant::now();
        // One checkpoint for every receipt: the commit's when something was new, else the one read.
        let at = fresh.first().map(|c| c.latest.clone());
        let mut fresh = fresh.into_iter();
        let mut committed = Vec::with_capacity(logged.len());
        for l in logged {
            let c = match l {
                Some(mut c) => {
                    if let Some(at) = &at {
                        c.latest = at.clone();
                    }
                    c
                }
                None => fresh
                    .next()
                    .ok_or_else(|| status(Error::internal("sequencer returned fewer receipts than envelopes")))?,
            };
            committed.push(c);
        }
        let ledger = self.ledger.clone();
        let receipts = blocking(move || receipts(&ledger, committed)).await?;
        tracing::debug!(
            n = receipts.len(),
            lookup_us = t_looked_up.saturating_duration_since(t0).as_micros() as u64,
            // With the batch's wait in the verification queue.
            verify_us = t1.saturating_duration_since(t_looked_up).as_micros() as u64,
            sequence_us = t2.saturating_duration_since(t1).as_micros() as u64,
            receipts_us = t2.elapsed().as_micros() as u64,
            "submit_batch"
        );
        Ok(Response::new(pb::SubmitBatchResponse { receipts }))
    }

    async fn get_entry(&self, req: Request<pb::GetEntryRequest>) -> Result<Response<pb::GetEntryResponse>, Status> {
        use pb::get_entry_request::Key;
        let key = req
            .into_inner()
            .key
            .ok_or_else(|| status(Error::invalid("key", "one of index, identity, statement_id is required")))?;
        let ledger = self.ledger.clone();
        let size = ledger.latest().size;
        let entry = inline(move || {
            let (found, what) = ledger.read_log(|v| match &key {
                Key::Index(i) => Ok((if *i < size { v.entry_by_index(*i)? } else { None }, format!("index {i}"))),
                Key::Identity(id) => Ok((v.entry_by_identity(id)?, format!("identity {}", hex::encode(id)))),
                Key::StatementId(s) => Ok((v.entry_by_statement_id(s)?, format!("statement_id {s:?}"))),
            })?;
            found.ok_or_else(|| Error::not_found("key", format!("no entry with {what}")))
        })?;
        Ok(Response::new(pb::GetEntryResponse { entry: Some(entry_pb(&entry)) }))
    }

    async fn get_checkpoint(
        &self,
        req: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let size = req.into_inner().tree_size;
        let ledger = self.ledger.clone();
        let cp = inline(move || match size {
            Some(s) => ledger.checkpoint(s),
            None => {
                let l = ledger.latest();
                Ok(crate::ledger::CheckpointRow { size: l.size, root: l.root, note: l.note.to_string() })
            }
        })?;
        Ok(Response::new(pb::GetCheckpointResponse {
            checkpoint: self.ledger.cosigned_note(cp.size, &cp.note),
            tree_size: cp.size,
            root_hash: cp.root.to_vec(),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        req: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        use pb::get_inclusion_proof_request::Leaf;
        let req = req.into_inner();
        let ledger = self.ledger.clone();
        let resp = inline(move || {
            let latest = ledger.latest();
            let size = if req.tree_size == 0 { latest.size } else { req.tree_size };
            let index = match req.leaf {
                Some(Leaf::Index(i)) => i,
                Some(Leaf::LeafHash(h)) => {
                    if h.len() != 32 {
                        return Err(Error::invalid("leaf_hash", format!("a leaf hash is 32 bytes, got {}", h.len())));
                    }
                    ledger
                        .read_log(|v| v.index_by_leaf_hash(&h))?
                        .filter(|i| *i < latest.size)
                        .ok_or_else(|| Error::not_found("leaf_hash", "no entry has this leaf hash"))?
                }
                None => return Err(Error::invalid("leaf", "one of index or leaf_hash is required")),
            };
            let proof = ledger.inclusion_proof(index, size)?;
            let checkpoint = ledger.checkpoint(size)?.note;
            Ok(pb::GetInclusionProofResponse {
                index,
                tree_size: size,
                proof: proof.into_iter().map(|h| h.to_vec()).collect(),
                checkpoint,
            })
        })?;
        Ok(Response::new(resp))
    }

    async fn get_consistency_proof(
        &self,
        req: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        let req = req.into_inner();
        let ledger = self.ledger.clone();
        let resp = inline(move || {
            let to = req.to_size.unwrap_or_else(|| ledger.latest().size);
            let proof = ledger.consistency_proof(req.from_size, to)?;
            Ok(pb::GetConsistencyProofResponse {
                from_size: req.from_size,
                to_size: to,
                proof: proof.into_iter().map(|h| h.to_vec()).collect(),
            })
        })?;
        Ok(Response::new(resp))
    }

    type StreamEntriesStream = EntryStream;

    async fn stream_entries(&self, req: Request<pb::StreamEntriesRequest>) -> Result<Response<EntryStream>, Status> {
        let req = req.into_inner();
        if req.end_index != 0 && req.end_index < req.start_index {
            return Err(status(Error::invalid("end_index", "is before start_index")));
        }
        let ledger = self.ledger.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut next = req.start_index;
            let end = if req.end_index == 0 { u64::MAX } else { req.end_index };
            let mut watch = ledger.size_watch();
            loop {
                let size = ledger.latest().size.min(end);
                while next < size {
                    let l = ledger.clone();
                    let from = next;
                    let page = match blocking(move || l.read_log(|v| v.entries(from, size, STREAM_PAGE))).await {
                        Ok(p) => p,
                        Err(s) => {
                            let _ = tx.send(Err(s)).await;
                            return;
                        }
                    };
                    for e in &page {
                        if tx.send(Ok(entry_pb(e))).await.is_err() {
                            return;
                        }
                    }
                    next = next.saturating_add(page.len() as u64);
                    if page.is_empty() {
                        break;
                    }
                }
                if !req.follow || next >= end {
                    return;
                }
                tokio::select! {
                    changed = watch.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                    _ = shutdown.cancelled() => {
                        let _ = tx.send(Err(Status::unavailable("the server is shutting down; resume from the last index received"))).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn check(&self, req: Request<pb::CheckRequest>) -> Result<Response<pb::CheckResponse>, Status> {
        // Bounded like Submit: the same client certificate, per-client and per-key limits and sizes.
        self.check_client_cert(&req)?;
        self.client_check(&client_identity(&req), 1)?;
        let r = req.into_inner();
        let prepared = match (&r.envelope, &r.statement) {
            (Some(env), _) => self.ledger.prepare(env),
            (None, Some(st)) => self.ledger.prepare_unsigned(st),
            (None, None) => return Err(status(Error::invalid("envelope", "an envelope or a statement is required"))),
        };
        let item = match prepared {
            Ok(item) => item,
            Err(e) => return Ok(Response::new(refused(e)?)),
        };
        self.rate_check(std::slice::from_ref(&item)).map_err(status)?;
        let c = self.ledger.check(item).await.map_err(status)?;
        let mut resp = match c.verdict {
            Ok(()) => pb::CheckResponse { ok: true, ..Default::default() },
            Err(e) => refused(e)?,
        };
        resp.kind = c.kind.to_string();
        resp.signed_by = c.signed_by;
        resp.missing = c.missing;
        resp.must_sign = c.rule.map(|r| r.must_sign.to_string()).unwrap_or_default();
        resp.countersigns = c.rule.map(|r| r.countersigns.to_string()).unwrap_or_default();
        resp.duplicate = c.duplicate.is_some();
        Ok(Response::new(resp))
    }

    async fn get_log_info(&self, _req: Request<pb::GetLogInfoRequest>) -> Result<Response<pb::LogInfo>, Status> {
        let l = self.ledger.latest();
        Ok(Response::new(pb::LogInfo {
            origin: self.ledger.origin().to_string(),
            verifier_key: self.ledger.verifier_key().to_string(),
            tree_size: l.size,
            root_hash: l.root.to_vec(),
            checkpoint: l.note.to_string(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            schema_version: crate::ledger::SCHEMA_VERSION,
            payload_type: crate::PAYLOAD_TYPE.to_string(),
        }))
    }
}
