//! SQLite storage: schema and migrations, the writer's operations and the read-only pool.
//! The only module that names rusqlite. It knows nothing of signing or business rules.
//!
//! Log tables (`meta`, `entries`, `tree_hashes`, `checkpoints`) are append-only in the database itself:
//! triggers abort any UPDATE or DELETE. Projections (`charter`, `parties`, `party_keys`, `subjects`,
//! `history`) are derived from the log and may be dropped and rebuilt ([`Writer::clear_projections`]).
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

mod audit;
mod checkpointer;
pub use checkpointer::Checkpointer;

use crate::merkle::{Hash, HashError, HashReader};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::domain::book::{self, Subject, Tally};
use crate::domain::{Effect, Governance, KeyRecord, PartyRecord};
use crate::error::{Error, Result};

/// Current schema version; a database with another version refuses to open.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (
    idx INTEGER PRIMARY KEY,
    identity_key INTEGER NOT NULL,
    leaf_key INTEGER NOT NULL,
    statement_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    integrated_at_ms INTEGER NOT NULL,
    leaf BLOB NOT NULL
);
CREATE INDEX entries_identity_key ON entries (identity_key);
CREATE INDEX entries_leaf_key ON entries (leaf_key);
CREATE TABLE tree_hashes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE charter (id INTEGER PRIMARY KEY CHECK (id = 0), name TEXT NOT NULL, admission_k INTEGER NOT NULL);
CREATE TABLE parties (
    party_id TEXT PRIMARY KEY, name TEXT NOT NULL, roles TEXT NOT NULL,
    organisation_type TEXT NOT NULL, country TEXT NOT NULL, admitted_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE party_keys (
    keyid TEXT PRIMARY KEY, party_id TEXT NOT NULL, public_key BLOB NOT NULL,
    added_at INTEGER NOT NULL, revoked_at INTEGER
) WITHOUT ROWID;
CREATE TABLE subjects (
    kind TEXT NOT NULL, id TEXT NOT NULL, plan_id TEXT NOT NULL, party_id TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version_at INTEGER NOT NULL, version INTEGER NOT NULL,
    signers TEXT NOT NULL,
    body BLOB NOT NULL, tally TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX subjects_plan_party ON subjects (kind, plan_id, party_id, id);
CREATE INDEX subjects_party ON subjects (kind, party_id, id);
CREATE TABLE history (
    kind TEXT NOT NULL, id TEXT NOT NULL, idx INTEGER NOT NULL, action TEXT NOT NULL,
    PRIMARY KEY (kind, id, idx, action)
) WITHOUT ROWID;
"#;

/// Stored in `subjects.body` for "the compiled body of the statement at `version_at`" (see
/// [`book::compiled_body`]). No encoded message starts with a zero byte (field number 0 does not exist),
/// and a tranche's empty body is not this, so the marker is never a real body.
pub const DERIVED_BODY: &[u8] = &[0];

/// Tables derived from the log.
pub const PROJECTION_TABLES: &[&str] = &["charter", "parties", "party_keys", "subjects", "history"];

/// Classify a database error: a full disk is RESOURCE_EXHAUSTED (retry when space returns); an I/O
/// error (a failed write or fsync, a corrupt page) is UNAVAILABLE, and the sequencer stops on it rather
/// than retry (after a failed fsync the kernel may have dropped the pages it could not write); anything
/// else is internal.
fn db_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => Error::new(
            crate::error::Kind::ResourceExhausted,
            "",
            "the disk holding the ledger is full; nothing was written (retry when space is freed)",
        ),
        Some(ErrorCode::SystemIoFailure | ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::new(
            crate::error::Kind::Unavailable,
            "",
            format!("storage failure ({e}); the ledger stopped taking writes until it is restarted"),
        ),
        _ => Error::internal(format!("database: {e}")),
    }
}

/// Whether an error from this module means the storage itself failed (see [`db_err`]).
pub fn is_storage_failure(e: &Error) -> bool {
    e.kind == crate::error::Kind::Unavailable
}

/// One stored log entry. `identity` and `leaf_hash` are not stored: both are functions of the leaf
/// (indexed by their first 8 bytes only, which keeps an entry under 1 KiB on disk) and are recomputed on
/// read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub index: u64,
    pub identity: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub statement_id: String,
    pub kind: String,
    pub integrated_at_ms: i64,
    pub leaf: Vec<u8>,
}

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: u64,
    pub root: [u8; 32],
    pub note: String,
}

