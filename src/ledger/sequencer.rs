//! The sequencer: one thread that owns the only write connection.
//!
//! Contract: a submission's reply is sent only after the transaction holding its entry has COMMITted
//! (with `synchronous=FULL` by default) together with a signed checkpoint covering it. Many requests are
//! integrated in one transaction (group commit). A request whose entries break a rule changes nothing:
//! its in-memory effects are reverted and none of its rows are written.
//!
//! The subject projections leave the sequencer's transaction (issue 14): the rules read subjects through
//! the writer, which holds the versions not yet written in an overlay, and after COMMIT the group's rows
//! go to the projector thread, which writes them to their own file (`store::projection`) while the
//! sequencer integrates the next group. Reads wait for the projector to reach the published checkpoint
//! ([`super::Ledger::read`]), so a query after a reply still sees what the reply acknowledged.
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use crate::merkle::Hash;
use tokio::sync::oneshot;

use super::project::{project, Projection};
use super::publish::{publish, Answer, Ticket};
use super::{highwater::HighWater, Committed, Latest, Prepared, Shared, WriteState};
use crate::crypto::{self, LogSigner};
use crate::domain::{Effect, Governance};
use crate::error::{Error, Kind, Result};
use crate::merkle;
use crate::store::{Checkpointer, CosignatureRow, EntryRow, Progress, Projector, Writer};

/// Most entries integrated in one transaction.
pub const MAX_GROUP: usize = 8192;

/// Most entries the projector may lag behind the log before the sequencer waits for it: this bounds the
/// overlay of subjects it has not written (a few per entry) and how long a read waits for it.
pub const MAX_PROJECTION_LAG: u64 = 2048;

pub(super) type Reply = oneshot::Sender<Result<Vec<Committed>>>;

/// One request to the sequencer: envelopes to integrate as one atomic request, or (with no envelopes)
/// witness cosignatures to store in the next transaction. Replied to once committed.
pub(super) struct Job {
    pub items: Vec<Prepared>,
    pub cosignatures: Vec<CosignatureRow>,
    pub reply: Reply,
    /// A dry run (`LedgerService.Check`): the first item is evaluated against the current state, nothing
    /// is written, and the verdict goes here (`reply` is then unused).
    pub check: Option<oneshot::Sender<Result<super::check::Checked>>>,
}

pub(super) struct Sequencer {
    /// Declared before the writer so that it stops first; the writer's close then checkpoints the rest.
    pub checkpointer: Checkpointer,
    pub writer: Writer,
    pub signer: LogSigner,
    pub gov: Governance,
    pub size: u64,
    pub last_ms: i64,
    pub shared: Arc<Shared>,
    pub clock: super::Clock,
    /// The publisher thread's queue while the sequencer runs.
    pub publisher: Option<std::sync::mpsc::Sender<Ticket>>,
    /// The projections' writer, moved to the projector thread when the sequencer runs.
    pub projector: Option<Projector>,
    /// How far the projector has got (shared with the writer, which prunes its overlay by it).
    pub progress: Arc<Progress>,
    /// The projector thread's queue while the sequencer runs.
    pub projecting: Option<std::sync::mpsc::Sender<Projection>>,
}

/// Marks the write path stopped when the sequencer thread ends, however it ends.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let why = if std::thread::panicking() { "the sequencer thread failed" } else { super::SHUTTING_DOWN };
        self.0.set_write_state(WriteState::Stopped(why.into()));
    }
}

enum Outcome {
    /// A new entry.
    New(Arc<EntryRow>),
    /// The envelope is already in the log (or earlier in this transaction) at this index.
    Duplicate(u64),
}

