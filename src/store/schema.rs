//! The schema: tables, append-only triggers, pragmas, creation and the meta row.
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::*;

/// Current schema version; a database with another version refuses to open.
pub const SCHEMA_VERSION: u32 = 1;

pub(super) const SCHEMA: &str = r#"
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
CREATE INDEX entries_idx_identity ON entries (idx, identity_key);
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
"#;

/// Witness cosignatures (C2SP tlog-cosignature lines), each kept with the checkpoint it cosigns. Append-only
/// like the log tables; created with a new database and, by [`Writer::open`], in an older one that lacks it.
/// A row is stored only for a line that verified with the witness's key (the sender checks it).
pub(super) const COSIGNATURES: &str = "CREATE TABLE IF NOT EXISTS cosignatures (
    size INTEGER NOT NULL REFERENCES checkpoints (size),
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS cosignatures_no_update BEFORE UPDATE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cosignatures_no_delete BEFORE DELETE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cosignatures_keep_first BEFORE INSERT ON cosignatures
WHEN EXISTS (SELECT 1 FROM cosignatures WHERE size = NEW.size AND witness = NEW.witness)
BEGIN SELECT RAISE(IGNORE); END;";

/// Statement kinds that change governance (charter, parties, keys): replayed at every open, so their
/// entries have an index of their own ([`governance_index`]).
pub const GOVERNANCE_KINDS: &[&str] = &["charter", "party.admitted", "key.rotated", "key.revoked"];

/// `kind IN ('charter', …)` over [`GOVERNANCE_KINDS`], as literals: SQLite uses a partial index only for
/// a query whose WHERE clause holds the index's own terms, and a bound parameter is not one.
pub(super) fn governance_clause() -> String {
    let kinds: Vec<String> = GOVERNANCE_KINDS.iter().map(|k| format!("'{k}'")).collect();
    format!("kind IN ({})", kinds.join(", "))
}

/// The partial index of governance entries (a handful in a log of millions): the replay at open reads
/// them without scanning the whole table (issue 14: start-up within 2 s at 1M entries).
pub(super) fn governance_index() -> String {
    format!("CREATE INDEX IF NOT EXISTS entries_governance ON entries (idx) WHERE {};", governance_clause())
}

/// Brings the indexes of a database created before issue 14 to today's: the two random-key indexes on
/// identity and leaf-hash prefixes are dropped (their lookups are served from memory, [`super::LogMemory`]),
/// and the identity prefixes are indexed in log order instead, which only ever appends at the right edge
/// and lets the ledger load them at open without reading the leaves. Indexes are derived data: the log's
/// rows are untouched. Run on every open; a no-op once done (the first run on a large log takes seconds).
pub(super) const INDEX_MIGRATION: &str = "DROP INDEX IF EXISTS entries_identity_key;
DROP INDEX IF EXISTS entries_leaf_key;
CREATE INDEX IF NOT EXISTS entries_idx_identity ON entries (idx, identity_key);";

/// Drops the subject projections from a database created before the projector (issue 14): they live in
/// the projections' file now ([`super::projection`]), which the ledger rebuilds from the log when it is
/// missing. Derived data: the log's rows are untouched. A no-op once done.
pub(super) const PROJECTIONS_MIGRATION: &str = "DROP TABLE IF EXISTS main.subjects; DROP TABLE IF EXISTS main.history;";

pub(super) fn pragmas(c: &Connection, synchronous_full: bool) -> Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
    c.pragma_update(None, "synchronous", if synchronous_full { "FULL" } else { "NORMAL" }).map_err(db_err)?;
    c.pragma_update(None, "foreign_keys", "ON").map_err(db_err)?;
    // 16 MiB: the writer's hot pages (the right edges of the append-only tables and indexes, the statement
    // id index, the projections) stay cached; identity and leaf-hash lookups are in memory.
    c.pragma_update(None, "cache_size", -16_000).map_err(db_err)?;
    // Savepoint sub-journals stay in memory instead of a temporary file (one savepoint per request).
    c.pragma_update(None, "temp_store", "MEMORY").map_err(db_err)?;
    // REPLACE's implicit delete fires the append-only delete triggers too.
    c.pragma_update(None, "recursive_triggers", "ON").map_err(db_err)?;
    Ok(())
}

/// `PRAGMA quick_check` on a connection.
pub(super) fn quick_check(c: &Connection, path: &Path) -> Result<()> {
    let mut st = c.prepare("PRAGMA quick_check").map_err(db_err)?;
    let problems: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    if problems.len() == 1 && problems.first().is_some_and(|p| p == "ok") {
        return Ok(());
    }
    Err(StoreError::Damaged {
        path: path.to_path_buf(),
        problems: problems.into_iter().take(5).collect::<Vec<_>>().join("; "),
    })
}

/// The append-only triggers of the log tables: no UPDATE, no DELETE, and no INSERT over an existing key
/// (which `INSERT OR REPLACE` would otherwise turn into a silent delete, whatever `recursive_triggers` says
/// on the connection that does it). Created if missing on every open, so older databases get them too.
pub(super) fn append_only_triggers() -> String {
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
pub(super) fn create(c: &Connection, origin: &str, verifier_key: &str) -> Result<()> {
    let mut sql = String::from("BEGIN IMMEDIATE;");
    sql.push_str(SCHEMA);
    sql.push_str(&governance_index());
    sql.push_str(&append_only_triggers());
    sql.push_str(COSIGNATURES);
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
    /// The schema version the database was created with; must equal [`SCHEMA_VERSION`] to open it.
    pub schema_version: u32,
    /// The origin of the log the database holds.
    pub origin: String,
    /// The verifier key of the log key that signs its checkpoints.
    pub verifier_key: String,
}

pub(super) fn read_meta(c: &Connection) -> Result<Meta> {
    let get = |k: &str| -> Result<String> {
        c.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StoreError::corrupt("meta", k, "is missing"))
    };
    let v = get("schema_version")?;
    Ok(Meta {
        schema_version: v
            .parse()
            .map_err(|_| StoreError::corrupt("meta", "schema_version", format!("{v:?} is not a number")))?,
        origin: get("origin")?,
        verifier_key: get("verifier_key")?,
    })
}
