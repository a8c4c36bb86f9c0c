//! SQLite storage: schema and migrations, the writer's operations and the read-only pool.
//! The only module that names rusqlite. It knows nothing of signing or business rules.
//!
//! Log tables (`meta`, `entries`, `tree_hashes`, `checkpoints`) are append-only in the database itself:
//! triggers abort any UPDATE or DELETE. So is `cosignatures` (witness cosignatures of stored checkpoints),
//! where a second row for the same checkpoint and witness is ignored. Projections are derived from the log
//! and may be dropped and rebuilt: the governance tables (`charter`, `parties`, `party_keys`) in the same
//! file, written in the sequencer's transaction ([`Writer::clear_governance`]), and the subject projections
//! (`subjects`, `history`) in a file of their own written by the projector ([`projection`]).
use std::path::Path;

mod audit;
mod checkpointer;
mod error;
mod hashes;
mod memory;
pub mod projection;
mod reader;
mod rows;
mod schema;
mod writer;
pub use checkpointer::Checkpointer;
pub use error::StoreError;
pub use hashes::{ReaderHashes, SqlHashes, WriterHashes};
pub use memory::{load_memory, LogMemory, TreeHashes};
pub use projection::{projections_path, Progress, ProjectionRow, Projector, PROJECTIONS_FILE};
pub use reader::{open_read_only, Reader, Readers};
use rows::*;
use schema::*;
pub use schema::{Meta, GOVERNANCE_KINDS, SCHEMA_VERSION};
pub use writer::{Loaded, Writer};

use crate::merkle::{Hash, HashError, HashReader};
use rusqlite::{Connection, OpenFlags};

use crate::domain::book::{Subject, SubjectKind, SubjectStatus, Tally};
use crate::domain::codes::{Action, Role};
use crate::domain::{Effect, Governance, KeyRecord, PartyRecord};
use crate::error::Error;
use accord_domain::state::Result as DomainResult;

/// The storage layer's result: its own [`StoreError`], which `?` turns into [`crate::error::Error`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Stored in `subjects.body` for "the compiled body of the statement at `version_at`" (see
/// [`crate::proto::compiled_body`]). No encoded message starts with a zero byte (field number 0 does not exist),
/// and a tranche's empty body is not this, so the marker is never a real body.
pub const DERIVED_BODY: &[u8] = &[0];

/// Governance tables derived from the log, in the ledger's database.
pub const GOVERNANCE_TABLES: &[&str] = &["charter", "parties", "party_keys"];

/// Wrap a database error, keeping it as the source; it is classified (full disk, I/O failure, other)
/// when converted to [`crate::error::Error`] (see [`StoreError`]).
fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::from(e)
}

/// Whether an error from this module means the storage itself failed (an I/O failure or a damaged file:
/// UNAVAILABLE, see [`StoreError`]'s conversion).
pub fn is_storage_failure(e: &Error) -> bool {
    e.kind == crate::error::Kind::Unavailable
}

/// One stored log entry. `identity` and `leaf_hash` are not stored: both are functions of the leaf
/// (indexed by their first 8 bytes only, which keeps an entry under 1 KiB on disk) and are recomputed on
/// read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryRow {
    /// Position in the log, from 0.
    pub index: u64,
    /// SHA-256 of the canonical envelope (32 bytes); recomputed from the leaf on read.
    pub identity: Vec<u8>,
    /// RFC 6962 leaf hash of `leaf` (32 bytes); recomputed on read.
    pub leaf_hash: Vec<u8>,
    /// The statement's `statement_id`, unique in the log.
    pub statement_id: String,
    /// The statement's kind name, e.g. `pledge.announced`.
    pub kind: String,
    /// When the sequencer integrated the entry (Unix ms); never decreases with the index.
    pub integrated_at_ms: i64,
    /// The leaf: an encoded `accord.v1.LogEntry` (the canonical envelope and `integrated_at_ms`).
    pub leaf: Vec<u8>,
}

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Tree size the checkpoint commits to.
    pub size: u64,
    /// RFC 6962 root hash of the tree at `size`.
    pub root: [u8; 32],
    /// The checkpoint as a signed note (C2SP), signed by the log key.
    pub note: String,
}

