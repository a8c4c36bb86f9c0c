//! The single write connection: appends, projections, checkpoints, and what the sequencer finds at start-up.
use std::path::{Path, PathBuf};

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::memory::{prefix, LogMemory, PrefixMap};
use super::projection::{self, Overlay, ProjectionRow};
use super::*;

/// The single write connection. Owned by the sequencer thread.
#[derive(Debug)]
pub struct Writer {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    /// The log in memory, shared with the readers (see [`LogMemory`]); loaded by [`Writer::load_memory`].
    pub(super) mem: Arc<LogMemory>,
    /// What the open transaction appended, added to `mem` on COMMIT and forgotten on ROLLBACK.
    pub(super) pending: Pending,
    /// Subjects the rules read or the sequencer wrote lately, as the open transaction sees them.
    pub(super) subjects: std::cell::RefCell<SubjectCache>,
    /// The projection rows written and the subjects changed that the projections' file does not hold yet.
    pub(super) projecting: std::cell::RefCell<Projecting>,
}

/// The writer's side of the projector (see [`super::projection`]): the rows of the open transaction, the
/// rows of committed ones not yet handed over, and the overlay of subjects the file does not hold yet.
#[derive(Debug, Default)]
pub(super) struct Projecting {
    pub(super) overlay: Overlay,
    /// Rows of the open transaction, in order.
    rows: Vec<ProjectionRow>,
    /// The length of `rows` at the open savepoint.
    mark: Option<usize>,
    /// Rows of committed transactions, waiting for [`Writer::take_projection`].
    committed: Vec<ProjectionRow>,
    /// How far the projector has got.
    progress: Arc<projection::Progress>,
}

/// Subjects the sequencer's rules read or wrote lately, so that the next rule that needs one does not read
/// its row and decode and parse its body again (issue 14: on a coalition's mix, reading subjects was a
/// third of the sequencer's time, most of it decoding pledge and commitment bodies). The writer is the
/// only one that changes subjects, and every change it makes goes through the cache, so an entry is
/// always what the open transaction holds; any rollback empties it. Two generations bound it: when the
/// newer one fills, the older is dropped and a hit in the older one moves it back to the newer.
#[derive(Debug, Default)]
pub(super) struct SubjectCache {
    new: HashMap<SubjectKind, HashMap<String, Subject>>,
    old: HashMap<SubjectKind, HashMap<String, Subject>>,
    new_len: usize,
}

impl SubjectCache {
    /// Subjects in the newer generation before it becomes the older one.
    const GENERATION: usize = 4096;

    fn get(&mut self, kind: SubjectKind, id: &str) -> Option<Subject> {
        if let Some(s) = self.new.get(&kind).and_then(|m| m.get(id)) {
            return Some(s.clone());
        }
        let s = self.old.get_mut(&kind)?.remove(id)?;
        self.put(s.clone());
        Some(s)
    }

    fn put(&mut self, s: Subject) {
        if self.new_len >= Self::GENERATION {
            self.old = std::mem::take(&mut self.new);
            self.new_len = 0;
        }
        if self.new.entry(s.kind).or_default().insert(s.id.clone(), s).is_none() {
            self.new_len = self.new_len.saturating_add(1);
        }
    }

    /// A subject the writer just wrote: kept current where the cache holds it, not added otherwise. A
    /// subject enters the cache when a rule reads it, so the subjects each flow creates (a transaction per
    /// disbursement, rarely read again) do not push out the pledges, commitments and tranches every flow
    /// reads (issue 14: on the coalition mix these misses were a fifth of the sequencer's time).
    fn update(&mut self, s: Subject) {
        if let Some(slot) = self.new.get_mut(&s.kind).and_then(|m| m.get_mut(&s.id)) {
            *slot = s;
        } else if self.old.get_mut(&s.kind).and_then(|m| m.remove(&s.id)).is_some() {
            self.put(s);
        }
    }

    fn clear(&mut self) {
        self.new.clear();
        self.old.clear();
        self.new_len = 0;
    }

