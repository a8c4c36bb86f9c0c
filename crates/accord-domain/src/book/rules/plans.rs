//! Plans, goals and indicators: created by the plan authority, versioned by amendments.

use super::*;

pub(super) fn plan(out: &mut Out<'_>, p: &d::PlanCreated, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    if prev.is_none() {
        out.fresh("plan_id", PLAN, &p.plan_id)?;
    }
    for (i, s) in p.signatories.iter().enumerate() {
        ctx.party(&format!("signatories[{i}].party_id"), &s.party_id)?;
    }
    for (i, b) in p.boundary_party_ids.iter().enumerate() {
        ctx.party(&format!("boundary_party_ids[{i}]"), b)?;
    }
    for (i, x) in p.expected_reporters.iter().enumerate() {
        ctx.party(&format!("expected_reporters[{i}].party_id"), &x.party_id)?;
    }
    ctx.plan_authority(None, "plan.created")?;
    let s = versioned(out, prev, PLAN, &p.plan_id, &p.plan_id, "");
    out.put(s, if prev.is_some() { Action::Amended } else { Action::Created });
    Ok(())
}

pub(super) fn goal(out: &mut Out<'_>, g: &d::GoalDefined, prev: Option<&Subject>) -> Result<()> {
    if let Some(p) = prev {
        immutable("plan_id", &p.plan_id, &g.plan_id)?;
    } else {
        out.fresh("goal_id", GOAL, &g.goal_id)?;
    }
    let plan: d::PlanCreated = out.need("plan_id", PLAN, &g.plan_id)?.parsed()?;
    out.ctx.plan_authority(Some(&plan), "goal.defined")?;
    let s = versioned(out, prev, GOAL, &g.goal_id, &g.plan_id, "");
    out.put(s, if prev.is_some() { Action::Amended } else { Action::Created });
    Ok(())
}

pub(super) fn indicator(out: &mut Out<'_>, x: &d::IndicatorDefined, prev: Option<&Subject>) -> Result<()> {
    if prev.is_none() {
        out.fresh("indicator_id", INDICATOR, &x.indicator_id)?;
    }
    let goal = out.need("goal_id", GOAL, &x.goal_id)?;
    if let Some(p) = prev {
        let old: d::IndicatorDefined = p.parsed()?;
        immutable("goal_id", &old.goal_id, &x.goal_id)?;
    }
    let plan: d::PlanCreated = out.need("goal_id", PLAN, &goal.plan_id)?.parsed()?;
    out.ctx.plan_authority(Some(&plan), "indicator.defined")?;
    let s = versioned(out, prev, INDICATOR, &x.indicator_id, &goal.plan_id, "");
    out.put(s, if prev.is_some() { Action::Amended } else { Action::Created });
    Ok(())
}
