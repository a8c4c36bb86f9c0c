//! What the ledger keeps of its log in memory, shared by the writer and every reader: every stored tree
//! hash, and the entries' identities and leaf hashes by their first 8 bytes.
//!
//! Why (issue 14): looked up in SQLite, these cost a B-tree of random keys each that grows with the log
//! (two random-key indexes on `entries` wrote 12.8 KB per entry and doubled the sequencer's cost between
//! 100k and 1M entries), and every receipt and inclusion proof read its hashes through a read transaction.
//! In memory they cost 32 bytes per stored hash (about 2 per entry, 64 MiB at 1M entries) and 9 to 18
//! bytes per entry for each map (19 MiB each at 1M), are loaded at open from the append-only tables, and
//! only ever grow.
//!
//! Visibility: the writer adds what a transaction appended only after its COMMIT ([`super::Writer::commit`]),
//! so a reader finds a hash, identity or leaf hash only once it is committed. Readers bound every lookup by
//! the published checkpoint's size, as before.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;

use super::{db_err, StoreError};
use crate::merkle::{Hash, HashError, HashReader, RightEdge};

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

impl crate::merkle::StoredHashes for TreeHashes {
    fn stored_hash(&self, index: u64) -> Option<Hash> {
        self.get(index)
    }
}

impl HashReader for TreeHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        indexes.iter().map(|&i| self.get(i).ok_or(HashError::IndexesNotInTree)).collect()
    }
}

/// A hasher for keys that already are uniformly distributed (the first bytes of a SHA-256): hashing them
/// again with SipHash would cost more than the lookup.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u32 keys are hashed (write_u32); anything else is folded in, still correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u32(&mut self, v: u32) {
        // hashbrown takes the bucket from the low bits and the control byte from the top 7: spread the
        // 32 uniform bits over both.
        self.0 = u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The first 8 bytes of a hash as a key (big-endian), the value the `entries` table stores.
pub fn prefix(h: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (to, from) in b.iter_mut().zip(h) {
        *to = *from;
    }
    u64::from_be_bytes(b)
}

/// The map key of a hash's 8-byte prefix: its first 4 bytes.
fn short(prefix: u64) -> u32 {
    u32::try_from(prefix >> 32).unwrap_or_default()
}

type Map<V> = HashMap<u32, V, BuildHasherDefault<PrefixHasher>>;

/// Hash prefix → log index, 9 bytes a slot: the first 4 bytes of the hash map to a 32-bit index. Keys that
/// several entries share (at 1M entries about one lookup in 4,000 meets one) and indexes past 2^32 go to
/// `more`. Every candidate is confirmed against the full hash by the caller, so a shared key costs one
/// extra read, never a wrong answer.
#[derive(Debug, Default)]
pub struct PrefixMap {
    first: Map<u32>,
    more: Map<Vec<u64>>,
}

impl PrefixMap {
    /// Remember that the entry at `index` has a hash whose 8-byte prefix is `key`.
    pub fn insert(&mut self, key: u64, index: u64) {
        let k = short(key);
        match (self.first.get(&k), u32::try_from(index)) {
            (None, Ok(i)) => {
                self.first.insert(k, i);
            }
            _ => self.more.entry(k).or_default().push(index),
        }
    }
    /// Every index whose hash may start with `key`, in the order they were added.
    pub fn candidates(&self, key: u64) -> impl Iterator<Item = u64> + '_ {
        let k = short(key);
        self.first.get(&k).map(|&i| u64::from(i)).into_iter().chain(self.more.get(&k).into_iter().flatten().copied())
    }
    /// Forget `key` → `index` (the writer's undo of an uncommitted append).
    pub fn remove(&mut self, key: u64, index: u64) {
        let k = short(key);
        if let Some(list) = self.more.get_mut(&k) {
            if let Some(pos) = list.iter().rposition(|&i| i == index) {
                list.remove(pos);
                if list.is_empty() {
                    self.more.remove(&k);
                }
                return;
            }
        }
        if self.first.get(&k).map(|&i| u64::from(i)) == Some(index) {
            self.first.remove(&k);
            // Keep the invariant that `more` holds a key only when `first` does, when it fits.
            if let Some(list) = self.more.get_mut(&k) {
                if let Some(pos) = list.iter().position(|&i| u32::try_from(i).is_ok()) {
                    let i = list.remove(pos);
                    self.first.insert(k, u32::try_from(i).unwrap_or_default());
                }
                if list.is_empty() {
                    self.more.remove(&k);
                }
            }
        }
    }
    /// Number of indexes remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.first.len().saturating_add(self.more.values().map(Vec::len).sum())
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
    /// The right edge of the tree at the size proofs were last asked for (see [`LogMemory::right_edge`]).
    pub(super) edge: std::sync::Mutex<Option<std::sync::Arc<RightEdge>>>,
}