    /// The current version of a subject: from the cache, else from the overlay of subjects the projector
    /// has not written yet, else read on `conn`, and kept. In debug builds (every test) a hit is checked
    /// against the overlay or the row, so a change that bypassed the cache fails loudly.
    pub(super) fn subject(
        &mut self,
        conn: &Connection,
        overlay: &Overlay,
        kind: SubjectKind,
        id: &str,
    ) -> Result<Option<Subject>> {
        let stored = |conn: &Connection| match overlay.get(kind, id) {
            Some(s) => Ok(Some(s.clone())),
            None => subject(conn, kind, id),
        };
        if let Some(s) = self.get(kind, id) {
            debug_assert_eq!(Some(&s), stored(conn).ok().flatten().as_ref(), "subject cache is stale");
            return Ok(Some(s));
        }
        let found = stored(conn)?;
        if let Some(s) = &found {
            self.put(s.clone());
        }
        Ok(found)
    }
}

/// What the open write transaction appended to the log, not yet in [`LogMemory`].
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Stored hashes after the committed ones.
    hashes: Vec<Hash>,
    /// (identity prefix, leaf-hash prefix, index) of each appended entry, in order.
    entries: Vec<(u64, u64, u64)>,
    /// Identity prefixes of `entries`, for duplicates inside the transaction.
    ids: PrefixMap,
    /// Lengths of `hashes` and `entries` at the open savepoint.
    mark: Option<(usize, usize)>,
}

impl Pending {
    fn clear(&mut self) {
        self.hashes.clear();
        self.entries.clear();
        self.ids.clear();
        self.mark = None;
    }
    /// Forget what was appended after the savepoint.
    fn undo_to_mark(&mut self) {
        if let Some((h, e)) = self.mark.take() {
            self.hashes.truncate(h);
            for (id, _, index) in self.entries.drain(e..) {
                self.ids.remove(id, index);
            }
        }
    }
}

/// What the writer finds at start-up.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The database's schema version, origin and verifier key.
    pub meta: Meta,
    /// Entries in the log.
    pub size: u64,
    /// `integrated_at_ms` of the last entry (Unix ms); 0 for an empty log.
    pub last_integrated_ms: i64,
    /// The checkpoint of the largest size; None before the first.
    pub latest: Option<CheckpointRow>,
    /// Charter, parties and keys as the projections hold them.
    pub governance: Governance,
}

