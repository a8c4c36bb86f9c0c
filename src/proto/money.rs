//! Reading a protobuf `Money` into an exact [`Amount`] (the rules are in [`accord_domain::money`]).
use accord_domain::money::{parse_amount, parse_decimal, Amount};

use crate::error::{Error, Result};
use crate::pb::Money;

/// Check a `Money`: positive exact value, ISO 4217 currency, required value date.
pub fn parse_money(field: &str, m: Option<&Money>) -> Result<Amount> {
    let m = m.ok_or_else(|| Error::invalid(field, "is required (value, currency, value_date)"))?;
    Ok(parse_amount(field, &m.value, &m.currency, &m.value_date)?)
}

/// Like [`parse_money`], but 0 is allowed: a restated amount of 0 states that none of a pledge is
/// re-announced (DOMAIN.md §7).
pub fn parse_money_or_zero(field: &str, m: Option<&Money>) -> Result<Amount> {
    if let Some(x) = m {
        let value = parse_decimal(&format!("{field}.value"), &x.value)?;
        if value.is_zero() {
            // The currency and value date are checked as for any amount; the zero keeps its written scale
            // ("0.00" stays 0.00 where a value is shown as written).
            let one = Money { value: "1".into(), ..x.clone() };
            let a = parse_money(field, Some(&one))?;
            return Ok(Amount { value, ..a });
        }
    }
    parse_money(field, m)
}
