//! The subject projections (`subjects`, `history`) in a database file of their own, `projections.db`, written
//! by the projector (issue 14): the sequencer commits the log and hands each group's projection rows to the
//! projector, which writes them on its own connection while the sequencer integrates the next group.
//!
//! The file is derived data: it can be deleted at any time, and the ledger rebuilds it from the log at the
//! next open. It records the tree size (and root) it covers, in the transaction that writes the rows, so
//! the ledger knows where to resume after a crash. It is written with `synchronous=NORMAL`: a crash may
//! lose its last transactions, never its consistency, and what it lost is replayed from the log.
//!
//! Readers and the writer attach the file read-only as the schema `proj` ([`attach`]); the tables exist
//! nowhere else, so their unqualified names resolve to it.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::*;

/// The projections' file, beside the ledger's database.
pub const PROJECTIONS_FILE: &str = "projections.db";

/// The page cache, in KiB, of each connection that works on the projections' file: the projector's, and
/// the writer's attachment, through which the rules read the subjects their cache and the overlay miss.
/// Pages are cached as they are read.
pub(super) const CACHE_KIB: i64 = 8_000;

/// The projections' file of the ledger database at `db`.
pub fn projections_path(db: &Path) -> PathBuf {
    db.with_file_name(PROJECTIONS_FILE)
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY CHECK (id = 0), size INTEGER NOT NULL, root BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
    kind TEXT NOT NULL, id TEXT NOT NULL, plan_id TEXT NOT NULL, party_id TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version_at INTEGER NOT NULL, version INTEGER NOT NULL,
    signers TEXT NOT NULL,
    body BLOB NOT NULL, tally TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subjects_plan_party ON subjects (kind, plan_id, party_id, id);
CREATE INDEX IF NOT EXISTS subjects_party ON subjects (kind, party_id, id);
CREATE TABLE IF NOT EXISTS history (
    kind TEXT NOT NULL, id TEXT NOT NULL, idx INTEGER NOT NULL, action TEXT NOT NULL,
    PRIMARY KEY (kind, id, idx, action)
) WITHOUT ROWID;
"#;

/// Tables of the projections' file that hold rows derived from the log.
const TABLES: &[&str] = &["subjects", "history", "position"];

/// One row the projector writes.
#[derive(Debug, Clone)]
pub enum ProjectionRow {
    /// A subject's new version.
    Subject {
        /// The subject as the entry left it.
        subject: Box<Subject>,
        /// Its body is the compiled body of the entry at its `version_at`: stored as [`DERIVED_BODY`].
        derived: bool,
    },
    /// An entry touched a subject.
    History {
        /// Subject kind.
        kind: SubjectKind,
        /// Subject id.
        id: String,
        /// The entry.
        index: u64,
        /// What it did.
        action: Action,
    },
}

/// Attach the projections' file of the database `db` to `conn` as the schema `proj`, read-only (a
/// `file:` URI with `mode=ro`: the connection must allow URIs). Nothing is attached when the file does not
/// exist (a database opened outside any ledger, e.g. a backup copy).
pub(super) fn attach(conn: &Connection, db: &Path) -> Result<bool> {
    let path = projections_path(db);
    if !path.exists() {
        return Ok(false);
    }
    conn.execute("ATTACH DATABASE ?1 AS proj", [read_only_uri(&path)]).map_err(db_err)?;
    Ok(true)
}

/// Attach the projections' file read-write (tools and tests that edit rows by hand, see [`raw_execute`]).
pub(super) fn attach_writable(conn: &Connection, db: &Path) -> Result<bool> {
    let path = projections_path(db);
    if !path.exists() {
        return Ok(false);
    }
    conn.execute("ATTACH DATABASE ?1 AS proj", [path.to_string_lossy()]).map_err(db_err)?;
    Ok(true)
}

/// `file:PATH?mode=ro`, with the characters a URI gives a meaning escaped.
fn read_only_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

/// The position a projections' file covers: every entry below `size`, of the tree whose root is `root`.
pub(super) fn position(conn: &Connection, schema: &str) -> Result<Option<(u64, [u8; 32])>> {
    conn.prepare_cached(&format!("SELECT size, root FROM {schema}.position WHERE id = 0"))
        .map_err(db_err)?
        .query_row([], |r| Ok((r.get::<_, u64>(0)?, bytes32(r, 1, "position", &0)?)))
        .optional()
        .map_err(db_err)
}

/// How far the projector has got, shared by the projector (which advances it), the sequencer (which
/// prunes what the file now holds from its overlay, and waits when the projector lags too far) and the
/// reads (which wait for the projections to cover the published checkpoint: a query right after a Submit
/// sees what it submitted).
#[derive(Debug, Default)]
pub struct Progress {
    state: Mutex<ProgressState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ProgressState {
    size: u64,
    failed: Option<String>,
}

impl Progress {
    /// Progress at `size` (what the file holds at open).
    pub fn at(size: u64) -> Self {
        Self { state: Mutex::new(ProgressState { size, failed: None }), changed: Condvar::new() }
    }
    /// Every entry below `size` is projected and committed.
    pub fn advance(&self, size: u64) {
        let mut s = crate::sync::lock(&self.state);
        s.size = s.size.max(size);
        drop(s);
        self.changed.notify_all();
    }
    /// The projector stopped: nothing past its size will be projected.
    pub fn fail(&self, why: String) {
        crate::sync::lock(&self.state).failed = Some(why);
        self.changed.notify_all();
    }
    /// Entries below this size are projected.
    pub fn size(&self) -> u64 {
        crate::sync::lock(&self.state).size
    }
    /// Wait until every entry below `size` is projected; the projector's failure otherwise.
    pub fn wait_for(&self, size: u64) -> std::result::Result<(), String> {
        self.wait_for_within(size, std::time::Duration::MAX)
    }
    /// [`Progress::wait_for`], for at most `limit`.
    pub fn wait_for_within(&self, size: u64, limit: std::time::Duration) -> std::result::Result<(), String> {
        let deadline = std::time::Instant::now().checked_add(limit);
        let mut s = crate::sync::lock(&self.state);
        loop {
            if s.size >= size {
                return Ok(());
            }
            if let Some(why) = &s.failed {
                return Err(why.clone());
            }
            s = match deadline {
                None => self.changed.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                        return Err(format!("the projections cover {} entries, not yet {size}", s.size));
                    };
                    self.changed.wait_timeout(s, left).unwrap_or_else(std::sync::PoisonError::into_inner).0
                }
            };
        }
    }
}

