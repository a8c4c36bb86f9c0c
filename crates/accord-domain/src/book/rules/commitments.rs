//! Conditions and commitments: allocations against pledges, tranches and their conditions.
use std::collections::BTreeMap;

use crate::codes::ConditionType;

use super::*;

pub(super) fn condition(out: &mut Out<'_>, c: &d::ConditionDefined, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    ctx.party("party_id", &c.party_id)?;
    ctx.signed_by("party_id", &c.party_id, "a condition")?;
    out.need("plan_id", PLAN, &c.plan_id)?;
    if let Some(a) = &c.assessor_id {
        ctx.role("assessor_id", a, Role::Assessor)?;
    }
    for (i, pid) in c.pledge_ids.iter().enumerate() {
        let p = out.need(&format!("pledge_ids[{i}]"), PLEDGE, pid)?;
        if p.plan_id != c.plan_id {
            return Err(Error::precondition(
                format!("pledge_ids[{i}]"),
                format!("pledge {pid} is in plan {}", p.plan_id),
            ));
        }
        if c.condition_type != ConditionType::CoFinancing && p.party_id != c.party_id {
            return Err(Error::precondition(
                format!("pledge_ids[{i}]"),
                format!("pledge {pid} is {}'s money; a condition is set by the party whose money it gates", p.party_id),
            ));
        }
    }
    if let Some(r) = &c.co_financing {
        for (i, pid) in r.party_ids.iter().enumerate() {
            ctx.party(&format!("co_financing.party_ids[{i}]"), pid)?;
        }
    }
    if let Some(p) = prev {
        let old: d::ConditionDefined = p.parsed()?;
        // A subject's plan never changes (as for goals, pledges and commitments): every entry acting on a
        // plan's subjects is then filed under that plan (docs/INDEX.md §1.3), which a report read through
        // the index relies on.
        immutable("plan_id", &old.plan_id, &c.plan_id)?;
        immutable("party_id", &old.party_id, &c.party_id)?;
        immutable("condition_type", old.condition_type.as_str(), c.condition_type.as_str())?;
    } else {
        out.fresh("condition_id", CONDITION, &c.condition_id)?;
    }
    let mut s = versioned(out, prev, CONDITION, &c.condition_id, &c.plan_id, &c.party_id);
    s.signers = vec![c.party_id.to_string()];
    s.status = condition_status(&s.tally);
    out.put(s, if prev.is_some() { Action::Amended } else { Action::Created });
    Ok(())
}

/// Add (or with `sign = -1` remove) a commitment's allocations to its pledges, checking the pledge limit.
pub(super) fn allocate(out: &mut Out<'_>, c: &d::CommitmentSigned, sign: i32, field: &str) -> Result<()> {
    let today = out.ctx.today;
    for (i, a) in c.allocations.iter().enumerate() {
        let f = format!("{field}allocations[{i}]");
        let mut p = out.need(&format!("{f}.pledge_id"), PLEDGE, &a.pledge_id)?;
        let pb_: d::PledgeAnnounced = p.parsed()?;
        let amt = &a.amount;
        if sign > 0 {
            if pb_.pledger_id != c.provider_id {
                return Err(Error::precondition(
                    format!("{f}.pledge_id"),
                    format!("pledge {} is {}'s; a party commits only its own pledges", a.pledge_id, pb_.pledger_id),
                ));
            }
            if pb_.plan_id != c.plan_id {
                return Err(Error::precondition(
                    format!("{f}.pledge_id"),
                    format!("pledge {} is in plan {}", a.pledge_id, pb_.plan_id),
                ));
            }
            if p.tally.withdrawn {
                return Err(Error::precondition(
                    format!("{f}.pledge_id"),
                    format!("pledge {} was withdrawn", a.pledge_id),
                ));
            }
            let pa = pb_
                .amount
                .as_ref()
                .ok_or_else(|| Error::precondition(format!("{f}.pledge_id"), "the pledge has no amount to commit"))?;
            if amt.currency != pa.currency {
                return Err(Error::invalid(
                    format!("{f}.amount.currency"),
                    format!(
                        "is {}, but pledge {} is in {} (allocations are in the pledge's currency)",
                        amt.currency, a.pledge_id, pa.currency
                    ),
                ));
            }
            let committed = money::add(&format!("{f}.amount.value"), p.tally.committed, amt.value)?;
            if committed > pa.value {
                return Err(Error::precondition(
                    format!("{f}.amount.value"),
                    format!(
                        "allocating {} {} to pledge {} would commit {} of a {} pledge (Σ allocations ≤ the pledge; amend the pledge first)",
                        amt.value,
                        amt.currency,
                        a.pledge_id,
                        committed,
                        pa.value
                    ),
                ));
            }
            p.tally.committed = committed;
        } else {
            p.tally.committed = money::sub(&format!("{f}.amount.value"), p.tally.committed, amt.value)?;
        }
        p.status = pledge_status(&p, &pb_, today);
        out.put(p, if sign > 0 { Action::Committed } else { Action::Uncommitted });
    }
    Ok(())
}

