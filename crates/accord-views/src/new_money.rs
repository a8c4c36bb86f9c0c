//! New money (DOMAIN.md §7): P_new = Σ over effective pledges of (amount − amounts it restates), never below
//! zero; per pledge, per pledger and per plan, every restatement linked to the pledge it restates.
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::context::PlanContext;
use super::*;
use accord_domain::codes::FundingSource;

pub(super) fn new_money(ctx: &PlanContext<'_>) -> Result<NewMoney> {
    let r = ctx.r;
    let cur = ctx.cur;
    let pledges = &ctx.pledges;
    // New money and restatements (DOMAIN.md §7): P_new = Σ over effective pledges claiming `new_money` of
    // (amount net of later restatements − the amounts it restates), never below zero per pledge; every
    // restatement listed, those of withdrawn pledges marked withdrawn (they no longer restate anything).
    let mut new_money = Decimal::ZERO;
    let mut all_p = Decimal::ZERO;
    let mut restatements = withdrawn_restatements(ctx)?;
    let mut by_pledge = Vec::new();
    let mut pledger_new: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for (s, p, _, usd) in pledges.iter() {
        if p.funding_source != FundingSource::External {
            continue;
        }
        all_p.acc(*usd);
        let mut restated_here = Decimal::ZERO;
        let mut unconvertible = false;
        for x in &p.restates {
            let a = x.amount.clone();
            if !a.value.is_zero() {
                // The restated pledge's own amount is listed as unconverted when no rate converts it; a
                // restatement that cannot be converted leaves this pledge no new money (never overstated).
                match book::convert(r, &a, cur) {
                    Ok(v) => restated_here.acc(v),
                    Err(e) if book::is_conversion_gap(&e) => unconvertible = true,
                    Err(e) => return Err(e),
                }
            }
            restatements.push(Restated {
                pledge_id: s.id.clone(),
                restates: x.pledge_id.to_string(),
                amount: d(a.value),
                currency: a.currency.to_string(),
                status: "effective".into(),
            });
        }
        let mine =
            if p.new_money && !unconvertible { sub(*usd, restated_here).max(Decimal::ZERO) } else { Decimal::ZERO };
        new_money.acc(mine);
        let e = pledger_new.entry(p.pledger_id.to_string()).or_default();
        e.0.acc(*usd);
        e.1.acc(mine);
        by_pledge.push(NewMoneyPledge {
            pledge_id: s.id.clone(),
            pledger: p.pledger_id.to_string(),
            claims_new_money: p.new_money,
            pledged: d(*usd),
            restated: d(restated_here),
            new_money: d(mine),
            restates: p.restates.iter().map(|x| x.pledge_id.to_string()).collect(),
        });
    }
    restatements.sort_by(|a, b| (&a.pledge_id, &a.restates).cmp(&(&b.pledge_id, &b.restates)));
    let by_pledger = pledger_new
        .into_iter()
        .map(|(pledger, (pl, nm))| NewMoneyPledger { pledger, pledged: d(pl), new_money: d(nm), share: pct(nm, pl) })
        .collect();
    let new_money = NewMoney {
        new_money: d(new_money),
        pledged: d(all_p),
        share: pct(new_money, all_p),
        restatements,
        by_pledge,
        by_pledger,
    };

    Ok(new_money)
}

/// The restatements of withdrawn external pledges, marked withdrawn (they no longer restate anything).
fn withdrawn_restatements(ctx: &PlanContext<'_>) -> Result<Vec<Restated>> {
    let mut restatements = Vec::new();
    for s in ctx.all(book::PLEDGE)?.iter() {
        if !s.tally.withdrawn {
            continue;
        }
        let p: accord_domain::statement::PledgeAnnounced = s.parsed()?;
        if p.funding_source != FundingSource::External {
            continue;
        }
        for x in &p.restates {
            let a = x.amount.clone();
            restatements.push(Restated {
                pledge_id: s.id.clone(),
                restates: x.pledge_id.to_string(),
                amount: d(a.value),
                currency: a.currency.to_string(),
                status: "withdrawn".into(),
            });
        }
    }
    Ok(restatements)
}
