//! What the ledger keeps of its log in memory, shared by the writer and every reader: every stored tree
//! hash, and the entries' identities and leaf hashes by their first 8 bytes.
//!
//! Why (issue 14): looked up in SQLite, these cost a B-tree of random keys each that grows with the log
//! (two random-key indexes on `entries` wrote 12.8 KB per entry and doubled the sequencer's cost between
//! 100k and 1M entries), and every receipt and inclusion proof read its hashes through a read transaction.
//! In memory they cost 32 bytes per stored hash (about 2 per entry) and about 34 bytes per entry for each
//! map, are loaded at open from the append-only tables, and only ever grow.
//!
//! Visibility: the writer adds what a transaction appended only after its COMMIT ([`super::Writer::commit`]),
//! so a reader finds a hash, identity or leaf hash only once it is committed. Readers bound every lookup by
//! the published checkpoint's size, as before.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;

use crate::merkle::{Hash, HashError, HashReader};

/// Hashes per chunk of [`TreeHashes`]: 2 MiB. The array grows by whole chunks, so appending never copies
/// what is already there (a single vector would copy 64 MiB under the lock when it doubles at 1M entries).
const CHUNK: usize = 1 << 16;

/// Every stored hash of the tree (in `tlog` stored-hash order), in chunks that never move.
#[derive(Debug, Default)]
pub struct TreeHashes {
    chunks: Vec<Vec<Hash>>,
    len: u64,
}

impl TreeHashes {
    /// Number of stored hashes.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether no hash is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The stored hash at `index`.
    pub fn get(&self, index: u64) -> Option<Hash> {
        let i = usize::try_from(index).ok()?;
        self.chunks.get(i / CHUNK)?.get(i % CHUNK).copied()
    }
    /// Append hashes at the end.
    pub fn extend(&mut self, hashes: impl IntoIterator<Item = Hash>) {
        for h in hashes {
            match self.chunks.last_mut() {
                Some(c) if c.len() < CHUNK => c.push(h),
                _ => {
                    let mut c = Vec::with_capacity(CHUNK);
                    c.push(h);
                    self.chunks.push(c);
                }
            }
            self.len = self.len.saturating_add(1);
        }
    }
}

impl HashReader for TreeHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        indexes.iter().map(|&i| self.get(i).ok_or(HashError::IndexesNotInTree)).collect()
    }
}

/// A hasher for keys that already are uniformly distributed (the first 8 bytes of a SHA-256): hashing them
/// again with SipHash would cost more than the lookup.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed (write_u64); anything else is folded in, still correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The first 8 bytes of a hash as a key (big-endian), the same value the `entries` table stores.
pub fn prefix(h: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (to, from) in b.iter_mut().zip(h) {
        *to = *from;
    }
    u64::from_be_bytes(b)
}

/// 8-byte prefix → log index. Two hashes sharing a prefix (about one chance in 2^64 per pair) keep the
/// second in `more`; every hit is confirmed against the full hash by the caller.
#[derive(Debug, Default)]
pub struct PrefixMap {
    first: HashMap<u64, u64, BuildHasherDefault<PrefixHasher>>,
    more: Vec<(u64, u64)>,
}

impl PrefixMap {
    /// Remember that the entry at `index` has a hash starting with `key`.
    pub fn insert(&mut self, key: u64, index: u64) {
        if let Some(&had) = self.first.get(&key) {
            if had != index {
                self.more.push((key, index));
            }
        } else {
            self.first.insert(key, index);
        }
    }
    /// Every index whose hash starts with `key`, in the order they were added.
    pub fn candidates(&self, key: u64) -> impl Iterator<Item = u64> + '_ {
        self.first
            .get(&key)
            .copied()
            .into_iter()
            .chain(self.more.iter().filter(move |(k, _)| *k == key).map(|(_, i)| *i))
    }
    /// Forget `key` → `index` (the writer's undo of an uncommitted append).
    pub fn remove(&mut self, key: u64, index: u64) {
        if let Some(pos) = self.more.iter().rposition(|&(k, i)| k == key && i == index) {
            self.more.remove(pos);
        } else if self.first.get(&key) == Some(&index) {
            self.first.remove(&key);
            if let Some(pos) = self.more.iter().position(|&(k, _)| k == key) {
                let (_, i) = self.more.remove(pos);
                self.first.insert(key, i);
            }
        }
    }
    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.first.len().saturating_add(self.more.len())
    }
    /// Forget every key, keeping the table's capacity.
    pub fn clear(&mut self) {
        self.first.clear();
        self.more.clear();
    }
    /// Room for `n` more keys without growing.
    pub fn reserve(&mut self, n: usize) {
        self.first.reserve(n);
    }
}

/// The log in memory: tree hashes, identities and leaf hashes. `loaded` is false for a database opened
/// outside a running ledger (audits, tests), whose reads then go to SQLite.
#[derive(Debug, Default)]
pub struct LogMemory {
    pub(super) loaded: bool,
    pub(super) hashes: RwLock<TreeHashes>,
    pub(super) identities: RwLock<PrefixMap>,
    pub(super) leaves: RwLock<PrefixMap>,
}

/// What the log in memory costs, for the metrics and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    /// Stored tree hashes held.
    pub hashes: u64,
    /// Entries in the identity and leaf-hash maps (each).
    pub entries: u64,
    /// Approximate bytes held (hash chunks plus both maps' tables).
    pub bytes: u64,
}

impl LogMemory {
    /// Approximate memory held.
    pub fn usage(&self) -> MemoryUse {
        let hashes = crate::sync::read(&self.hashes);
        let ids = crate::sync::read(&self.identities);
        let chunk_bytes = (hashes.chunks.len() as u64).saturating_mul((CHUNK * 32) as u64);
        // A hashbrown slot of (u64, u64) is 16 bytes plus one control byte; capacity is what is allocated.
        let map_bytes = (ids.first.capacity() as u64).saturating_mul(17).saturating_mul(2);
        MemoryUse { hashes: hashes.len(), entries: ids.len() as u64, bytes: chunk_bytes.saturating_add(map_bytes) }
    }

    /// The stored hashes, read-locked for a proof: a [`HashReader`] that never touches SQLite.
    pub fn tree(&self) -> std::sync::RwLockReadGuard<'_, TreeHashes> {
        crate::sync::read(&self.hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_hashes_cross_chunks() {
        let mut t = TreeHashes::default();
        let n = CHUNK as u64 * 2 + 5;
        t.extend((0..n).map(|i| Hash([(i % 251) as u8; 32])));
        assert_eq!(t.len(), n);
        for i in [0, 1, CHUNK as u64 - 1, CHUNK as u64, n - 1] {
            assert_eq!(t.get(i), Some(Hash([(i % 251) as u8; 32])), "{i}");
        }
        assert_eq!(t.get(n), None);
        assert!(t.read_hashes(&[n]).is_err());
    }

    #[test]
    fn prefix_map_keeps_colliding_prefixes_and_undoes() {
        let mut m = PrefixMap::default();
        m.insert(7, 1);
        m.insert(7, 5);
        m.insert(9, 2);
        assert_eq!(m.candidates(7).collect::<Vec<_>>(), vec![1, 5]);
        m.remove(7, 1);
        assert_eq!(m.candidates(7).collect::<Vec<_>>(), vec![5]);
        m.remove(7, 5);
        assert_eq!(m.candidates(7).count(), 0);
        assert_eq!(m.candidates(9).collect::<Vec<_>>(), vec![2]);
        assert_eq!(m.len(), 1);
    }
}