impl LogMemory {
    /// The stored hashes, read-locked for a proof: a [`HashReader`] that never touches SQLite.
    pub fn tree(&self) -> std::sync::RwLockReadGuard<'_, TreeHashes> {
        crate::sync::read(&self.hashes)
    }

    /// The right edge of the tree of `size` leaves ([`RightEdge`]: the hashes every audit path in that tree
    /// ends with), computed from `tree` on the first proof at a new size and kept until proofs move to
    /// another size. None when `tree` does not reach `size`.
    pub fn right_edge(&self, size: u64, tree: &TreeHashes) -> Option<std::sync::Arc<RightEdge>> {
        if let Some(e) = crate::sync::lock(&self.edge).as_ref().filter(|e| e.size() == size) {
            return Some(e.clone());
        }
        // Computed outside the lock: concurrent proofs at a new size may each compute it once.
        let e = std::sync::Arc::new(RightEdge::new(size, tree).ok()?);
        *crate::sync::lock(&self.edge) = Some(e.clone());
        Some(e)
    }
}

/// Load the log of the database at `path` into memory, on a read-only connection of its own (so that the
/// ledger can run `quick_check` on its writer meanwhile): every stored hash, and the identity and leaf-hash
/// prefix of each of the `size` entries. Refuses a database whose tables disagree with `size` (DATA_LOSS
/// naming the table).
pub fn load_memory(path: &std::path::Path, size: u64) -> super::Result<LogMemory> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err)?;
    let hashes = load_hashes(&conn, size)?;
    let capacity = usize::try_from(size).unwrap_or(usize::MAX);
    let (mut ids, mut leaves) = (PrefixMap::default(), PrefixMap::default());
    ids.reserve(capacity);
    leaves.reserve(capacity);
    let mut st = conn
        .prepare("SELECT idx, identity_key FROM entries INDEXED BY entries_idx_identity ORDER BY idx")
        .map_err(db_err)?;
    let mut rows = st.query([]).map_err(db_err)?;
    let mut next = 0u64;
    while let Some(r) = rows.next().map_err(db_err)? {
        let index: u64 = r.get(0).map_err(db_err)?;
        if index != next {
            return Err(StoreError::corrupt("entries", next, "is missing"));
        }
        ids.insert(u64::from_be_bytes(r.get::<_, i64>(1).map_err(db_err)?.to_be_bytes()), index);
        let leaf = hashes
            .get(crate::merkle::stored_hash_index(0, index))
            .ok_or_else(|| StoreError::corrupt("tree_hashes", index, "the leaf hash is missing"))?;
        leaves.insert(prefix(&leaf.0), index);
        next = next.saturating_add(1);
    }
    if next != size {
        return Err(StoreError::corrupt("entries", next, format!("the log holds {next} entries, not {size}")));
    }
    Ok(LogMemory {
        loaded: true,
        hashes: RwLock::new(hashes),
        identities: RwLock::new(ids),
        leaves: RwLock::new(leaves),
        edge: Default::default(),
    })
}

/// Every stored hash, in order, checked: ids without gaps, 32 bytes each, as many as a tree of `size` has.
fn load_hashes(conn: &rusqlite::Connection, size: u64) -> super::Result<TreeHashes> {
    let mut hashes = TreeHashes::default();
    let mut st = conn.prepare("SELECT id, hash FROM tree_hashes ORDER BY id").map_err(db_err)?;
    let mut rows = st.query([]).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let id: u64 = r.get(0).map_err(db_err)?;
        if id != hashes.len() {
            return Err(StoreError::corrupt("tree_hashes", hashes.len(), "is missing"));
        }
        let h = r.get_ref(1).map_err(db_err)?.as_blob().map_err(|e| db_err(e.into()))?;
        let h = <[u8; 32]>::try_from(h)
            .map_err(|_| StoreError::corrupt("tree_hashes", id, format!("hash has {} bytes, not 32", h.len())))?;
        hashes.extend([Hash(h)]);
    }
    let want = crate::merkle::stored_hash_count(size);
    if hashes.len() != want {
        return Err(StoreError::corrupt(
            "tree_hashes",
            hashes.len(),
            format!("holds {} hashes; a tree of {size} entries has {want}", hashes.len()),
        ));
    }
    Ok(hashes)
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
        // Keys share their map key when their first 4 bytes agree.
        let (a, b, c) = (7u64 << 32 | 1, 7u64 << 32 | 2, 9u64 << 32);
        let big = u64::from(u32::MAX) + 10;
        m.insert(a, 1);
        m.insert(b, 5);
        m.insert(c, 2);
        m.insert(a, big);
        assert_eq!(m.candidates(a).collect::<Vec<_>>(), vec![1, 5, big]);
        assert_eq!(m.candidates(b).collect::<Vec<_>>(), vec![1, 5, big], "a shared key lists every candidate");
        m.remove(a, 1);
        assert_eq!(m.candidates(a).collect::<Vec<_>>(), vec![5, big]);
        m.remove(a, big);
        m.remove(b, 5);
        assert_eq!(m.candidates(a).count(), 0);
        assert_eq!(m.candidates(c).collect::<Vec<_>>(), vec![2]);
        assert_eq!(m.len(), 1);
        m.clear();
        assert_eq!(m.candidates(c).count(), 0);
    }
}
