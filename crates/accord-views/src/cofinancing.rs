//! Co-financing (DOMAIN.md §5): per co_financing condition, year and party, own resources realised against
//! ratio × external grants disbursed; verified values replace reported ones; the opinion beside the result.
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::context::{Commit, PlanContext, Txn};
use super::*;
use accord_domain::codes::FundingSource;
use accord_domain::money::Amount;
use accord_domain::statement as ds;

pub(super) fn co_financing(ctx: &PlanContext<'_>) -> Result<Vec<CoFinancing>> {
    let pledges = &ctx.pledges;
    let commits = &ctx.commits;
    let conditions = &ctx.conditions;
    let commit_by_id = ctx.commit_by_id();
    let is_external_commit = |c: &Commit| ctx.is_external(c);
    let disbursements = ctx.disbursements();
    // Co-financing tests.
    let mut co_financing = Vec::new();
    for cs in conditions.iter() {
        let c: ds::ConditionDefined = cs.parsed()?;
        let Some(rule) = c.co_financing.as_ref() else { continue };
        let ratio = rule.ratio;
        let mut rows = Vec::new();
        let (mut plan_real, mut plan_x) = (Decimal::ZERO, Decimal::ZERO);
        let years = years_of(ctx, rule, &disbursements)?;
        for y in &years {
            for party in &rule.party_ids {
                let grants: Vec<&&Txn> = disbursements
                    .iter()
                    .filter(|t| t.receiver() == party.as_str() && &year_of(&t.date()) == y)
                    .filter(|t| {
                        commit_by_id.get(t.commitment()).is_some_and(|&cm| {
                            is_external_commit(cm)
                                && (rule.finance_types.is_empty()
                                    || rule.finance_types.iter().any(|f| Some(f) == cm.c.finance_type.as_ref()))
                        })
                    })
                    .collect();
                let x: Decimal = exact_sum(grants.iter().map(|t| t.usd));
                let mut by_provider: BTreeMap<String, Decimal> = BTreeMap::new();
                for t in &grants {
                    by_provider.entry(t.t.provider_id.to_string()).or_default().acc(t.usd);
                }
                let Realised { realised, all_verified, any, row_opinions } = realised_in(ctx, party, y)?;
                let indicative: Decimal = exact_sum(
                    pledges
                        .iter()
                        .filter(|(_, p, _, _)| {
                            p.pledger_id == *party && p.funding_source == FundingSource::DomesticOwnResources
                        })
                        .map(|x| x.3),
                );
                let own_committed: Decimal =
                    exact_sum(commits.iter().filter(|c| c.c.provider_id == *party).map(|c| c.usd));
                let required = mul(ratio, x);
                plan_real.acc(realised);
                plan_x.acc(x);
                rows.push(CoFinancingRow {
                    year: y.clone(),
                    party: party.to_string(),
                    external_grants: d(x),
                    external_grants_by_provider: by_provider.into_iter().map(|(k, v)| (k, d(v))).collect(),
                    required: d(required),
                    realised: d(realised),
                    indicative: d(indicative),
                    committed: d(own_committed),
                    realised_over_grants: pct(realised, x),
                    fulfilment: pct(realised, required),
                    realised_over_own_pledge: pct(realised, indicative),
                    result: if realised >= required { "met".into() } else { "not_met".into() },
                    verified: any && all_verified,
                    opinion: row_opinions.into_iter().collect::<Vec<_>>().join(", "),
                });
            }
        }
        co_financing.push(CoFinancing {
            condition_id: cs.id.clone(),
            ratio: d(ratio),
            finance_types: rule.finance_types.clone(),
            rows,
            plan_realised: d(plan_real),
            plan_external_grants: d(plan_x),
            plan_share: pct(plan_real, plan_x),
        });
    }

    Ok(co_financing)
}

/// The years a co-financing rule is tested in: those of its parties' incoming disbursements and of the
/// periods of their progress reports.
fn years_of(ctx: &PlanContext<'_>, rule: &ds::CoFinancingRule, disbursements: &[&Txn]) -> Result<BTreeSet<String>> {
    let mut years: BTreeSet<String> = BTreeSet::new();
    for t in disbursements {
        if rule.party_ids.iter().any(|p| *p == t.receiver()) {
            years.insert(year_of(&t.date()));
        }
    }
    for rep in ctx.reports.iter() {
        if rule.party_ids.iter().any(|p| *p == rep.party_id) {
            let b: ds::ProgressReported = rep.parsed()?;
            years.insert(year_of(&b.period.end.to_string()));
        }
    }
    Ok(years)
}

/// Own resources a party reported as realised in one year.
struct Realised {
    /// Converted, verified values replacing reported ones where an auditor attested.
    realised: Decimal,
    /// Every such report is verified (or attested without a different value).
    all_verified: bool,
    /// Some report of the year states co-financing realised.
    any: bool,
    /// The auditors' opinions on those reports.
    row_opinions: BTreeSet<String>,
}

/// What `party` reported as realised in year `y`.
fn realised_in(ctx: &PlanContext<'_>, party: &str, y: &str) -> Result<Realised> {
    let conv = |a: &Amount, entry: u64| ctx.conv(a, entry);
    let attested = &ctx.attested;
    let opinion_of = &ctx.opinion_of;
    let verified_value = |rep: &Subject, item: &str| ctx.verified_value(rep, item);
    let mut realised = Decimal::ZERO;
    let mut all_verified = true;
    let mut any = false;
    let mut row_opinions: BTreeSet<String> = BTreeSet::new();
    for rep in ctx.reports.iter().filter(|rep| rep.party_id == party) {
        let b: ds::ProgressReported = rep.parsed()?;
        if year_of(&b.period.end.to_string()) != y {
            continue;
        }
        let Some(m) = b.co_financing_realised.as_ref() else { continue };
        let mut a = m.clone();
        any = true;
        if let Some((_, o)) = opinion_of.get(&rep.created_at) {
            row_opinions.insert(o.clone());
        }
        match verified_value(rep, "co_financing_realised") {
            Some(v) => a.value = dec(&v),
            None if attested.contains_key(&rep.created_at) => {}
            None => all_verified = false,
        }
        realised.acc(conv(&a, rep.created_at)?);
    }
    Ok(Realised { realised, all_verified, any, row_opinions })
}
