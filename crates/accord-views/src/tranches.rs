//! Conditional tranches (DOMAIN.md §5): per condition, each gated tranche with its status, assessment and
//! evidence, the amount at stake not yet in a tranche, and totals per status and currency.
use accord_domain::codes::{ConditionType, GateStatus, SubjectStatus};
use accord_domain::money::Currency;
use accord_domain::statement as ds;
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::context::PlanContext;
use super::*;

pub(super) fn tranches(ctx: &PlanContext<'_>) -> Result<Tranches> {
    let r = ctx.r;
    let plan_id = ctx.plan.plan_id.as_str();
    let conditions = &ctx.conditions;
    let commit_by_id = ctx.commit_by_id();
    // Conditional tranches.
    let tranches_all = all(r, book::TRANCHE, plan_id)?;
    let mut gated: BTreeMap<&str, Vec<&Subject>> = BTreeMap::new();
    for t in &tranches_all {
        for c in &t.tally.conditions {
            gated.entry(c.as_str()).or_default().push(t);
        }
    }
    let mut totals: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    // A tranche gated by several conditions is listed under each of them but counted once in the totals.
    let mut counted: BTreeSet<&str> = BTreeSet::new();
    let mut cond_views = Vec::new();
    for cs in conditions.iter() {
        let c: ds::ConditionDefined = cs.parsed()?;
        if c.condition_type == ConditionType::CoFinancing {
            continue;
        }
        let mut lines = Vec::new();
        let mut gated_by_cur: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for t in gated.get(cs.id.as_str()).into_iter().flatten() {
            let Some(&cm) = commit_by_id.get(&t.tally.commitment_id) else { continue };
            let gate = book::tranche_gate(r, t)?;
            let own = book::outcome_for(cs, &t.id);
            let evidence = own.and_then(|a| entry_statement(r, a.index).ok()).and_then(|(st, _)| match st.body {
                Body::ConditionAssessed(x) => Some(x.evidence_sha256.map(hex::encode).unwrap_or_default()),
                _ => None,
            });
            gated_by_cur.entry(cm.amount.currency).or_default().acc(t.tally.value);
            if counted.insert(t.id.as_str()) {
                totals
                    .entry((gate.status.as_str().to_string(), cm.amount.currency.to_string()))
                    .or_default()
                    .acc(t.tally.value);
            }
            lines.push(TrancheLine {
                tranche_id: t.id.clone(),
                commitment_id: cm.s.id.clone(),
                recipient: cm.c.recipient_id.to_string(),
                value: d(t.tally.value),
                currency: cm.amount.currency.to_string(),
                disbursed: d(t.tally.disbursed),
                status: gate.status.as_str().to_string(),
                outcome: own.map_or("pending", |a| a.outcome.as_str()).to_string(),
                date: own.map(|a| a.date.to_string()).unwrap_or_default(),
                evidence_sha256: evidence.unwrap_or_default(),
            });
        }
        let (rest, rest_cur, rest_status) = not_in_tranche(cs, &c, &gated_by_cur, &mut totals)?;
        cond_views.push(ConditionView {
            condition_id: cs.id.clone(),
            condition_type: c.condition_type.as_str().to_string(),
            party: c.party_id.to_string(),
            assessor: c.assessor_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            status: cs.status.as_str().to_string(),
            currency: if rest_cur.is_empty() {
                lines.first().map(|l| l.currency.clone()).unwrap_or_default()
            } else {
                rest_cur
            },
            tranches: lines,
            uncommitted_at_stake: rest,
            uncommitted_status: rest_status,
        });
    }
    let tranches = Tranches {
        conditions: cond_views,
        totals: totals
            .into_iter()
            .map(|((status, currency), a)| StatusTotal { status, currency, amount: d(a) })
            .collect(),
    };

    Ok(tranches)
}

/// The amount at stake of a condition not yet in a tranche (in the stake's currency), with its currency and
/// status (released, pending or withheld, from the condition's status), added to the totals; empty strings
/// when nothing is left.
fn not_in_tranche(
    cs: &Subject,
    c: &ds::ConditionDefined,
    gated_by_cur: &BTreeMap<Currency, Decimal>,
    totals: &mut BTreeMap<(String, String), Decimal>,
) -> Result<(String, String, String)> {
    let (mut rest, mut rest_cur, mut rest_status) = (String::new(), String::new(), String::new());
    if let Some(stake) = c.amount_at_stake.as_ref() {
        let left = sub(stake.value, gated_by_cur.get(&stake.currency).copied().unwrap_or_default());
        if left > Decimal::ZERO {
            // A withdrawn condition no longer gates (as in `book::tranche_gate`): its stake is released.
            let status = match cs.status {
                SubjectStatus::Met | SubjectStatus::Waived | SubjectStatus::Withdrawn => GateStatus::Released,
                SubjectStatus::Pending => GateStatus::Pending,
                _ => GateStatus::Withheld,
            }
            .as_str();
            totals.entry((status.to_string(), stake.currency.to_string())).or_default().acc(left);
            rest = d(left);
            rest_cur = stake.currency.to_string();
            rest_status = status.into();
        }
    }
    Ok((rest, rest_cur, rest_status))
}
