//! Checking a complete list answer (docs/INDEX.md §8) with nothing but the log's public key: the reader's
//! side of [`super::complete_keys`].
use std::collections::BTreeSet;

use accord_domain::ids::PartyId;
use accord_domain::index::{creates, named_keys, plan_anchor, IndexKey};
use accord_domain::statement::Statement;
use accord_tlog::mapcheckpoint::{map_verifier, open_map_checkpoint, MapCheckpoint};
use accord_tlog::note::{open_checkpoint, StrictNoteVerifier, VerifiedCheckpoint};
use accord_tlog::vmap::{self, MapProof};

use super::{complete_keys, intersect};
use crate::domain::book::SubjectKind;
use crate::error::{Error, Result};
use crate::merkle;
use crate::pb;

/// What a verified complete answer proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenComplete {
    /// The log size (and checkpoint) it holds at.
    pub size: u64,
    /// The map root of the map checkpoint.
    pub map_root: [u8; 32],
    /// Each key with the length of its proven list.
    pub lists: Vec<(String, usize)>,
    /// Entries in every list, each proven in the log and read.
    pub entries: usize,
    /// Items proven to be all the subjects asked for.
    pub items: usize,
}

fn denied(field: impl Into<String>, why: impl Into<String>) -> Error {
    Error::denied(field.into().as_str(), why.into())
}

/// Check `resp`, the answer to the complete list `req` of `kind`, against the log key `log`:
/// 1. the answer's checkpoint is signed by the log, and the map checkpoint by the log's index key
///    (`<origin>/index`) at exactly that log size and root;
/// 2. each key's list verifies under the map root (presence with exactly that list, or absence);
/// 3. the entries given are exactly those in every list, each proven in the log's tree;
/// 4. each entry's statement files it under every key (the plan key of a kind that inherits its plan is
///    the audit's to check: docs/INDEX.md §1.3); `party_of_key` names the party of a signing key;
/// 5. the items are exactly the subjects those entries create with the owner and plan asked, no more.
pub fn verify_complete(
    log: &StrictNoteVerifier,
    kind: SubjectKind,
    req: &pb::ListRequest,
    resp: &pb::ListResponse,
    party_of_key: &dyn Fn(&str) -> Option<String>,
) -> Result<ProvenComplete> {
    let (cp, map, c) = open_proof(log, resp.read_at.as_ref(), resp.completeness.as_ref())?;
    let keys = complete_keys(kind, req)?;
    let lists = check_lookups(&keys, &c.lookups, &map.map_root)?;
    let both = intersect(&lists);
    let statements = check_entries(&cp, &c.entries, &both, &keys, party_of_key)?;
    let mut expected = BTreeSet::new();
    for (index, statement) in &statements {
        if let Some(created) = creates(&statement.body).filter(|c| c.kind == kind) {
            let owner_ok = req.party_id.is_empty() || created.owner.is_some_and(|p| p.as_str() == req.party_id);
            let plan_ok = req.plan_id.is_empty() || created.plan.is_none_or(|p| p.as_str() == req.plan_id);
            if owner_ok && plan_ok {
                expected.insert((created.id, *index));
            }
        }
    }
    let mut shown = BTreeSet::new();
    for (n, item) in resp.items.iter().enumerate() {
        if item.kind != kind.as_str() || !shown.insert((item.id.clone(), item.index)) {
            return Err(denied(
                format!("items[{n}]"),
                format!("{} {} is not a {kind} or is shown twice", item.kind, item.id),
            ));
        }
    }
    if shown != expected {
        let omitted: Vec<_> = expected.difference(&shown).map(|(id, _)| id.as_str()).collect();
        let unproven: Vec<_> = shown.difference(&expected).map(|(id, _)| id.as_str()).collect();
        return Err(denied(
            "items",
            format!("are not every {kind} the proven entries create: omitted {omitted:?}, not proven {unproven:?}"),
        ));
    }
    Ok(ProvenComplete {
        size: cp.size,
        map_root: map.map_root,
        lists: keys.iter().zip(&lists).map(|(k, l)| (k.encode(), l.len())).collect(),
        entries: both.len(),
        items: shown.len(),
    })
}