impl Writer {
    /// Open (creating it when `create_with` is given and the file does not exist) a ledger database.
    /// Returns the API error (not [`StoreError`]): the sequencer's start-up classifies it as it is.
    pub fn open(path: &Path, synchronous_full: bool, create_with: Option<(&str, &str)>) -> Result<Self, Error> {
        let exists = path.exists();
        if !exists && create_with.is_none() {
            return Err(StoreError::NoDatabase { path: path.to_path_buf() }.into());
        }
        let conn = Connection::open(path).map_err(db_err)?;
        pragmas(&conn, synchronous_full)?;
        if !exists {
            if let Some((origin, vkey)) = create_with {
                create(&conn, origin, vkey)?;
            }
        }
        let w = Self {
            conn,
            path: path.to_path_buf(),
            mem: Default::default(),
            pending: Pending::default(),
            subjects: Default::default(),
            projecting: Default::default(),
        };
        let meta = read_meta(&w.conn)?;
        if exists && meta.schema_version == SCHEMA_VERSION {
            w.conn.execute_batch(&append_only_triggers()).map_err(db_err)?;
            w.conn.execute_batch(INDEX_MIGRATION).map_err(db_err)?;
            w.conn.execute_batch(&governance_index()).map_err(db_err)?;
            // A database from before issue 16 gains the (empty) cosignatures table.
            w.conn.execute_batch(COSIGNATURES).map_err(db_err)?;
            // A database from before the projector holds the subject projections itself: they move to the
            // projections' file, rebuilt from the log at the ledger's open.
            w.conn.execute_batch(PROJECTIONS_MIGRATION).map_err(db_err)?;
        }
        if meta.schema_version != SCHEMA_VERSION {
            return Err(StoreError::SchemaVersion { path: path.to_path_buf(), found: meta.schema_version }.into());
        }
        drop(projection::Projector::open(path).map_err(Error::from)?);
        projection::attach(&w.conn, path).map_err(Error::from)?;
        // The rules read subjects the cache and the overlay miss through this attachment, whose pages had
        // SQLite's default 2 MiB cache: on the coalition mix the misses were a sixth of the sequencer's
        // time, read back from the file (issue 14).
        w.conn.pragma_update(Some("proj"), "cache_size", -projection::CACHE_KIB).map_err(db_err)?;
        Ok(w)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size, latest checkpoint and governance state from the database (the API error, like [`Writer::open`]).
    pub fn load(&self) -> Result<Loaded, Error> {
        let c = &self.conn;
        let meta = read_meta(c)?;
        // The last row by primary key: O(log n), no scan (integrated_at_ms never decreases with idx).
        let (size, last): (u64, i64) = c
            .query_row("SELECT idx + 1, integrated_at_ms FROM entries ORDER BY idx DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(db_err)?
            .unwrap_or((0, 0));
        let latest = latest_checkpoint(c)?;
        let g = load_governance(c)?;
        Ok(Loaded { meta, size, last_integrated_ms: last, latest, governance: g })
    }

    /// Delete every governance projection row (inside the caller's transaction), for a rebuild from the log.
    pub fn clear_governance(&self) -> Result<()> {
        for t in GOVERNANCE_TABLES {
            self.conn.execute(&format!("DELETE FROM {t}"), []).map_err(db_err)?;
        }
        Ok(())
    }

    /// Share the projector's progress: [`Writer::begin`] prunes from the overlay what it has written.
    pub fn use_progress(&mut self, progress: Arc<projection::Progress>) {
        self.projecting.get_mut().progress = progress;
    }

    /// The projection rows of the transactions committed since the last call, in order, for the projector.
    pub fn take_projection(&mut self) -> Vec<ProjectionRow> {
        std::mem::take(&mut self.projecting.get_mut().committed)
    }

    /// Forget the overlay and the cache once the projector holds every entry below `size` (after a
    /// failure, before reading the state again); the projector's failure otherwise.
    pub fn settle_projection(&mut self, size: u64) -> Result<(), Error> {
        let p = self.projecting.get_mut();
        p.progress.wait_for(size).map_err(|why| Error::new(crate::error::Kind::Unavailable, "", why))?;
        p.overlay.clear();
        p.rows.clear();
        p.committed.clear();
        p.mark = None;
        self.subjects.get_mut().clear();
        Ok(())
    }

    /// Open a savepoint inside the transaction (one per sequencer request).
    pub fn savepoint(&mut self) -> Result<()> {
        self.conn.prepare_cached("SAVEPOINT job").and_then(|mut s| s.execute([])).map(drop).map_err(db_err)?;
        self.pending.mark = Some((self.pending.hashes.len(), self.pending.entries.len()));
        let p = self.projecting.get_mut();
        p.overlay.savepoint();
        p.mark = Some(p.rows.len());
        Ok(())
    }
    /// Keep the savepoint's work in the transaction.
    pub fn release(&mut self) -> Result<()> {
        self.conn.prepare_cached("RELEASE job").and_then(|mut s| s.execute([])).map(drop).map_err(db_err)?;
        self.pending.mark = None;
        let p = self.projecting.get_mut();
        p.overlay.release();
        p.mark = None;
        Ok(())
    }
    /// Undo everything since the savepoint.
    pub fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.pending.undo_to_mark();
        self.subjects.get_mut().clear();
        let p = self.projecting.get_mut();
        p.overlay.rollback_to_savepoint();
        if let Some(mark) = p.mark.take() {
            p.rows.truncate(mark);
        }
        self.conn.execute_batch("ROLLBACK TO job; RELEASE job").map_err(db_err)
    }

    /// Begin the write transaction (`BEGIN IMMEDIATE`: takes the write lock now). What the projector has
    /// written leaves the overlay first: the transaction's snapshot of the projections' file, taken at
    /// BEGIN, holds it.
    pub fn begin(&mut self) -> Result<()> {
        self.pending.clear();
        let p = self.projecting.get_mut();
        let projected = p.progress.size();
        p.overlay.prune(projected);
        p.rows.clear();
        p.mark = None;
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)
    }
    /// Commit the write transaction; under synchronous FULL it is durable when this returns. Then what it
    /// appended joins the log in memory, where readers find it.
    pub fn commit(&mut self) -> Result<()> {
        let done = self.conn.execute_batch("COMMIT").map_err(db_err);
        if done.is_ok() && self.mem.loaded {
            let p = std::mem::take(&mut self.pending);
            crate::sync::write(&self.mem.hashes).extend(p.hashes.iter().copied());
            let mut ids = crate::sync::write(&self.mem.identities);
            for &(id, _, index) in &p.entries {
                ids.insert(id, index);
            }
            drop(ids);
            let mut leaves = crate::sync::write(&self.mem.leaves);
            for &(_, leaf, index) in &p.entries {
                leaves.insert(leaf, index);
            }
            // Keep the buffers' capacity for the next transaction.
            self.pending = Pending { hashes: p.hashes, entries: p.entries, ids: p.ids, mark: None };
        }
        if done.is_ok() {
            self.pending.clear();
            let p = self.projecting.get_mut();
            p.overlay.commit();
            p.mark = None;
            let rows = std::mem::take(&mut p.rows);
            p.committed.extend(rows);
        }
        done
    }
    /// Roll the write transaction back; an error (no transaction open) is ignored.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.subjects.get_mut().clear();
        let p = self.projecting.get_mut();
        p.overlay.rollback();
        p.rows.clear();
        p.mark = None;
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// Copy the whole WAL into the database file and truncate the WAL to nothing (`wal_checkpoint(TRUNCATE)`),
    /// for a clean stop: the read pool's connections outlive the writer, so SQLite's own checkpoint at the
    /// last close never ran and every stop left the WAL behind (tens of MiB, counted as disk per entry).
    /// Returns (frames in the WAL, frames copied); a reader still inside a transaction makes it partial.
    pub fn checkpoint_truncate(&self) -> Result<(i64, i64)> {
        self.conn
            .query_row("PRAGMA main.wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
            .map_err(db_err)
    }

    /// Index of the entry with this identity: candidates by prefix from memory (committed, then this
    /// transaction's), each confirmed on the full identity read back from its leaf.
    pub fn find_identity(&self, identity: &[u8]) -> Result<Option<u64>> {
        if !self.mem.loaded {
            return Ok(entry_by_identity(&self.conn, identity)?.map(|e| e.index));
        }
        let key = prefix(identity);
        let committed: Vec<u64> = crate::sync::read(&self.mem.identities).candidates(key).collect();
        for index in committed.into_iter().chain(self.pending.ids.candidates(key)) {
            if self.entry(index)?.is_some_and(|e| e.identity == identity) {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    /// Load the log into memory ([`LogMemory`], see [`load_memory`]) and use it from now on. Call once,
    /// before the first transaction.
    pub fn load_memory(&mut self, size: u64) -> Result<Arc<LogMemory>> {
        let mem = Arc::new(load_memory(&self.path, size)?);
        self.use_memory(mem.clone());
        Ok(mem)
    }

    /// The log in memory this writer keeps up to date (shared with readers).
    pub fn memory(&self) -> Arc<LogMemory> {
        self.mem.clone()
    }

    /// Use `mem`, loaded by [`load_memory`] at this database's current size, from now on.
    pub fn use_memory(&mut self, mem: Arc<LogMemory>) {
        self.mem = mem;
        self.pending.clear();
    }

    /// Index of the entry using this statement_id.
    pub fn find_statement_id(&self, sid: &str) -> Result<Option<u64>> {
        self.conn
            .prepare_cached("SELECT idx FROM entries WHERE statement_id = ?1")
            .map_err(db_err)?
            .query_row([sid], |r| r.get(0))
            .optional()
            .map_err(db_err)
    }

    /// The entry at `index`, if the log is that long.
    pub fn entry(&self, index: u64) -> Result<Option<EntryRow>> {
        entry_by(&self.conn, "idx", &index)
    }

    /// The governance entries ([`GOVERNANCE_KINDS`]) in log order, through their partial index.
    pub fn governance_entries(&self) -> Result<Vec<EntryRow>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ENTRY_COLS} FROM entries INDEXED BY entries_governance WHERE {} ORDER BY idx",
                governance_clause()
            ))
            .map_err(db_err)?;
        let rows = st.query_map([], entry_row).map_err(db_err)?;
        rows.map(|r| r.map_err(db_err).and_then(complete)).collect()
    }

