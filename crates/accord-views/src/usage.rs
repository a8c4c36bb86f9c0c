//! Usage years (DOMAIN.md §5): external commitments split by year of use, each at the commitment's
//! value-date rate, with a total row.
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::context::{Commit, PlanContext};
use super::*;
use accord_domain::money::Amount;

pub(super) fn usage_years(ctx: &PlanContext<'_>) -> Result<(Vec<YearAmount>, String)> {
    let conv = |a: &Amount, entry: u64| ctx.conv(a, entry);
    let commits = &ctx.commits;
    let is_external_commit = |c: &Commit| ctx.is_external(c);
    // Usage years: commitments split by year, each at the commitment's value-date rate.
    let mut usage: BTreeMap<u32, Decimal> = BTreeMap::new();
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        for y in &c.c.usage_years {
            let part = Amount { value: y.value, ..c.amount.clone() };
            usage.entry(y.year).or_default().acc(conv(&part, c.s.version_at)?);
        }
    }
    let usage_years_total = d(exact_sum(usage.values().copied()));
    let usage_years = usage.into_iter().map(|(year, a)| YearAmount { year, amount: d(a) }).collect();

    Ok((usage_years, usage_years_total))
}
