//! The read side of a running ledger: inclusion and consistency proofs, stored checkpoints, and the
//! witness cosignatures stored for them. Reads use the read-only pool and never wait for the writer; a
//! cosignature is written through the sequencer (the one write connection) and kept once committed.
use std::collections::BTreeMap;

use super::Ledger;
use crate::error::{Error, Kind, Result};
use crate::merkle;
use crate::store::{CheckpointRow, CosignatureRow};

/// How many cosigned tree sizes the ledger keeps in memory; older ones are read from the database.
pub(super) const RECENT_COSIGNED_SIZES: usize = 64;

/// The witness cosignature lines of recent tree sizes: for every size from `floor` on, all the lines the
/// database holds (a size absent here has none); sizes below `floor` are read from the database.
#[derive(Debug, Default)]
pub(super) struct CosignatureCache {
    by_size: BTreeMap<u64, BTreeMap<String, String>>,
    floor: u64,
}

/// When each witness last cosigned, from the recent stored cosignatures loaded at open (a bounded read: a
/// witness silent for longer starts unknown, as before its first cosignature).
pub(super) fn last_seen(rows: &[CosignatureRow]) -> BTreeMap<String, i64> {
    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        let at = seen.entry(r.witness.clone()).or_insert(r.received_ms);
        *at = (*at).max(r.received_ms);
    }
    seen
}

impl CosignatureCache {
    /// The cache over the rows [`crate::store::Writer::recent_cosignatures`] loaded at open (every stored
    /// cosignature of the [`RECENT_COSIGNED_SIZES`] largest cosigned sizes).
    pub(super) fn loaded(rows: Vec<CosignatureRow>) -> Self {
        let mut c = Self::default();
        for r in rows {
            c.by_size.entry(r.size).or_default().entry(r.witness).or_insert(r.line);
        }
        if c.by_size.len() >= RECENT_COSIGNED_SIZES {
            c.floor = c.by_size.keys().next().copied().unwrap_or(0);
        }
        c
    }
    /// Keep a stored line (the first one stored for its size and witness stays, as in the database).
    fn insert(&mut self, size: u64, witness: &str, line: &str) {
        self.by_size.entry(size).or_default().entry(witness.to_string()).or_insert_with(|| line.to_string());
        while self.by_size.len() > RECENT_COSIGNED_SIZES {
            if let Some((evicted, _)) = self.by_size.pop_first() {
                self.floor = self.floor.max(evicted.saturating_add(1));
            }
        }
    }
    /// The lines of `size` by witness, or None when they must be read from the database.
    fn get(&self, size: u64) -> Option<Vec<(String, String)>> {
        (size >= self.floor)
            .then(|| self.by_size.get(&size).into_iter().flatten().map(|(w, l)| (w.clone(), l.clone())).collect())
    }
}

impl Ledger {
    /// Store a witness's cosignature line for the checkpoint of `size` (verified by the caller) through the
    /// sequencer, and keep it once durable. `witness` names the witness's key: its name and key ID,
    /// `name+hex8` (the start of its verifier key). A repeated (size, witness) keeps the first line stored.
    /// Returns whether it was stored; a failure is logged and counted
    /// (`accord_cosignature_store_failures_total`).
    pub async fn add_cosignature(&self, size: u64, witness: &str, line: &str) -> bool {
        let line = line.trim_end();
        let row = CosignatureRow {
            size,
            witness: witness.to_string(),
            line: line.to_string(),
            received_ms: self.clock.now(),
        };
        let received = row.received_ms;
        if let Err(e) = self.store_cosignatures(vec![row]).await {
            tracing::warn!(witness, size, error = %e, "storing a witness cosignature failed; it is not served");
            crate::metrics::metrics().cosignature_store_failed();
            return false;
        }
        crate::sync::lock(&self.cosignatures).insert(size, witness, line);
        crate::sync::lock(&self.witness_seen).insert(witness.to_string(), received);
        true
    }