fn pragmas(c: &Connection, synchronous_full: bool) -> Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
    c.pragma_update(None, "synchronous", if synchronous_full { "FULL" } else { "NORMAL" }).map_err(db_err)?;
    c.pragma_update(None, "foreign_keys", "ON").map_err(db_err)?;
    // 64 MiB: the writer's index pages (identity, leaf hash, statement id) stay cached at a million entries.
    c.pragma_update(None, "cache_size", -64_000).map_err(db_err)?;
    // Savepoint sub-journals stay in memory instead of a temporary file (one savepoint per request).
    c.pragma_update(None, "temp_store", "MEMORY").map_err(db_err)?;
    // REPLACE's implicit delete fires the append-only delete triggers too.
    c.pragma_update(None, "recursive_triggers", "ON").map_err(db_err)?;
    Ok(())
}

/// `PRAGMA quick_check` on a connection.
fn quick_check(c: &Connection, path: &Path) -> Result<()> {
    let mut st = c.prepare("PRAGMA quick_check").map_err(db_err)?;
    let problems: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    if problems.len() == 1 && problems.first().is_some_and(|p| p == "ok") {
        return Ok(());
    }
    Err(Error::precondition(
        "data_dir",
        format!(
            "{} is damaged (SQLite quick_check: {}); restore it from a backup (accord restore)",
            path.display(),
            problems.into_iter().take(5).collect::<Vec<_>>().join("; ")
        ),
    ))
}

/// The append-only triggers of the log tables: no UPDATE, no DELETE, and no INSERT over an existing key
/// (which `INSERT OR REPLACE` would otherwise turn into a silent delete, whatever `recursive_triggers` says
/// on the connection that does it). Created if missing on every open, so older databases get them too.
fn append_only_triggers() -> String {
    let mut sql = String::new();
    for (t, key) in [
        ("meta", "key = NEW.key"),
        ("entries", "idx = NEW.idx OR statement_id = NEW.statement_id"),
        ("tree_hashes", "id = NEW.id"),
        ("checkpoints", "size = NEW.size"),
    ] {
        sql.push_str(&format!(
            "CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;
             CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;
             CREATE TRIGGER IF NOT EXISTS {t}_no_replace BEFORE INSERT ON {t} WHEN EXISTS (SELECT 1 FROM {t} WHERE {key})
             BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;"
        ));
    }
    sql
}

/// Create the schema (with its append-only triggers) and the meta rows.
fn create(c: &Connection, origin: &str, verifier_key: &str) -> Result<()> {
    let mut sql = String::from("BEGIN IMMEDIATE;");
    sql.push_str(SCHEMA);
    sql.push_str(&append_only_triggers());
    sql.push_str("COMMIT;");
    c.execute_batch(&sql).map_err(db_err)?;
    c.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('origin', ?2), ('verifier_key', ?3)",
        params![SCHEMA_VERSION.to_string(), origin, verifier_key],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Meta information of a ledger database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub schema_version: u32,
    pub origin: String,
    pub verifier_key: String,
}

fn read_meta(c: &Connection) -> Result<Meta> {
    let get = |k: &str| -> Result<String> {
        c.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| Error::internal(format!("database has no meta row {k:?}")))
    };
    let v = get("schema_version")?;
    Ok(Meta {
        schema_version: v.parse().map_err(|_| Error::internal("bad schema_version"))?,
        origin: get("origin")?,
        verifier_key: get("verifier_key")?,
    })
}

