//! A typed client that trusts nothing the server says without checking it: every checkpoint must be
//! signed by the trusted log key, every receipt's inclusion proof must verify against it, and every
//! consistency proof must hold. Offline verification of a proof bundle lives here too.
use std::collections::{BTreeMap, BTreeSet};

use accord_domain::ids::PartyId;
use prost::Message;
use tonic::transport::{Channel, Endpoint};

use crate::crypto::{self, open_checkpoint, StrictNoteVerifier, VerifiedCheckpoint};
use crate::error::{Error, Result};
use crate::merkle::{self, ProofBundle};
use crate::pb::{
    self, coalition_service_client::CoalitionServiceClient, ledger_service_client::LedgerServiceClient,
    report_service_client::ReportServiceClient, Envelope, LogEntry, Statement,
};
use crate::vindex::verify::open_read_at;

/// A receipt whose checkpoint and inclusion proof have been verified.
#[derive(Debug, Clone)]
pub struct VerifiedReceipt {
    /// The receipt as the server sent it (index, leaf, inclusion proof, checkpoint).
    pub receipt: pb::Receipt,
    /// The receipt's checkpoint, verified against the trusted log key; the leaf is included in its tree.
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

/// TLS for `https://` servers, from the environment: ACCORD_TLS_CA (PEM CA to trust; default: none),
/// ACCORD_TLS_CERT and ACCORD_TLS_KEY (a client certificate for servers that require one).
fn tls_from_env(url: &str) -> Result<Option<tonic::transport::ClientTlsConfig>> {
    if !url.starts_with("https://") {
        return Ok(None);
    }
    let read = |var: &str| -> Result<Option<Vec<u8>>> {
        match std::env::var_os(var) {
            Some(p) => std::fs::read(&p)
                .map(Some)
                .map_err(|e| Error::invalid(var, format!("cannot read {}: {e}", std::path::Path::new(&p).display()))),
            None => Ok(None),
        }
    };
    let mut cfg = tonic::transport::ClientTlsConfig::new();
    if let Some(ca) = read("ACCORD_TLS_CA")? {
        cfg = cfg.ca_certificate(tonic::transport::Certificate::from_pem(ca));
    }
    if let (Some(c), Some(k)) = (read("ACCORD_TLS_CERT")?, read("ACCORD_TLS_KEY")?) {
        cfg = cfg.identity(tonic::transport::Identity::from_pem(c, k));
    }
    Ok(Some(cfg))
}

/// An endpoint for `url` with Accord's connection settings and, for https, TLS from the environment.
fn endpoint(url: &str) -> Result<Endpoint> {
    let mut e = Endpoint::from_shared(url.to_string())
        .map_err(|e| Error::invalid("server", format!("{url:?} is not a valid URL: {e}")))?;
    if let Some(tls) = tls_from_env(url)? {
        e = e.tls_config(tls).map_err(|e| Error::invalid("server", format!("TLS configuration: {e}")))?;
    }
    Ok(e)
}

/// A plain channel to `url` with Accord's connection settings (used by [`Client`] and the load generator).
pub async fn channel(url: &str) -> Result<Channel> {
    endpoint(url)?
        .connect_timeout(std::time::Duration::from_secs(5))
        .initial_stream_window_size(crate::server::WINDOW_BYTES)
        .initial_connection_window_size(2 * crate::server::WINDOW_BYTES)
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| Error::new(crate::error::Kind::Unavailable, "server", format!("cannot connect to {url}: {e}")))
}

