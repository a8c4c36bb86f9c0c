//! Complete list answers (issue 17, docs/INDEX.md §8): the items, plus the index lists and map proofs
//! and every entry they name, from which a reader proves the items are all there is.
use super::{item, proven, read_at};
use crate::domain::book::{Subject, SubjectKind};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, ReadView};
use crate::pb;
use crate::store::SubjectFilter;
use crate::vindex::{complete_keys, intersect, Index};

/// The most entries one complete answer carries (each with its inclusion proof): a larger answer is
/// refused, naming the filters that narrow it.
pub const MAX_COMPLETE_ENTRIES: usize = 10_000;

/// The answer to a list request: a page as [`super::list`] gives it, or, with `complete`, the complete
/// list read in one snapshot with the index brought to it ([`list_complete`]). Blocking.
pub fn list_answer(l: &Ledger, kind: SubjectKind, q: &pb::ListRequest) -> Result<pb::ListResponse> {
    if !q.complete {
        return l.read(|v| super::list(v, kind, q));
    }
    newest(|| l.snapshot(|v| list_complete(v, l.index(), kind, q)))
}

/// The answer to a GetSubject request, with every entry naming the subject when `complete`
/// ([`get_complete`]). Blocking.
pub fn get_answer(l: &Ledger, q: &pb::GetSubjectRequest) -> Result<pb::GetSubjectResponse> {
    if !q.complete {
        return l.read(|v| super::get(v, q));
    }
    newest(|| l.snapshot(|v| get_complete(v, l.index(), q)))
}

/// Read a complete answer until a snapshot is not behind the index: it only moves forward, and when
/// another reader took it past this snapshot a newer one answers (a few tries; then UNAVAILABLE).
fn newest<T>(mut read: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    for _ in 0..4 {
        if let Some(answer) = read()? {
            return Ok(answer);
        }
    }
    Err(Error::new(crate::error::Kind::Unavailable, "", "the index moved on while this answer was read; retry"))
}

/// A complete list of `kind` read through `view` at its checkpoint, with the index brought there.
/// `Ok(None)` when the index has already moved past that checkpoint (read again: a newer view answers).
pub fn list_complete(
    view: &ReadView<'_>,
    index: &Index,
    kind: SubjectKind,
    q: &pb::ListRequest,
) -> Result<Option<pb::ListResponse>> {
    let keys = complete_keys(kind, q)?;
    let currency = super::currency_of("currency", &q.currency)?;
    let r = view.store_reader();
    let at = read_at(r)?;
    let Some((committed, lookups)) = lookup_at(view, index, &at, &keys)? else { return Ok(None) };
    let lists: Vec<Vec<u64>> = lookups.iter().map(|l| l.indices.clone()).collect();
    let both = intersect(&lists);
    if both.len() > MAX_COMPLETE_ENTRIES {
        return Err(Error::precondition(
            "complete",
            format!(
                "{} entries would prove this answer, above the limit of {MAX_COMPLETE_ENTRIES}: add a party_id or plan_id filter",
                both.len()
            ),
        ));
    }
    let entries = both.iter().map(|&i| proven(r, i, at.tree_size)).collect::<Result<Vec<_>>>()?;
    let filter = SubjectFilter {
        kind: kind.to_string(),
        plan_id: q.plan_id.clone(),
        party_id: q.party_id.clone(),
        ..Default::default()
    };
    let mut found: Vec<Subject> = Vec::new();
    r.scan_subjects::<Error>(&filter, |s| {
        found.push(s);
        Ok(true)
    })?;
    let items = found.iter().map(|s| item(r, s, &at, q.with_proofs, currency)).collect::<Result<Vec<_>>>()?;
    let completeness = completeness(committed, lookups, entries);
    Ok(Some(pb::ListResponse {
        read_at: Some(at),
        items,
        next_page_token: String::new(),
        completeness: Some(completeness),
    }))
}

/// A subject with its history and every entry that names it (the list of `subject:<kind>:<id>`), read
/// through `view` at its checkpoint with the index brought there. `Ok(None)` as for [`list_complete`].
pub fn get_complete(
    view: &ReadView<'_>,
    index: &Index,
    q: &pb::GetSubjectRequest,
) -> Result<Option<pb::GetSubjectResponse>> {
    let kind = SubjectKind::parse("kind", &q.kind)?;
    let mut resp = super::get(view, q)?;
    let r = view.store_reader();
    let at = resp.read_at.clone().ok_or_else(|| Error::internal("an answer without its checkpoint"))?;
    let key = accord_domain::index::IndexKey::Subject { kind, id: q.id.clone() };
    let Some((committed, lookups)) = lookup_at(view, index, &at, &[key])? else { return Ok(None) };
    let all: Vec<u64> = lookups.iter().flat_map(|l| l.indices.iter().copied()).collect();
    if all.len() > MAX_COMPLETE_ENTRIES {
        return Err(Error::precondition(
            "complete",
            format!(
                "{} entries name this subject, above the limit of {MAX_COMPLETE_ENTRIES} for one answer",
                all.len()
            ),
        ));
    }
    let entries = all.iter().map(|&i| proven(r, i, at.tree_size)).collect::<Result<Vec<_>>>()?;
    resp.completeness = Some(completeness(committed, lookups, entries));
    Ok(Some(resp))
}