impl Sequencer {
    /// Run until `rx` closes. Every checkpoint is recorded in `high_water` after its COMMIT and before
    /// anyone is answered, by the publisher thread started here.
    pub fn run(mut self, rx: Receiver<Job>, high_water: HighWater) {
        let _stopped = StopGuard(self.shared.clone());
        let shared = self.shared.clone();
        let progress = self.progress.clone();
        let projector = self.projector.take();
        std::thread::scope(|scope| {
            let Some(projector) = projector else {
                self.stop(&rx, "the sequencer has no projector".into());
                return;
            };
            let (ptx, batches) = std::sync::mpsc::channel::<Projection>();
            let (shared_p, progress_p) = (&*shared, &*progress);
            let started = std::thread::Builder::new()
                .name("accord-project".into())
                .spawn_scoped(scope, move || project(batches, projector, progress_p, shared_p));
            if let Err(e) = started {
                self.stop(&rx, format!("cannot start the projector thread: {e}"));
                return;
            }
            let (tx, tickets) = std::sync::mpsc::channel::<Ticket>();
            let publisher = std::thread::Builder::new()
                .name("accord-publish".into())
                .spawn_scoped(scope, move || publish(tickets, high_water, shared_p));
            if let Err(e) = publisher {
                drop(ptx);
                self.stop(&rx, format!("cannot start the publisher thread: {e}"));
                return;
            }
            self.projecting = Some(ptx);
            self.publisher = Some(tx);
            self.sequence(&rx);
            // Dropping the senders ends the projector and the publisher once they have done every group;
            // the scope waits.
            self.projecting = None;
            self.publisher = None;
        });
        // A clean stop leaves the database file whole and the WAL empty.
        match self.writer.checkpoint_truncate() {
            Ok((log, done)) => tracing::debug!(log, done, "final wal checkpoint"),
            Err(e) => tracing::warn!(error = %e, "final wal checkpoint failed; the WAL is kept and replayed at open"),
        }
        tracing::info!(size = self.size, "sequencer stopped");
    }