/// The single write connection. Owned by the sequencer thread.
#[derive(Debug)]
pub struct Writer {
    conn: Connection,
    path: PathBuf,
}

/// What the writer finds at start-up.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub meta: Meta,
    pub size: u64,
    pub last_integrated_ms: i64,
    pub latest: Option<CheckpointRow>,
    pub governance: Governance,
}

impl Writer {
    /// Open (creating it when `create_with` is given and the file does not exist) a ledger database.
    pub fn open(path: &Path, synchronous_full: bool, create_with: Option<(&str, &str)>) -> Result<Self> {
        let exists = path.exists();
        if !exists && create_with.is_none() {
            return Err(Error::not_found("data_dir", format!("no ledger database at {}", path.display())));
        }
        let conn = Connection::open(path).map_err(db_err)?;
        pragmas(&conn, synchronous_full)?;
        if !exists {
            if let Some((origin, vkey)) = create_with {
                create(&conn, origin, vkey)?;
            }
        }
        let w = Self { conn, path: path.to_path_buf() };
        let meta = read_meta(&w.conn)?;
        if exists && meta.schema_version == SCHEMA_VERSION {
            w.conn.execute_batch(&append_only_triggers()).map_err(db_err)?;
        }
        if meta.schema_version != SCHEMA_VERSION {
            return Err(Error::precondition(
                "schema_version",
                format!(
                    "database {} has schema version {}, this accord expects {SCHEMA_VERSION}; run a matching accord or migrate",
                    path.display(),
                    meta.schema_version
                ),
            ));
        }
        Ok(w)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size, latest checkpoint and governance state from the database.
    pub fn load(&self) -> Result<Loaded> {
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

    /// Delete every projection row (inside the caller's transaction), for a rebuild from the log.
    pub fn clear_projections(&self) -> Result<()> {
        for t in PROJECTION_TABLES {
            self.conn.execute(&format!("DELETE FROM {t}"), []).map_err(db_err)?;
        }
        Ok(())
    }

    /// Open a savepoint inside the transaction (one per sequencer request).
    pub fn savepoint(&self) -> Result<()> {
        self.conn.prepare_cached("SAVEPOINT job").and_then(|mut s| s.execute([])).map(drop).map_err(db_err)
    }
    /// Keep the savepoint's work in the transaction.
    pub fn release(&self) -> Result<()> {
        self.conn.prepare_cached("RELEASE job").and_then(|mut s| s.execute([])).map(drop).map_err(db_err)
    }
    /// Undo everything since the savepoint.
    pub fn rollback_to_savepoint(&self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK TO job; RELEASE job").map_err(db_err)
    }

    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)
    }
    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(db_err)
    }
    pub fn rollback(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// Index of the entry with this identity.
    pub fn find_identity(&self, identity: &[u8]) -> Result<Option<u64>> {
        Ok(entry_by_identity(&self.conn, identity)?.map(|e| e.index))
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

    pub fn entry(&self, index: u64) -> Result<Option<EntryRow>> {
        entry_by(&self.conn, "idx", &index)
    }

    /// Entries whose stored kind is one of `kinds`, in log order (one scan of the entries table).
    pub fn entries_of_kinds(&self, kinds: &[&str]) -> Result<Vec<EntryRow>> {
        let marks = vec!["?"; kinds.len()].join(", ");
        let mut st = self
            .conn
            .prepare(&format!("SELECT {ENTRY_COLS} FROM entries WHERE kind IN ({marks}) ORDER BY idx"))
            .map_err(db_err)?;
        let rows = st.query_map(rusqlite::params_from_iter(kinds.iter()), entry_row).map_err(db_err)?;
        rows.map(|r| r.map(complete).map_err(db_err)).collect()
    }

    /// SQLite's `PRAGMA quick_check`: refuses a database with a damaged page or index (run at start and
    /// by `accord audit`).
    pub fn quick_check(&self) -> Result<()> {
        quick_check(&self.conn, &self.path)
    }

    pub fn insert_entry(&self, e: &EntryRow) -> Result<()> {
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
        Ok(())
    }

    /// Store hashes at consecutive stored-hash indexes starting at `first_id`.
    pub fn insert_hashes(&self, first_id: u64, hashes: &[Hash]) -> Result<()> {
        let mut st = self.conn.prepare_cached("INSERT INTO tree_hashes (id, hash) VALUES (?1, ?2)").map_err(db_err)?;
        for (i, h) in hashes.iter().enumerate() {
            st.execute(params![first_id.saturating_add(i as u64), &h.0[..]]).map_err(db_err)?;
        }
        Ok(())
    }

    pub fn insert_checkpoint(&self, size: u64, root: &[u8; 32], note: &str, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?1, ?2, ?3, ?4)")
            .map_err(db_err)?
            .execute(params![size, &root[..], note, now_ms])
            .map_err(db_err)?;
        Ok(())
    }

    /// Persist domain effects into the projection tables. `entry` is the index of the entry being applied
    /// and [`book::compiled_body`] of its statement: a subject whose body is exactly that is stored with
    /// [`DERIVED_BODY`] instead of a second copy of the statement.
    pub fn apply_effect(&self, e: &Effect, entry: (u64, &[u8])) -> Result<()> {
        let c = &self.conn;
        match e {
            Effect::Charter { name, admission_k } => {
                c.execute("INSERT INTO charter (id, name, admission_k) VALUES (0, ?1, ?2)", params![name, admission_k])
            }
            Effect::Party(p) => c.execute(
                "INSERT INTO parties (party_id, name, roles, organisation_type, country, admitted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p.party_id, p.name, p.roles.join(","), p.organisation_type, p.country, p.admitted_at],
            ),
            Effect::Key(k) => c.execute(
                "INSERT INTO party_keys (keyid, party_id, public_key, added_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![k.keyid, k.party_id, &k.public_key[..], k.added_at, k.revoked_at],
            ),
            Effect::KeyRevoked { keyid, at } => {
                c.execute("UPDATE party_keys SET revoked_at = ?2 WHERE keyid = ?1", params![keyid, at])
            }
            Effect::Subject(s) => {
                let tally = serde_json::to_string(&s.tally).map_err(|e| Error::internal(format!("tally: {e}")))?;
                c.prepare_cached(
                    "INSERT OR REPLACE INTO subjects (kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, body, tally)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        s.kind,
                        s.id,
                        s.plan_id,
                        s.party_id,
                        s.status,
                        s.created_at,
                        s.updated_at,
                        s.version_at,
                        s.version,
                        s.signers.join(","),
                        if s.version_at == entry.0 && s.body == entry.1 { DERIVED_BODY } else { &s.body[..] },
                        tally
                    ])
                })
            }
            Effect::History { kind, id, index, action } => c
                .prepare_cached("INSERT OR IGNORE INTO history (kind, id, idx, action) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut st| st.execute(params![kind, id, index, action])),
        }
        .map_err(db_err)?;
        Ok(())
    }

    /// A hash reader over this connection (committed and uncommitted rows of the open transaction).
    pub fn hashes(&self) -> SqlHashes<'_> {
        SqlHashes(&self.conn)
    }
}

