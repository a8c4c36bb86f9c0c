//! The values statements are made of: dates, ids, text, periods, digests, money, shares and id lists.
use std::collections::BTreeSet;

use accord_domain::date::{self, Day};
use accord_domain::ids::*;
use accord_domain::statement as d;
use rust_decimal::Decimal;

use accord_domain::money::{self, Amount};
use accord_domain::statement::{MAX_ITEMS, MAX_PARTIES};
use accord_domain::text::check_text;

use super::super::money::parse_money;
use crate::error::{Error, Result};
use crate::pb::{self};

/// `issued_at`: a valid protobuf Timestamp (nanos 0..1e9) inside the plausible date window.
pub(super) fn issued_at(t: Option<&prost_types::Timestamp>) -> Result<d::Timestamp> {
    let t = t.ok_or_else(|| Error::invalid("issued_at", "is required"))?;
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Error::invalid("issued_at.nanos", format!("{} is not in 0..=999999999", t.nanos)));
    }
    if !date::in_window(t.seconds.div_euclid(86_400)) {
        return Err(Error::invalid(
            "issued_at.seconds",
            format!("{} is outside the years {}–{}", t.seconds, date::MIN_YEAR, date::MAX_YEAR),
        ));
    }
    Ok(d::Timestamp { seconds: t.seconds, nanos: t.nanos })
}

pub(super) fn day(field: &str, s: &str) -> Result<Day> {
    Ok(Day::parse(field, s)?)
}

pub(super) fn opt_day(field: &str, s: &str) -> Result<Option<Day>> {
    Ok(Day::parse_opt(field, s)?)
}

pub(super) fn id<T>(parse: fn(&str, &str) -> accord_domain::Result<T>, field: &str, s: &str) -> Result<T> {
    Ok(parse(field, s)?)
}

pub(super) fn opt_id<T>(parse: fn(&str, &str) -> accord_domain::Result<T>, field: &str, s: &str) -> Result<Option<T>> {
    if s.is_empty() {
        Ok(None)
    } else {
        id(parse, field, s).map(Some)
    }
}

pub(super) fn text(field: &str, s: &str, required: bool) -> Result<String> {
    check_text(field, s, required)?;
    Ok(s.to_string())
}

pub(super) fn period(field: &str, p: Option<&pb::Period>) -> Result<Option<d::Period>> {
    let Some(p) = p else { return Ok(None) };
    let start = day(&format!("{field}.start"), &p.start)?;
    let end = day(&format!("{field}.end"), &p.end)?;
    if end < start {
        return Err(Error::invalid(format!("{field}.end"), "is before period.start"));
    }
    Ok(Some(d::Period { start, end }))
}

pub(super) fn required_period(field: &str, p: Option<&pb::Period>) -> Result<d::Period> {
    period(field, p)?.ok_or_else(|| Error::invalid(field, "is required"))
}

pub(super) fn sha256(field: &str, b: &[u8]) -> Result<Option<d::Sha256>> {
    if b.is_empty() {
        return Ok(None);
    }
    <[u8; 32]>::try_from(b)
        .map(Some)
        .map_err(|_| Error::invalid(field, format!("a SHA-256 digest is 32 bytes, got {}", b.len())))
}

pub(super) fn count(field: &str, n: usize) -> Result<()> {
    if n > MAX_ITEMS {
        return Err(Error::invalid(field, format!("at most {MAX_ITEMS} items")));
    }
    Ok(())
}

pub(super) fn finance_type(field: &str, s: &str) -> Result<Option<String>> {
    if s.is_empty() {
        Ok(None)
    } else if s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(s.to_string()))
    } else {
        Err(Error::invalid(field, format!("{s:?} is not an IATI FinanceType code (e.g. \"110\")")))
    }
}

pub(super) fn opt_money(field: &str, m: Option<&pb::Money>) -> Result<Option<Amount>> {
    match m {
        Some(_) => parse_money(field, m).map(Some),
        None => Ok(None),
    }
}

pub(super) fn opt_decimal(
    field: &str,
    s: &str,
    parse: fn(&str, &str) -> accord_domain::Result<Decimal>,
) -> Result<Option<Decimal>> {
    if s.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parse(field, s)?))
    }
}

/// Shares (percentages) that must sum to exactly 100.
pub(super) fn check_shares(field: &str, shares: &[(usize, Decimal)]) -> Result<()> {
    let mut total = Decimal::ZERO;
    for (_, d) in shares {
        total = money::add(field, total, *d)?;
    }
    if !shares.is_empty() && total != Decimal::ONE_HUNDRED {
        return Err(Error::invalid(
            field,
            format!("shares sum to {total}, not 100 (goal shares per vocabulary sum to 100)"),
        ));
    }
    Ok(())
}

/// A list of ids, each valid and none twice (`field[i]` names the i-th).
pub(super) fn unique_ids<'a, T>(
    parse: fn(&str, &str) -> accord_domain::Result<T>,
    field: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<Vec<T>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, s) in ids.enumerate() {
        let f = format!("{field}[{i}]");
        out.push(id(parse, &f, s)?);
        if !seen.insert(s) {
            return Err(Error::invalid(f, format!("{s:?} is listed twice")));
        }
    }
    Ok(out)
}

/// A list of party ids: each valid, none twice, at most [`MAX_PARTIES`].
pub(super) fn party_list<'a>(
    field: impl Fn(usize) -> String,
    ids: impl Iterator<Item = &'a String>,
) -> Result<Vec<PartyId>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, s) in ids.enumerate() {
        if i >= MAX_PARTIES {
            return Err(Error::invalid(field(i), format!("at most {MAX_PARTIES} parties")));
        }
        out.push(id(PartyId::parse, &field(i), s)?);
        if !seen.insert(s) {
            return Err(Error::invalid(field(i), format!("{s:?} is listed twice")));
        }
    }
    Ok(out)
}