/// Turn a transport status into our error, keeping the server's words (the message, as before) and the
/// field it names: from the status's google.rpc.BadRequest field violation (INVALID_ARGUMENT) or
/// PreconditionFailure violation subject (FAILED_PRECONDITION), when the server attached one.
pub fn from_status(s: tonic::Status) -> Error {
    use crate::error::Kind;
    use tonic_types::StatusExt;
    let kind = match s.code() {
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => Kind::InvalidArgument,
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => Kind::PermissionDenied,
        tonic::Code::NotFound => Kind::NotFound,
        tonic::Code::AlreadyExists => Kind::AlreadyExists,
        tonic::Code::FailedPrecondition => Kind::FailedPrecondition,
        tonic::Code::ResourceExhausted => Kind::ResourceExhausted,
        tonic::Code::Unavailable => Kind::Unavailable,
        tonic::Code::DataLoss => Kind::DataLoss,
        _ => Kind::Internal,
    };
    let details = s.get_error_details();
    let field = details
        .bad_request()
        .and_then(|b| b.field_violations.first())
        .map(|v| v.field.as_str())
        .or_else(|| details.precondition_failure().and_then(|p| p.violations.first()).map(|v| v.subject.as_str()))
        .unwrap_or_default();
    Error::new(kind, field, format!("server: {}", s.message()))
}

/// The log-checking client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: LedgerServiceClient<Channel>,
    coalition: CoalitionServiceClient<Channel>,
    reports: ReportServiceClient<Channel>,
    log: StrictNoteVerifier,
    /// With a C2SP tlog-policy, checkpoints count only when its quorum of witnesses cosigned them.
    policy: Option<std::sync::Arc<crate::crypto::cosign::Policy>>,
}

