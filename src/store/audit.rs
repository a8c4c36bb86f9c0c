//! Reads for the audit API: pages of stored checkpoints and their witness cosignatures.
use rusqlite::params;

use super::{checkpoint_row, cosignature_row, db_err, CheckpointRow, CosignatureRow, Reader, Result, COSIGNATURE_COLS};

impl Reader {
    /// Stored checkpoints with `size >= start`, in size order, at most `limit`.
    pub fn checkpoints_from(&self, start: u64, limit: usize) -> Result<Vec<CheckpointRow>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT size, root, note FROM checkpoints WHERE size >= ?1 ORDER BY size LIMIT ?2")
            .map_err(db_err)?;
        let rows = st.query_map(params![start, limit as i64], checkpoint_row).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }

    /// The stored witness cosignatures of the checkpoints with `start <= size <= end`, in size order (and by
    /// witness within a size).
    pub fn cosignatures_between(&self, start: u64, end: u64) -> Result<Vec<CosignatureRow>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COSIGNATURE_COLS} FROM cosignatures WHERE size >= ?1 AND size <= ?2 ORDER BY size, witness"
            ))
            .map_err(db_err)?;
        let rows = st.query_map(params![start, end], cosignature_row).map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }
}