/// Every condition gating tranche `t` (at field `f`) exists, is not withdrawn and belongs to the commitment's plan.
fn check_gating_conditions(out: &Out<'_>, f: &str, t: &d::Tranche, c: &d::CommitmentSigned) -> Result<()> {
    for (j, cid) in t.condition_ids.iter().enumerate() {
        let cond = out.need(&format!("{f}.condition_ids[{j}]"), CONDITION, cid)?;
        if cond.tally.withdrawn {
            return Err(Error::precondition(
                format!("{f}.condition_ids[{j}]"),
                format!("condition {cid} was withdrawn"),
            ));
        }
        if cond.plan_id != c.plan_id {
            return Err(Error::precondition(
                format!("{f}.condition_ids[{j}]"),
                format!("condition {cid} is in plan {}", cond.plan_id),
            ));
        }
    }
    Ok(())
}

pub(super) fn commitment(out: &mut Out<'_>, c: &d::CommitmentSigned, prev: Option<&Subject>) -> Result<()> {
    let ctx = out.ctx;
    ctx.party("provider_id", &c.provider_id)?;
    ctx.party("recipient_id", &c.recipient_id)?;
    ctx.signed_by("provider_id", &c.provider_id, "a commitment")?;
    ctx.signed_by("recipient_id", &c.recipient_id, "a commitment")?;
    out.need("plan_id", PLAN, &c.plan_id)?;
    let amount = &c.amount;
    let mut old_tranches = BTreeMap::new();
    if let Some(p) = prev {
        let old: d::CommitmentSigned = p.parsed()?;
        immutable("provider_id", &old.provider_id, &c.provider_id)?;
        immutable("recipient_id", &old.recipient_id, &c.recipient_id)?;
        immutable("plan_id", &old.plan_id, &c.plan_id)?;
        immutable("amount.currency", old.amount.currency.as_str(), amount.currency.as_str())?;
        if amount.value < p.tally.disbursed {
            return Err(Error::precondition(
                "amount.value",
                format!("{} is below the {} already disbursed", amount.value, p.tally.disbursed),
            ));
        }
        allocate(out, &old, -1, "")?;
        for t in &old.tranches {
            old_tranches.insert(t.tranche_id.clone(), t.clone());
        }
    } else {
        out.fresh("commitment_id", COMMITMENT, &c.commitment_id)?;
    }
    allocate(out, c, 1, "")?;
    for (i, t) in c.tranches.iter().enumerate() {
        let f = format!("tranches[{i}]");
        check_gating_conditions(out, &f, t, c)?;
        let value = t.value;
        let mut ts = match (old_tranches.remove(&t.tranche_id), out.get(TRANCHE, &t.tranche_id)?) {
            (Some(_), Some(existing)) => existing,
            (None, Some(existing)) => {
                return Err(Error::precondition(
                    format!("{f}.tranche_id"),
                    format!("tranche {} already exists in commitment {}", t.tranche_id, existing.tally.commitment_id),
                ))
            }
            (_, None) => {
                let mut s = out.new_subject(TRANCHE, &t.tranche_id, &c.plan_id, &c.provider_id);
                s.body = None;
                s.tally.commitment_id = c.commitment_id.to_string();
                s
            }
        };
        if value < ts.tally.disbursed {
            return Err(Error::precondition(
                format!("{f}.value"),
                format!("{value} is below the {} already disbursed", ts.tally.disbursed),
            ));
        }
        ts.tally.value = value;
        ts.tally.conditions = t.condition_ids.iter().map(ToString::to_string).collect();
        ts.version = ts.version.saturating_add(u32::from(prev.is_some() && ts.created_at != ctx.index));
        for cid in &t.condition_ids {
            out.touch(CONDITION, cid, Action::Gates);
        }
        out.put(ts, if prev.is_some() { Action::Amended } else { Action::Created });
    }
    if let Some((id, t)) = old_tranches.into_iter().next() {
        let _ = t;
        return Err(Error::precondition(
            "tranches",
            format!("tranche {id} cannot be dropped in an amendment (set its value instead)"),
        ));
    }
    let mut s = versioned(out, prev, COMMITMENT, &c.commitment_id, &c.plan_id, &c.provider_id);
    s.signers = vec![c.provider_id.to_string(), c.recipient_id.to_string()];
    s.status = if s.tally.disbursed >= amount.value { SubjectStatus::Disbursed } else { SubjectStatus::Active };
    out.put(s, if prev.is_some() { Action::Amended } else { Action::Created });
    Ok(())
}
