//! The read API the edge uses: [`Ledger::read`] and [`Ledger::snapshot`] lend a [`ReadView`] over one
//! pooled read-only connection, with the reads the gRPC services and the public page need, answered in
//! the log's and the domain's types. The read pool itself stays inside the ledger: `src/server` never
//! names the store (tests/architecture.rs). The read models (`query`, `report`) take the view too and
//! reach the store's reader through it.
use super::Ledger;
use crate::domain::book::{Subject, SubjectKind};
use crate::domain::Governance;
use crate::error::{Error, Result};
use crate::store::{CheckpointRow, EntryRow, Reader, SubjectFilter};

/// Longest a read waits for the projector to reach the published checkpoint.
pub const PROJECTION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A read of the ledger on one pooled read-only connection (lent by [`Ledger::read`] or
/// [`Ledger::snapshot`]). Reads never wait for the writer.
#[derive(Debug, Clone, Copy)]
pub struct ReadView<'a> {
    reader: &'a Reader,
}

/// Use of the read pool, for the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPool {
    /// Read-only connections open.
    pub open: usize,
    /// Of those, the ones lent out now.
    pub busy: usize,
}

impl Ledger {
    /// Run `f` on a view over one pooled read-only connection; each read sees the latest committed state
    /// (use [`Ledger::snapshot`] when several reads must agree). Blocking: call from a blocking context.
    pub fn read<T>(&self, f: impl FnOnce(&ReadView<'_>) -> Result<T>) -> Result<T> {
        self.wait_for_projections();
        self.readers.with(|reader| f(&ReadView { reader }))
    }

    /// [`Ledger::read`] for reads of the log alone (entries, leaves), which the projector does not write:
    /// they never wait for it. A Submit's duplicate check and GetEntry use it; anything that reads
    /// subjects, history or governance uses [`Ledger::read`] or [`Ledger::snapshot`].
    pub fn read_log<T>(&self, f: impl FnOnce(&ReadView<'_>) -> Result<T>) -> Result<T> {
        self.readers.with(|reader| f(&ReadView { reader }))
    }

    /// Run `f` on a view inside one read transaction: everything it reads is from the same committed state,
    /// at the checkpoint of the size the projections cover. Blocking.
    pub fn snapshot<T>(&self, f: impl FnOnce(&ReadView<'_>) -> Result<T>) -> Result<T> {
        self.wait_for_projections();
        self.readers.with(|r| r.snapshot(|reader| f(&ReadView { reader })))
    }

    /// Wait until the projections cover the checkpoint published now, so that a read sees every entry
    /// acknowledged before it began (a reply is sent after its checkpoint is published; the projector
    /// writes the subjects a little later, off the sequencer's path). Bounded: a projector that stopped or
    /// lags more than [`PROJECTION_WAIT`] leaves the read at the size it covers, which the read's
    /// `read_at` names.
    fn wait_for_projections(&self) {
        let published = self.latest().size;
        if let Err(why) = self.projected.wait_for_within(published, PROJECTION_WAIT) {
            tracing::warn!(published, projected = self.projected.size(), why, "a read is served behind the log");
        }
    }

    /// How many read connections are open and busy (metrics).
    pub fn read_pool(&self) -> ReadPool {
        ReadPool { open: self.readers.open_count(), busy: self.readers.busy_count() }
    }
}

impl<'a> ReadView<'a> {
    /// The entry at `index` of the log, if stored.
    pub fn entry_by_index(&self, index: u64) -> Result<Option<EntryRow>> {
        Ok(self.reader.entry_by_index(index)?)
    }
    /// The entry of an envelope identity (SHA-256 of the canonical envelope), if logged.
    pub fn entry_by_identity(&self, identity: &[u8]) -> Result<Option<EntryRow>> {
        Ok(self.reader.entry_by_identity(identity)?)
    }
    /// The entry of a statement id, if logged.
    pub fn entry_by_statement_id(&self, statement_id: &str) -> Result<Option<EntryRow>> {
        Ok(self.reader.entry_by_statement_id(statement_id)?)
    }
    /// The index of the entry with this leaf hash, if logged.
    pub fn index_by_leaf_hash(&self, leaf_hash: &[u8]) -> Result<Option<u64>> {
        Ok(self.reader.index_by_leaf_hash(leaf_hash)?)
    }
    /// At most `limit` entries from `start`, below `end`, in log order.
    pub fn entries(&self, start: u64, end: u64, limit: usize) -> Result<Vec<EntryRow>> {
        Ok(self.reader.entries(start, end, limit)?)
    }
    /// The leaves of entries `start <= index < end`, in log order (tlog-tiles entry bundles).
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        Ok(self.reader.leaves(start, end)?)
    }
    /// At most `limit` stored checkpoints from tree size `start` on, in size order.
    pub fn checkpoints_from(&self, start: u64, limit: usize) -> Result<Vec<CheckpointRow>> {
        Ok(self.reader.checkpoints_from(start, limit)?)
    }
    /// The current version of one subject, if it exists.
    pub fn subject(&self, kind: SubjectKind, id: &str) -> Result<Option<Subject>> {
        Ok(self.reader.subject(kind, id)?)
    }
    /// The subjects of `kind` (of one plan when `plan_id` is not empty) in id order; `visit` returns false
    /// to stop.
    pub fn scan_subjects(
        &self,
        kind: SubjectKind,
        plan_id: &str,
        visit: impl FnMut(Subject) -> Result<bool>,
    ) -> Result<()> {
        let filter = SubjectFilter { kind: kind.to_string(), plan_id: plan_id.to_string(), ..Default::default() };
        self.reader.scan_subjects::<Error>(&filter, visit)
    }
    /// The governance state: the charter, the parties and their key history.
    pub fn governance(&self) -> Result<Governance> {
        Ok(self.reader.governance()?)
    }
    /// The store's reader under this view, for the read models that sit on the store (`query`, `report`).
    /// The edge never calls it: tests/architecture.rs fails on the name in `src/server`.
    pub(crate) fn store_reader(&self) -> &'a Reader {
        self.reader
    }
}

/// The index reads the log through a read view.
impl crate::vindex::Log for ReadView<'_> {
    fn entries(&self, start: u64, end: u64, limit: usize) -> Result<Vec<EntryRow>> {
        ReadView::entries(self, start, end, limit)
    }
    fn governance(&self) -> Result<crate::domain::Governance> {
        ReadView::governance(self)
    }
    fn plan_of(&self, kind: SubjectKind, id: &str) -> Result<Option<String>> {
        Ok(self.reader.plan_of(kind, id)?)
    }
}