/// The lists of `keys` with their proofs at exactly the checkpoint `at` the view reads at
/// ([`Index::lookup`]); `Ok(None)` when the index is already past it.
fn lookup_at(
    view: &ReadView<'_>,
    index: &Index,
    at: &pb::ReadAt,
    keys: &[accord_domain::index::IndexKey],
) -> Result<Option<(crate::vindex::MapCommitted, Vec<crate::vindex::Lookup>)>> {
    let root =
        <[u8; 32]>::try_from(at.root_hash.as_slice()).map_err(|_| Error::internal("a stored root is not 32 bytes"))?;
    index.lookup(view, at.tree_size, &root, keys)
}

/// The proof of completeness: the map checkpoint, the lookups (bytes on the wire) and the entries.
fn completeness(
    committed: crate::vindex::MapCommitted,
    lookups: Vec<crate::vindex::Lookup>,
    entries: Vec<pb::ProvenEntry>,
) -> pb::Completeness {
    pb::Completeness { map_checkpoint: committed.note, lookups: lookups.into_iter().map(wire).collect(), entries }
}

/// A lookup as the wire carries it.
fn wire(l: crate::vindex::Lookup) -> pb::MapLookup {
    pb::MapLookup { key: l.key.encode(), indices: l.indices, proof: l.proof.encode() }
}

/// The most keys one GetIndex request may ask.
pub const MAX_INDEX_KEYS: usize = 1000;

/// The answer to GetIndex (docs/INDEX.md §11): each key's complete list with its proof, at the latest
/// checkpoint, under the map checkpoint signed there. Blocking.
pub fn index_answer(l: &Ledger, q: &pb::GetIndexRequest) -> Result<pb::GetIndexResponse> {
    let keys = index_keys(&q.keys)?;
    newest(|| {
        l.snapshot(|v| {
            let at = read_at(v.store_reader())?;
            let Some((committed, lookups)) = lookup_at(v, l.index(), &at, &keys)? else { return Ok(None) };
            Ok(Some(pb::GetIndexResponse {
                read_at: Some(at),
                map_checkpoint: committed.note,
                lookups: lookups.into_iter().map(wire).collect(),
            }))
        })
    })
}

/// The keys of a GetIndex request, parsed: at least one, at most [`MAX_INDEX_KEYS`], each once.
fn index_keys(keys: &[String]) -> Result<Vec<accord_domain::index::IndexKey>> {
    if keys.is_empty() || keys.len() > MAX_INDEX_KEYS {
        return Err(Error::invalid("keys", format!("ask for 1 to {MAX_INDEX_KEYS} keys, not {}", keys.len())));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let key = accord_domain::index::IndexKey::parse(k).ok_or_else(|| {
            Error::invalid(
                format!("keys[{i}]"),
                format!(
                    "{k:?} is not an index key (party:<id>, plan:<id>, subject:<kind>:<id>, kind:<statement kind>)"
                ),
            )
        })?;
        if !seen.insert(k.as_str()) {
            return Err(Error::invalid(format!("keys[{i}]"), format!("{k:?} is asked twice")));
        }
        out.push(key);
    }
    Ok(out)
}

/// The answer to GetProvenEntries: the entries asked, in that order, each with its inclusion proof at
/// `tree_size` (at most the latest size; at most [`MAX_COMPLETE_ENTRIES`] indices, each once and below it).
/// Blocking.
pub fn proven_entries(l: &Ledger, q: &pb::GetProvenEntriesRequest) -> Result<pb::GetProvenEntriesResponse> {
    if q.indices.len() > MAX_COMPLETE_ENTRIES {
        return Err(Error::invalid(
            "indices",
            format!("at most {MAX_COMPLETE_ENTRIES} entries in one request, not {}", q.indices.len()),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, &index) in q.indices.iter().enumerate() {
        if index >= q.tree_size {
            return Err(Error::invalid(
                format!("indices[{i}]"),
                format!("{index} is not below tree_size {}", q.tree_size),
            ));
        }
        if !seen.insert(index) {
            return Err(Error::invalid(format!("indices[{i}]"), format!("{index} is asked twice")));
        }
    }
    l.read(|v| {
        let r = v.store_reader();
        let latest = read_at(r)?.tree_size;
        if q.tree_size > latest {
            return Err(Error::invalid(
                "tree_size",
                format!("{} is beyond the latest checkpoint's size {latest}", q.tree_size),
            ));
        }
        let entries = q.indices.iter().map(|&i| proven(r, i, q.tree_size)).collect::<Result<Vec<_>>>()?;
        Ok(pb::GetProvenEntriesResponse { entries })
    })
}