/// Governance state from the projection tables.
fn load_governance(c: &Connection) -> Result<Governance> {
    let mut g = Governance::default();
    if let Some((name, k)) = c
        .query_row("SELECT name, admission_k FROM charter", [], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
        .optional()
        .map_err(db_err)?
    {
        g.absorb(&Effect::Charter { name, admission_k: k });
    }
    let mut st = c
        .prepare("SELECT party_id, name, roles, organisation_type, country, admitted_at FROM parties")
        .map_err(db_err)?;
    let parties = st
        .query_map([], |r| {
            Ok(PartyRecord {
                party_id: r.get(0)?,
                name: r.get(1)?,
                roles: r.get::<_, String>(2)?.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
                organisation_type: r.get(3)?,
                country: r.get(4)?,
                admitted_at: r.get(5)?,
            })
        })
        .map_err(db_err)?;
    for p in parties {
        g.absorb(&Effect::Party(p.map_err(db_err)?));
    }
    let mut st =
        c.prepare("SELECT keyid, party_id, public_key, added_at, revoked_at FROM party_keys").map_err(db_err)?;
    let keys = st
        .query_map([], |r| {
            Ok(KeyRecord {
                keyid: r.get(0)?,
                party_id: r.get(1)?,
                public_key: bytes32(r, 2)?,
                added_at: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })
        .map_err(db_err)?;
    for k in keys {
        g.absorb(&Effect::Key(k.map_err(db_err)?));
    }
    Ok(g)
}

fn latest_checkpoint(c: &Connection) -> Result<Option<CheckpointRow>> {
    c.prepare_cached("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        .map_err(db_err)?
        .query_row([], checkpoint_row)
        .optional()
        .map_err(db_err)
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok(CheckpointRow { size: r.get(0)?, root: bytes32(r, 1)?, note: r.get(2)? })
}

/// A 32-byte column (a key or a hash). Any other length is corruption, reported as a conversion error
/// naming the column, never read as zeros.
fn bytes32(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<[u8; 32]> {
    let v: Vec<u8> = r.get(i)?;
    let len = v.len();
    v.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Blob,
            format!("expected 32 bytes, found {len}").into(),
        )
    })
}

/// First 8 bytes of a hash as the integer SQLite indexes.
fn prefix_key(h: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    for (to, from) in b.iter_mut().zip(h) {
        *to = *from;
    }
    i64::from_be_bytes(b)
}

/// Fill in the recomputed hashes of a row read from the table.
fn complete(mut e: EntryRow) -> EntryRow {
    e.leaf_hash = crate::merkle::leaf_hash(&e.leaf).to_vec();
    e.identity = crate::crypto::leaf_identity(&e.leaf).map(|h| h.to_vec()).unwrap_or_default();
    e
}

/// The entry with this identity: candidates by 8-byte prefix, confirmed on the full hash.
fn entry_by_identity(c: &Connection, identity: &[u8]) -> Result<Option<EntryRow>> {
    let mut st =
        c.prepare_cached(&format!("SELECT {ENTRY_COLS} FROM entries WHERE identity_key = ?1")).map_err(db_err)?;
    let rows = st.query_map([prefix_key(identity)], entry_row).map_err(db_err)?;
    for r in rows {
        let e = complete(r.map_err(db_err)?);
        if e.identity == identity {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        index: r.get(0)?,
        identity: Vec::new(),
        leaf_hash: Vec::new(),
        statement_id: r.get(3)?,
        kind: r.get(4)?,
        integrated_at_ms: r.get(5)?,
        leaf: r.get(6)?,
    })
}

const ENTRY_COLS: &str = "idx, identity_key, leaf_key, statement_id, kind, integrated_at_ms, leaf";

fn entry_by(c: &Connection, col: &str, key: &dyn rusqlite::ToSql) -> Result<Option<EntryRow>> {
    c.prepare_cached(&format!("SELECT {ENTRY_COLS} FROM entries WHERE {col} = ?1"))
        .map_err(db_err)?
        .query_row([key], entry_row)
        .optional()
        .map_err(db_err)
        .map(|e| e.map(complete))
}

/// [`HashReader`] over the `tree_hashes` table.
#[derive(Debug, Clone, Copy)]
pub struct SqlHashes<'a>(&'a Connection);

impl crate::domain::StateView for Writer {
    fn subject(&self, kind: &str, id: &str) -> Result<Option<Subject>> {
        subject(&self.conn, kind, id)
    }
    fn subjects(&self, kind: &str, plan_id: &str, party_id: &str) -> Result<Vec<Subject>> {
        subjects_of(&self.conn, kind, plan_id, party_id)
    }
    fn entry_index(&self, identity: &[u8]) -> Result<Option<u64>> {
        self.find_identity(identity)
    }
}

impl crate::domain::StateView for Reader {
    fn subject(&self, kind: &str, id: &str) -> Result<Option<Subject>> {
        subject(&self.conn, kind, id)
    }
    fn subjects(&self, kind: &str, plan_id: &str, party_id: &str) -> Result<Vec<Subject>> {
        subjects_of(&self.conn, kind, plan_id, party_id)
    }
    fn entry_index(&self, identity: &[u8]) -> Result<Option<u64>> {
        Ok(entry_by_identity(&self.conn, identity)?.map(|e| e.index))
    }
}

fn subjects_of(c: &Connection, kind: &str, plan_id: &str, party_id: &str) -> Result<Vec<Subject>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {SUBJECT_COLS} FROM subjects INDEXED BY subjects_plan_party
             WHERE kind = ?1 AND plan_id = ?2 AND party_id = ?3 ORDER BY id"
        ))
        .map_err(db_err)?;
    let rows = st.query_map(params![kind, plan_id, party_id], subject_row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(|r| finish_subject(c, r))).collect()
}

