//! The verifiable index on the server (issue 17, docs/INDEX.md): the map from each key (party, plan,
//! subject, statement kind) to the complete list of log indices filed under it, kept in memory beside the
//! log, and its signed map checkpoints.
//!
//! The map is derived state: built from the log alone (each entry's keys by
//! [`accord_domain::index::keys`]), so it is rebuilt at start and whoever holds the log can recompute
//! every root it signs. It never runs on the sequencer's critical path: the `accord-index` thread follows
//! the published checkpoints, and a complete query first brings it to the checkpoint it reads at.
use std::sync::Mutex;

use accord_domain::ids::{PartyId, PlanId};
use accord_domain::index::{creating_kind, owner_named, IndexKey};
use accord_tlog::mapcheckpoint::MapSigner;
use accord_tlog::vmap::{MapProof, VerifiableMap};

use crate::domain::book::SubjectKind;
use crate::domain::Governance;
use crate::error::{Error, Result};
use crate::pb;
use crate::store::EntryRow;

/// What the index reads from the log: stored entries, the keys' parties, and the plan of a subject (the
/// ledger's read view implements it).
pub trait Log {
    /// At most `limit` entries from `start`, below `end`, in log order.
    fn entries(&self, start: u64, end: u64, limit: usize) -> Result<Vec<EntryRow>>;
    /// The governance state (which party each key belongs to).
    fn governance(&self) -> Result<Governance>;
    /// The plan of a subject as projected (empty for none); `None` when there is no such subject.
    fn plan_of(&self, kind: accord_domain::codes::SubjectKind, id: &str) -> Result<Option<String>>;
}

pub mod book;
pub mod verify;

/// Entries read from the database per step while catching up.
const STEP: usize = 4096;

/// A map committed and signed at one log checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapCommitted {
    /// The log size (and the map's next index).
    pub size: u64,
    /// The log root at that size.
    pub log_root: [u8; 32],
    /// The map root.
    pub map_root: [u8; 32],
    /// The signed map checkpoint (C2SP signed note, docs/INDEX.md §7).
    pub note: String,
}

/// One key's complete list with its proof under the committed map root.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The key.
    pub key: IndexKey,
    /// Its log indices, ascending; empty when the key has no entry (the proof then proves absence).
    pub indices: Vec<u64>,
    /// The proof.
    pub proof: MapProof,
}

#[derive(Debug, Default)]
struct State {
    map: VerifiableMap,
    committed: Option<MapCommitted>,
}

/// The index of one ledger.
#[derive(Debug)]
pub struct Index {
    state: Mutex<State>,
    signer: MapSigner,
    /// Whether a reader has asked for the map since the ledger opened. Until then nothing builds it, so a
    /// restart does not spend a core rebuilding a map nobody reads (25 s of CPU at 1M entries, beside the
    /// first requests after a restart); the first complete answer builds it, the follower then keeps it.
    wanted: std::sync::atomic::AtomicBool,
}