    /// Hand cosignature rows to the sequencer, which stores them in its next transaction; wait for the commit.
    async fn store_cosignatures(&self, rows: Vec<CosignatureRow>) -> Result<()> {
        if let super::WriteState::Stopped(why) = &*self.shared.write_state.borrow() {
            return Err(Error::new(Kind::Unavailable, "", format!("the ledger takes no writes: {why}")));
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        {
            let guard = crate::sync::lock(&self.tx);
            let tx = guard.as_ref().ok_or_else(|| Error::new(Kind::Unavailable, "", super::SHUTTING_DOWN))?;
            tx.try_send(super::sequencer::Job { items: Vec::new(), cosignatures: rows, reply, check: None })
                .map_err(|e| Error::new(Kind::Unavailable, "", format!("the sequencer cannot take it: {e}")))?;
        }
        rx.await.map_err(|_| Error::new(Kind::Unavailable, "", "the sequencer stopped before answering"))?.map(drop)
    }

    /// The stored cosignature lines of the checkpoint of `size`, by witness: from memory for recent sizes,
    /// else from the database (a failed read is logged and gives none).
    fn cosignature_lines(&self, size: u64) -> Vec<(String, String)> {
        if let Some(lines) = crate::sync::lock(&self.cosignatures).get(size) {
            return lines;
        }
        match self.readers.with(|r| r.cosignatures_between(size, size)) {
            Ok(rows) => rows.into_iter().map(|r| (r.witness, r.line)).collect(),
            Err(e) => {
                tracing::warn!(size, error = %e, "reading stored cosignatures");
                Vec::new()
            }
        }
    }

    /// Whether a cosignature of `witness` for the checkpoint of `size` is stored.
    pub fn has_cosignature(&self, size: u64, witness: &str) -> bool {
        self.cosignature_lines(size).iter().any(|(w, _)| w == witness)
    }

    /// The checkpoint note of `size` with the stored witness cosignatures for it appended.
    pub fn cosigned_note(&self, size: u64, note: &str) -> String {
        let mut out = note.to_string();
        for (_, line) in self.cosignature_lines(size) {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// At most `limit` stored checkpoints from tree size `start` on, in size order, each note with its
    /// stored witness cosignatures appended (blocking).
    pub fn cosigned_checkpoints(&self, start: u64, limit: usize) -> Result<Vec<CheckpointRow>> {
        let mut rows = self.readers.with(|r| r.checkpoints_from(start, limit))?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.size), rows.last().map(|r| r.size)) else {
            return Ok(rows);
        };
        let mut lines: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for c in self.readers.with(|r| r.cosignatures_between(first, last))? {
            lines.entry(c.size).or_default().push(c.line);
        }
        for row in &mut rows {
            for line in lines.remove(&row.size).into_iter().flatten() {
                row.note.push_str(&line);
                row.note.push('\n');
            }
        }
        Ok(rows)
    }

    /// When each witness last returned a cosignature (Unix ms).
    pub fn witness_seen(&self) -> Vec<(String, i64)> {
        crate::sync::lock(&self.witness_seen).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves (blocking).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>> {
        self.check_proof_leaves(&[index], size)?;
        let tree = self.mem.tree();
        prove(&tree, self.mem.right_edge(size, &tree).as_deref(), index, size)
    }

    /// Inclusion proofs of several leaves in the tree of `size` leaves.
    pub fn inclusion_proofs(&self, indexes: &[u64], size: u64) -> Result<Vec<Vec<[u8; 32]>>> {
        self.check_proof_leaves(indexes, size)?;
        // From the tree hashes in memory: no database read, one read lock for the whole batch.
        let tree = self.mem.tree();
        let edge = self.mem.right_edge(size, &tree);
        indexes.iter().map(|&index| prove(&tree, edge.as_deref(), index, size)).collect()
    }

    /// NOT_FOUND for a size past the published tree, INVALID_ARGUMENT for a leaf not below the size.
    fn check_proof_leaves(&self, indexes: &[u64], size: u64) -> Result<()> {
        let latest = self.latest().size;
        if size > latest {
            return Err(Error::not_found("tree_size", format!("the tree has only {latest} entries, not {size}")));
        }
        if let Some(index) = indexes.iter().find(|i| **i >= size) {
            return Err(Error::invalid("index", format!("{index} is not below tree_size {size}")));
        }
        Ok(())
    }

    /// Consistency proof between two sizes (blocking).
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>> {
        let latest = self.latest().size;
        if to > latest {
            return Err(Error::not_found("to_size", format!("the tree has only {latest} entries, not {to}")));
        }
        if from > to {
            return Err(Error::invalid("from_size", format!("{from} is larger than to_size {to}")));
        }
        if from == 0 || from == to {
            return Ok(Vec::new());
        }
        merkle::prove_tree(to, from, &*self.mem.tree())
            .map(|p| p.into_iter().map(|h| h.0).collect())
            .map_err(|e| Error::internal(format!("consistency proof: {e}")))
    }

    /// The stored checkpoint of exactly `size` (blocking).
    pub fn checkpoint(&self, size: u64) -> Result<CheckpointRow> {
        let latest = self.latest();
        if size == latest.size {
            return Ok(CheckpointRow { size, root: latest.root, note: latest.note.to_string() });
        }
        self.readers.with(|r| r.checkpoint(size))?.ok_or_else(|| {
            Error::not_found("tree_size", format!("no checkpoint of size {size} is stored (latest is {})", latest.size))
        })
    }
}

impl Ledger {
    /// The contents of a C2SP tlog-tiles tile at the latest published checkpoint, or None when that tree
    /// does not have it (yet). Hash tiles are copied from the stored hashes in memory; entry bundles are
    /// the stored leaves, each length-prefixed. Blocking (an entry bundle reads the database).
    pub fn tile(&self, tile: &accord_tlog::tiles::TilePath) -> Result<Option<Vec<u8>>> {
        use accord_tlog::tiles::{entry_bundle, hash_tile, TilePath};
        let size = self.latest().size;
        if !tile.exists_at(size) {
            return Ok(None);
        }
        match tile {
            TilePath::Hashes { .. } => {
                hash_tile(tile, &*self.mem.tree()).map(Some).map_err(|e| Error::internal(format!("tile {tile}: {e}")))
            }
            TilePath::Entries { .. } => {
                let span = tile.span();
                let leaves = self.read_log(|v| v.leaves(span.start, span.end))?;
                if leaves.len() as u64 != span.end.saturating_sub(span.start) {
                    return Err(Error::corrupt(
                        "entries",
                        format!("{}..{}", span.start, span.end),
                        format!("in the signed tree, but only {} of them are stored", leaves.len()),
                    ));
                }
                entry_bundle(leaves.iter().map(Vec::as_slice))
                    .map(Some)
                    .map_err(|e| Error::corrupt("entries", format!("{}..{}", span.start, span.end), e))
            }
        }
    }
}

/// The audit path of leaf `index` in the tree of `size` leaves, from the stored hashes in memory and the
/// tree's right edge at that size (one allocation, the proof; no hashing).
fn prove(
    tree: &crate::store::TreeHashes,
    edge: Option<&merkle::RightEdge>,
    index: u64,
    size: u64,
) -> Result<Vec<[u8; 32]>> {
    merkle::inclusion_proof_with(size, index, tree, edge).map_err(|e| Error::internal(format!("inclusion proof: {e}")))
}