/// The projector's connection: the only one that writes the projections' file.
#[derive(Debug)]
pub struct Projector {
    conn: Connection,
}

impl Projector {
    /// Open (creating it and its tables when missing) the projections' file of the ledger database `db`.
    pub fn open(db: &Path) -> Result<Self> {
        let conn = Connection::open(projections_path(db)).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        // Derived data: a crash may lose the last transactions, which the next open replays from the log.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db_err)?;
        // CACHE_KIB, 8 MiB. A 64 MiB cache took 10 % off the server's CPU per entry on the coalition mix at 100k
        // (accord-bench, one run each), but put RSS at 1M well over its 256 MiB budget (297 MiB), and 16 MiB
        // just over it (259-261 MiB).
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Self { conn })
    }

    /// The tree size and root the file covers; None when it holds nothing yet.
    pub fn position(&self) -> Result<Option<(u64, [u8; 32])>> {
        position(&self.conn, "main")
    }

    /// Delete every row, for a replay of the whole log.
    pub fn clear(&mut self) -> Result<()> {
        let mut sql = String::from("BEGIN IMMEDIATE;");
        for t in TABLES {
            sql.push_str(&format!("DELETE FROM {t};"));
        }
        sql.push_str("COMMIT;");
        self.conn.execute_batch(&sql).map_err(db_err)
    }

    /// Write `rows` in order and record that the file now covers the tree of `size` entries with root
    /// `root`, in one transaction.
    ///
    /// A subject changed by several rows is written once, as its last row leaves it ([`last_versions`]):
    /// the table holds each subject's current version, so the rows before are overwritten in the same
    /// transaction anyway. On the coalition mix a plan's, a pledge's and a commitment's tallies change with
    /// every disbursement, and writing each intermediate version was most of the projector's work.
    pub fn write(&mut self, rows: &[ProjectionRow], size: u64, root: &[u8; 32]) -> Result<()> {
        let last = last_versions(rows);
        let tx = self.conn.transaction().map_err(db_err)?;
        for (i, row) in rows.iter().enumerate() {
            match row {
                ProjectionRow::Subject { subject, .. } => {
                    if let Some(&(at, derived)) = last.get(&(subject.kind, subject.id.as_str())) {
                        if at == i {
                            write_subject(&tx, subject, derived)?;
                        }
                    }
                }
                ProjectionRow::History { .. } => write_row(&tx, row)?,
            }
        }
        tx.prepare_cached("INSERT INTO position (id, size, root) VALUES (0, ?1, ?2) ON CONFLICT (id) DO UPDATE SET size = ?1, root = ?2")
            .and_then(|mut st| st.execute(params![size, &root[..]]))
            .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// Copy the WAL into the file and truncate it (a clean stop).
    pub fn checkpoint_truncate(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").map_err(db_err)
    }
}