impl Index {
    /// An empty index whose map checkpoints `signer` signs; [`Index::advance`] fills it from the log.
    pub fn new(signer: MapSigner) -> Self {
        Self { state: Mutex::new(State::default()), signer, wanted: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Whether a reader has used the map since the ledger opened (the follower keeps it current only then).
    pub fn wanted(&self) -> bool {
        self.wanted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The latest committed map, if any.
    pub fn committed(&self) -> Option<MapCommitted> {
        crate::sync::lock(&self.state).committed.clone()
    }

    /// Add a witness's cosignature line to the committed map checkpoint of log size `size`: appended to
    /// its note's signature lines (served with every complete answer at that size) when the map is still
    /// at `size` and the line is not there yet. Returns whether it was added. The caller has verified the
    /// line with the witness's key over this note's body; lines live in memory only (a restarted ledger
    /// rebuilds the same map, and its witnesses cosign it again).
    pub fn add_cosignature(&self, size: u64, line: &str) -> bool {
        let line = line.trim_end_matches('\n');
        let mut st = crate::sync::lock(&self.state);
        let Some(c) = st.committed.as_mut().filter(|c| c.size == size) else { return false };
        if line.is_empty() || c.note.lines().any(|l| l == line) {
            return false;
        }
        if !c.note.ends_with('\n') {
            c.note.push('\n');
        }
        c.note.push_str(line);
        c.note.push('\n');
        true
    }

    /// Bring the map to the checkpoint the read view `r` reads at (`size`, `root`): file entries
    /// `next..size` in log order, commit, and sign. A map already at `size` is left as it is; one past it
    /// gives `Ok(None)` (a newer read view is needed to answer at the map's size).
    pub fn advance(&self, r: &dyn Log, size: u64, root: &[u8; 32]) -> Result<Option<MapCommitted>> {
        let mut st = crate::sync::lock(&self.state);
        self.advance_locked(&mut st, r, size, root)
    }

    fn advance_locked(&self, st: &mut State, r: &dyn Log, size: u64, root: &[u8; 32]) -> Result<Option<MapCommitted>> {
        if let Some(c) = &st.committed {
            if c.size > size {
                return Ok(None);
            }
            if c.size == size {
                return Ok(Some(c.clone()));
            }
        }
        file_entries(&mut st.map, r, size)?;
        let map_root = st.map.commit();
        let note = self.signer.sign(size, root, &map_root);
        let c = MapCommitted { size, log_root: *root, map_root, note };
        st.committed = Some(c.clone());
        Ok(Some(c))
    }

    /// The complete lists of `keys` with their proofs, at exactly the checkpoint the read view reads at
    /// (`size`, `root`), bringing the map there first. `Ok(None)` when the map is already past it.
    pub fn lookup(
        &self,
        r: &dyn Log,
        size: u64,
        root: &[u8; 32],
        keys: &[IndexKey],
    ) -> Result<Option<(MapCommitted, Vec<Lookup>)>> {
        self.wanted.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut st = crate::sync::lock(&self.state);
        let Some(c) = self.advance_locked(&mut st, r, size, root)? else { return Ok(None) };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let hash = key.key_hash();
            let proof = st.map.prove(&hash).map_err(|e| Error::internal(format!("index proof: {e}")))?;
            let indices = st.map.get(&hash).map(<[u64]>::to_vec).unwrap_or_default();
            out.push(Lookup { key: key.clone(), indices, proof });
        }
        Ok(Some((c, out)))
    }
}

/// File the entries `map.next_index()..size` of `log` in `map`, in log order (not committed).
pub fn file_entries(map: &mut VerifiableMap, log: &dyn Log, size: u64) -> Result<()> {
    if map.next_index() >= size {
        return Ok(());
    }
    let gov = log.governance()?;
    while map.next_index() < size {
        let rows = log.entries(map.next_index(), size, STEP)?;
        if rows.is_empty() {
            return Err(Error::internal(format!("index: no entries from {} below {size}", map.next_index())));
        }
        for row in rows {
            let keys = entry_keys(log, &gov, &row)?;
            map.append_entry(row.index, keys.iter().map(IndexKey::key_hash))
                .map_err(|e| Error::internal(format!("index: {e}")))?;
        }
    }
    Ok(())
}

/// The map roots of `log` at each of `sizes` (an audit's recomputation, from entry 0).
pub fn roots_at(
    log: &dyn Log,
    sizes: &std::collections::BTreeSet<u64>,
) -> Result<std::collections::BTreeMap<u64, [u8; 32]>> {
    let mut map = VerifiableMap::new();
    let mut roots = std::collections::BTreeMap::new();
    for &size in sizes {
        file_entries(&mut map, log, size)?;
        roots.insert(size, map.commit());
    }
    Ok(roots)
}

/// The keys of one stored entry (docs/INDEX.md §1): its statement, its signers (parties of the keys that
/// signed it; a key belongs to one party for ever), and for kinds that do not name their plan the plan of
/// the anchor subject as projected (which no later entry changes).
pub fn entry_keys(r: &dyn Log, gov: &Governance, row: &EntryRow) -> Result<Vec<IndexKey>> {
    let (statement, keyids) = crate::proto::signed_statement_of_leaf(&row.leaf)
        .map_err(|e| Error::corrupt("entries", row.index, e.message))?;
    let mut signers: Vec<PartyId> = keyids
        .iter()
        .filter_map(|k| gov.keys.get(k))
        .filter_map(|k| PartyId::parse("party_id", &k.party_id).ok())
        .collect();
    signers.sort();
    signers.dedup();
    let mut failed = None;
    let keys = accord_domain::index::keys(&statement, &signers, |kind, id| match r.plan_of(kind, id) {
        Ok(plan) => plan.and_then(|p| PlanId::parse("plan_id", &p).ok()),
        Err(e) => {
            failed = Some(e);
            None
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(keys),
    }
}

/// The keys a complete list of `kind` with the request's filters is proven by: the filter's key (the
/// party when given, else the plan), then the creating kind's. Refuses a kind or filter a complete answer
/// cannot prove, naming the field.
pub fn complete_keys(kind: SubjectKind, q: &pb::ListRequest) -> Result<Vec<IndexKey>> {
    let creating = creating_kind(kind).ok_or_else(|| {
        Error::invalid(
            "kind",
            format!(
                "a complete list of {kind} subjects is not available (they are not created by statements of one kind)"
            ),
        )
    })?;
    let unsupported = [
        ("status", q.status.is_empty()),
        ("goal_id", q.goal_id.is_empty()),
        ("pledge_kind", q.pledge_kind.is_empty()),
        ("from_date", q.from_date.is_empty()),
        ("to_date", q.to_date.is_empty()),
        ("commitment_id", q.commitment_id.is_empty()),
        ("transaction_type", q.transaction_type == 0),
        ("recipient_id", q.recipient_id.is_empty()),
        ("page_token", q.page_token.is_empty()),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, unset)| !unset) {
        return Err(Error::invalid(
            *field,
            "a complete answer is proven for the plan_id and party_id filters only, on one page: filter the proven list yourself",
        ));
    }
    let mut keys = Vec::with_capacity(2);
    if !q.party_id.is_empty() {
        if !owner_named(kind) {
            return Err(Error::invalid(
                "party_id",
                format!("a complete list of {kind} subjects cannot be filtered by party (their creating statement does not name the owner)"),
            ));
        }
        keys.push(IndexKey::Party(PartyId::parse("party_id", &q.party_id)?));
    } else if !q.plan_id.is_empty() {
        keys.push(IndexKey::Plan(PlanId::parse("plan_id", &q.plan_id)?));
    }
    keys.push(IndexKey::Kind(creating));
    Ok(keys)
}

/// The entries in every list (the lists are ascending: a merge).
pub fn intersect(lists: &[Vec<u64>]) -> Vec<u64> {
    let Some((first, rest)) = lists.split_first() else { return Vec::new() };
    first.iter().copied().filter(|i| rest.iter().all(|l| l.binary_search(i).is_ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_tlog::cosign::{split_note, CosignatureVerifier, Cosigner};
    use accord_tlog::mapcheckpoint::open_map_checkpoint;
    use accord_tlog::note::LogSigner;
    use ed25519_dalek::SigningKey;

    #[test]
    fn cosignature_lines_join_the_committed_note_once_and_only_at_its_size() {
        let log = LogSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let index = Index::new(MapSigner::for_log(&log).unwrap());
        let witness = Cosigner::new("w.example", SigningKey::from_bytes(&[2; 32]));
        let wkey = CosignatureVerifier::from_verifier_key(&witness.verifier_key()).unwrap();
        let note = index.signer.sign(3, &[1; 32], &[2; 32]);
        let line = witness.cosign(split_note(&note).unwrap().0, 5);
        assert!(!index.add_cosignature(3, &line), "no map committed yet");
        crate::sync::lock(&index.state).committed =
            Some(MapCommitted { size: 3, log_root: [1; 32], map_root: [2; 32], note: note.clone() });
        assert!(!index.add_cosignature(4, &line), "another size");
        assert!(index.add_cosignature(3, &line));
        assert!(!index.add_cosignature(3, &line), "already there");
        let served = index.committed().unwrap().note;
        assert_eq!(served, format!("{note}{line}"));
        assert!(wkey.verify_note(&served).is_some());
        open_map_checkpoint(served.as_bytes(), index.signer.verifier()).expect("still opens with the map key");
    }
}
