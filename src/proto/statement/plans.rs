//! Plans, goals and indicators.
use std::collections::BTreeMap;

use accord_domain::codes::*;
use accord_domain::ids::*;
use accord_domain::statement as d;
use rust_decimal::Decimal;

use accord_domain::money::{parse_decimal, parse_positive, Currency};

use super::values::*;
use crate::error::{Error, Result};
use crate::pb::{self};

pub(super) fn schedule(field: &str, r: &pb::ReportSchedule) -> Result<d::ReportSchedule> {
    let frequency = Frequency::parse(&format!("{field}.frequency"), &r.frequency).map_err(|_| {
        Error::invalid(format!("{field}.frequency"), "must be one of monthly, quarterly, semiannual, annual")
    })?;
    if r.days_after_period_end > 366 {
        return Err(Error::invalid(format!("{field}.days_after_period_end"), "at most 366"));
    }
    Ok(d::ReportSchedule { frequency, days_after_period_end: r.days_after_period_end })
}

pub(super) fn plan(p: &pb::PlanCreated) -> Result<d::PlanCreated> {
    let plan_id = id(PlanId::parse, "plan_id", &p.plan_id)?;
    let title = text("title", &p.title, true)?;
    let description = text("description", &p.description, false)?;
    let period = required_period("period", p.period.as_ref())?;
    let reporting_currency = Currency::parse("reporting_currency", &p.reporting_currency)?;
    let mut signatories = Vec::new();
    for (i, sg) in p.signatories.iter().enumerate() {
        let party_id = id(PartyId::parse, &format!("signatories[{i}].party_id"), &sg.party_id)?;
        let role =
            if sg.role.is_empty() { None } else { Some(Role::parse(&format!("signatories[{i}].role"), &sg.role)?) };
        signatories.push(d::Signatory { party_id, role });
    }
    let report_schedule = p.report_schedule.as_ref().map(|r| schedule("report_schedule", r)).transpose()?;
    let boundary_party_ids = party_list(|i| format!("boundary_party_ids[{i}]"), p.boundary_party_ids.iter())?;
    let reporter_ids =
        party_list(|i| format!("expected_reporters[{i}].party_id"), p.expected_reporters.iter().map(|x| &x.party_id))?;
    let mut expected_reporters = Vec::new();
    for ((i, x), party_id) in p.expected_reporters.iter().enumerate().zip(reporter_ids) {
        let schedule = match &x.schedule {
            Some(r) => Some(schedule(&format!("expected_reporters[{i}].schedule"), r)?),
            None if p.report_schedule.is_none() => {
                return Err(Error::invalid(
                    format!("expected_reporters[{i}].schedule"),
                    "is required when the plan has no report_schedule (a reporter owes reports on a schedule)",
                ))
            }
            None => None,
        };
        expected_reporters.push(d::ExpectedReporter { party_id, schedule });
    }
    let requirement = opt_money("requirement", p.requirement.as_ref())?;
    Ok(d::PlanCreated {
        plan_id,
        title,
        period,
        reporting_currency,
        signatories,
        report_schedule,
        requirement,
        description,
        boundary_party_ids,
        expected_reporters,
    })
}

pub(super) fn goal(g: &pb::GoalDefined) -> Result<d::GoalDefined> {
    let goal_id = id(GoalId::parse, "goal_id", &g.goal_id)?;
    let plan_id = id(PlanId::parse, "plan_id", &g.plan_id)?;
    let title = text("title", &g.title, true)?;
    let description = text("description", &g.description, false)?;
    count("classifications", g.classifications.len())?;
    let mut by_vocab: BTreeMap<&'static str, Vec<(usize, Decimal)>> = BTreeMap::new();
    let mut classifications = Vec::new();
    for (i, c) in g.classifications.iter().enumerate() {
        let vocabulary = Vocabulary::parse(&format!("classifications[{i}].vocabulary"), &c.vocabulary)?;
        let code = id(Code::parse, &format!("classifications[{i}].code"), &c.code)?;
        classifications.push(d::Classification { vocabulary, code, share: None });
        if !c.share.is_empty() {
            by_vocab.entry(vocabulary.as_str()).or_default().push((i, Decimal::ZERO));
        }
    }
    // Shares are checked per vocabulary, in the order of the vocabularies' names.
    for (v, shares) in &mut by_vocab {
        let field = format!("classifications({v})");
        for (i, share) in shares.iter_mut() {
            let s = g.classifications.get(*i).map(|c| c.share.as_str()).unwrap_or_default();
            *share = parse_positive(&format!("{field}[{i}].share"), s)?;
            if let Some(c) = classifications.get_mut(*i) {
                c.share = Some(*share);
            }
        }
        check_shares(&field, shares)?;
    }
    Ok(d::GoalDefined { goal_id, plan_id, title, classifications, description })
}

pub(super) fn indicator(x: &pb::IndicatorDefined) -> Result<d::IndicatorDefined> {
    let indicator_id = id(IndicatorId::parse, "indicator_id", &x.indicator_id)?;
    let goal_id = id(GoalId::parse, "goal_id", &x.goal_id)?;
    let title = text("title", &x.title, true)?;
    let unit = text("unit", &x.unit, false)?;
    let measure = Measure::parse("measure", x.measure)?;
    let baseline = match &x.baseline {
        Some(b) => {
            let value = parse_decimal("baseline.value", &b.value)?;
            if !(1900..=2200).contains(&b.year) {
                return Err(Error::invalid("baseline.year", format!("{} is not a plausible year", b.year)));
            }
            Some(d::Baseline { value, year: b.year })
        }
        None => None,
    };
    count("targets", x.targets.len())?;
    let mut targets = Vec::new();
    for (i, t) in x.targets.iter().enumerate() {
        let period = required_period(&format!("targets[{i}].period"), t.period.as_ref())?;
        let value = parse_decimal(&format!("targets[{i}].value"), &t.value)?;
        targets.push(d::IndicatorTarget { period, value });
    }
    Ok(d::IndicatorDefined { indicator_id, goal_id, title, measure, ascending: x.ascending, unit, baseline, targets })
}
