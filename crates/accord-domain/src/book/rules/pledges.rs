//! Pledges: the overlap rule, restatements and their release (DOMAIN.md §4, §7).
use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::money::Money;

use super::*;

pub(super) fn pledge(out: &mut Out<'_>, p: &d::PledgeAnnounced, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    ctx.party("pledger_id", &p.pledger_id)?;
    ctx.signed_by("pledger_id", &p.pledger_id, "a pledge")?;
    out.need("plan_id", PLAN, &p.plan_id)?;
    for (i, r) in p.recipient_ids.iter().enumerate() {
        ctx.party(&format!("recipient_ids[{i}]"), r)?;
    }
    for (i, g) in p.goals.iter().enumerate() {
        let goal = out.need(&format!("goals[{i}].goal_id"), GOAL, &g.goal_id)?;
        if goal.plan_id != p.plan_id {
            return Err(Error::precondition(
                format!("goals[{i}].goal_id"),
                format!("goal {} belongs to plan {}, not {}", g.goal_id, goal.plan_id, p.plan_id),
            ));
        }
    }
    let amount = p.amount.as_ref();
    if let Some(prev) = prev {
        let old: d::PledgeAnnounced = prev.parsed()?;
        immutable("pledger_id", &old.pledger_id, &p.pledger_id)?;
        immutable("plan_id", &old.plan_id, &p.plan_id)?;
        immutable("pledge_kind", old.pledge_kind.as_str(), p.pledge_kind.as_str())?;
        if old.restates != p.restates {
            // Amending a pledge changes what it restates (DOMAIN.md §7): the old restatements are released,
            // the new ones applied with the same rules as at announcement.
            release_restatements(out, &old)?;
            restate(out, p)?;
        }
        if let (Some(o), Some(n)) = (&old.amount, amount) {
            amended_amount(prev, o, n)?;
        }
        let mut s = Subject {
            version: prev.version.saturating_add(1),
            version_at: ctx.index,
            body: Some(Arc::clone(ctx.body)),
            ..prev.clone()
        };
        s.status = pledge_status(&s, p, ctx.today);
        out.put(s, Action::Amended);
        return Ok(());
    }
    out.fresh("pledge_id", PLEDGE, &p.pledge_id)?;
    let restated = restate(out, p)?;
    // Overlap (DOMAIN.md §7): an open pledge of the same pledger, plan and usage period must be restated,
    // whatever `new_money` says; `new_money` only claims that the part not restated is additional, and a
    // restatement of 0 declares that none of the other pledge is re-announced.
    for other in ctx.view.subjects(PLEDGE, &p.plan_id, &p.pledger_id)? {
        if restated.contains(other.id.as_str()) {
            continue;
        }
        let ob: d::PledgeAnnounced = other.parsed()?;
        let open = !matches!(
            pledge_status(&other, &ob, ctx.today),
            SubjectStatus::Withdrawn | SubjectStatus::Superseded | SubjectStatus::Fulfilled | SubjectStatus::Lapsed
        );
        if open && ob.pledge_kind == p.pledge_kind && periods_overlap(ob.usage_period.as_ref(), p.usage_period.as_ref())
        {
            return Err(Error::precondition(
                "restates",
                format!(
                    "the pledge overlaps open pledge {} of the same pledger, plan and period: declare `restates` \
                     (the amount re-announced, 0 if none is), whatever `new_money` says",
                    other.id
                ),
            ));
        }
    }
    let mut s = out.new_subject(PLEDGE, &p.pledge_id, &p.plan_id, &p.pledger_id);
    s.signers = vec![p.pledger_id.to_string()];
    s.status = pledge_status(&s, p, ctx.today);
    out.put(s, Action::Created);
    Ok(())
}

