//! Stored tree hashes, and the cache of upper levels shared by every reader.

use rusqlite::Connection;

use super::*;

/// [`HashReader`] over the `tree_hashes` table.
#[derive(Debug, Clone, Copy)]
pub struct SqlHashes<'a>(pub(super) &'a Connection);

impl HashReader for SqlHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        let mut st = self
            .0
            .prepare_cached("SELECT hash FROM tree_hashes WHERE id = ?1")
            .map_err(|_| HashError::IndexesNotInTree)?;
        indexes
            .iter()
            .map(|&i| {
                let v: Vec<u8> = st.query_row([i], |r| r.get(0)).map_err(|_| HashError::IndexesNotInTree)?;
                <[u8; 32]>::try_from(v.as_slice()).map(Hash).map_err(|_| HashError::MalformedHash)
            })
            .collect()
    }
}

/// Stored hashes of the upper tree levels, shared by all readers. Stored hashes never change once written,
/// so caching them is always correct.
///
/// A B-tree map, not a hash map: it grows by one small node at a time, so memory follows the number of
/// cached hashes (about 50 bytes each). A hash map doubles its table when it fills, and near the bound
/// below that is a 40 MiB step in RSS and a copy of the whole table under the write lock.
#[derive(Debug, Default)]
pub struct HashCache {
    pub(super) map: std::sync::RwLock<std::collections::BTreeMap<u64, Hash>>,
}

impl HashCache {
    /// Lowest tree level kept in memory (level 2 and up: a quarter of all stored hashes), so a proof reads
    /// only its two lowest levels from SQLite.
    const MIN_LEVEL: u8 = 2;
    /// Upper bound on cached hashes (about 50 MiB).
    const MAX_ENTRIES: usize = 1 << 20;
}

/// [`HashReader`] over `tree_hashes` through the shared [`HashCache`].
#[derive(Debug, Clone, Copy)]
pub struct CachedHashes<'a> {
    pub(super) db: SqlHashes<'a>,
    pub(super) cache: &'a HashCache,
}

impl HashReader for CachedHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        let mut out = Vec::with_capacity(indexes.len());
        let mut fresh = Vec::new();
        {
            let map = crate::sync::read(&self.cache.map);
            for &i in indexes {
                match map.get(&i) {
                    Some(h) => out.push(*h),
                    None => {
                        let h = self.db.read_hashes(&[i])?.into_iter().next().ok_or(HashError::IndexesNotInTree)?;
                        if crate::merkle::split_stored_hash_index(i).0 >= HashCache::MIN_LEVEL {
                            fresh.push((i, h));
                        }
                        out.push(h);
                    }
                }
            }
        }
        if !fresh.is_empty() {
            let mut map = crate::sync::write(&self.cache.map);
            if map.len().saturating_add(fresh.len()) <= HashCache::MAX_ENTRIES {
                map.extend(fresh);
            }
        }
        Ok(out)
    }
}
