//! IATI 2.03 activity XML export (DOMAIN.md §6). Filled in on branch `iati`.

use crate::error::{Error, Result};
use crate::storage::Reader;

/// Placeholder until the export lands: refuses clearly.
pub fn iati_activities(_r: &Reader, _plan_id: &str, _at: &crate::pb::ReadAt, _generated_at: &str) -> Result<String> {
    Err(Error::precondition("format", "the IATI export is not available in this build yet"))
}