const SUBJECT_COLS: &str =
    "kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, body, tally";

fn subject_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Subject, String)> {
    let signers: String = r.get(9)?;
    Ok((
        Subject {
            kind: r.get(0)?,
            id: r.get(1)?,
            plan_id: r.get(2)?,
            party_id: r.get(3)?,
            status: r.get(4)?,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
            version_at: r.get(7)?,
            version: r.get(8)?,
            signers: signers.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            body: r.get(10)?,
            tally: Tally::default(),
        },
        r.get(11)?,
    ))
}

fn finish_subject(c: &Connection, (mut s, tally): (Subject, String)) -> Result<Subject> {
    if s.body == DERIVED_BODY {
        let leaf: Vec<u8> = c
            .prepare_cached("SELECT leaf FROM entries WHERE idx = ?1")
            .and_then(|mut st| st.query_row([s.version_at], |r| r.get(0)))
            .map_err(db_err)?;
        s.body = book::compiled_body(&crate::domain::statement_of_leaf(&leaf)?);
    }
    s.tally = serde_json::from_str(&tally)
        .map_err(|e| Error::internal(format!("projection tally of {} {}: {e}", s.kind, s.id)))?;
    Ok(s)
}

fn subject(c: &Connection, kind: &str, id: &str) -> Result<Option<Subject>> {
    c.prepare_cached(&format!("SELECT {SUBJECT_COLS} FROM subjects WHERE kind = ?1 AND id = ?2"))
        .map_err(db_err)?
        .query_row(params![kind, id], subject_row)
        .optional()
        .map_err(db_err)?
        .map(|r| finish_subject(c, r))
        .transpose()
}

