//! The single write connection: appends, projections, checkpoints, and what the sequencer finds at start-up.
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::*;

/// The single write connection. Owned by the sequencer thread.
#[derive(Debug)]
pub struct Writer {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
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
        let w = Self { conn, path: path.to_path_buf() };
        let meta = read_meta(&w.conn)?;
        if exists && meta.schema_version == SCHEMA_VERSION {
            w.conn.execute_batch(&append_only_triggers()).map_err(db_err)?;
        }
        if meta.schema_version != SCHEMA_VERSION {
            return Err(StoreError::SchemaVersion { path: path.to_path_buf(), found: meta.schema_version }.into());
        }
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

    /// Begin the write transaction (`BEGIN IMMEDIATE`: takes the write lock now).
    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)
    }
    /// Commit the write transaction; under synchronous FULL it is durable when this returns.
    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(db_err)
    }
    /// Roll the write transaction back; an error (no transaction open) is ignored.
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

    /// The entry at `index`, if the log is that long.
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
        rows.map(|r| r.map_err(db_err).and_then(complete)).collect()
    }

    /// SQLite's `PRAGMA quick_check`: refuses a database with a damaged page or index (run at start and
    /// by `accord audit`).
    pub fn quick_check(&self) -> Result<(), Error> {
        Ok(quick_check(&self.conn, &self.path)?)
    }

    /// Append `e` to the entries table (its identity and leaf hash are indexed by their first 8 bytes).
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

    /// Store the signed checkpoint `note` of tree size `size` with root `root`, created at `now_ms` (Unix ms).
    pub fn insert_checkpoint(&self, size: u64, root: &[u8; 32], note: &str, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?1, ?2, ?3, ?4)")
            .map_err(db_err)?
            .execute(params![size, &root[..], note, now_ms])
            .map_err(db_err)?;
        Ok(())
    }

    /// Persist domain effects into the projection tables. `entry` is the index of the entry being applied
    /// and [`crate::proto::compiled_body`] of its statement: a subject whose body is exactly that is stored with
    /// [`DERIVED_BODY`] instead of a second copy of the statement.
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
            Effect::Subject(s) => {
                let tally = serde_json::to_string(&s.tally).map_err(StoreError::EncodeTally)?;
                c.prepare_cached(
                    "INSERT OR REPLACE INTO subjects (kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, body, tally)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
                        stored_body(s, entry),
                        tally
                    ])
                })
            }
            Effect::History { kind, id, index, action } => c
                .prepare_cached("INSERT OR IGNORE INTO history (kind, id, idx, action) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut st| st.execute(params![kind.as_str(), id, index, action.as_str()])),
        }
        .map_err(db_err)?;
        Ok(())
    }

    /// A hash reader over this connection (committed and uncommitted rows of the open transaction).
    pub fn hashes(&self) -> SqlHashes<'_> {
        SqlHashes(&self.conn)
    }
}

/// What `subjects.body` holds for a subject: [`DERIVED_BODY`] when its body is the compiled body of the
/// entry being applied (`entry`: index and compiled wire body), else the body's own wire encoding (empty
/// for a tranche).
fn stored_body<'a>(s: &'a Subject, entry: (u64, &[u8])) -> &'a [u8] {
    let wire = s.body.as_ref().map(|c| c.wire.as_slice()).unwrap_or_default();
    if s.version_at == entry.0 && wire == entry.1 {
        DERIVED_BODY
    } else {
        wire
    }
}
