//! Pledged, committed, disbursed (DOMAIN.md §5): P, C and D of external funders per donor (converted, and
//! in each donor's own currency), goal, recipient and year, with the ratios C/P, D/P, D/C, P − C and C − D.
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::context::{Commit, PlanContext, Txn};
use super::*;
use accord_domain::codes::FundingSource;

pub(super) fn funding(ctx: &PlanContext<'_>) -> Result<(Funding, Sums)> {
    let cur = ctx.cur.to_string();
    let name = |p: &str| ctx.name(p);
    let commit_by_id = ctx.commit_by_id();
    let disbursements = ctx.disbursements();
    let (donors, donor_cur, total) = by_donor(ctx, &commit_by_id, &disbursements);
    let by_donor = donors.iter().map(|(k, s)| s.row(k, &name(k), &cur)).collect();
    let mut pledge_currency = Vec::new();
    let mut mixed = Vec::new();
    for (k, by_cur) in &donor_cur {
        if by_cur.len() == 1 {
            if let Some((c, s)) = by_cur.iter().next() {
                pledge_currency.push(s.row(k, &name(k), c));
            }
        } else {
            mixed.push(k.clone());
        }
    }
    let by_goal = by_goal(ctx, &commit_by_id, &disbursements);
    let (recips, years) = by_recipient_and_year(ctx, &commit_by_id, &disbursements);
    let funding = Funding {
        currency: cur.clone(),
        by_donor,
        total_external: total.row("total_external", "Total external", &cur),
        by_goal,
        by_recipient: recips.iter().map(|(k, s)| s.row(k, &name(k), &cur)).collect(),
        by_year: years.iter().map(|(k, s)| s.row(k, k, &cur)).collect(),
        pledge_currency,
        mixed_currency_donors: mixed,
    };

    Ok((funding, total))
}

/// Donor → its own currency → pledged / committed / disbursed in that currency.
type ByCurrency = BTreeMap<String, BTreeMap<String, Sums>>;

/// External pledged / committed / disbursed per donor (converted, and per donor and own currency), and
/// their total.
fn by_donor(
    ctx: &PlanContext<'_>,
    commit_by_id: &BTreeMap<String, &Commit>,
    disbursements: &[&Txn],
) -> (BTreeMap<String, Sums>, ByCurrency, Sums) {
    let pledges = &ctx.pledges;
    let commits = &ctx.commits;
    let is_external_commit = |c: &Commit| ctx.is_external(c);
    // Pledged / committed / disbursed.
    let mut donors: BTreeMap<String, Sums> = BTreeMap::new();
    let mut donor_cur: BTreeMap<String, BTreeMap<String, Sums>> = BTreeMap::new();
    let mut total = Sums { has_p: true, ..Default::default() };
    for (s, p, a, usd) in pledges.iter() {
        if p.funding_source != FundingSource::External {
            continue;
        }
        let e = donors.entry(p.pledger_id.to_string()).or_default();
        e.p.acc(*usd);
        e.has_p = true;
        total.p.acc(*usd);
        if let Some(a) = a {
            let pc = donor_cur.entry(p.pledger_id.to_string()).or_default().entry(a.currency.to_string()).or_default();
            pc.p.acc(sub(a.value, s.tally.restated));
            pc.has_p = true;
        }
    }
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        let e = donors.entry(c.c.provider_id.to_string()).or_default();
        e.c.acc(c.usd);
        total.c.acc(c.usd);
        donor_cur
            .entry(c.c.provider_id.to_string())
            .or_default()
            .entry(c.amount.currency.to_string())
            .or_default()
            .c
            .acc(c.amount.value);
    }
    for t in disbursements {
        let Some(&cm) = commit_by_id.get(t.commitment()) else { continue };
        if !is_external_commit(cm) {
            continue;
        }
        let e = donors.entry(t.t.provider_id.to_string()).or_default();
        e.d.acc(t.usd);
        total.d.acc(t.usd);
        donor_cur
            .entry(t.t.provider_id.to_string())
            .or_default()
            .entry(t.amount.currency.to_string())
            .or_default()
            .d
            .acc(t.amount.value);
    }
    (donors, donor_cur, total)
}

/// External pledged / committed / disbursed per goal (each weighted by its share in the goal), as rows.
fn by_goal(ctx: &PlanContext<'_>, commit_by_id: &BTreeMap<String, &Commit>, disbursements: &[&Txn]) -> Vec<FlowRow> {
    let r = ctx.r;
    let cur = &ctx.cur;
    let pledges = &ctx.pledges;
    let commits = &ctx.commits;
    let is_external_commit = |c: &Commit| ctx.is_external(c);
    let mut goals: BTreeMap<String, Sums> = BTreeMap::new();
    for (_, p, _, usd) in pledges.iter().filter(|x| x.1.funding_source == FundingSource::External) {
        for g in &p.goals {
            let e = goals.entry(g.goal_id.to_string()).or_default();
            e.p.acc(div(mul(*usd, g.share), Decimal::ONE_HUNDRED));
            e.has_p = true;
        }
    }
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        for (g, w) in &c.goals {
            goals.entry(g.clone()).or_default().c.acc(mul(c.usd, *w));
        }
    }
    for t in disbursements {
        let Some(&cm) = commit_by_id.get(t.commitment()) else { continue };
        if !is_external_commit(cm) {
            continue;
        }
        for (g, w) in &cm.goals {
            goals.entry(g.clone()).or_default().d.acc(mul(t.usd, *w));
        }
    }
    let goal_title = |g: &str| -> String {
        r.subject(book::GOAL, g)
            .ok()
            .flatten()
            .and_then(|s| s.parsed::<accord_domain::statement::GoalDefined>().ok())
            .map(|x| x.title)
            .unwrap_or_default()
    };
    goals.iter().map(|(k, s)| s.row(k, &goal_title(k), cur.as_str())).collect()
}

/// External committed / disbursed per recipient, and pledged / committed / disbursed per year.
fn by_recipient_and_year(
    ctx: &PlanContext<'_>,
    commit_by_id: &BTreeMap<String, &Commit>,
    disbursements: &[&Txn],
) -> (BTreeMap<String, Sums>, BTreeMap<String, Sums>) {
    let pledges = &ctx.pledges;
    let commits = &ctx.commits;
    let is_external_commit = |c: &Commit| ctx.is_external(c);
    let mut recips: BTreeMap<String, Sums> = BTreeMap::new();
    let mut years: BTreeMap<String, Sums> = BTreeMap::new();
    for (_, p, a, usd) in pledges.iter().filter(|x| x.1.funding_source == FundingSource::External) {
        let y = p
            .announced
            .as_ref()
            .map(|x| x.date.map(|d| year_of(&d.to_string())).unwrap_or_default())
            .filter(|y| !y.is_empty())
            .or_else(|| a.as_ref().map(|a| year_of(&a.value_date_str())))
            .unwrap_or_default();
        let e = years.entry(y).or_default();
        e.p.acc(*usd);
        e.has_p = true;
    }
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        recips.entry(c.c.recipient_id.to_string()).or_default().c.acc(c.usd);
        years.entry(year_of(&c.c.signed_date.to_string())).or_default().c.acc(c.usd);
    }
    for t in disbursements {
        let Some(&cm) = commit_by_id.get(t.commitment()) else { continue };
        if !is_external_commit(cm) {
            continue;
        }
        recips.entry(t.receiver().to_string()).or_default().d.acc(t.usd);
        years.entry(year_of(&t.date())).or_default().d.acc(t.usd);
    }
    for y in years.values_mut() {
        y.has_p = true;
    }
    (recips, years)
}