/// Apply a pledge's restatements: earlier pledges of the same pledger, in their own currency, never
/// over-restated. Returns the ids restated.
pub(super) fn restate(out: &mut Out<'_>, p: &d::PledgeAnnounced) -> Result<BTreeSet<String>> {
    let ctx = out.ctx;
    let mut restated = BTreeSet::new();
    for (i, r) in p.restates.iter().enumerate() {
        let field = format!("restates[{i}]");
        let mut old = out.need(&format!("{field}.pledge_id"), PLEDGE, &r.pledge_id)?;
        let old_body: d::PledgeAnnounced = old.parsed()?;
        if old_body.pledger_id != p.pledger_id {
            return Err(Error::precondition(
                format!("{field}.pledge_id"),
                format!("pledge {} is {}'s; a pledger restates only its own pledges", r.pledge_id, old_body.pledger_id),
            ));
        }
        // A restatement of 0 is allowed: it states, auditably, that none of that pledge is re-announced.
        let a = &r.amount;
        let old_amount = old_body
            .amount
            .as_ref()
            .ok_or_else(|| Error::precondition(format!("{field}.pledge_id"), "the restated pledge has no amount"))?;
        if a.currency != old_amount.currency {
            return Err(Error::invalid(
                format!("{field}.amount.currency"),
                format!("is {} but pledge {} is in {}", a.currency, r.pledge_id, old_amount.currency),
            ));
        }
        let restated_total = Money::new(old.tally.restated, old_amount.currency)
            .checked_add(a.money(), &format!("{field}.amount"))?
            .value;
        if restated_total > old_amount.value {
            return Err(Error::precondition(
                format!("{field}.amount.value"),
                format!(
                    "restating {} would restate more than pledge {} ({}; {} already restated)",
                    a.value, r.pledge_id, old_amount.value, old.tally.restated
                ),
            ));
        }
        old.tally.restated = restated_total;
        old.tally.restated_by.push(p.pledge_id.to_string());
        old.status = pledge_status(&old, &old_body, ctx.today);
        restated.insert(r.pledge_id.to_string());
        out.put(old, Action::Restated);
    }
    Ok(restated)
}

/// Release a pledge's restatements (DOMAIN.md §7: a restatement counts only while the restating pledge is
/// effective as it stands): the restated pledges' totals, `restated_by` and statuses are restored.
pub(super) fn release_restatements(out: &mut Out<'_>, p: &d::PledgeAnnounced) -> Result<()> {
    for r in &p.restates {
        let Some(mut old) = out.get(PLEDGE, &r.pledge_id)? else { continue };
        let a = &r.amount;
        old.tally.restated = money::sub("restates.amount.value", old.tally.restated, a.value)?.max(Decimal::ZERO);
        if let Some(pos) = old.tally.restated_by.iter().position(|x| *x == p.pledge_id) {
            old.tally.restated_by.remove(pos);
        }
        let ob: d::PledgeAnnounced = old.parsed()?;
        old.status = pledge_status(&old, &ob, out.ctx.today);
        out.put(old, Action::RestatementReleased);
    }
    Ok(())
}

/// An amended pledge's amount against what already hangs off it: its currency is fixed once anything is
/// committed, delivered or restated, and it never goes below what is committed or delivered, nor below what
/// later pledges restate.
fn amended_amount(prev: &Subject, o: &Amount, n: &Amount) -> Result<()> {
    let t = &prev.tally;
    if o.currency != n.currency && !(t.committed.is_zero() && t.delivered.is_zero() && t.restated.is_zero()) {
        return Err(Error::precondition(
            "amount.currency",
            "cannot change once the pledge is committed, delivered or restated by a later pledge",
        ));
    }
    let drawn = t.committed.max(t.delivered);
    if n.value < drawn {
        return Err(Error::precondition(
            "amount.value",
            format!("{} is below the {drawn} already committed or delivered against the pledge", n.value),
        ));
    }
    // Later pledges restate part of this one (DOMAIN.md §7): the pledge cannot shrink below what they
    // re-announce, or the effective amount would go negative and new money exceed what was pledged.
    if n.value < t.restated {
        return Err(Error::precondition(
            "amount.value",
            format!(
                "{} is below the {} that later pledges restate ({}); amend those first",
                n.value,
                t.restated,
                t.restated_by.join(", ")
            ),
        ));
    }
    Ok(())
}