impl Client {
    /// Connect to `url`. With `trusted_key = None` the log key is taken from the server (trust on first
    /// use): pin it with `--log-key` for real verification.
    pub async fn connect(url: &str, trusted_key: Option<&str>) -> Result<Self> {
        let endpoint = endpoint(url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            .initial_stream_window_size(crate::server::WINDOW_BYTES)
            .initial_connection_window_size(2 * crate::server::WINDOW_BYTES);
        let channel = endpoint.connect().await.map_err(|e| {
            Error::new(crate::error::Kind::Unavailable, "server", format!("cannot connect to {url}: {e}"))
        })?;
        let coalition =
            CoalitionServiceClient::new(channel.clone()).max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES);
        let reports =
            ReportServiceClient::new(channel.clone()).max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES);
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
        Ok(Self { inner, coalition, reports, log, policy: None })
    }

    /// A plan's report; the checkpoint it names is checked against the log key.
    pub async fn report(&mut self, req: pb::GetReportRequest) -> Result<(pb::GetReportResponse, VerifiedCheckpoint)> {
        let resp = self.reports.get_report(req).await.map_err(from_status)?.into_inner();
        let at = resp.read_at.as_ref().ok_or_else(|| Error::denied("read_at", "the report names no checkpoint"))?;
        let cp = open_read_at(&self.log, at)?;
        Ok((resp, cp))
    }

    /// Download entries `0..cp.size` and check them against the checkpoint: the RFC 6962 root recomputed
    /// from the leaves must equal the signed root. `progress(done)` is called as entries arrive.
    pub async fn download(
        &mut self,
        cp: &VerifiedCheckpoint,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<crate::store::EntryRow>> {
        let req = pb::StreamEntriesRequest { start_index: 0, end_index: cp.size, follow: false };
        let mut stream = self.inner.stream_entries(req).await.map_err(from_status)?.into_inner();
        let mut rows = Vec::with_capacity(cp.size as usize);
        let mut tree = merkle::MemoryHashes::default();
        while let Some(e) = stream.message().await.map_err(from_status)? {
            if e.index != rows.len() as u64 || e.index >= cp.size {
                return Err(Error::denied("entries", format!("entry {} arrived out of order", e.index)));
            }
            tree.append(&e.leaf);
            rows.push(crate::store::EntryRow {
                index: e.index,
                identity: Vec::new(),
                leaf_hash: Vec::new(),
                statement_id: e.statement_id,
                kind: e.kind,
                integrated_at_ms: 0,
                leaf: e.leaf,
            });
            progress(rows.len() as u64);
        }
        // Derived fields, computed from the leaf bytes themselves (never taken from the server), in parallel.
        {
            use rayon::prelude::*;
            rows.par_iter_mut().for_each(derive);
        }
        if rows.len() as u64 != cp.size {
            return Err(Error::denied("entries", format!("the server sent {} of {} entries", rows.len(), cp.size)));
        }
        if tree.root() != cp.root {
            return Err(Error::denied(
                "entries",
                format!("the leaves do not hash to the signed root of tree size {} (the log was altered)", cp.size),
            ));
        }
        Ok(rows)
    }

    /// The raw coalition query client.
    pub fn coalition(&mut self) -> &mut CoalitionServiceClient<Channel> {
        &mut self.coalition
    }

    /// List subjects of a kind. With `with_proofs` every item is checked against the signed checkpoint
    /// the answer names ([`verify_items`]) before it is returned.
    pub async fn list(&mut self, kind: &str, mut req: pb::ListRequest) -> Result<pb::ListResponse> {
        req.kind = kind.to_string();
        let resp = self.coalition.list_subjects(req.clone()).await.map_err(from_status)?.into_inner();
        let at = resp.read_at.as_ref().ok_or_else(|| Error::denied("read_at", "the answer names no checkpoint"))?;
        if req.with_proofs {
            verify_items(&self.log, at, &resp.items)?;
        } else {
            open_read_at(&self.log, at)?;
        }
        Ok(resp)
    }

    /// A complete list of `kind` (docs/INDEX.md §8): the items with their proofs, and the proof that they
    /// are every subject of the kind with the request's plan or party, checked here
    /// ([`crate::vindex::verify::verify_complete`]) against the log key alone; with a policy, the map
    /// checkpoint must also carry its quorum of witness cosignatures. Only `plan_id` and `party_id` may
    /// filter it; it comes on one page.
    pub async fn list_complete(
        &mut self,
        kind: &str,
        mut req: pb::ListRequest,
    ) -> Result<(pb::ListResponse, crate::vindex::verify::ProvenComplete)> {
        let subject_kind = crate::domain::book::SubjectKind::parse("kind", kind)?;
        req.kind = kind.to_string();
        req.complete = true;
        req.with_proofs = true;
        let resp = self.coalition.list_subjects(req.clone()).await.map_err(from_status)?.into_inner();
        let at = resp.read_at.as_ref().ok_or_else(|| Error::denied("read_at", "the answer names no checkpoint"))?;
        verify_items(&self.log, at, &resp.items)?;
        let parties = self.key_parties().await?;
        let proven =
            crate::vindex::verify::verify_complete(&self.log, subject_kind, &req, &resp, &|k| parties.get(k).cloned())?;
        self.check_map_policy(resp.completeness.as_ref())?;
        Ok((resp, proven))
    }

    /// With a policy ([`Client::with_policy`]), a complete answer counts only when the policy's quorum of
    /// witnesses cosigned its map checkpoint (docs/INDEX.md §7.1): PERMISSION_DENIED otherwise. Without
    /// one, nothing is asked beyond the map key's signature.
    fn check_map_policy(&self, c: Option<&pb::Completeness>) -> Result<()> {
        c.map_or(Ok(()), |c| self.check_map_note(&c.map_checkpoint))
    }

    /// [`Client::check_map_policy`] for a map checkpoint note.
    fn check_map_note(&self, note: &str) -> Result<()> {
        let Some(p) = &self.policy else { return Ok(()) };
        p.check_map(note)?;
        Ok(())
    }

    /// One subject with its history and every entry that names it, proven complete
    /// ([`crate::vindex::verify::verify_complete_history`]) and each entry proven in the log; with a
    /// policy, the map checkpoint must also carry its quorum of witness cosignatures.
    pub async fn subject_complete(
        &mut self,
        kind: &str,
        id: &str,
    ) -> Result<(pb::GetSubjectResponse, crate::vindex::verify::ProvenComplete)> {
        let subject_kind = crate::domain::book::SubjectKind::parse("kind", kind)?;
        let req = pb::GetSubjectRequest {
            kind: kind.into(),
            id: id.into(),
            with_proofs: true,
            complete: true,
            ..Default::default()
        };
        let resp = self.coalition.get_subject(req).await.map_err(from_status)?.into_inner();
        let at = resp.read_at.as_ref().ok_or_else(|| Error::denied("read_at", "the answer names no checkpoint"))?;
        verify_items(&self.log, at, resp.item.as_slice())?;
        verify_history(&self.log, at, &resp.history)?;
        let parties = self.key_parties().await?;
        let proven = crate::vindex::verify::verify_complete_history(&self.log, subject_kind, id, &resp, &|k| {
            parties.get(k).cloned()
        })?;
        self.check_map_policy(resp.completeness.as_ref())?;
        Ok((resp, proven))
    }

    /// The complete lists of `keys` (docs/INDEX.md §11) as they stood at the checkpoint `at`: asked at the
    /// latest checkpoint, each list proven under its map checkpoint ([`crate::vindex::verify::check_lookups`]),
    /// that checkpoint proven to extend `at`, and each list cut at `at`'s size (lists only grow at the end);
    /// with a policy, the map checkpoint must carry its quorum of witness cosignatures.
    pub async fn index_lists(
        &mut self,
        keys: &[accord_domain::index::IndexKey],
        at: &VerifiedCheckpoint,
    ) -> Result<Vec<Vec<u64>>> {
        let mut lists = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(crate::query::complete::MAX_INDEX_KEYS) {
            let req = pb::GetIndexRequest { keys: chunk.iter().map(|k| k.encode()).collect() };
            let resp = self.coalition.get_index(req).await.map_err(from_status)?.into_inner();
            let (cp, map) = crate::vindex::verify::open_map_at(&self.log, resp.read_at.as_ref(), &resp.map_checkpoint)?;
            self.check_map_note(&resp.map_checkpoint)?;
            self.check_consistency(at, &cp).await?;
            for mut list in crate::vindex::verify::check_lookups(chunk, &resp.lookups, &map.map_root)? {
                list.truncate(list.partition_point(|&i| i < at.size));
                lists.push(list);
            }
        }
        Ok(lists)
    }

    /// Entries by log index, each proven in the tree of the checkpoint `at`, in the order asked; the derived
    /// fields (identity, leaf hash, integration time) are computed from the leaves, the statement id and
    /// kind left empty.
    pub async fn proven_rows(
        &mut self,
        indices: &[u64],
        at: &VerifiedCheckpoint,
    ) -> Result<Vec<crate::store::EntryRow>> {
        let mut rows = Vec::with_capacity(indices.len());
        for chunk in indices.chunks(crate::query::complete::MAX_COMPLETE_ENTRIES) {
            let req = pb::GetProvenEntriesRequest { indices: chunk.to_vec(), tree_size: at.size };
            let resp = self.coalition.get_proven_entries(req).await.map_err(from_status)?.into_inner();
            if resp.entries.iter().map(|e| e.index).ne(chunk.iter().copied()) {
                return Err(Error::denied("entries", "are not the entries asked for, in that order"));
            }
            for (n, e) in resp.entries.into_iter().enumerate() {
                let lh = merkle::leaf_hash(&e.leaf);
                merkle::verify_inclusion(e.index, at.size, &lh, &e.inclusion_proof, &at.root)
                    .map_err(|x| x.scope(format!("entries[{n}]").as_str()))?;
                let mut row = crate::store::EntryRow { index: e.index, leaf: e.leaf, ..Default::default() };
                derive(&mut row);
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// A plan's whole book at the checkpoint `at`, read through the index (docs/INDEX.md §11): the lists of
    /// [`crate::vindex::book::BookKeys`] grown until no new key appears, every entry in them proven in `at`'s
    /// tree and filed under the keys that list it, the entries outside the book its attestations cover,
    /// and the last entry's integration time. `progress(entries held)` is called after each round.
    pub async fn plan_book(
        &mut self,
        plan: &str,
        at: &VerifiedCheckpoint,
        mut progress: impl FnMut(usize),
    ) -> Result<PlanBook> {
        let parties = self.key_parties().await?;
        let party_of_key = |k: &str| parties.get(k).cloned();
        let mut book = crate::vindex::book::BookKeys::new(crate::domain::ids::PlanId::parse("plan_id", plan)?);
        let mut held: BTreeMap<u64, (crate::store::EntryRow, accord_domain::statement::Statement, Vec<PartyId>)> =
            BTreeMap::new();
        // Each key is looked up once, its list checked entry by entry against it; a round asks only for
        // the keys the entries of the previous rounds added (plans and pledges they restate).
        let mut lists: Vec<(String, usize)> = Vec::new();
        let mut asked: BTreeSet<String> = BTreeSet::new();
        loop {
            let keys: Vec<_> = book.keys().into_iter().filter(|k| !asked.contains(&k.encode())).collect();
            if keys.is_empty() {
                break;
            }
            let got = self.index_lists(&keys, at).await?;
            let missing: Vec<u64> = got
                .iter()
                .flatten()
                .copied()
                .filter(|i| !held.contains_key(i))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            for row in self.proven_rows(&missing, at).await? {
                let (statement, signers) = crate::vindex::verify::signed_by(&row.leaf, &party_of_key)?;
                held.insert(row.index, (row, statement, signers));
            }
            for (key, list) in keys.iter().zip(&got) {
                for i in list {
                    let (_, st, signers) = held.get(i).ok_or_else(|| Error::internal("a listed entry not fetched"))?;
                    crate::vindex::verify::check_filed(*i, st, signers, std::slice::from_ref(key))?;
                }
                asked.insert(key.encode());
                lists.push((key.encode(), list.len()));
            }
            progress(held.len());
            book.absorb(missing.iter().filter_map(|i| held.get(i)).map(|(_, st, _)| st));
        }
        let covered = crate::vindex::book::covered(held.values().map(|(_, st, _)| st));
        let inside: BTreeSet<&[u8]> = held.values().map(|(r, _, _)| r.identity.as_slice()).collect();
        let outside: Vec<[u8; 32]> = covered.into_iter().filter(|id| !inside.contains(id.as_slice())).collect();
        let known = self.entries_by_identity(&outside, at).await?;
        let last_integrated_ms = match at.size.checked_sub(1) {
            None => None,
            Some(last) => match held.get(&last) {
                Some((r, _, _)) => Some(r.integrated_at_ms),
                None => self.proven_rows(&[last], at).await?.first().map(|r| r.integrated_at_ms),
            },
        };
        Ok(PlanBook { entries: held.into_values().map(|(r, _, _)| r).collect(), known, last_integrated_ms, lists })
    }

    /// The log index of each identity, each entry proven in `at`'s tree and its identity recomputed from
    /// its leaf: (identity, index).
    async fn entries_by_identity(&mut self, ids: &[[u8; 32]], at: &VerifiedCheckpoint) -> Result<Vec<(Vec<u8>, u64)>> {
        let mut indices = Vec::with_capacity(ids.len());
        for id in ids {
            let key = pb::get_entry_request::Key::Identity(id.to_vec());
            let e = self.inner.get_entry(pb::GetEntryRequest { key: Some(key) }).await.map_err(from_status)?;
            let index = e.into_inner().entry.map(|e| e.index).ok_or_else(|| {
                Error::denied("identity", format!("the server names no entry for identity {}", hex::encode(id)))
            })?;
            indices.push(index);
        }
        let rows = self.proven_rows(&indices, at).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, row) in ids.iter().zip(rows) {
            if row.identity != id {
                return Err(Error::denied(
                    "identity",
                    format!("the entry served for identity {} has another identity", hex::encode(id)),
                ));
            }
            out.push((row.identity, row.index));
        }
        Ok(out)
    }

    /// Every key the ledger knows, by keyid, with the party it belongs to (every page of ListParties).
    pub async fn key_parties(&mut self) -> Result<std::collections::BTreeMap<String, String>> {
        let mut parties = std::collections::BTreeMap::new();
        let mut token = String::new();
        loop {
            let req = pb::ListPartiesRequest { page_size: 1000, page_token: token.clone(), with_proofs: false };
            let page = self.coalition.list_parties(req).await.map_err(from_status)?.into_inner();
            for p in page.parties {
                for k in p.keys {
                    parties.insert(k.keyid, p.party_id.clone());
                }
            }
            if page.next_page_token.is_empty() || page.next_page_token == token {
                return Ok(parties);
            }
            token = page.next_page_token;
        }
    }

    /// One subject with its history; with `with_proofs` the item and every history entry are checked.
    pub async fn subject(&mut self, kind: &str, id: &str, with_proofs: bool) -> Result<pb::GetSubjectResponse> {
        let req = pb::GetSubjectRequest { kind: kind.into(), id: id.into(), with_proofs, ..Default::default() };
        let resp = self.coalition.get_subject(req).await.map_err(from_status)?.into_inner();
        let at = resp.read_at.as_ref().ok_or_else(|| Error::denied("read_at", "the answer names no checkpoint"))?;
        if with_proofs {
            let item = resp.item.as_ref().ok_or_else(|| Error::denied("item", "missing"))?;
            verify_items(&self.log, at, std::slice::from_ref(item))?;
            verify_history(&self.log, at, &resp.history)?;
        } else {
            open_read_at(&self.log, at)?;
        }
        Ok(resp)
    }

    /// The log key this client trusts: every checkpoint it accepts is signed by it.
    pub fn log_key(&self) -> &StrictNoteVerifier {
        &self.log
    }

    /// The underlying gRPC client, for calls whose answers this client does not verify.
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
        if leaf.envelope.as_ref() != Some(&crate::ledger::canonical_envelope(env)) {
            return Err(Error::denied("receipt.leaf", "does not hold the envelope that was submitted"));
        }
        let lh = merkle::leaf_hash(&receipt.leaf);
        if lh.as_slice() != receipt.leaf_hash {
            return Err(Error::denied("receipt.leaf_hash", "is not the hash of the leaf"));
        }
        merkle::verify_inclusion(receipt.index, cp.size, &lh, &receipt.inclusion_proof, &cp.root)?;
        Ok(VerifiedReceipt { receipt, checkpoint: cp })
    }

    /// Accept checkpoints (from [`Client::checkpoint`], and so [`Client::entry`]) only when they satisfy
    /// `policy`: signed by one of its logs and cosigned by its quorum of witnesses; and complete answers
    /// ([`Client::list_complete`], [`Client::subject_complete`]) only when their map checkpoint is signed
    /// by the map key of one of its logs and cosigned by that quorum ([`crate::crypto::cosign::Policy::check_map`]).
    /// Receipts are not affected: a receipt's checkpoint is signed at commit, before any witness has seen it.
    pub fn with_policy(mut self, policy: crate::crypto::cosign::Policy) -> Self {
        self.policy = Some(std::sync::Arc::new(policy));
        self
    }

    /// The latest checkpoint (or the one of tree size `size`), verified against the trusted log key and, when
    /// set, the cosignature policy; PERMISSION_DENIED when it does not verify or has another size.
    pub async fn checkpoint(&mut self, size: Option<u64>) -> Result<VerifiedCheckpoint> {
        let r = self
            .inner
            .get_checkpoint(pb::GetCheckpointRequest { tree_size: size })
            .await
            .map_err(from_status)?
            .into_inner();
        let cp = open_checkpoint(r.checkpoint.as_bytes(), &self.log)?;
        if let Some(p) = &self.policy {
            p.check(&r.checkpoint)?;
        }
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

/// A plan's book read through the index ([`Client::plan_book`]), ready for
/// [`crate::report::recompute_part`].
#[derive(Debug, Clone)]
pub struct PlanBook {
    /// Every entry of the book, ascending: the plans linked to the plan by restatements, governance, FX
    /// rates and attestations.
    pub entries: Vec<crate::store::EntryRow>,
    /// (identity, index) of the entries outside the book that its attestations cover.
    pub known: Vec<(Vec<u8>, u64)>,
    /// When the checkpoint's last entry was integrated (the report's as-of date); `None` for an empty log.
    pub last_integrated_ms: Option<i64>,
    /// Each key looked up, in the order asked, with its list's length.
    pub lists: Vec<(String, usize)>,
}

/// What offline verification established.
#[derive(Debug, Clone)]
pub struct OfflineVerified {
    /// Position of the entry in the log (0-based), as the bundle states it.
    pub index: u64,
    /// The bundle's checkpoint, signed by the trusted log key; the leaf is included in its tree.
    pub checkpoint: VerifiedCheckpoint,
    /// The decoded leaf: the envelope and its integration time.
    pub entry: LogEntry,
    /// The statement the envelope carries, decoded and checked against its field rules.
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
    let limits = crate::ledger::Limits { max_payload_bytes: usize::MAX, ..Default::default() };
    // Keys introduced by the statement itself (charter, admission, rotation) verify their own signatures.
    let prepared = crate::ledger::prepare_with(&env, &cp.origin, &limits, |kid| keys.get(kid).copied())
        .map_err(|e| e.scope("leaf"))?;
    if let Some(&i) = prepared.unverified.first() {
        return Err(Error::denied(
            format!("leaf.envelope.signatures[{i}].keyid"),
            format!(
                "no public key given for signer {} (pass it with --signer)",
                prepared.envelope.signatures.get(i).map(|s| s.keyid.as_str()).unwrap_or_default()
            ),
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

/// Check a proven entry's inclusion in the checkpoint's tree; returns the statement it holds.
fn check_proven(cp: &VerifiedCheckpoint, p: &pb::ProvenEntry) -> Result<Statement> {
    merkle::verify_inclusion(p.index, cp.size, &merkle::leaf_hash(&p.leaf), &p.inclusion_proof, &cp.root)
        .map_err(|e| e.scope(&format!("proofs[index={}]", p.index)))?;
    crate::query::statement_of_leaf(&p.leaf).map_err(|e| Error::denied("leaf", e.message))
}

/// The fields of a row derived from its leaf bytes (never taken from a server): identity, leaf hash and
/// integration time.
fn derive(r: &mut crate::store::EntryRow) {
    r.identity = crypto::leaf_identity(&r.leaf).map(|h| h.to_vec()).unwrap_or_default();
    r.leaf_hash = merkle::leaf_hash(&r.leaf).to_vec();
    r.integrated_at_ms = LogEntry::decode(r.leaf.as_slice()).map(|l| l.integrated_at_ms).unwrap_or_default();
}

/// Check query items against the checkpoint they were read at: the checkpoint is signed by the log key;
/// each item carries its creating and current-version entries with inclusion proofs that verify; and the
/// compiled view shown is exactly the statement in the current-version entry. Returns the entries checked.
pub fn verify_items(log: &StrictNoteVerifier, at: &pb::ReadAt, items: &[pb::Item]) -> Result<usize> {
    let cp = open_read_at(log, at)?;
    let mut n = 0usize;
    for (i, item) in items.iter().enumerate() {
        let field = format!("items[{i}]");
        let mut saw_created = false;
        let mut saw_version = false;
        for p in &item.proofs {
            let st = check_proven(&cp, p).map_err(|e| e.scope(&field))?;
            n = n.saturating_add(1);
            saw_created |= p.index == item.index;
            if p.index == item.version_index {
                saw_version = true;
                if Some(crate::query::compiled(st)) != item.compiled {
                    return Err(Error::denied(
                        format!("{field}.compiled"),
                        format!("differs from the statement in entry {} ({} {})", p.index, item.kind, item.id),
                    ));
                }
            }
        }
        if !saw_created || !saw_version {
            return Err(Error::denied(
                format!("{field}.proofs"),
                format!("entries {} and {} must both be proven", item.index, item.version_index),
            ));
        }
    }
    Ok(n)
}

/// Check history entries: each proven in the checkpoint's tree and holding the statement shown.
pub fn verify_history(log: &StrictNoteVerifier, at: &pb::ReadAt, history: &[pb::HistoryEntry]) -> Result<usize> {
    let cp = open_read_at(log, at)?;
    for (i, h) in history.iter().enumerate() {
        let field = format!("history[{i}]");
        let p = h.proof.as_ref().ok_or_else(|| Error::denied(format!("{field}.proof"), "missing"))?;
        if p.index != h.index {
            return Err(Error::denied(format!("{field}.proof.index"), "is not the entry shown"));
        }
        let st = check_proven(&cp, p).map_err(|e| e.scope(&field))?;
        if Some(st) != h.statement {
            return Err(Error::denied(format!("{field}.statement"), format!("differs from entry {}", h.index)));
        }
    }
    Ok(history.len())
}