/// For each subject among `rows`: the position of its last row, and how that row's body is to be stored
/// so that writing it alone leaves the table as writing every row in order would. The upsert keeps a stored
/// body whose version the row repeats, so the body stays as the first row of the last version wrote it
/// (the one-byte [`DERIVED_BODY`] marker, or the body itself): the last row takes that row's `derived`.
/// A subject's rows of one version are consecutive among its rows (versions only move forward).
fn last_versions(rows: &[ProjectionRow]) -> HashMap<(SubjectKind, &str), (usize, bool)> {
    /// (position of the subject's last row, `derived` of its version's first row, that version).
    type Last = (usize, bool, (u64, u32));
    let mut last: HashMap<(SubjectKind, &str), Last> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let ProjectionRow::Subject { subject: s, derived } = row {
            let version = (s.version_at, s.version);
            last.entry((s.kind, s.id.as_str()))
                .and_modify(|(at, d, v)| {
                    if *v != version {
                        *d = *derived;
                        *v = version;
                    }
                    *at = i;
                })
                .or_insert((i, *derived, version));
        }
    }
    last.into_iter().map(|(k, (at, derived, _))| (k, (at, derived))).collect()
}

fn write_row(c: &Connection, row: &ProjectionRow) -> Result<()> {
    match row {
        ProjectionRow::Subject { subject, derived } => write_subject(c, subject, *derived),
        ProjectionRow::History { kind, id, index, action } => {
            c.prepare_cached("INSERT OR IGNORE INTO history (kind, id, idx, action) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut st| st.execute(params![kind.as_str(), id, index, action.as_str()]))
                .map_err(db_err)?;
            Ok(())
        }
    }
}

fn write_subject(c: &Connection, s: &Subject, derived: bool) -> Result<()> {
    let tally = serde_json::to_string(&s.tally).map_err(StoreError::EncodeTally)?;
    let body = if derived { DERIVED_BODY } else { s.body.as_ref().map(|c| c.wire.as_slice()).unwrap_or_default() };
    // An upsert, not INSERT OR REPLACE: REPLACE deletes the row and inserts it again, which rewrites
    // both secondary indexes on every update. The update does not set plan_id or party_id (a
    // subject's plan and party never change): SQLite rewrites the entries of every index holding a
    // column the SET names, changed or not. A body changes only with the version: a later entry that
    // changes the tally keeps the stored body as it is (often the one-byte marker of a body derived
    // from its entry), instead of writing the whole body again.
    c.prepare_cached(
        "INSERT INTO subjects (kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, body, tally)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (kind, id) DO UPDATE SET status = ?5, created_at = ?6, updated_at = ?7, version_at = ?8, version = ?9, signers = ?10, tally = ?12,
           body = CASE WHEN subjects.version_at = ?8 AND subjects.version = ?9 THEN subjects.body ELSE ?11 END",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.kind.as_str(),
            s.id,
            s.plan_id,
            s.party_id,
            s.status.as_str(),
            s.created_at,
            s.updated_at,
            s.version_at,
            s.version,
            s.signers.join(","),
            body,
            tally
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

/// A subject's key in the overlay.
type Key = (SubjectKind, String);

/// What the sequencer has projected but the projector has not yet committed: the current version of every
/// subject changed at or after the projector's size, so that the rules read the subject as the log has it
/// while the file still holds an older one. Every change is journalled, so a savepoint's or a
/// transaction's rollback puts the previous versions back.
#[derive(Debug, Default)]
pub(super) struct Overlay {
    /// (kind, id) → (the subject, the index of the entry that last changed it).
    subjects: HashMap<Key, (Subject, u64)>,
    /// What each change replaced, in order, since the transaction began.
    journal: Vec<(Key, Option<(Subject, u64)>)>,
    /// The journal's length at the open savepoint.
    mark: Option<usize>,
}

impl Overlay {
    pub(super) fn get(&self, kind: SubjectKind, id: &str) -> Option<&Subject> {
        // A borrowed (kind, &str) key would need a second map type; ids are short.
        self.subjects.get(&(kind, id.to_string())).map(|(s, _)| s)
    }

    /// The subjects of `kind` in a plan of a party that the overlay holds.
    pub(super) fn matching<'a>(
        &'a self,
        kind: SubjectKind,
        plan_id: &'a str,
        party_id: &'a str,
    ) -> impl Iterator<Item = &'a Subject> + 'a {
        self.subjects
            .values()
            .map(|(s, _)| s)
            .filter(move |s| s.kind == kind && s.plan_id == plan_id && s.party_id == party_id)
    }

    pub(super) fn put(&mut self, s: Subject, index: u64) {
        let key = (s.kind, s.id.clone());
        let old = self.subjects.insert(key.clone(), (s, index));
        self.journal.push((key, old));
    }

    pub(super) fn savepoint(&mut self) {
        self.mark = Some(self.journal.len());
    }
    pub(super) fn release(&mut self) {
        self.mark = None;
    }
    /// Undo the changes since the savepoint.
    pub(super) fn rollback_to_savepoint(&mut self) {
        let mark = self.mark.take().unwrap_or(0);
        self.undo_to(mark);
    }
    /// Undo the transaction's changes.
    pub(super) fn rollback(&mut self) {
        self.mark = None;
        self.undo_to(0);
    }
    /// Keep the transaction's changes.
    pub(super) fn commit(&mut self) {
        self.mark = None;
        self.journal.clear();
    }
    fn undo_to(&mut self, mark: usize) {
        while self.journal.len() > mark {
            let Some((key, old)) = self.journal.pop() else { break };
            match old {
                Some(v) => {
                    self.subjects.insert(key, v);
                }
                None => {
                    self.subjects.remove(&key);
                }
            }
        }
    }
    /// Forget the subjects whose last change is below `projected`: the projections' file holds them now.
    /// Only between transactions (the journal is empty).
    pub(super) fn prune(&mut self, projected: u64) {
        if self.journal.is_empty() {
            self.subjects.retain(|_, (_, index)| *index >= projected);
        }
    }
    /// Forget everything (the projector has caught up with the log).
    pub(super) fn clear(&mut self) {
        self.subjects.clear();
        self.journal.clear();
        self.mark = None;
    }
    /// Subjects held (the unit tests' view).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.subjects.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::book::PLAN;

    fn subject(id: &str, plan: &str, version: u32) -> Subject {
        let mut s = Subject::new(PLAN, id);
        s.plan_id = plan.into();
        s.party_id = "p".into();
        s.version = version;
        s
    }

    /// Everything the file holds, as text, to compare two files.
    fn dump(p: &Projector) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, \
             hex(body), tally FROM subjects ORDER BY kind, id",
            "SELECT kind, id, idx, action, '', '', '', '', '', '', '', '' FROM history ORDER BY kind, id, idx, action",
        ] {
            let mut st = p.conn.prepare(sql).expect("prepare");
            let rows = st
                .query_map([], |r| {
                    (0..12)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .expect("query");
            out.extend(rows.map(|r| r.expect("row").join("|")));
        }
        out
    }

    /// A batch that changes a subject several times is written as its last row leaves it, with the body
    /// stored as the first row of that version stored it: the file ends up exactly as when every row is
    /// written in order, one transaction each, also when the file already holds the version.
    #[test]
    fn a_batch_writes_each_subject_once_as_writing_every_row_would() {
        let row = |id: &str, version_at: u64, version: u32, updated_at: u64, derived: bool| {
            let mut s = subject(id, "x", version);
            s.version_at = version_at;
            s.updated_at = updated_at;
            s.tally.confirmed = updated_at.is_multiple_of(2);
            ProjectionRow::Subject { subject: Box::new(s), derived }
        };
        let history = |id: &str, index: u64| ProjectionRow::History {
            kind: PLAN,
            id: id.into(),
            index,
            action: crate::domain::codes::Action::Disbursed,
        };
        let rows = vec![
            row("a", 10, 1, 10, true),
            history("a", 10),
            row("b", 11, 1, 11, false),
            row("a", 10, 1, 12, false),
            history("a", 12),
            row("a", 13, 2, 13, true),
            row("b", 11, 1, 14, true),
            row("a", 13, 2, 15, false),
            history("b", 15),
            row("c", 16, 1, 16, true),
            row("c", 17, 2, 17, false),
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let open = |name: &str| {
            std::fs::create_dir_all(dir.path().join(name)).expect("dir");
            Projector::open(&dir.path().join(name).join("ledger.db")).expect("open")
        };
        let root = [7u8; 32];
        let mut each = open("each");
        for r in &rows {
            each.write(std::slice::from_ref(r), 1, &root).expect("write one");
        }
        let mut whole = open("whole");
        whole.write(&rows, 1, &root).expect("write all");
        let mut split = open("split");
        split.write(&rows[..4], 1, &root).expect("write the first part");
        split.write(&rows[4..], 1, &root).expect("write the rest");
        let want = dump(&each);
        assert_eq!(want.len(), 3 + 3, "{want:#?}");
        // "a" keeps the marker its version's first row stored; "b" and "c" the (empty) body theirs did.
        let body = |id: &str| {
            want.iter().find(|l| l.contains(&format!("|Text(\"{id}\")|"))).map(|l| l.contains("|Text(\"00\")|"))
        };
        assert_eq!((body("a"), body("b"), body("c")), (Some(true), Some(false), Some(false)), "{want:#?}");
        assert_eq!(dump(&whole), want, "one transaction for the batch");
        assert_eq!(dump(&split), want, "a batch whose subjects the file already holds");
    }

    fn version(o: &Overlay, id: &str) -> Option<u32> {
        o.get(PLAN, id).map(|s| s.version)
    }

    /// The overlay undoes a savepoint's changes and a transaction's, keeps a committed one's, and forgets a
    /// subject only once the projector has passed the last entry that changed it, and never inside a
    /// transaction.
    #[test]
    fn overlay_undoes_savepoints_and_transactions_and_prunes_what_is_projected() {
        let mut o = Overlay::default();
        o.put(subject("a", "x", 1), 10);
        o.commit();
        o.put(subject("a", "x", 2), 11);
        o.savepoint();
        o.put(subject("a", "x", 3), 12);
        o.put(subject("b", "x", 1), 12);
        assert_eq!((version(&o, "a"), version(&o, "b")), (Some(3), Some(1)));
        o.rollback_to_savepoint();
        assert_eq!((version(&o, "a"), version(&o, "b")), (Some(2), None), "the savepoint's changes are undone");
        o.prune(100);
        assert_eq!(version(&o, "a"), Some(2), "no pruning inside a transaction");
        o.rollback();
        assert_eq!(version(&o, "a"), Some(1), "the transaction's changes are undone, the committed one stays");
        o.put(subject("b", "y", 1), 20);
        o.put(subject("c", "x", 1), 21);
        o.commit();
        let mut ids: Vec<&str> = o.matching(PLAN, "x", "p").map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "c"]);
        o.prune(11);
        assert_eq!((version(&o, "a"), o.len()), (None, 2), "entry 10 is projected: a goes");
        o.prune(21);
        assert_eq!((version(&o, "b"), version(&o, "c")), (None, Some(1)), "entry 21 is not projected yet");
    }

    /// Reads wait for the projector, up to their limit, and learn of its failure.
    #[test]
    fn progress_waits_until_the_size_or_the_limit_or_a_failure() {
        let p = std::sync::Arc::new(Progress::at(5));
        assert_eq!(p.wait_for(5), Ok(()));
        let e = p.wait_for_within(6, std::time::Duration::from_millis(20)).unwrap_err();
        assert!(e.contains("cover 5 entries, not yet 6"), "{e}");
        let q = p.clone();
        let t = std::thread::spawn(move || q.wait_for(9));
        p.advance(9);
        assert_eq!(t.join().unwrap(), Ok(()));
        p.advance(7);
        assert_eq!(p.size(), 9, "progress never goes back");
        p.fail("disk".into());
        assert_eq!(p.wait_for(10), Err("disk".into()));
    }
}