/// One history row: the entry that touched a subject and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub index: u64,
    pub action: String,
}

/// Which subjects a page lists.
#[derive(Debug, Clone, Default)]
pub struct SubjectFilter {
    pub kind: String,
    /// Empty = any.
    pub plan_id: String,
    pub party_id: String,
    /// List ids strictly after this one (page token).
    pub after: String,
}

impl HashReader for SqlHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        let mut st = self
            .0
            .prepare_cached("SELECT hash FROM tree_hashes WHERE id = ?1")
            .map_err(|_| HashError::IndexesNotInTree)?;
        indexes
            .iter()
            .map(|&i| {
                let v: Vec<u8> = st.query_row([i], |r| r.get(0)).map_err(|_| HashError::IndexesNotInTree)?;
                <[u8; 32]>::try_from(v.as_slice()).map(Hash).map_err(|_| HashError::MalformedHash)
            })
            .collect()
    }
}

/// Stored hashes of the upper tree levels, shared by all readers. Stored hashes never change once written,
/// so caching them is always correct.
///
/// A B-tree map, not a hash map: it grows by one small node at a time, so memory follows the number of
/// cached hashes (about 50 bytes each). A hash map doubles its table when it fills, and near the bound
/// below that is a 40 MiB step in RSS and a copy of the whole table under the write lock.
#[derive(Debug, Default)]
pub struct HashCache {
    map: std::sync::RwLock<std::collections::BTreeMap<u64, Hash>>,
}