/// One stored witness cosignature of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureRow {
    /// Tree size of the checkpoint it cosigns (a stored checkpoint).
    pub size: u64,
    /// The witness's key: its name and key ID, `name+hex8` (the start of its verifier key).
    pub witness: String,
    /// The C2SP cosignature line (`— name base64`), without its newline; it verified with the witness's key.
    pub line: String,
    /// When the ledger received it (Unix ms).
    pub received_ms: i64,
}

/// The domain rules read the projections through [`crate::domain::StateView`]; a storage failure reaches
/// them as [`accord_domain::Error::State`] and comes back out as the same [`Error`].
use crate::error::state as state_err;

impl crate::domain::StateView for Writer {
    fn subject(&self, kind: SubjectKind, id: &str) -> DomainResult<Option<Subject>> {
        let p = self.projecting.borrow();
        self.subjects.borrow_mut().subject(&self.conn, &p.overlay, kind, id).map_err(state_err)
    }
    fn subjects(&self, kind: SubjectKind, plan_id: &str, party_id: &str) -> DomainResult<Vec<Subject>> {
        let mut found = subjects_of(&self.conn, kind, plan_id, party_id).map_err(state_err)?;
        // The file's rows, with the versions the projector has not written yet in their place.
        let p = self.projecting.borrow();
        let mut newer: Vec<&Subject> = p.overlay.matching(kind, plan_id, party_id).collect();
        if !newer.is_empty() {
            newer.sort_by(|a, b| a.id.cmp(&b.id));
            found.retain(|s| newer.binary_search_by(|n| n.id.cmp(&s.id)).is_err());
            found.extend(newer.into_iter().cloned());
            found.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(found)
    }
    fn entry_index(&self, identity: &[u8]) -> DomainResult<Option<u64>> {
        self.find_identity(identity).map_err(state_err)
    }
}

impl crate::domain::StateView for Reader {
    fn subject(&self, kind: SubjectKind, id: &str) -> DomainResult<Option<Subject>> {
        subject(&self.conn, kind, id).map_err(state_err)
    }
    fn subjects(&self, kind: SubjectKind, plan_id: &str, party_id: &str) -> DomainResult<Vec<Subject>> {
        subjects_of(&self.conn, kind, plan_id, party_id).map_err(state_err)
    }
    fn entry_index(&self, identity: &[u8]) -> DomainResult<Option<u64>> {
        Ok(self.entry_by_identity(identity).map_err(state_err)?.map(|e| e.index))
    }
}

/// One history row: the entry that touched a subject and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The entry that touched the subject.
    pub index: u64,
    /// What the entry did to the subject.
    pub action: Action,
}

/// Which subjects a page lists.
#[derive(Debug, Clone, Default)]
pub struct SubjectFilter {
    /// Subject kind (its stored name); required.
    pub kind: String,
    /// Empty = any.
    pub plan_id: String,
    /// Party the subjects belong to; empty = any.
    pub party_id: String,
    /// List ids strictly after this one (page token).
    pub after: String,
}

/// Run one SQL statement on a database file with a plain read-write connection. Used by tests that
/// prove the append-only triggers hold; returns the database's own error text on refusal.
pub fn raw_execute(path: &Path, sql: &str) -> std::result::Result<usize, String> {
    let c = Connection::open(path).map_err(|e| e.to_string())?;
    projection::attach_writable(&c, path).map_err(|e| e.to_string())?;
    c.execute(sql, []).map_err(|e| e.to_string())
}

/// Copy a live ledger database consistently (SQLite online backup: a snapshot as of one moment, taken
/// while the server keeps writing) into `dst`, which must not exist. `progress(copied_pages, total_pages)`.
pub fn backup(src: &Path, dst: &Path, mut progress: impl FnMut(u64, u64)) -> Result<()> {
    if dst.exists() {
        return Err(StoreError::BackupTargetExists { path: dst.to_path_buf() });
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
        return Err(StoreError::BackupIntegrity(ok));
    }
    Ok(())
}
