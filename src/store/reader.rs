//! Read-only connections and their pool (WAL readers never wait behind the writer).
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::memory::prefix;
use super::*;

/// A read-only connection handed out by [`Readers`].
#[derive(Debug)]
pub struct Reader {
    pub(super) conn: Connection,
    pub(super) mem: std::sync::Arc<LogMemory>,
    /// The projections' file is attached (see [`super::projection`]).
    pub(super) projections: bool,
}

impl Reader {
    /// SQLite's `PRAGMA quick_check` on this connection's database.
    pub fn quick_check(&self) -> Result<()> {
        quick_check(&self.conn, Path::new(self.conn.path().unwrap_or("the database")))
    }

    /// The entry at `index`, if the log is that long.
    pub fn entry_by_index(&self, index: u64) -> Result<Option<EntryRow>> {
        entry_by(&self.conn, "idx", &index)
    }
    /// The entry whose identity (SHA-256 of the canonical envelope) is `identity`.
    pub fn entry_by_identity(&self, identity: &[u8]) -> Result<Option<EntryRow>> {
        if !self.mem.loaded {
            return entry_by_identity(&self.conn, identity);
        }
        let candidates: Vec<u64> = crate::sync::read(&self.mem.identities).candidates(prefix(identity)).collect();
        for index in candidates {
            if let Some(e) = self.entry_by_index(index)?.filter(|e| e.identity == identity) {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }
    /// The entry that carries the statement `sid`.
    pub fn entry_by_statement_id(&self, sid: &str) -> Result<Option<EntryRow>> {
        entry_by(&self.conn, "statement_id", &sid)
    }
    /// Index of the entry whose RFC 6962 leaf hash is `leaf_hash`.
    pub fn index_by_leaf_hash(&self, leaf_hash: &[u8]) -> Result<Option<u64>> {
        if self.mem.loaded {
            let candidates: Vec<u64> = crate::sync::read(&self.mem.leaves).candidates(prefix(leaf_hash)).collect();
            let tree = self.mem.tree();
            return Ok(candidates.into_iter().find(|&i| {
                tree.get(crate::merkle::stored_hash_index(0, i)).is_some_and(|h| h.0.as_slice() == leaf_hash)
            }));
        }
        let mut st = self.conn.prepare_cached("SELECT idx, leaf FROM entries WHERE leaf_key = ?1").map_err(db_err)?;
        let rows = st
            .query_map([prefix_key(leaf_hash)], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(db_err)?;
        for r in rows {
            let (idx, leaf) = r.map_err(db_err)?;
            if crate::merkle::leaf_hash(&leaf) == leaf_hash {
                return Ok(Some(idx));
            }
        }
        Ok(None)
    }
    /// Entries with `start <= idx < end`, at most `limit`.
    pub fn entries(&self, start: u64, end: u64, limit: usize) -> Result<Vec<EntryRow>> {
        self.entry_range(start, end, limit, complete)
    }
    /// [`Reader::entries`] as stored, for the audit: an undecodable leaf is returned (with an empty
    /// identity) for the audit to report as a finding, instead of failing the read.
    pub fn entries_as_stored(&self, start: u64, end: u64, limit: usize) -> Result<Vec<EntryRow>> {
        self.entry_range(start, end, limit, |e| Ok(as_stored(e)))
    }
    /// The leaves (as hashed) of entries `start <= idx < end`, in log order: what a tlog-tiles entry
    /// bundle carries. Fewer than asked only when the log is shorter.
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT leaf FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(db_err)?;
        let rows = st.query_map(params![start, end], |r| r.get::<_, Vec<u8>>(0)).map_err(db_err)?;
        rows.map(|r| r.map_err(db_err)).collect()
    }
    /// Rows with `start <= idx < end`, at most `limit`, each finished by `finish`.
    fn entry_range(
        &self,
        start: u64,
        end: u64,
        limit: usize,
        finish: impl Fn(EntryRow) -> Result<EntryRow>,
    ) -> Result<Vec<EntryRow>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx LIMIT ?3"
            ))
            .map_err(db_err)?;
        let rows = st.query_map(params![start, end, limit as i64], entry_row).map_err(db_err)?;
        rows.map(|r| r.map_err(db_err).and_then(&finish)).collect()
    }
    /// The stored checkpoint of tree size `size`, if one was signed at that size.
    pub fn checkpoint(&self, size: u64) -> Result<Option<CheckpointRow>> {
        self.conn
            .prepare_cached("SELECT size, root, note FROM checkpoints WHERE size = ?1")
            .map_err(db_err)?
            .query_row([size], checkpoint_row)
            .optional()
            .map_err(db_err)
    }
    /// The stored checkpoint of the largest size; None for an empty log.
    pub fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        latest_checkpoint(&self.conn)
    }
    /// The first `count` stored tree hashes by stored-hash index (audits); a missing row is an error.
    pub fn stored_hashes(&self, count: u64) -> Result<Vec<[u8; 32]>> {
        let mut st = self.conn.prepare("SELECT id, hash FROM tree_hashes WHERE id < ?1 ORDER BY id").map_err(db_err)?;
        let rows = st.query_map([count], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?))).map_err(db_err)?;
        let mut out = Vec::with_capacity(count as usize);
        for row in rows {
            let (id, h) = row.map_err(db_err)?;
            if id != out.len() as u64 {
                return Err(StoreError::corrupt("tree_hashes", out.len(), "is missing"));
            }
            let len = h.len();
            out.push(
                h.try_into()
                    .map_err(|_| StoreError::corrupt("tree_hashes", id, format!("hash has {len} bytes, not 32")))?,
            );
        }
        if out.len() as u64 != count {
            return Err(StoreError::corrupt(
                "tree_hashes",
                out.len(),
                format!("is missing ({} of {count} present)", out.len()),
            ));
        }
        Ok(out)
    }
    /// All stored checkpoints in size order (audits).
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        let mut st = self.conn.prepare("SELECT size, root, note FROM checkpoints ORDER BY size").map_err(db_err)?;
        let rows = st.query_map([], checkpoint_row).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }
    /// The database's schema version, origin and verifier key.
    pub fn meta(&self) -> Result<Meta> {
        read_meta(&self.conn)
    }
    /// Run `f` inside one read transaction: everything it reads is from the same committed state. The
    /// projections' file is read first, so that the log's snapshot, taken next, holds every entry the
    /// projections cover (the projector writes only committed entries): a read names the checkpoint of
    /// the projections' size ([`Reader::read_checkpoint`]), and its entries and proofs are all there.
    /// Nested calls join the enclosing snapshot.
    pub fn snapshot<T, E: From<StoreError>>(&self, f: impl FnOnce(&Self) -> Result<T, E>) -> Result<T, E> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN").map_err(db_err)?;
        if self.projections {
            if let Err(e) = self.projected() {
                let _ = self.conn.execute_batch("COMMIT");
                return Err(e.into());
            }
        }
        let out = f(self);
        let _ = self.conn.execute_batch("COMMIT");
        out
    }
    /// The tree size and root the projections' file covers (None: nothing projected, or no file attached).
    pub fn projected(&self) -> Result<Option<(u64, [u8; 32])>> {
        if !self.projections {
            return Ok(None);
        }
        super::projection::position(&self.conn, "proj")
    }
    /// The checkpoint a read of the projections is at: the one of the size the projections' file covers
    /// (every projected size is a checkpointed size), else the latest.
    pub fn read_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        if let Some((size, _)) = self.projected()? {
            if let Some(cp) = self.checkpoint(size)? {
                return Ok(Some(cp));
            }
        }
        self.latest_checkpoint()
    }
    /// The subject of `kind` with this id, as the projections hold it now.
    pub fn subject(&self, kind: SubjectKind, id: &str) -> Result<Option<Subject>> {
        subject(&self.conn, kind, id)
    }
    /// The plan of one subject (empty for none), without reading its body or tally; `None` when there is
    /// no such subject.
    pub fn plan_of(&self, kind: SubjectKind, id: &str) -> Result<Option<String>> {
        let mut st =
            self.conn.prepare_cached("SELECT plan_id FROM subjects WHERE kind = ?1 AND id = ?2").map_err(db_err)?;
        st.query_row(params![kind.as_str(), id], |r| r.get(0)).optional().map_err(db_err)
    }
    /// Subjects in id order, filtered; `visit` returns false to stop.
    pub fn scan_subjects<E: From<StoreError>>(
        &self,
        f: &SubjectFilter,
        mut visit: impl FnMut(Subject) -> Result<bool, E>,
    ) -> Result<(), E> {
        // One statement per filter shape, each with the index that reads only the matching rows (without
        // statistics SQLite would walk every subject of the kind in primary-key order instead). Every shape
        // names all four parameters (`?2 = ?2` where a filter is unused), so they bind alike.
        let (index, filter) = match (f.plan_id.is_empty(), f.party_id.is_empty()) {
            (true, true) => ("", ""),
            (true, false) => ("INDEXED BY subjects_party", "AND party_id = ?3"),
            (false, true) => ("INDEXED BY subjects_plan_party", "AND plan_id = ?2"),
            (false, false) => ("INDEXED BY subjects_plan_party", "AND plan_id = ?2 AND party_id = ?3"),
        };
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SUBJECT_COLS} FROM subjects {index} WHERE kind = ?1 {filter} AND id > ?4
                 AND ?2 = ?2 AND ?3 = ?3 ORDER BY id"
            ))
            .map_err(db_err)?;
        let mut rows = st.query(params![f.kind, f.plan_id, f.party_id, f.after]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            let s = finish_subject(&self.conn, subject_row(r).map_err(db_err)?)?;
            if !visit(s)? {
                break;
            }
        }
        Ok(())
    }
    /// Every entry that touched a subject, in log order.
    pub fn history(&self, kind: SubjectKind, id: &str) -> Result<Vec<HistoryRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT idx, action FROM history WHERE kind = ?1 AND id = ?2 ORDER BY idx, action")
            .map_err(db_err)?;
        let rows = st.query_map(params![kind.as_str(), id], |r| history_row(r, kind, id)).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }
    /// Governance state (parties and their key history).
    pub fn governance(&self) -> Result<Governance> {
        load_governance(&self.conn)
    }
    /// Stored hashes: from memory in a running ledger, else from the table.
    pub fn hashes(&self) -> ReaderHashes<'_> {
        ReaderHashes { mem: &self.mem, db: SqlHashes(&self.conn) }
    }
}

