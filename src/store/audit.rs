//! Reads for the audit API: pages of stored checkpoints.
use rusqlite::params;

use super::{checkpoint_row, db_err, CheckpointRow, Reader, Result};

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
}
