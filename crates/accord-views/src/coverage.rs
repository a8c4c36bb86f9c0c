//! Plan coverage (FTS, DOMAIN.md §5): F = incoming flows counted once at their current status, against the
//! requirement R; pledges beside, never added; internal flows listed with their total, never added.

use rust_decimal::Decimal;

use super::context::{Commit, PlanContext};
use super::*;
use accord_domain::money::Amount;

pub(super) fn coverage(ctx: &PlanContext<'_>, total: &Sums) -> Result<Coverage> {
    let _r = ctx.r;
    let plan_s = &ctx.plan_s;
    let plan = &ctx.plan;
    let conv = |a: &Amount, entry: u64| ctx.conv(a, entry);
    let commits = &ctx.commits;
    let txns = &ctx.txns;
    let is_external_commit = |c: &Commit| ctx.is_external(c);
    // Plan coverage (FTS): incoming flows counted once at their current status.
    let committed_external: Decimal = exact_sum(commits.iter().filter(|c| is_external_commit(c)).map(|c| c.usd));
    let paid = total.d;
    let requirement = plan.requirement.as_ref().map(|a| conv(a, plan_s.version_at)).transpose()?;
    let funded = add(paid, sub(committed_external, paid).max(Decimal::ZERO));
    let internal_total: Decimal =
        exact_sum(txns.iter().filter(|t| t.is_internal() && !t.s.tally.reversed).map(|t| t.usd));
    let internal_flows = txns
        .iter()
        .filter(|t| t.is_internal() && !t.s.tally.reversed)
        .map(|t| FlowLine {
            txn_id: t.s.id.clone(),
            transaction_type: t.t.transaction_type.code(),
            date: t.date(),
            provider: t.t.provider_id.to_string(),
            receiver: t.receiver().to_string(),
            amount: d(t.amount.value),
            currency: t.amount.currency.to_string(),
            converted: d(t.usd),
        })
        .collect();
    let coverage = Coverage {
        requirement: requirement.map(d).unwrap_or_default(),
        funded: d(funded),
        paid: d(paid),
        committed_unpaid: d(sub(funded, paid)),
        percent_funded: requirement.map(|r| pct(funded, r)).unwrap_or_default(),
        unmet: requirement.map(|r| d(sub(r, funded))).unwrap_or_default(),
        pledged_beside: d(total.p),
        internal_flows,
        internal_total: d(internal_total),
    };

    Ok(coverage)
}