impl HashCache {
    /// Lowest tree level kept in memory (level 2 and up: a quarter of all stored hashes), so a proof reads
    /// only its two lowest levels from SQLite.
    const MIN_LEVEL: u8 = 2;
    /// Upper bound on cached hashes (about 50 MiB).
    const MAX_ENTRIES: usize = 1 << 20;
}

/// [`HashReader`] over `tree_hashes` through the shared [`HashCache`].
#[derive(Debug, Clone, Copy)]
pub struct CachedHashes<'a> {
    db: SqlHashes<'a>,
    cache: &'a HashCache,
}

impl HashReader for CachedHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        let mut out = Vec::with_capacity(indexes.len());
        let mut fresh = Vec::new();
        {
            let map = crate::sync::read(&self.cache.map);
            for &i in indexes {
                match map.get(&i) {
                    Some(h) => out.push(*h),
                    None => {
                        let h = self.db.read_hashes(&[i])?.into_iter().next().ok_or(HashError::IndexesNotInTree)?;
                        if crate::merkle::split_stored_hash_index(i).0 >= HashCache::MIN_LEVEL {
                            fresh.push((i, h));
                        }
                        out.push(h);
                    }
                }
            }
        }
        if !fresh.is_empty() {
            let mut map = crate::sync::write(&self.cache.map);
            if map.len().saturating_add(fresh.len()) <= HashCache::MAX_ENTRIES {
                map.extend(fresh);
            }
        }
        Ok(out)
    }
}

/// A read-only connection handed out by [`Readers`].
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
    cache: std::sync::Arc<HashCache>,
}

impl Reader {
    /// SQLite's `PRAGMA quick_check` on this connection's database.
    pub fn quick_check(&self) -> Result<()> {
        quick_check(&self.conn, Path::new(self.conn.path().unwrap_or("the database")))
    }

    pub fn entry_by_index(&self, index: u64) -> Result<Option<EntryRow>> {
        entry_by(&self.conn, "idx", &index)
    }
    pub fn entry_by_identity(&self, identity: &[u8]) -> Result<Option<EntryRow>> {
        entry_by_identity(&self.conn, identity)
    }
    pub fn entry_by_statement_id(&self, sid: &str) -> Result<Option<EntryRow>> {
        entry_by(&self.conn, "statement_id", &sid)
    }
    pub fn index_by_leaf_hash(&self, leaf_hash: &[u8]) -> Result<Option<u64>> {
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
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx LIMIT ?3"
            ))
            .map_err(db_err)?;
        let rows = st.query_map(params![start, end, limit as i64], entry_row).map_err(db_err)?;
        rows.map(|r| r.map(complete).map_err(db_err)).collect()
    }
    pub fn checkpoint(&self, size: u64) -> Result<Option<CheckpointRow>> {
        self.conn
            .prepare_cached("SELECT size, root, note FROM checkpoints WHERE size = ?1")
            .map_err(db_err)?
            .query_row([size], checkpoint_row)
            .optional()
            .map_err(db_err)
    }
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
                return Err(Error::internal(format!("stored tree hash {} is missing", out.len())));
            }
            out.push(h.try_into().map_err(|_| Error::internal(format!("stored tree hash {id} is not 32 bytes")))?);
        }
        if out.len() as u64 != count {
            return Err(Error::internal(format!("{} of {count} stored tree hashes present", out.len())));
        }
        Ok(out)
    }
    /// All stored checkpoints in size order (audits).
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        let mut st = self.conn.prepare("SELECT size, root, note FROM checkpoints ORDER BY size").map_err(db_err)?;
        let rows = st.query_map([], checkpoint_row).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }
    pub fn meta(&self) -> Result<Meta> {
        read_meta(&self.conn)
    }
    /// Run `f` inside one read transaction: everything it reads is from the same committed state
    /// (entries, projections and the checkpoint committed with them).
    /// Nested calls join the enclosing snapshot.
    pub fn snapshot<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN").map_err(db_err)?;
        let out = f(self);
        let _ = self.conn.execute_batch("COMMIT");
        out
    }
    pub fn subject(&self, kind: &str, id: &str) -> Result<Option<Subject>> {
        subject(&self.conn, kind, id)
    }
    /// Subjects in id order, filtered; `visit` returns false to stop.
    pub fn scan_subjects(&self, f: &SubjectFilter, mut visit: impl FnMut(Subject) -> Result<bool>) -> Result<()> {
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
    pub fn history(&self, kind: &str, id: &str) -> Result<Vec<HistoryRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT idx, action FROM history WHERE kind = ?1 AND id = ?2 ORDER BY idx, action")
            .map_err(db_err)?;
        let rows = st
            .query_map(params![kind, id], |r| Ok(HistoryRow { index: r.get(0)?, action: r.get(1)? }))
            .map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }
    /// Governance state (parties and their key history).
    pub fn governance(&self) -> Result<Governance> {
        load_governance(&self.conn)
    }
    /// Stored hashes, upper levels from the shared cache.
    pub fn hashes(&self) -> CachedHashes<'_> {
        CachedHashes { db: SqlHashes(&self.conn), cache: &self.cache }
    }
}