    fn sequence(&mut self, rx: &Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            let mut n = jobs.iter().map(|j| j.items.len()).sum::<usize>();
            while n < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => {
                        n = n.saturating_add(j.items.len());
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            // Dry runs first, against the state before this group; they write nothing.
            let (checks, jobs): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.check.is_some());
            for j in checks {
                let verdict = match j.items.first() {
                    Some(item) => {
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dry_run(item))) {
                            Ok(v) => v,
                            Err(_) => {
                                // As for a group: the in-memory state may be half changed; reload it.
                                tracing::error!(size = self.size, "a dry run panicked; the state is reloaded");
                                if let Err(e) = self.reload() {
                                    self.shared.set_write_state(WriteState::Stopped(format!(
                                        "cannot reload the state after a failure: {e}"
                                    )));
                                }
                                Err(Error::internal("the dry run failed"))
                            }
                        }
                    }
                    None => Err(Error::invalid("envelope", "is required")),
                };
                if let Some(tx) = j.check {
                    let _ = tx.send(verdict);
                }
            }
            if jobs.is_empty() {
                continue;
            }
            // The projector may lag behind the log by a bounded number of entries: the overlay holds what
            // it has not written, and reads wait for it.
            if let Err(why) = self.progress.wait_for(self.size.saturating_sub(MAX_PROJECTION_LAG)) {
                for j in jobs {
                    let _ = j.reply.send(Err(Error::new(
                        Kind::Unavailable,
                        "",
                        format!("the ledger takes no writes: {why}"),
                    )));
                }
                self.stop(rx, why);
                break;
            }
            // A panic while integrating is a bug, never a reason to stop the log: undo the group (its
            // requests are answered UNAVAILABLE as their reply channels drop), reload the state from the
            // database and go on with the next group.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.integrate(jobs)));
            if run.is_err() {
                tracing::error!(size = self.size, "integrating a group panicked; it was undone and the state reloaded");
                self.writer.rollback();
                if let Err(e) = self.reload() {
                    self.stop(rx, format!("cannot reload the state after a failure: {e}"));
                    break;
                }
            }
            let stopped = match &*self.shared.write_state.borrow() {
                WriteState::Stopped(why) => Some(why.clone()),
                WriteState::Serving | WriteState::DiskFull => None,
            };
            if let Some(why) = stopped {
                self.stop(rx, why);
                break;
            }
        }
    }

    /// Stop for good: refuse what is queued (UNAVAILABLE) and mark the write path stopped.
    fn stop(&mut self, rx: &Receiver<Job>, why: String) {
        self.shared.set_write_state(WriteState::Stopped(why.clone()));
        while let Ok(j) = rx.try_recv() {
            let _ = j.reply.send(Err(Error::new(Kind::Unavailable, "", format!("the ledger takes no writes: {why}"))));
        }
    }

    /// Record what a storage error says about the write path: a full disk pauses writes until a commit
    /// succeeds; any other storage failure stops the sequencer (never retry after a failed fsync).
    fn note_storage_error(&self, e: &Error) {
        if e.kind == Kind::ResourceExhausted {
            self.shared.set_write_state(WriteState::DiskFull);
        } else if crate::store::is_storage_failure(e) {
            self.shared.set_write_state(WriteState::Stopped(e.message.clone()));
        }
    }

    /// Integrate a group of jobs in one transaction: each job inside its own savepoint, so a job that
    /// breaks a rule is rolled back alone; then one signed checkpoint, then COMMIT, then the replies.
    fn integrate(&mut self, jobs: Vec<Job>) {
        let started = std::time::Instant::now();
        if let Err(e) = self.writer.begin().map_err(Error::from) {
            self.note_storage_error(&e);
            for j in jobs {
                let _ = j.reply.send(Err(e.clone()));
            }
            return;
        }
        let base_size = self.size;
        let base_ms = self.last_ms;
        let mut effects: Vec<Effect> = Vec::new();
        // Fast path: every job straight into the transaction, without savepoints (a savepoint copies each
        // page it first changes into its sub-journal). Jobs nearly always pass; when one breaks a rule,
        // the whole transaction is undone and the group runs again the slow way, one savepoint per job,
        // which gives every job the outcome it would have had there.
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut failed = None;
        for job in &jobs {
            match self.integrate_job(&job.items, &mut effects, false) {
                Ok(o) => outcomes.push(Ok(o)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            self.writer.rollback();
            for eff in effects.drain(..).rev() {
                self.gov.revert(&eff);
            }
            self.size = base_size;
            self.last_ms = base_ms;
            outcomes.clear();
            if jobs.len() == 1 {
                outcomes.push(Err(e));
            } else if let Err(e) = self.writer.begin().map_err(Error::from) {
                self.note_storage_error(&e);
                for j in jobs {
                    let _ = j.reply.send(Err(e.clone()));
                }
                return;
            } else {
                for job in &jobs {
                    outcomes.push(self.integrate_job(&job.items, &mut effects, true));
                }
            }
        }
        let cosigned = self.insert_cosignatures(&jobs, &mut outcomes);
        for e in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            self.note_storage_error(e);
        }
        let results: Vec<(Reply, Result<Vec<Outcome>>)> = jobs.into_iter().map(|j| j.reply).zip(outcomes).collect();
        let published = self.commit_group(base_size, cosigned);
        let latest = match published {
            Ok(latest) => {
                // A commit went through: a full disk has room again (set here, in commit order).
                if latest.is_some() {
                    self.shared.set_write_state(WriteState::Serving);
                }
                latest
            }
            Err(e) => {
                self.commit_failed(e, results);
                return;
            }
        };
        if let Some(latest) = &latest {
            self.send_projection(latest.size, latest.root);
        }
        let answers = self.answers(results);
        let ticket = Ticket { latest, effects, answers, new_entries: self.size.saturating_sub(base_size), started };
        if let Some(tx) = &self.publisher {
            if let Err(std::sync::mpsc::SendError(t)) = tx.send(ticket) {
                // The publisher is gone (it panicked): nothing can be acknowledged any more.
                self.shared.set_write_state(WriteState::Stopped("the publisher thread failed".into()));
                for (reply, _) in t.answers {
                    let _ = reply.send(Err(Error::new(Kind::Unavailable, "", "the publisher thread failed")));
                }
            }
        }
    }

    /// Hand the projection rows of what was committed to the projector, which then covers `size` entries.
    fn send_projection(&mut self, size: u64, root: [u8; 32]) {
        let rows = self.writer.take_projection();
        if let Some(tx) = &self.projecting {
            if tx.send(Projection { size, root, rows }).is_err() {
                // The projector is gone (it panicked): reads would wait in vain, so say why.
                self.progress.fail("the projector thread failed".into());
                self.shared.set_write_state(WriteState::Stopped("the projector thread failed".into()));
            }
        }
    }

    /// Witness cosignatures ride in the group's transaction, after the entries (their rows only ever add to
    /// the table, so a failed job's rollback never touches them). A job whose rows cannot be written gets the
    /// error. Returns whether any were written.
    fn insert_cosignatures(&mut self, jobs: &[Job], outcomes: &mut [Result<Vec<Outcome>>]) -> bool {
        let mut cosigned = false;
        for (job, out) in jobs.iter().zip(outcomes.iter_mut()) {
            if job.cosignatures.is_empty() || out.is_err() {
                continue;
            }
            match self.writer.insert_cosignatures(&job.cosignatures) {
                Ok(_) => cosigned = true,
                Err(e) => *out = Err(e.into()),
            }
        }
        cosigned
    }

    /// End the group's transaction: with new entries, sign and commit a checkpoint; with only cosignatures,
    /// commit them (no new checkpoint); with nothing, roll back.
    fn commit_group(&mut self, base_size: u64, cosigned: bool) -> Result<Option<Latest>> {
        if self.size != base_size {
            return self.commit_checkpoint().map(Some);
        }
        if cosigned {
            self.writer.commit()?;
            self.checkpointer.poke(&self.writer);
        } else {
            // Nothing new (or the single job failed, already rolled back: a second ROLLBACK is a no-op).
            self.writer.rollback();
        }
        Ok(None)
    }

    /// A failed commit: roll back, reload the state from the database (or stop when that fails too), and
    /// answer every job of the group with the error.
    fn commit_failed(&mut self, e: Error, results: Vec<(Reply, Result<Vec<Outcome>>)>) {
        tracing::error!(error = %e, "commit failed; reloading state from the database");
        self.note_storage_error(&e);
        self.writer.rollback();
        if let Err(r) = self.reload() {
            self.shared.set_write_state(WriteState::Stopped(format!("cannot reload the state: {r}")));
        }
        // Nothing of this group is acknowledged: a full disk asks to retry later, anything else is
        // the server's failure.
        let answer = match e.kind {
            Kind::ResourceExhausted | Kind::Unavailable => e,
            _ => Error::internal("commit failed"),
        };
        for (reply, _) in results {
            let _ = reply.send(Err(answer.clone()));
        }
    }

    /// The answers of a committed group's jobs: their new entries, and their duplicates as stored (read
    /// here, on the writer's connection, before the group goes to the publisher).
    fn answers(&self, results: Vec<(Reply, Result<Vec<Outcome>>)>) -> Vec<(Reply, Result<Vec<Answer>>)> {
        results
            .into_iter()
            .map(|(reply, res)| {
                let res = res.and_then(|outs| {
                    outs.into_iter()
                        .map(|o| match o {
                            Outcome::New(entry) => Ok(Answer { entry, duplicate: false }),
                            Outcome::Duplicate(index) => {
                                let entry = self
                                    .writer
                                    .entry(index)?
                                    .ok_or_else(|| Error::internal("duplicate entry not found"))?;
                                Ok(Answer { entry: Arc::new(entry), duplicate: true })
                            }
                        })
                        .collect()
                });
                (reply, res)
            })
            .collect()
    }

    /// One job (an atomic request). On error the in-memory effects of this job are reverted, and the
    /// error names the envelope's position in a batch. With `savepoint` the job runs inside a savepoint
    /// that is rolled back on error; without, the caller must roll back the whole transaction.
    fn integrate_job(
        &mut self,
        items: &[Prepared],
        effects: &mut Vec<Effect>,
        savepoint: bool,
    ) -> Result<Vec<Outcome>> {
        if savepoint {
            self.writer.savepoint()?;
        }
        let mark = (effects.len(), self.size, self.last_ms);
        let mut outcomes = Vec::with_capacity(items.len());
        for (pos, item) in items.iter().enumerate() {
            match self.integrate_one(item, effects) {
                Ok(o) => outcomes.push(o),
                Err(e) => {
                    if savepoint {
                        self.writer.rollback_to_savepoint()?;
                    }
                    for eff in effects.drain(mark.0..).rev() {
                        self.gov.revert(&eff);
                    }
                    self.size = mark.1;
                    self.last_ms = mark.2;
                    return Err(if items.len() > 1 { e.scope(format!("envelopes[{pos}]")) } else { e });
                }
            }
        }
        if savepoint {
            self.writer.release()?;
        }
        Ok(outcomes)
    }

    /// Every rule [`Self::integrate_one`] applies, against the current state, with nothing written: the
    /// effects the rules produce are reverted at once. `Ok` when the entry would be appended (or is
    /// already in the log).
    fn dry_run(&mut self, item: &Prepared) -> Result<super::check::Checked> {
        let duplicate = self.writer.find_identity(&item.identity)?;
        let verdict = match duplicate {
            Some(_) => Ok(()),
            None => self.admissible(item).and_then(|()| {
                let now = self.clock.now().max(self.last_ms);
                let effects = self
                    .gov
                    .apply(&item.parsed, &item.compiled, &item.signers, self.size, now, &self.writer)
                    .map_err(|e| e.within("statement"))?;
                for eff in effects.iter().rev() {
                    self.gov.revert(eff);
                }
                Ok(())
            }),
        };
        if let Err(e) = &verdict {
            if matches!(e.kind, Kind::Internal | Kind::DataLoss) {
                return Err(e.clone());
            }
        }
        Ok(super::check::checked(&self.gov, &self.writer, item, duplicate, verdict))
    }

    /// The checks before the rules: a statement id not used by another envelope, and the signatures by
    /// keys the stateless stage did not know, against the current keys.
    fn admissible(&self, item: &Prepared) -> Result<()> {
        let sid = item.statement_id();
        if let Some(index) = self.writer.find_statement_id(sid)? {
            return Err(Error::new(
                crate::error::Kind::AlreadyExists,
                "statement.statement_id",
                format!("{sid:?} is already used by entry {index} (a different envelope)"),
            ));
        }
        // Signatures by keys the verifier stage did not know yet are checked here, against current state.
        for &i in &item.unverified {
            let Some(s) = item.envelope.signatures.get(i) else { continue };
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
        Ok(())
    }

    fn integrate_one(&mut self, item: &Prepared, effects: &mut Vec<Effect>) -> Result<Outcome> {
        if let Some(index) = self.writer.find_identity(&item.identity)? {
            return Ok(Outcome::Duplicate(index));
        }
        self.admissible(item)?;
        let now = self.clock.now().max(self.last_ms);
        let index = self.size;
        let new_effects = self
            .gov
            .apply(&item.parsed, &item.compiled, &item.signers, index, now, &self.writer)
            .map_err(|e| e.within("statement"))?;
        // From here on the entry is in; the in-memory effects must be reverted if persisting fails.
        let first_new = effects.len();
        effects.extend(new_effects);
        let persisted = (|| {
            for e in effects.get(first_new..).unwrap_or_default() {
                self.writer.apply_effect(e, (index, &item.compiled.wire))?;
            }
            let leaf = encode_leaf(&item.envelope, now);
            let leaf_hash = merkle::leaf_hash(&leaf);
            let new = merkle::stored_hashes_for_record_hash(index, Hash(leaf_hash), &self.writer.hashes())
                .map_err(|e| Error::internal(format!("stored hashes: {e}")))?;
            self.writer.insert_hashes(merkle::stored_hash_count(index), &new)?;
            let row = EntryRow {
                index,
                identity: item.identity.to_vec(),
                leaf_hash: leaf_hash.to_vec(),
                statement_id: item.statement_id().to_string(),
                kind: item.kind.to_string(),
                integrated_at_ms: now,
                leaf,
            };
            self.writer.insert_entry(&row)?;
            Ok(row)
        })();
        let row = match persisted {
            Ok(row) => row,
            Err(e) => {
                for eff in effects.drain(first_new..).rev() {
                    self.gov.revert(&eff);
                }
                return Err(e);
            }
        };
        self.size = self.size.saturating_add(1);
        self.last_ms = now;
        Ok(Outcome::New(Arc::new(row)))
    }

    /// Sign the group's checkpoint and COMMIT it with the entries (durable under synchronous FULL). The
    /// publisher then records it in the high-water record before anyone sees it; if that fails the entries
    /// are committed but unacknowledged and the write path stops: a restart finds the database ahead of the
    /// record (fine).
    fn commit_checkpoint(&mut self) -> Result<Latest> {
        let root = merkle::tree_hash(self.size, &self.writer.hashes())?;
        let note = self.signer.sign_checkpoint(self.size, &root);
        self.writer.insert_checkpoint(self.size, &root, &note, self.clock.now())?;
        self.writer.commit()?;
        self.checkpointer.poke(&self.writer);
        Ok(Latest { size: self.size, root, note: Arc::from(note), at_ms: self.clock.now() })
    }

    fn reload(&mut self) -> Result<()> {
        let l = self.writer.load()?;
        // What the database holds is projected before the overlay goes: rows committed but never handed
        // over (a failure between COMMIT and the hand-over) go now, then the projector is waited for.
        if self.progress.size() < l.size {
            let root = merkle::tree_hash(l.size, &self.writer.hashes())?;
            self.send_projection(l.size, root);
        }
        self.writer.settle_projection(l.size)?;
        self.size = l.size;
        self.last_ms = l.last_integrated_ms;
        self.gov = super::replay_governance(&self.writer, self.signer.origin())?;
        Ok(())
    }
}

/// The leaf of an entry: `accord.v1.LogEntry { envelope, integrated_at_ms }` encoded, byte for byte what
/// prost encodes for that message (fields in order, a zero time omitted), without copying the envelope
/// into a message first.
fn encode_leaf(envelope: &crate::pb::Envelope, integrated_at_ms: i64) -> Vec<u8> {
    let len = prost::encoding::message::encoded_len(1, envelope)
        .saturating_add(prost::encoding::int64::encoded_len(2, &integrated_at_ms));
    let mut buf = Vec::with_capacity(len);
    prost::encoding::message::encode(1, envelope, &mut buf);
    if integrated_at_ms != 0 {
        prost::encoding::int64::encode(2, &integrated_at_ms, &mut buf);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::LogEntry;
    use prost::Message;

    #[test]
    fn encode_leaf_is_the_log_entry_encoding() {
        let env = crate::pb::Envelope {
            payload: b"statement bytes".to_vec(),
            payload_type: crate::PAYLOAD_TYPE.into(),
            signatures: vec![crate::pb::Signature { sig: vec![7; 64], keyid: "ab".repeat(32) }],
        };
        for at in [0, 1, 1_780_000_000_123, -5] {
            let want = LogEntry { envelope: Some(env.clone()), integrated_at_ms: at }.encode_to_vec();
            assert_eq!(encode_leaf(&env, at), want, "integrated_at_ms {at}");
        }
    }
}