    /// SQLite's `PRAGMA quick_check`: refuses a database with a damaged page or index (run at start and
    /// by `accord audit`).
    pub fn quick_check(&self) -> Result<(), Error> {
        Ok(quick_check(&self.conn, &self.path)?)
    }

    /// Append `e` to the entries table (its identity and leaf hash are indexed by their first 8 bytes).
    pub fn insert_entry(&mut self, e: &EntryRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO entries (idx, identity_key, leaf_key, statement_id, kind, integrated_at_ms, leaf)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(db_err)?
            .execute(params![
                e.index,
                prefix_key(&e.identity),
                prefix_key(&e.leaf_hash),
                e.statement_id,
                e.kind,
                e.integrated_at_ms,
                e.leaf
            ])
            .map_err(db_err)?;
        if self.mem.loaded {
            let id = prefix(&e.identity);
            self.pending.entries.push((id, prefix(&e.leaf_hash), e.index));
            self.pending.ids.insert(id, e.index);
        }
        Ok(())
    }

    /// Store hashes at consecutive stored-hash indexes starting at `first_id`.
    pub fn insert_hashes(&mut self, first_id: u64, hashes: &[Hash]) -> Result<()> {
        let mut st = self.conn.prepare_cached("INSERT INTO tree_hashes (id, hash) VALUES (?1, ?2)").map_err(db_err)?;
        for (i, h) in hashes.iter().enumerate() {
            st.execute(params![first_id.saturating_add(i as u64), &h.0[..]]).map_err(db_err)?;
        }
        if self.mem.loaded {
            self.pending.hashes.extend_from_slice(hashes);
        }
        Ok(())
    }