/// A small pool of read-only connections (WAL readers never wait behind the writer).
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    cache: std::sync::Arc<HashCache>,
    open: Mutex<usize>,
    available: Condvar,
    max: usize,
}

impl Readers {
    pub fn new(path: &Path, max: usize) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            cache: Default::default(),
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
        Ok(Reader { conn, cache: self.cache.clone() })
    }

    /// Run `f` with a reader. Blocking: call from a blocking context.
    pub fn with<T>(&self, f: impl FnOnce(&Reader) -> Result<T>) -> Result<T> {
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
                        return Err(e);
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
    Readers::new(path, 1).open_reader()
}

/// Run one SQL statement on a database file with a plain read-write connection. Used by tests that
/// prove the append-only triggers hold; returns the database's own error text on refusal.
pub fn raw_execute(path: &Path, sql: &str) -> std::result::Result<usize, String> {
    let c = Connection::open(path).map_err(|e| e.to_string())?;
    c.execute(sql, []).map_err(|e| e.to_string())
}

/// Copy a live ledger database consistently (SQLite online backup: a snapshot as of one moment, taken
/// while the server keeps writing) into `dst`, which must not exist. `progress(copied_pages, total_pages)`.
pub fn backup(src: &Path, dst: &Path, mut progress: impl FnMut(u64, u64)) -> Result<()> {
    if dst.exists() {
        return Err(Error::precondition("out", format!("{} already exists", dst.display())));
    }
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)
        .map_err(db_err)?;
    from.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
    let mut to = Connection::open(dst).map_err(db_err)?;
    {
        // One step inside one read transaction: the copy is the snapshot of a single moment. In WAL mode the
        // writer keeps committing meanwhile (readers never block it).
        from.execute_batch("BEGIN").map_err(db_err)?;
        let total: u64 = from.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(db_err)?;
        progress(0, total);
        let b = rusqlite::backup::Backup::new(&from, &mut to).map_err(db_err)?;
        loop {
            match b.step(-1).map_err(db_err)? {
                rusqlite::backup::StepResult::Done => break,
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        progress(total, total);
    }
    from.execute_batch("COMMIT").map_err(db_err)?;
    to.pragma_update(None, "journal_mode", "DELETE").map_err(db_err)?;
    let ok: String = to.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(db_err)?;
    if ok != "ok" {
        return Err(Error::internal(format!("backup copy fails SQLite's integrity check: {ok}")));
    }
    Ok(())
}
