//! Pledges, conditions and commitments.
use std::collections::BTreeSet;

use accord_domain::codes::*;
use accord_domain::ids::*;
use accord_domain::statement as d;
use rust_decimal::Decimal;

use accord_domain::money::{self, parse_positive};

use super::super::money::{parse_money, parse_money_or_zero};
use super::values::*;
use crate::error::{Error, Result};
use crate::pb::{self};

pub(super) fn pledge(p: &pb::PledgeAnnounced) -> Result<d::PledgeAnnounced> {
    let pledge_id = id(PledgeId::parse, "pledge_id", &p.pledge_id)?;
    let plan_id = id(PlanId::parse, "plan_id", &p.plan_id)?;
    let pledger_id = id(PartyId::parse, "pledger_id", &p.pledger_id)?;
    let pledge_kind = PledgeKind::parse("pledge_kind", &p.pledge_kind)?;
    let amount = if pledge_kind == PledgeKind::PolicyAction {
        let a = opt_money("amount", p.amount.as_ref())?;
        if p.milestones.is_empty() {
            return Err(Error::invalid("milestones", "a policy_action pledge lists at least one milestone"));
        }
        a
    } else {
        Some(parse_money("amount", p.amount.as_ref())?)
    };
    if pledge_kind == PledgeKind::InKind && p.items.is_empty() {
        return Err(Error::invalid("items", "an in_kind pledge lists at least one item"));
    }
    let funding_source = FundingSource::parse("funding_source", &p.funding_source)?;
    let finance_type = finance_type("finance_type", &p.finance_type)?;
    count("goals", p.goals.len())?;
    let goal_ids = unique_ids(GoalId::parse, "goals.goal_id", p.goals.iter().map(|g| g.goal_id.as_str()))?;
    let mut shares = Vec::new();
    for (i, g) in p.goals.iter().enumerate() {
        shares.push((i, parse_positive(&format!("goals[{i}].share"), &g.share)?));
    }
    check_shares("goals", &shares)?;
    let goals = goal_ids.into_iter().zip(shares).map(|(goal_id, (_, share))| d::GoalShare { goal_id, share }).collect();
    count("recipient_ids", p.recipient_ids.len())?;
    let recipient_ids = unique_ids(PartyId::parse, "recipient_ids", p.recipient_ids.iter().map(String::as_str))?;
    let usage_period = period("usage_period", p.usage_period.as_ref())?;
    count("restates", p.restates.len())?;
    let restated = unique_ids(PledgeId::parse, "restates.pledge_id", p.restates.iter().map(|r| r.pledge_id.as_str()))?;
    let mut restates = Vec::new();
    for ((i, r), pledge) in p.restates.iter().enumerate().zip(restated) {
        if r.pledge_id == p.pledge_id {
            return Err(Error::invalid(format!("restates[{i}].pledge_id"), "a pledge cannot restate itself"));
        }
        let amount = parse_money_or_zero(&format!("restates[{i}].amount"), r.amount.as_ref())?;
        restates.push(d::Restatement { pledge_id: pledge, amount });
    }
    let announced = match &p.announced {
        Some(a) => Some(d::Announcement {
            event: text("announced.event", &a.event, false)?,
            date: opt_day("announced.date", &a.date)?,
        }),
        None => None,
    };
    let expires_on = opt_day("expires_on", &p.expires_on)?;
    let items = in_kind_items(p)?;
    let milestones = policy_milestones(p)?;
    let description = text("description", &p.description, false)?;
    Ok(d::PledgeAnnounced {
        pledge_id,
        plan_id,
        pledger_id,
        pledge_kind,
        amount,
        goals,
        recipient_ids,
        usage_period,
        finance_type,
        funding_source,
        new_money: p.new_money,
        restates,
        announced,
        expires_on,
        items,
        milestones,
        description,
    })
}

