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

pub(super) fn latest_checkpoint(c: &Connection) -> Result<Option<CheckpointRow>> {
    c.prepare_cached("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        .map_err(db_err)?
        .query_row([], checkpoint_row)
        .optional()
        .map_err(db_err)
}

pub(super) fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok(CheckpointRow { size: r.get(0)?, root: bytes32(r, 1)?, note: r.get(2)? })
}

/// A 32-byte column (a key or a hash). Any other length is corruption, reported as a conversion error
/// naming the column, never read as zeros.
pub(super) fn bytes32(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<[u8; 32]> {
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
pub(super) fn prefix_key(h: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    for (to, from) in b.iter_mut().zip(h) {
        *to = *from;
    }
    i64::from_be_bytes(b)
}

/// Fill in the recomputed hashes of a row read from the table.
pub(super) fn complete(mut e: EntryRow) -> EntryRow {
    e.leaf_hash = crate::merkle::leaf_hash(&e.leaf).to_vec();
    e.identity = crate::crypto::leaf_identity(&e.leaf).map(|h| h.to_vec()).unwrap_or_default();
    e
}

/// The entry with this identity: candidates by 8-byte prefix, confirmed on the full hash.
pub(super) fn entry_by_identity(c: &Connection, identity: &[u8]) -> Result<Option<EntryRow>> {
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
        .map_err(db_err)
        .map(|e| e.map(complete))
}

pub(super) fn subjects_of(c: &Connection, kind: &str, plan_id: &str, party_id: &str) -> Result<Vec<Subject>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {SUBJECT_COLS} FROM subjects INDEXED BY subjects_plan_party
             WHERE kind = ?1 AND plan_id = ?2 AND party_id = ?3 ORDER BY id"
        ))
        .map_err(db_err)?;
    let rows = st.query_map(params![kind, plan_id, party_id], subject_row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(|r| finish_subject(c, r))).collect()
}

pub(super) const SUBJECT_COLS: &str =
    "kind, id, plan_id, party_id, status, created_at, updated_at, version_at, version, signers, body, tally";

pub(super) fn subject_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Subject, String)> {
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

pub(super) fn finish_subject(c: &Connection, (mut s, tally): (Subject, String)) -> Result<Subject> {
    if s.body == DERIVED_BODY {
        let leaf: Vec<u8> = c
            .prepare_cached("SELECT leaf FROM entries WHERE idx = ?1")
            .and_then(|mut st| st.query_row([s.version_at], |r| r.get(0)))
            .map_err(db_err)?;
        s.body = crate::proto::compiled_body(&crate::proto::statement_of_leaf(&leaf)?);
    }
    s.tally = serde_json::from_str(&tally)
        .map_err(|e| Error::internal(format!("projection tally of {} {}: {e}", s.kind, s.id)))?;
    Ok(s)
}

pub(super) fn subject(c: &Connection, kind: &str, id: &str) -> Result<Option<Subject>> {
    c.prepare_cached(&format!("SELECT {SUBJECT_COLS} FROM subjects WHERE kind = ?1 AND id = ?2"))
        .map_err(db_err)?
        .query_row(params![kind, id], subject_row)
        .optional()
        .map_err(db_err)?
        .map(|r| finish_subject(c, r))
        .transpose()
}
