//! The sequencer: one thread that owns the only write connection.
//!
//! Contract: a submission's reply is sent only after the transaction holding its entry has COMMITted
//! (with `synchronous=FULL` by default) together with a signed checkpoint covering it. Many requests are
//! integrated in one transaction (group commit). A request whose entries break a rule changes nothing:
//! its in-memory effects are reverted and none of its rows are written.
use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use prost::Message;
use tlog_tiles::{Hash, HashReader};
use tokio::sync::oneshot;

use super::{Committed, Latest, Prepared, Shared};
use crate::crypto::{self, LogSigner};
use crate::domain::{Effect, Governance};
use crate::error::{Error, Result};
use crate::merkle;
use crate::pb::LogEntry;
use crate::storage::{EntryRow, Writer};

/// Most entries integrated in one transaction.
pub const MAX_GROUP: usize = 8192;

pub(super) struct Job {
    pub items: Vec<Prepared>,
    pub reply: oneshot::Sender<Result<Vec<Committed>>>,
}

pub(super) struct Sequencer {
    pub writer: Writer,
    pub signer: LogSigner,
    pub gov: Governance,
    pub size: u64,
    pub last_ms: i64,
    pub shared: Arc<Shared>,
    pub clock: fn() -> i64,
}

/// Stored hashes of the open transaction over the committed ones.
struct Overlay<'a> {
    base: u64,
    new: &'a [Hash],
    db: crate::storage::SqlHashes<'a>,
}

impl HashReader for Overlay<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            if i >= self.base {
                out.push(*self.new.get((i - self.base) as usize).ok_or(tlog_tiles::Error::IndexesNotInTree)?);
            } else {
                out.extend(self.db.read_hashes(&[i])?);
            }
        }
        Ok(out)
    }
}

enum Outcome {
    New(usize),
    Pending(usize),
    Duplicate(u64),
}

impl Sequencer {
    pub fn run(mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            let mut n = jobs[0].items.len();
            while n < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => {
                        n += j.items.len();
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            self.integrate(jobs);
        }
        tracing::info!(size = self.size, "sequencer stopped");
    }