/// The items of an in-kind pledge: unique ids, a positive quantity each.
fn in_kind_items(p: &pb::PledgeAnnounced) -> Result<Vec<d::InKindItem>> {
    count("items", p.items.len())?;
    let item_ids = unique_ids(ItemId::parse, "items.item_id", p.items.iter().map(|x| x.item_id.as_str()))?;
    let mut items = Vec::new();
    for ((i, it), item_id) in p.items.iter().enumerate().zip(item_ids) {
        let quantity = parse_positive(&format!("items[{i}].quantity"), &it.quantity)?;
        let description = text(&format!("items[{i}].description"), &it.description, false)?;
        let unit_value = opt_money(&format!("items[{i}].unit_value"), it.unit_value.as_ref())?;
        items.push(d::InKindItem {
            item_id,
            description,
            quantity,
            unit: it.unit.clone(),
            unit_value,
            valuation_basis: it.valuation_basis.clone(),
        });
    }
    Ok(items)
}

/// The milestones of a policy-action pledge: unique ids, a title and due date each, a unit with a target.
fn policy_milestones(p: &pb::PledgeAnnounced) -> Result<Vec<d::PolicyMilestone>> {
    count("milestones", p.milestones.len())?;
    let milestone_ids = unique_ids(
        MilestoneId::parse,
        "milestones.milestone_id",
        p.milestones.iter().map(|x| x.milestone_id.as_str()),
    )?;
    let mut milestones = Vec::new();
    for ((i, m), milestone_id) in p.milestones.iter().enumerate().zip(milestone_ids) {
        let title = text(&format!("milestones[{i}].title"), &m.title, true)?;
        let due_date = day(&format!("milestones[{i}].due_date"), &m.due_date)?;
        let quantity_target =
            opt_decimal(&format!("milestones[{i}].quantity_target"), &m.quantity_target, parse_positive)?;
        let unit = text(&format!("milestones[{i}].unit"), &m.unit, quantity_target.is_some())?;
        milestones.push(d::PolicyMilestone { milestone_id, title, due_date, quantity_target, unit });
    }
    Ok(milestones)
}

pub(super) fn co_financing(r: &pb::CoFinancingRule) -> Result<d::CoFinancingRule> {
    let ratio = parse_positive("co_financing.ratio", &r.ratio)?;
    if ratio > Decimal::from(100) {
        return Err(Error::invalid("co_financing.ratio", "is a ratio (0.25 for 25%), at most 100"));
    }
    if r.party_ids.is_empty() {
        return Err(Error::invalid("co_financing.party_ids", "name the parties that must co-finance"));
    }
    let party_ids = unique_ids(PartyId::parse, "co_financing.party_ids", r.party_ids.iter().map(String::as_str))?;
    let mut finance_types = Vec::new();
    for (i, f) in r.finance_types.iter().enumerate() {
        finance_types.extend(finance_type(&format!("co_financing.finance_types[{i}]"), f)?);
    }
    let period =
        if r.period.is_empty() { None } else { Some(CoFinancingPeriod::parse("co_financing.period", &r.period)?) };
    Ok(d::CoFinancingRule { ratio, party_ids, finance_types, period })
}

pub(super) fn condition(c: &pb::ConditionDefined) -> Result<d::ConditionDefined> {
    let condition_id = id(ConditionId::parse, "condition_id", &c.condition_id)?;
    let plan_id = id(PlanId::parse, "plan_id", &c.plan_id)?;
    let party_id = id(PartyId::parse, "party_id", &c.party_id)?;
    let condition_type = ConditionType::parse("condition_type", &c.condition_type)?;
    let text_ = text("text", &c.text, true)?;
    let assessor_id = opt_id(PartyId::parse, "assessor_id", &c.assessor_id)?;
    let pledge_ids = unique_ids(PledgeId::parse, "pledge_ids", c.pledge_ids.iter().map(String::as_str))?;
    let amount_at_stake = opt_money("amount_at_stake", c.amount_at_stake.as_ref())?;
    let co_financing = match (&c.co_financing, condition_type == ConditionType::CoFinancing) {
        (Some(r), true) => Some(co_financing(r)?),
        (None, true) => return Err(Error::invalid("co_financing", "is required when condition_type is co_financing")),
        (Some(_), false) => return Err(Error::invalid("co_financing", "is only for condition_type co_financing")),
        (None, false) => {
            if assessor_id.is_none() {
                return Err(Error::invalid("assessor_id", "a designated assessor is required"));
            }
            None
        }
    };
    Ok(d::ConditionDefined {
        condition_id,
        plan_id,
        party_id,
        condition_type,
        text: text_,
        assessor_id,
        pledge_ids,
        amount_at_stake,
        co_financing,
    })
}