/// A small pool of read-only connections (WAL readers never wait behind the writer).
#[derive(Debug)]
pub struct Readers {
    pub(super) path: PathBuf,
    pub(super) idle: Mutex<Vec<Reader>>,
    pub(super) mem: std::sync::Arc<LogMemory>,
    pub(super) open: Mutex<usize>,
    pub(super) available: Condvar,
    pub(super) max: usize,
}

impl Readers {
    /// A pool of at most `max` (at least one) read-only connections to the database at `path`, opened
    /// when first needed, sharing the log in memory `mem` (an unloaded one for a database opened outside
    /// a running ledger: reads then go to SQLite).
    pub fn new(path: &Path, max: usize, mem: std::sync::Arc<LogMemory>) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            mem,
            open: Mutex::new(0),
            available: Condvar::new(),
            max: max.max(1),
        }
    }

    fn open_reader(&self) -> Result<Reader> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
        conn.pragma_update(None, "cache_size", -8_000).map_err(db_err)?;
        let projections = super::projection::attach(&conn, &self.path)?;
        Ok(Reader { conn, mem: self.mem.clone(), projections })
    }

    /// Run `f` with a reader. Blocking: call from a blocking context. `f` returns its caller's error type
    /// (failing to open a reader is converted into it).
    pub fn with<T, E: From<StoreError>>(&self, f: impl FnOnce(&Reader) -> Result<T, E>) -> Result<T, E> {
        let reader = loop {
            if let Some(r) = crate::sync::lock(&self.idle).pop() {
                break r;
            }
            let mut open = crate::sync::lock(&self.open);
            if *open < self.max {
                *open = open.saturating_add(1);
                drop(open);
                match self.open_reader() {
                    Ok(r) => break r,
                    Err(e) => {
                        let mut open = crate::sync::lock(&self.open);
                        *open = open.saturating_sub(1);
                        return Err(e.into());
                    }
                }
            }
            drop(self.available.wait_timeout(open, std::time::Duration::from_millis(50)));
        };
        let out = f(&reader);
        crate::sync::lock(&self.idle).push(reader);
        self.available.notify_one();
        out
    }

    /// Connections currently open (metrics).
    pub fn open_count(&self) -> usize {
        *crate::sync::lock(&self.open)
    }
    /// Connections currently lent out (metrics).
    pub fn busy_count(&self) -> usize {
        self.open_count().saturating_sub(crate::sync::lock(&self.idle).len())
    }
}

/// Open a database file read-only, outside any server (audits, tests).
pub fn open_read_only(path: &Path) -> Result<Reader> {
    Readers::new(path, 1, Default::default()).open_reader()
}