/// Check `resp`, the answer to GetSubject `kind` `id` with `complete`: as [`verify_complete`] 1–4 for the
/// one key `subject:<kind>:<id>`, so the entries given are every entry that names the subject; the item
/// shown must be created by one of them. `party_of_key` names the party of a signing key.
pub fn verify_complete_history(
    log: &StrictNoteVerifier,
    kind: SubjectKind,
    id: &str,
    resp: &pb::GetSubjectResponse,
    party_of_key: &dyn Fn(&str) -> Option<String>,
) -> Result<ProvenComplete> {
    let (cp, map, c) = open_proof(log, resp.read_at.as_ref(), resp.completeness.as_ref())?;
    let keys = [IndexKey::Subject { kind, id: id.to_string() }];
    let lists = check_lookups(&keys, &c.lookups, &map.map_root)?;
    let all = lists.concat();
    let statements = check_entries(&cp, &c.entries, &all, &keys, party_of_key)?;
    let item = resp.item.as_ref().ok_or_else(|| denied("item", "the answer shows no subject"))?;
    let created = statements
        .iter()
        .any(|(index, st)| *index == item.index && creates(&st.body).is_some_and(|c| c.kind == kind && c.id == id));
    if item.kind != kind.as_str() || item.id != id || (creates_kind(kind) && !created) {
        return Err(denied(
            "item",
            format!("{} {} is not created by an entry that names {kind} {id}", item.kind, item.id),
        ));
    }
    Ok(ProvenComplete {
        size: cp.size,
        map_root: map.map_root,
        lists: keys.iter().zip(&lists).map(|(k, l)| (k.encode(), l.len())).collect(),
        entries: all.len(),
        items: 1,
    })
}

/// Whether subjects of `kind` are created by a statement [`creates`] knows (tranches and FX rates are not).
fn creates_kind(kind: SubjectKind) -> bool {
    accord_domain::index::creating_kind(kind).is_some()
}

/// The answer's log checkpoint, signed by the log key, and its map checkpoint, signed by the log's index
/// key at exactly that log size and root.
fn open_proof<'a>(
    log: &StrictNoteVerifier,
    at: Option<&pb::ReadAt>,
    c: Option<&'a pb::Completeness>,
) -> Result<(VerifiedCheckpoint, MapCheckpoint, &'a pb::Completeness)> {
    let c = c.ok_or_else(|| denied("completeness", "the answer carries no proof of completeness"))?;
    let (cp, map) = open_map_at(log, at, &c.map_checkpoint)?;
    Ok((cp, map, c))
}

/// The checkpoint an answer was read at, signed by the log key, with the tree size and root the answer
/// states beside it.
pub fn open_read_at(log: &StrictNoteVerifier, at: &pb::ReadAt) -> Result<VerifiedCheckpoint> {
    let cp = open_checkpoint(at.checkpoint.as_bytes(), log)?;
    if cp.size != at.tree_size || cp.root.as_slice() != at.root_hash.as_slice() {
        return Err(denied("read_at", "tree_size or root_hash differ from the signed checkpoint"));
    }
    Ok(cp)
}

/// An answer's log checkpoint `at`, signed by the log key, and its map checkpoint `map_note`, signed by
/// the log's index key at exactly that log size and root.
pub fn open_map_at(
    log: &StrictNoteVerifier,
    at: Option<&pb::ReadAt>,
    map_note: &str,
) -> Result<(VerifiedCheckpoint, MapCheckpoint)> {
    let at = at.ok_or_else(|| denied("read_at", "the answer names no checkpoint"))?;
    let cp = open_read_at(log, at)?;
    let map = open_map_checkpoint(map_note.as_bytes(), &map_verifier(log))?;
    map.check_log(&cp)?;
    Ok((cp, map))
}

