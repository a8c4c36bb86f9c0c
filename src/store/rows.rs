//! Reading rows: entries, checkpoints, subjects (with their derived bodies) and governance, for the writer and the readers alike.

use rusqlite::{params, Connection, OptionalExtension};

use super::*;

/// Governance state from the projection tables.
pub(super) fn load_governance(c: &Connection) -> Result<Governance> {
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
            let party_id: String = r.get(0)?;
            let roles = r.get::<_, String>(2)?;
            let roles = roles
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|role| Role::parse("roles", role))
                .collect::<Result<Vec<_>, accord_domain::Refusal>>()
                .map_err(|e| corrupt_column(2, "parties", &party_id, format!("role {}", e.rule)))?;
            Ok(PartyRecord {
                party_id,
                name: r.get(1)?,
                roles,
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
            let keyid: String = r.get(0)?;
            let public_key = bytes32(r, 2, "party_keys", &keyid)?;
            // A key that is not an Ed25519 point would be dropped where keys are decompressed: say so here.
            if let Err(e) = crate::crypto::public_key_from_bytes(&public_key) {
                return Err(corrupt_column(2, "party_keys", &keyid, format!("public_key: {e}")));
            }
            Ok(KeyRecord { public_key, keyid, party_id: r.get(1)?, added_at: r.get(3)?, revoked_at: r.get(4)? })
        })
        .map_err(db_err)?;
    for k in keys {
        g.absorb(&Effect::Key(k.map_err(db_err)?));
    }
    Ok(g)
}

pub(super) fn latest_checkpoint(c: &Connection) -> Result<Option<CheckpointRow>> {
    c.prepare_cached("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        .map_err(db_err)?
        .query_row([], checkpoint_row)
        .optional()
        .map_err(db_err)
}

/// The columns [`cosignature_row`] reads, in its order.
pub(super) const COSIGNATURE_COLS: &str = "size, witness, line, received_ms";

pub(super) fn cosignature_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CosignatureRow> {
    Ok(CosignatureRow { size: r.get(0)?, witness: r.get(1)?, line: r.get(2)?, received_ms: r.get(3)? })
}

pub(super) fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    let size: u64 = r.get(0)?;
    Ok(CheckpointRow { size, root: bytes32(r, 1, "checkpoints", &size)?, note: r.get(2)? })
}

/// A stored value that cannot be what its column holds, found while a row is read. It travels inside
/// rusqlite's conversion error out of the row closure and [`db_err`] turns it into a corruption error
/// naming the table and the row.
#[derive(Debug)]
pub(super) struct CorruptColumn {
    pub(super) table: &'static str,
    pub(super) row: String,
    pub(super) what: String,
}

impl std::fmt::Display for CorruptColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} row {}: {}", self.table, self.row, self.what)
    }
}

impl std::error::Error for CorruptColumn {}

/// A 32-byte column (a key or a hash) of `table` row `row`. Any other length is corruption, reported
/// with the table, the row and the column, never read as zeros.
pub(super) fn bytes32(
    r: &rusqlite::Row<'_>,
    i: usize,
    table: &'static str,
    row: &dyn std::fmt::Display,
) -> rusqlite::Result<[u8; 32]> {
    let v: Vec<u8> = r.get(i)?;
    let len = v.len();
    v.try_into().map_err(|_| {
        let column = r.as_ref().column_name(i).unwrap_or("?").to_string();
        corrupt_column(i, table, row, format!("{column} has {len} bytes, not 32"))
    })
}

/// The error a row closure returns for column `i` of `table` row `row` holding what it cannot (`what`).
pub(super) fn corrupt_column(
    i: usize,
    table: &'static str,
    row: &dyn std::fmt::Display,
    what: String,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Blob,
        Box::new(CorruptColumn { table, row: row.to_string(), what }),
    )
}

/// First 8 bytes of a hash as the integer SQLite indexes.
pub(super) fn prefix_key(h: &[u8]) -> i64 {
    i64::from_be_bytes(super::memory::prefix(h).to_be_bytes())
}

/// Fill in the recomputed hashes of a row read from the table. A leaf that does not decode to a log entry
/// with an envelope has no identity: that is corruption, reported with the row, never an empty identity.
pub(super) fn complete(mut e: EntryRow) -> Result<EntryRow> {
    e.leaf_hash = crate::merkle::leaf_hash(&e.leaf).to_vec();
    e.identity = crate::crypto::leaf_identity(&e.leaf)
        .ok_or_else(|| StoreError::corrupt("entries", e.index, "the leaf is not a log entry with an envelope"))?
        .to_vec();
    Ok(e)
}

/// A row as stored, for the audit, which judges every leaf itself: the leaf hash is recomputed and so is
/// the identity when the leaf has one (the audit's replay looks entries up by it); a leaf without one
/// keeps an empty identity, is never served, and is the replay's finding with its index.
pub(super) fn as_stored(mut e: EntryRow) -> EntryRow {
    e.leaf_hash = crate::merkle::leaf_hash(&e.leaf).to_vec();
    if let Some(id) = crate::crypto::leaf_identity(&e.leaf) {
        e.identity = id.to_vec();
    }
    e
}