    /// Store the signed checkpoint `note` of tree size `size` with root `root`, created at `now_ms` (Unix ms).
    pub fn insert_checkpoint(&self, size: u64, root: &[u8; 32], note: &str, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?1, ?2, ?3, ?4)")
            .map_err(db_err)?
            .execute(params![size, &root[..], note, now_ms])
            .map_err(db_err)?;
        Ok(())
    }

    /// Store witness cosignatures (inside the caller's transaction). A row for a (size, witness) already
    /// stored is ignored: the first cosignature kept is the one that stays. Returns the rows added.
    pub fn insert_cosignatures(&self, rows: &[CosignatureRow]) -> Result<usize> {
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO cosignatures (size, witness, line, received_ms) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db_err)?;
        let mut added = 0usize;
        for r in rows {
            added =
                added.saturating_add(st.execute(params![r.size, r.witness, r.line, r.received_ms]).map_err(db_err)?);
        }
        Ok(added)
    }

    /// The stored cosignatures of the `sizes` largest cosigned tree sizes (all of them when fewer), in size
    /// order: what the ledger keeps in memory from open.
    pub fn recent_cosignatures(&self, sizes: usize) -> Result<Vec<CosignatureRow>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COSIGNATURE_COLS} FROM cosignatures WHERE size >= COALESCE((SELECT MIN(size) FROM \
                 (SELECT DISTINCT size FROM cosignatures ORDER BY size DESC LIMIT ?1)), 0) ORDER BY size, witness"
            ))
            .map_err(db_err)?;
        let rows = st.query_map([i64::try_from(sizes).unwrap_or(i64::MAX)], cosignature_row).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }

    /// Persist a domain effect: governance effects into their tables (in the transaction), subject effects
    /// to the projector ([`Writer::project_effect`]). `entry` is the index of the entry being applied and
    /// [`crate::proto::compiled_body`] of its statement.
    pub fn apply_effect(&self, e: &Effect, entry: (u64, &[u8])) -> Result<()> {
        let c = &self.conn;
        match e {
            Effect::Charter { name, admission_k } => {
                c.execute("INSERT INTO charter (id, name, admission_k) VALUES (0, ?1, ?2)", params![name, admission_k])
            }
            Effect::Party(p) => c.execute(
                "INSERT INTO parties (party_id, name, roles, organisation_type, country, admitted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p.party_id, p.name, roles_text(&p.roles), p.organisation_type, p.country, p.admitted_at],
            ),
            Effect::Key(k) => c.execute(
                "INSERT INTO party_keys (keyid, party_id, public_key, added_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![k.keyid, k.party_id, &k.public_key[..], k.added_at, k.revoked_at],
            ),
            Effect::KeyRevoked { keyid, at } => {
                c.execute("UPDATE party_keys SET revoked_at = ?2 WHERE keyid = ?1", params![keyid, at])
            }
            Effect::Subject(_) | Effect::History { .. } => return self.project_effect(e, entry),
        }
        .map_err(db_err)?;
        Ok(())
    }

    /// Project a subject effect: its row goes to the projector when the transaction commits, and the
    /// subject's new version into the overlay (and the cache), where the rules read it until the projector
    /// has written it. A subject whose body is exactly the compiled body of `entry` is stored with
    /// [`DERIVED_BODY`] instead of a second copy of the statement. Governance effects are ignored here.
    pub fn project_effect(&self, e: &Effect, entry: (u64, &[u8])) -> Result<()> {
        let mut p = self.projecting.borrow_mut();
        match e {
            Effect::Subject(s) => {
                let wire = s.body.as_ref().map(|c| c.wire.as_slice()).unwrap_or_default();
                let derived = s.version_at == entry.0 && wire == entry.1;
                p.rows.push(ProjectionRow::Subject { subject: s.clone(), derived });
                p.overlay.put((**s).clone(), entry.0);
                drop(p);
                self.subjects.borrow_mut().update((**s).clone());
            }
            Effect::History { kind, id, index, action } => {
                p.rows.push(ProjectionRow::History { kind: *kind, id: id.clone(), index: *index, action: *action })
            }
            Effect::Charter { .. } | Effect::Party(_) | Effect::Key(_) | Effect::KeyRevoked { .. } => {}
        }
        Ok(())
    }

    /// A hash reader that sees the committed hashes and those of the open transaction: from memory once
    /// [`Writer::load_memory`] ran, else from the `tree_hashes` table.
    pub fn hashes(&self) -> WriterHashes<'_> {
        WriterHashes { mem: &self.mem, pending: &self.pending.hashes, db: SqlHashes(&self.conn) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new ledger database in a temporary directory, its writer inside a transaction that stored the
    /// checkpoint of the empty tree.
    fn writer_at_checkpoint_0() -> (tempfile::TempDir, PathBuf, Writer) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ledger.db");
        let mut w = Writer::open(&path, false, Some(("test.example/log", "vkey"))).unwrap();
        w.begin().unwrap();
        w.insert_checkpoint(0, &[0; 32], "note 0\n", 1).unwrap();
        (tmp, path, w)
    }

    /// The writer's WAL checkpoints (the one it finishes itself between transactions, and the truncating
    /// one of a clean stop) work with the projections' file attached read-only beside its database.
    #[test]
    fn the_writer_checkpoints_its_wal_with_the_projections_attached() {
        let (_tmp, path, mut w) = writer_at_checkpoint_0();
        w.commit().unwrap();
        // The projector has written: the projections' WAL holds frames (then a read-only checkpoint fails).
        projection::Projector::open(&path).unwrap().write(&[], 0, &[0; 32]).unwrap();
        let (log, done) = super::super::checkpointer::wal_checkpoint(&w.conn).unwrap();
        assert_eq!(log, done, "the whole WAL is copied");
        w.checkpoint_truncate().unwrap();
    }

    fn row(size: u64, witness: &str, line: &str) -> CosignatureRow {
        CosignatureRow { size, witness: witness.into(), line: line.into(), received_ms: 7 }
    }

    /// The cosignatures table keeps the first row of a (size, witness), refuses one for a checkpoint that is
    /// not stored, never changes a row (not even through INSERT OR REPLACE), and is created again at open
    /// in a database that lacks it (one created before issue 16).
    #[test]
    fn cosignatures_are_append_only_keep_the_first_and_migrate() {
        let (_tmp, path, mut w) = writer_at_checkpoint_0();
        assert_eq!(w.insert_cosignatures(&[row(0, "w+01", "— w first"), row(0, "v+02", "— v")]).unwrap(), 2);
        assert_eq!(w.insert_cosignatures(&[row(0, "w+01", "— w second")]).unwrap(), 0, "a repeat is ignored");
        assert!(w.insert_cosignatures(&[row(5, "w+01", "— w")]).is_err(), "no checkpoint of size 5");
        w.commit().unwrap();
        let err = raw_execute(&path, "INSERT OR REPLACE INTO cosignatures VALUES (0, 'w+01', 'x', 0)");
        assert_eq!(err, Ok(0), "a replace is ignored too");
        for sql in ["UPDATE cosignatures SET line = 'x'", "DELETE FROM cosignatures"] {
            assert!(raw_execute(&path, sql).unwrap_err().contains("append-only"), "{sql}");
        }
        let lines: Vec<_> = w.recent_cosignatures(64).unwrap().into_iter().map(|r| (r.witness, r.line)).collect();
        assert_eq!(lines, [("v+02".into(), "— v".into()), ("w+01".into(), "— w first".into())]);
        drop(w);

        raw_execute(&path, "DROP TABLE cosignatures").unwrap();
        let w = Writer::open(&path, false, None).unwrap();
        assert_eq!(w.recent_cosignatures(64).unwrap(), []);
        assert_eq!(w.insert_cosignatures(&[row(0, "w+01", "— w")]).unwrap(), 1);
        assert!(raw_execute(&path, "DELETE FROM cosignatures").unwrap_err().contains("append-only"));
    }
}