    fn integrate(&mut self, jobs: Vec<Job>) {
        let started = std::time::Instant::now();
        if let Err(e) = self.writer.begin() {
            for j in jobs {
                let _ = j.reply.send(Err(e.clone()));
            }
            return;
        }
        let base_size = self.size;
        let base_hash_id = merkle::stored_hash_count(base_size);
        let mut rows: Vec<EntryRow> = Vec::new();
        let mut hashes: Vec<Hash> = Vec::new();
        let mut effects: Vec<Effect> = Vec::new();
        let mut by_identity: HashMap<[u8; 32], usize> = HashMap::new();
        let mut by_sid: HashMap<String, usize> = HashMap::new();
        let mut results: Vec<(oneshot::Sender<Result<Vec<Committed>>>, Result<Vec<Outcome>>)> = Vec::new();

        for job in jobs {
            let mark = (rows.len(), hashes.len(), effects.len(), self.size, self.last_ms);
            let mut outcomes = Vec::with_capacity(job.items.len());
            let mut failed = None;
            for (pos, item) in job.items.iter().enumerate() {
                let at = |e: Error| if job.items.len() > 1 { e.scope(&format!("envelopes[{pos}]")) } else { e };
                match self.integrate_one(
                    item,
                    base_hash_id,
                    &mut rows,
                    &mut hashes,
                    &mut effects,
                    &by_identity,
                    &by_sid,
                ) {
                    Ok(o) => {
                        if let Outcome::New(r) = o {
                            by_identity.insert(item.identity, r);
                            by_sid.insert(item.statement_id().to_string(), r);
                        }
                        outcomes.push(o);
                    }
                    Err(e) => {
                        failed = Some(at(e));
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                // Undo this job only: drop its rows and hashes, revert its effects.
                for r in &rows[mark.0..] {
                    by_identity.remove(r.identity.as_slice());
                    by_sid.remove(&r.statement_id);
                }
                rows.truncate(mark.0);
                hashes.truncate(mark.1);
                for eff in effects.drain(mark.2..).rev() {
                    self.gov.revert(&eff);
                }
                self.size = mark.3;
                self.last_ms = mark.4;
                results.push((job.reply, Err(e)));
            } else {
                results.push((job.reply, Ok(outcomes)));
            }
        }

        let published = if rows.is_empty() {
            self.writer.rollback();
            Ok(None)
        } else {
            self.persist(base_size, base_hash_id, &rows, &hashes, &effects).map(Some)
        };
        let latest = match published {
            Ok(Some(latest)) => {
                self.shared.publish(latest.clone(), &effects);
                latest
            }
            Ok(None) => self.shared.latest(),
            Err(e) => {
                tracing::error!(error = %e, "commit failed; reloading state from the database");
                self.writer.rollback();
                self.reload();
                for (reply, _) in results {
                    let _ = reply.send(Err(Error::internal("commit failed")));
                }
                return;
            }
        };
        let n_new = rows.len();
        let rows: Vec<Arc<EntryRow>> = rows.into_iter().map(Arc::new).collect();
        for (reply, res) in results {
            let res = res.and_then(|outs| {
                outs.into_iter()
                    .map(|o| match o {
                        Outcome::New(r) => {
                            Ok(Committed { entry: rows[r].clone(), latest: latest.clone(), duplicate: false })
                        }
                        Outcome::Pending(r) => {
                            Ok(Committed { entry: rows[r].clone(), latest: latest.clone(), duplicate: true })
                        }
                        Outcome::Duplicate(index) => self
                            .writer
                            .entry(index)?
                            .map(|e| Committed { entry: Arc::new(e), latest: latest.clone(), duplicate: true })
                            .ok_or_else(|| Error::internal("duplicate entry vanished")),
                    })
                    .collect()
            });
            let _ = reply.send(res);
        }
        if n_new > 0 {
            tracing::debug!(
                entries = n_new,
                size = self.size,
                micros = started.elapsed().as_micros() as u64,
                "committed"
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn integrate_one(
        &mut self,
        item: &Prepared,
        base_hash_id: u64,
        rows: &mut Vec<EntryRow>,
        hashes: &mut Vec<Hash>,
        effects: &mut Vec<Effect>,
        by_identity: &HashMap<[u8; 32], usize>,
        by_sid: &HashMap<String, usize>,
    ) -> Result<Outcome> {
        if let Some(&r) = by_identity.get(&item.identity) {
            // The same envelope twice before commit: answered with the pending entry.
            return Ok(Outcome::Pending(r));
        }
        if let Some(index) = self.writer.find_identity(&item.identity)? {
            return Ok(Outcome::Duplicate(index));
        }
        let sid = item.statement_id();
        if by_sid.contains_key(sid) {
            return Err(Error::new(
                crate::error::Kind::AlreadyExists,
                "statement.statement_id",
                format!("{sid:?} is already used by another statement in this submission"),
            ));
        }
        if let Some(index) = self.writer.find_statement_id(sid)? {
            return Err(Error::new(
                crate::error::Kind::AlreadyExists,
                "statement.statement_id",
                format!("{sid:?} is already used by entry {index} (a different envelope)"),
            ));
        }
        // Signatures by keys the verifier stage did not know yet are checked here, against current state.
        for &i in &item.unverified {
            let s = &item.envelope.signatures[i];
            let key = self.gov.keys.get(&s.keyid).ok_or_else(|| {
                Error::denied(
                    format!("envelope.signatures[{i}].keyid"),
                    format!("key {} is not registered to any party", s.keyid),
                )
            })?;
            let pk = crypto::public_key_from_bytes(&key.public_key)?;
            if !crypto::verify_pae(&pk, &item.envelope.payload_type, &item.envelope.payload, &s.sig) {
                return Err(Error::denied(
                    format!("envelope.signatures[{i}].sig"),
                    "signature does not verify (Ed25519 verify_strict over DSSE PAE)",
                ));
            }
        }
        let now = (self.clock)().max(self.last_ms);
        let index = self.size;
        let new_effects = self.gov.apply(&item.statement, &item.signers, index, now).map_err(|e| {
            if e.field.starts_with("statement.") || e.field.starts_with("envelope.") {
                e
            } else {
                e.scope("statement")
            }
        })?;
        effects.extend(new_effects);
        let leaf = LogEntry { envelope: Some(item.envelope.clone()), integrated_at_ms: now }.encode_to_vec();
        let leaf_hash = merkle::leaf_hash(&leaf);
        let reader = Overlay { base: base_hash_id, new: hashes, db: self.writer.hashes() };
        let new = merkle::stored_hashes_for_record_hash(index, Hash(leaf_hash), &reader)
            .map_err(|e| Error::internal(format!("stored hashes: {e}")))?;
        hashes.extend(new);
        rows.push(EntryRow {
            index,
            identity: item.identity.to_vec(),
            leaf_hash: leaf_hash.to_vec(),
            statement_id: sid.to_string(),
            kind: item.kind.to_string(),
            integrated_at_ms: now,
            leaf,
        });
        self.size += 1;
        self.last_ms = now;
        Ok(Outcome::New(rows.len() - 1))
    }

    fn persist(
        &mut self,
        base_size: u64,
        base_hash_id: u64,
        rows: &[EntryRow],
        hashes: &[Hash],
        effects: &[Effect],
    ) -> Result<Latest> {
        debug_assert_eq!(rows.first().map(|r| r.index), Some(base_size));
        for r in rows {
            self.writer.insert_entry(r)?;
        }
        self.writer.insert_hashes(base_hash_id, hashes)?;
        for e in effects {
            self.writer.apply_effect(e)?;
        }
        let root =
            merkle::tree_hash(self.size, &Overlay { base: base_hash_id, new: hashes, db: self.writer.hashes() })?;
        let note = self.signer.sign_checkpoint(self.size, &root);
        self.writer.insert_checkpoint(self.size, &root, &note, (self.clock)())?;
        self.writer.commit()?;
        Ok(Latest { size: self.size, root, note: Arc::from(note) })
    }

    fn reload(&mut self) {
        match self.writer.load() {
            Ok(l) => {
                self.size = l.size;
                self.last_ms = l.last_integrated_ms;
                self.gov = l.governance;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reload state; stopping the sequencer");
                std::process::abort();
            }
        }
    }
}