/// The entry with this identity: candidates by 8-byte prefix, confirmed on the full hash.
pub(super) fn entry_by_identity(c: &Connection, identity: &[u8]) -> Result<Option<EntryRow>> {
    let mut st =
        c.prepare_cached(&format!("SELECT {ENTRY_COLS} FROM entries WHERE identity_key = ?1")).map_err(db_err)?;
    let rows = st.query_map([prefix_key(identity)], entry_row).map_err(db_err)?;
    for r in rows {
        let e = complete(r.map_err(db_err)?)?;
        if e.identity == identity {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

pub(super) fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
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

pub(super) const ENTRY_COLS: &str = "idx, identity_key, leaf_key, statement_id, kind, integrated_at_ms, leaf";

pub(super) fn entry_by(c: &Connection, col: &str, key: &dyn rusqlite::ToSql) -> Result<Option<EntryRow>> {
    c.prepare_cached(&format!("SELECT {ENTRY_COLS} FROM entries WHERE {col} = ?1"))
        .map_err(db_err)?
        .query_row([key], entry_row)
        .optional()
        .map_err(db_err)?
        .map(complete)
        .transpose()
}

pub(super) fn subjects_of(c: &Connection, kind: SubjectKind, plan_id: &str, party_id: &str) -> Result<Vec<Subject>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {SUBJECT_COLS} FROM subjects INDEXED BY subjects_plan_party
             WHERE kind = ?1 AND plan_id = ?2 AND party_id = ?3 ORDER BY id"
        ))
        .map_err(db_err)?;
    let rows = st.query_map(params![kind.as_str(), plan_id, party_id], subject_row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(|r| finish_subject(c, r))).collect()
}

pub(super) const SUBJECT_COLS: &str =
    "kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, body, tally";

/// A subject row as read: the subject without body and tally, its stored body and its tally JSON
/// ([`finish_subject`] completes it).
pub(super) type SubjectRow = (Subject, Vec<u8>, String);

/// A party's roles as the parties table stores them: their spellings, comma-separated.
pub(super) fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// A history row of subject `kind` `id`: an action the rules never write is corruption, never a default.
pub(super) fn history_row(r: &rusqlite::Row<'_>, kind: SubjectKind, id: &str) -> rusqlite::Result<HistoryRow> {
    let index: u64 = r.get(0)?;
    let action: String = r.get(1)?;
    let action = Action::parse("action", &action).map_err(|e| {
        corrupt_column(1, "history", &format_args!("{kind} {id} {index}"), format!("action {}", e.rule))
    })?;
    Ok(HistoryRow { index, action })
}

pub(super) fn subject_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SubjectRow> {
    let signers: String = r.get(9)?;
    let kind: String = r.get(0)?;
    let id: String = r.get(1)?;
    let kind = SubjectKind::parse("kind", &kind)
        .map_err(|e| corrupt_column(0, "subjects", &format_args!("{kind} {id}"), e.rule))?;
    // A status the rules never write is corruption, never a default.
    let status: String = r.get(4)?;
    let status = SubjectStatus::parse("status", &status)
        .map_err(|e| corrupt_column(4, "subjects", &format_args!("{kind} {id}"), format!("status {}", e.rule)))?;
    Ok((
        Subject {
            kind,
            id,
            plan_id: r.get(2)?,
            party_id: r.get(3)?,
            status,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
            version_at: r.get(7)?,
            version: r.get(8)?,
            signers: signers.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            body: None,
            tally: Tally::default(),
        },
        r.get(10)?,
        r.get(11)?,
    ))
}

pub(super) fn finish_subject(c: &Connection, (mut s, mut body, tally): SubjectRow) -> Result<Subject> {
    if body == DERIVED_BODY {
        let leaf: Vec<u8> = c
            .prepare_cached("SELECT leaf FROM entries WHERE idx = ?1")
            .and_then(|mut st| st.query_row([s.version_at], |r| r.get(0)))
            .map_err(db_err)?;
        body = crate::proto::compiled_body(&crate::proto::statement_of_leaf(&leaf)?);
    }
    s.body = crate::proto::parse_compiled(s.kind, &s.id, body)?;
    s.tally = serde_json::from_str(&tally)
        .map_err(|source| StoreError::Tally { row: format!("{} {}", s.kind, s.id), source })?;
    Ok(s)
}

pub(super) fn subject(c: &Connection, kind: SubjectKind, id: &str) -> Result<Option<Subject>> {
    c.prepare_cached(&format!("SELECT {SUBJECT_COLS} FROM subjects WHERE kind = ?1 AND id = ?2"))
        .map_err(db_err)?
        .query_row(params![kind.as_str(), id], subject_row)
        .optional()
        .map_err(db_err)?
        .map(|r| finish_subject(c, r))
        .transpose()
}
