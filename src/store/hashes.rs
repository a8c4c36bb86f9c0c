//! Stored tree hashes: the `tree_hashes` table, and readers over the log in memory ([`LogMemory`]).

use rusqlite::Connection;

use super::memory::LogMemory;
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

/// [`HashReader`] of a reader: the committed hashes in memory when the ledger loaded them, else the
/// `tree_hashes` table (a database opened outside a running ledger).
#[derive(Debug, Clone, Copy)]
pub struct ReaderHashes<'a> {
    pub(super) mem: &'a LogMemory,
    pub(super) db: SqlHashes<'a>,
}

impl HashReader for ReaderHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        if self.mem.loaded {
            self.mem.tree().read_hashes(indexes)
        } else {
            self.db.read_hashes(indexes)
        }
    }
}

/// [`HashReader`] of the writer: the committed hashes and those its open transaction appended.
#[derive(Debug, Clone, Copy)]
pub struct WriterHashes<'a> {
    pub(super) mem: &'a LogMemory,
    pub(super) pending: &'a [Hash],
    pub(super) db: SqlHashes<'a>,
}

impl HashReader for WriterHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, HashError> {
        if !self.mem.loaded {
            return self.db.read_hashes(indexes);
        }
        let tree = self.mem.tree();
        let base = tree.len();
        indexes
            .iter()
            .map(|&i| match i.checked_sub(base) {
                None => tree.get(i),
                Some(p) => usize::try_from(p).ok().and_then(|p| self.pending.get(p).copied()),
            })
            .map(|h| h.ok_or(HashError::IndexesNotInTree))
            .collect()
    }
}
