//! The read side of a running ledger: inclusion and consistency proofs, stored checkpoints, and the
//! witness cosignatures collected for them. Reads use the read-only pool and never wait for the writer.
use super::Ledger;
use crate::error::{Error, Result};
use crate::merkle;
use crate::store::CheckpointRow;

impl Ledger {
    /// Keep a witness's cosignature line for the checkpoint of `size` (verified by the caller).
    pub fn add_cosignature(&self, size: u64, witness: &str, line: &str) {
        let mut c = crate::sync::lock(&self.cosignatures);
        c.entry(size).or_default().insert(witness.to_string(), line.trim_end().to_string());
        while c.len() > 64 {
            c.pop_first();
        }
        crate::sync::lock(&self.witness_seen).insert(witness.to_string(), self.clock.now());
    }
    /// The checkpoint note of `size` with the witness cosignatures collected for it appended.
    pub fn cosigned_note(&self, size: u64, note: &str) -> String {
        let c = crate::sync::lock(&self.cosignatures);
        let mut out = note.to_string();
        for line in c.get(&size).into_iter().flat_map(|m| m.values()) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
    /// When each witness last returned a cosignature (Unix ms).
    pub fn witness_seen(&self) -> Vec<(String, i64)> {
        crate::sync::lock(&self.witness_seen).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves (blocking).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>> {
        Ok(self.inclusion_proofs(&[index], size)?.pop().unwrap_or_default())
    }

    /// Inclusion proofs of several leaves in the tree of `size` leaves, reading each stored hash once.
    pub fn inclusion_proofs(&self, indexes: &[u64], size: u64) -> Result<Vec<Vec<[u8; 32]>>> {
        let latest = self.latest().size;
        if size > latest {
            return Err(Error::not_found("tree_size", format!("the tree has only {latest} entries, not {size}")));
        }
        if let Some(index) = indexes.iter().find(|i| **i >= size) {
            return Err(Error::invalid("index", format!("{index} is not below tree_size {size}")));
        }
        // From the tree hashes in memory: no database read, one read lock for the whole batch.
        let tree = self.mem.tree();
        indexes
            .iter()
            .map(|&index| {
                merkle::prove_record(size, index, &*tree)
                    .map(|p| p.into_iter().map(|h| h.0).collect())
                    .map_err(|e| Error::internal(format!("inclusion proof: {e}")))
            })
            .collect()
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
                let leaves = self.read(|v| v.leaves(span.start, span.end))?;
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
