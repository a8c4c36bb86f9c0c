//! Exact money: the pure rules live in `accord-domain` ([`accord_domain::money`], re-exported here); this
//! module adds the wire boundary, reading a protobuf `Money`.
pub use accord_domain::money::*;

use crate::error::{Error, Result};
use crate::pb::Money;

/// Check a `Money`: positive exact value, ISO 4217 currency, required value date.
pub fn parse_money(field: &str, m: Option<&Money>) -> Result<Amount> {
    let m = m.ok_or_else(|| Error::invalid(field, "is required (value, currency, value_date)"))?;
    Ok(parse_amount(field, &m.value, &m.currency, &m.value_date)?)
}