pub(super) fn commitment(c: &pb::CommitmentSigned) -> Result<d::CommitmentSigned> {
    let commitment_id = id(CommitmentId::parse, "commitment_id", &c.commitment_id)?;
    let plan_id = id(PlanId::parse, "plan_id", &c.plan_id)?;
    let provider_id = id(PartyId::parse, "provider_id", &c.provider_id)?;
    let recipient_id = id(PartyId::parse, "recipient_id", &c.recipient_id)?;
    if provider_id == recipient_id {
        return Err(Error::invalid("recipient_id", "provider and recipient must be different parties"));
    }
    let amount = parse_money("amount", c.amount.as_ref())?;
    let signed_date = day("signed_date", &c.signed_date)?;
    let finance_type = finance_type("finance_type", &c.finance_type)?;
    let agreement_sha256 = sha256("agreement_sha256", &c.agreement_sha256)?;
    count("allocations", c.allocations.len())?;
    let pledge_ids =
        unique_ids(PledgeId::parse, "allocations.pledge_id", c.allocations.iter().map(|a| a.pledge_id.as_str()))?;
    let mut allocations = Vec::new();
    for ((i, a), pledge_id) in c.allocations.iter().enumerate().zip(pledge_ids) {
        let amount = parse_money(&format!("allocations[{i}].amount"), a.amount.as_ref())?;
        allocations.push(d::PledgeAllocation { pledge_id, amount });
    }
    count("usage_years", c.usage_years.len())?;
    let mut years = BTreeSet::new();
    let mut sum = Decimal::ZERO;
    let mut usage_years = Vec::new();
    for (i, y) in c.usage_years.iter().enumerate() {
        if !(1900..=2200).contains(&y.year) || !years.insert(y.year) {
            return Err(Error::invalid(
                format!("usage_years[{i}].year"),
                format!("{} is not a new plausible year", y.year),
            ));
        }
        let f = format!("usage_years[{i}].value");
        let value = parse_positive(&f, &y.value)?;
        sum = money::add(&f, sum, value)?;
        usage_years.push(d::UsageYear { year: y.year, value });
    }
    if !c.usage_years.is_empty() && sum != amount.value {
        return Err(Error::invalid(
            "usage_years",
            format!("sum to {sum}, but the commitment amount is {} (usage years sum to the commitment)", amount.value),
        ));
    }
    count("tranches", c.tranches.len())?;
    let tranche_ids =
        unique_ids(TrancheId::parse, "tranches.tranche_id", c.tranches.iter().map(|t| t.tranche_id.as_str()))?;
    let mut sum = Decimal::ZERO;
    let mut tranches = Vec::new();
    for ((i, t), tranche_id) in c.tranches.iter().enumerate().zip(tranche_ids) {
        let f = format!("tranches[{i}].value");
        let value = parse_positive(&f, &t.value)?;
        sum = money::add(&f, sum, value)?;
        let condition_ids = unique_ids(
            ConditionId::parse,
            &format!("tranches[{i}].condition_ids"),
            t.condition_ids.iter().map(String::as_str),
        )?;
        tranches.push(d::Tranche { tranche_id, value, condition_ids });
    }
    if !c.tranches.is_empty() && sum != amount.value {
        return Err(Error::invalid(
            "tranches",
            format!("sum to {sum}, but the commitment amount is {} (tranches sum to the commitment)", amount.value),
        ));
    }
    Ok(d::CommitmentSigned {
        commitment_id,
        plan_id,
        provider_id,
        recipient_id,
        allocations,
        amount,
        signed_date,
        finance_type,
        usage_years,
        tranches,
        agreement_sha256,
    })
}