/// The entries given are exactly `want` (in order), each proven in the log's tree and filed under every
/// key by its statement (an inherited plan key excepted: the audit checks it). Returns their statements.
fn check_entries(
    cp: &VerifiedCheckpoint,
    entries: &[pb::ProvenEntry],
    want: &[u64],
    keys: &[IndexKey],
    party_of_key: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(u64, Statement)>> {
    let given: Vec<u64> = entries.iter().map(|e| e.index).collect();
    if given != want {
        let missing: Vec<_> = want.iter().filter(|i| !given.contains(i)).collect();
        let extra: Vec<_> = given.iter().filter(|i| !want.contains(i)).collect();
        return Err(denied(
            "completeness.entries",
            format!("are not the entries listed: missing {missing:?}, not listed {extra:?}, or out of order"),
        ));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (n, e) in entries.iter().enumerate() {
        let field = format!("completeness.entries[{n}]");
        merkle::verify_inclusion(e.index, cp.size, &merkle::leaf_hash(&e.leaf), &e.inclusion_proof, &cp.root)
            .map_err(|x| x.scope(&field))?;
        let statement = filed_statement(e.index, &e.leaf, keys, party_of_key).map_err(|x| x.scope(&field))?;
        out.push((e.index, statement));
    }
    Ok(out)
}

/// The statement of entry `index` (its `leaf`), listed under each of `keys`, checked to be filed under them
/// by its statement and its signers (an inherited plan key excepted: the audit checks it, docs/INDEX.md
/// §1.3); `party_of_key` names the party of a signing key.
fn filed_statement(
    index: u64,
    leaf: &[u8],
    keys: &[IndexKey],
    party_of_key: &dyn Fn(&str) -> Option<String>,
) -> Result<Statement> {
    let (statement, signers) = signed_by(leaf, party_of_key)?;
    check_filed(index, &statement, &signers, keys)?;
    Ok(statement)
}

/// The statement of a leaf and the parties that signed it (`party_of_key` names the party of a key).
pub fn signed_by(leaf: &[u8], party_of_key: &dyn Fn(&str) -> Option<String>) -> Result<(Statement, Vec<PartyId>)> {
    let (statement, keyids) = crate::proto::signed_statement_of_leaf(leaf).map_err(|x| denied("", x.message))?;
    let signers: Vec<PartyId> =
        keyids.iter().filter_map(|k| party_of_key(k)).filter_map(|p| PartyId::parse("party_id", &p).ok()).collect();
    Ok((statement, signers))
}

/// Entry `index`, listed under each of `keys`, is filed under them by its statement and its signers.
pub fn check_filed(index: u64, statement: &Statement, signers: &[PartyId], keys: &[IndexKey]) -> Result<()> {
    let filed = named_keys(statement, signers);
    let inherits_plan = plan_anchor(&statement.body).is_some();
    for key in keys {
        let plan_inherited = matches!(key, IndexKey::Plan(_)) && inherits_plan;
        if !plan_inherited && !filed.contains(key) {
            return Err(denied("", format!("entry {index} is listed under {} but its statement is not", key.encode())));
        }
    }
    Ok(())
}

/// Each expected key's lookup, in order, verified under `root`; returns the lists.
pub fn check_lookups(keys: &[IndexKey], lookups: &[pb::MapLookup], root: &[u8; 32]) -> Result<Vec<Vec<u64>>> {
    if lookups.len() != keys.len() {
        return Err(denied("completeness.lookups", format!("{} lookups for {} keys", lookups.len(), keys.len())));
    }
    let mut lists = Vec::with_capacity(keys.len());
    for (n, (key, l)) in keys.iter().zip(lookups).enumerate() {
        let field = format!("completeness.lookups[{n}]");
        if l.key != key.encode() {
            return Err(denied(field, format!("is for {:?}, not {:?}", l.key, key.encode())));
        }
        let proof = MapProof::decode(&l.proof).map_err(|e| denied(field.clone(), e.to_string()))?;
        let list = (!l.indices.is_empty()).then_some(l.indices.as_slice());
        vmap::verify(root, &key.key_hash(), list, &proof)
            .map_err(|e| denied(field.clone(), format!("{} does not verify under the map root: {e}", l.key)))?;
        lists.push(l.indices.clone());
    }
    Ok(lists)
}
