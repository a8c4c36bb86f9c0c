//! Stateless checks of the book's statement kinds: formats, code lists and sums that need no state.
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::*;
use crate::domain::money::{self, parse_decimal, parse_money, parse_positive};
use crate::domain::{check_id, check_text, date};
use crate::error::{Error, Result};
use crate::pb::{self, amended::Version, statement::Body};

fn one_of(field: &str, s: &str, list: &[&str]) -> Result<()> {
    if list.contains(&s) {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("{s:?} is not one of {}", list.join(", "))))
    }
}

fn check_date(field: &str, s: &str) -> Result<i64> {
    date::parse_date(s).ok_or_else(|| Error::invalid(field, format!("{s:?} is not a date of the form YYYY-MM-DD")))
}

fn opt_date(field: &str, s: &str) -> Result<Option<i64>> {
    if s.is_empty() {
        Ok(None)
    } else {
        check_date(field, s).map(Some)
    }
}

fn check_period(field: &str, p: Option<&pb::Period>, required: bool) -> Result<Option<(i64, i64)>> {
    let Some(p) = p else {
        return if required { Err(Error::invalid(field, "is required")) } else { Ok(None) };
    };
    let s = check_date(&format!("{field}.start"), &p.start)?;
    let e = check_date(&format!("{field}.end"), &p.end)?;
    if e < s {
        return Err(Error::invalid(format!("{field}.end"), "is before period.start"));
    }
    Ok(Some((s, e)))
}

fn check_sha256(field: &str, b: &[u8]) -> Result<()> {
    if b.is_empty() || b.len() == 32 {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("a SHA-256 digest is 32 bytes, got {}", b.len())))
    }
}

fn check_count(field: &str, n: usize) -> Result<()> {
    if n > MAX_ITEMS {
        return Err(Error::invalid(field, format!("at most {MAX_ITEMS} items")));
    }
    Ok(())
}

fn check_finance_type(field: &str, s: &str) -> Result<()> {
    if s.is_empty() || (s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("{s:?} is not an IATI FinanceType code (e.g. \"110\")")))
    }
}

/// Shares (percentages) that must sum to exactly 100.
fn check_shares<'a>(field: &str, shares: impl Iterator<Item = (usize, &'a str)>) -> Result<()> {
    let mut total = Decimal::ZERO;
    let mut any = false;
    for (i, s) in shares {
        let d = parse_positive(&format!("{field}[{i}].share"), s)?;
        total = money::add(field, total, d)?;
        any = true;
    }
    if any && total != Decimal::ONE_HUNDRED {
        return Err(Error::invalid(
            field,
            format!("shares sum to {total}, not 100 (goal shares per vocabulary sum to 100)"),
        ));
    }
    Ok(())
}

/// Unique ids within one list.
fn check_unique_ids<'a>(field: &str, ids: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.enumerate() {
        check_id(&format!("{field}[{i}]"), id)?;
        if !seen.insert(id) {
            return Err(Error::invalid(format!("{field}[{i}]"), format!("{id:?} is listed twice")));
        }
    }
    Ok(())
}

fn check_goal(g: &pb::GoalDefined) -> Result<()> {
    check_id("goal_id", &g.goal_id)?;
    check_id("plan_id", &g.plan_id)?;
    check_text("title", &g.title, true)?;
    check_text("description", &g.description, false)?;
    check_count("classifications", g.classifications.len())?;
    let mut by_vocab: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for (i, c) in g.classifications.iter().enumerate() {
        one_of(&format!("classifications[{i}].vocabulary"), &c.vocabulary, VOCABULARIES)?;
        check_id(&format!("classifications[{i}].code"), &c.code)?;
        if !c.share.is_empty() {
            by_vocab.entry(&c.vocabulary).or_default().push((i, &c.share));
        }
    }
    for (v, shares) in by_vocab {
        check_shares(&format!("classifications({v})"), shares.into_iter())?;
    }
    Ok(())
}

fn check_indicator(x: &pb::IndicatorDefined) -> Result<()> {
    check_id("indicator_id", &x.indicator_id)?;
    check_id("goal_id", &x.goal_id)?;
    check_text("title", &x.title, true)?;
    check_text("unit", &x.unit, false)?;
    if !(1..=5).contains(&x.measure) {
        return Err(Error::invalid(
            "measure",
            "must be an IATI IndicatorMeasure: 1 unit, 2 percentage, 3 nominal, 4 ordinal, 5 qualitative",
        ));
    }
    if let Some(b) = &x.baseline {
        parse_decimal("baseline.value", &b.value)?;
        if !(1900..=2200).contains(&b.year) {
            return Err(Error::invalid("baseline.year", format!("{} is not a plausible year", b.year)));
        }
    }
    check_count("targets", x.targets.len())?;
    for (i, t) in x.targets.iter().enumerate() {
        check_period(&format!("targets[{i}].period"), t.period.as_ref(), true)?;
        parse_decimal(&format!("targets[{i}].value"), &t.value)?;
    }
    Ok(())
}

fn check_pledge(p: &pb::PledgeAnnounced) -> Result<()> {
    check_id("pledge_id", &p.pledge_id)?;
    check_id("plan_id", &p.plan_id)?;
    check_id("pledger_id", &p.pledger_id)?;
    one_of("pledge_kind", &p.pledge_kind, PLEDGE_KINDS)?;
    if p.pledge_kind == "policy_action" {
        if p.amount.is_some() {
            parse_money("amount", p.amount.as_ref())?;
        }
        if p.milestones.is_empty() {
            return Err(Error::invalid("milestones", "a policy_action pledge lists at least one milestone"));
        }
    } else {
        parse_money("amount", p.amount.as_ref())?;
    }
    if p.pledge_kind == "in_kind" && p.items.is_empty() {
        return Err(Error::invalid("items", "an in_kind pledge lists at least one item"));
    }
    one_of("funding_source", &p.funding_source, FUNDING_SOURCES)?;
    check_finance_type("finance_type", &p.finance_type)?;
    check_count("goals", p.goals.len())?;
    check_unique_ids("goals.goal_id", p.goals.iter().map(|g| g.goal_id.as_str()))?;
    check_shares("goals", p.goals.iter().enumerate().map(|(i, g)| (i, g.share.as_str())))?;
    check_count("recipient_ids", p.recipient_ids.len())?;
    check_unique_ids("recipient_ids", p.recipient_ids.iter().map(String::as_str))?;
    check_period("usage_period", p.usage_period.as_ref(), false)?;
    check_count("restates", p.restates.len())?;
    check_unique_ids("restates.pledge_id", p.restates.iter().map(|r| r.pledge_id.as_str()))?;
    for (i, r) in p.restates.iter().enumerate() {
        if r.pledge_id == p.pledge_id {
            return Err(Error::invalid(format!("restates[{i}].pledge_id"), "a pledge cannot restate itself"));
        }
        money::parse_money_or_zero(&format!("restates[{i}].amount"), r.amount.as_ref())?;
    }
    if let Some(a) = &p.announced {
        check_text("announced.event", &a.event, false)?;
        opt_date("announced.date", &a.date)?;
    }
    opt_date("expires_on", &p.expires_on)?;
    check_count("items", p.items.len())?;
    check_unique_ids("items.item_id", p.items.iter().map(|x| x.item_id.as_str()))?;
    for (i, it) in p.items.iter().enumerate() {
        parse_positive(&format!("items[{i}].quantity"), &it.quantity)?;
        check_text(&format!("items[{i}].description"), &it.description, false)?;
        if it.unit_value.is_some() {
            parse_money(&format!("items[{i}].unit_value"), it.unit_value.as_ref())?;
        }
    }
    check_count("milestones", p.milestones.len())?;
    check_unique_ids("milestones.milestone_id", p.milestones.iter().map(|x| x.milestone_id.as_str()))?;
    for (i, m) in p.milestones.iter().enumerate() {
        check_text(&format!("milestones[{i}].title"), &m.title, true)?;
        check_date(&format!("milestones[{i}].due_date"), &m.due_date)?;
        if !m.quantity_target.is_empty() {
            parse_positive(&format!("milestones[{i}].quantity_target"), &m.quantity_target)?;
            check_text(&format!("milestones[{i}].unit"), &m.unit, true)?;
        } else {
            check_text(&format!("milestones[{i}].unit"), &m.unit, false)?;
        }
    }
    check_text("description", &p.description, false)
}

fn check_condition(c: &pb::ConditionDefined) -> Result<()> {
    check_id("condition_id", &c.condition_id)?;
    check_id("plan_id", &c.plan_id)?;
    check_id("party_id", &c.party_id)?;
    one_of("condition_type", &c.condition_type, CONDITION_TYPES)?;
    check_text("text", &c.text, true)?;
    if !c.assessor_id.is_empty() {
        check_id("assessor_id", &c.assessor_id)?;
    }
    check_unique_ids("pledge_ids", c.pledge_ids.iter().map(String::as_str))?;
    if c.amount_at_stake.is_some() {
        parse_money("amount_at_stake", c.amount_at_stake.as_ref())?;
    }
    match (&c.co_financing, c.condition_type == "co_financing") {
        (Some(r), true) => {
            let ratio = parse_positive("co_financing.ratio", &r.ratio)?;
            if ratio > Decimal::from(100) {
                return Err(Error::invalid("co_financing.ratio", "is a ratio (0.25 for 25%), at most 100"));
            }
            if r.party_ids.is_empty() {
                return Err(Error::invalid("co_financing.party_ids", "name the parties that must co-finance"));
            }
            check_unique_ids("co_financing.party_ids", r.party_ids.iter().map(String::as_str))?;
            for (i, f) in r.finance_types.iter().enumerate() {
                check_finance_type(&format!("co_financing.finance_types[{i}]"), f)?;
            }
            if !r.period.is_empty() {
                one_of("co_financing.period", &r.period, &["year", "plan"])?;
            }
        }
        (None, true) => return Err(Error::invalid("co_financing", "is required when condition_type is co_financing")),
        (Some(_), false) => {
            return Err(Error::invalid("co_financing", "is only for condition_type co_financing"));
        }
        (None, false) => {
            if c.assessor_id.is_empty() {
                return Err(Error::invalid("assessor_id", "a designated assessor is required"));
            }
        }
    }
    Ok(())
}

fn check_commitment(c: &pb::CommitmentSigned) -> Result<()> {
    check_id("commitment_id", &c.commitment_id)?;
    check_id("plan_id", &c.plan_id)?;
    check_id("provider_id", &c.provider_id)?;
    check_id("recipient_id", &c.recipient_id)?;
    if c.provider_id == c.recipient_id {
        return Err(Error::invalid("recipient_id", "provider and recipient must be different parties"));
    }
    let amount = parse_money("amount", c.amount.as_ref())?;
    check_date("signed_date", &c.signed_date)?;
    check_finance_type("finance_type", &c.finance_type)?;
    check_sha256("agreement_sha256", &c.agreement_sha256)?;
    check_count("allocations", c.allocations.len())?;
    check_unique_ids("allocations.pledge_id", c.allocations.iter().map(|a| a.pledge_id.as_str()))?;
    for (i, a) in c.allocations.iter().enumerate() {
        parse_money(&format!("allocations[{i}].amount"), a.amount.as_ref())?;
    }
    check_count("usage_years", c.usage_years.len())?;
    let mut years = BTreeSet::new();
    let mut sum = Decimal::ZERO;
    for (i, y) in c.usage_years.iter().enumerate() {
        if !(1900..=2200).contains(&y.year) || !years.insert(y.year) {
            return Err(Error::invalid(
                format!("usage_years[{i}].year"),
                format!("{} is not a new plausible year", y.year),
            ));
        }
        let f = format!("usage_years[{i}].value");
        sum = money::add(&f, sum, parse_positive(&f, &y.value)?)?;
    }
    if !c.usage_years.is_empty() && sum != amount.value {
        return Err(Error::invalid(
            "usage_years",
            format!("sum to {sum}, but the commitment amount is {} (usage years sum to the commitment)", amount.value),
        ));
    }
    check_count("tranches", c.tranches.len())?;
    check_unique_ids("tranches.tranche_id", c.tranches.iter().map(|t| t.tranche_id.as_str()))?;
    let mut sum = Decimal::ZERO;
    for (i, t) in c.tranches.iter().enumerate() {
        let f = format!("tranches[{i}].value");
        sum = money::add(&f, sum, parse_positive(&f, &t.value)?)?;
        check_unique_ids(&format!("tranches[{i}].condition_ids"), t.condition_ids.iter().map(String::as_str))?;
    }
    if !c.tranches.is_empty() && sum != amount.value {
        return Err(Error::invalid(
            "tranches",
            format!("sum to {sum}, but the commitment amount is {} (tranches sum to the commitment)", amount.value),
        ));
    }
    Ok(())
}

fn check_version(v: &Version) -> Result<()> {
    match v {
        Version::Plan(p) => crate::domain::check_plan(p).map_err(|e| e.scope("plan")),
        Version::Goal(g) => check_goal(g).map_err(|e| e.scope("goal")),
        Version::Indicator(x) => check_indicator(x).map_err(|e| e.scope("indicator")),
        Version::Pledge(p) => check_pledge(p).map_err(|e| e.scope("pledge")),
        Version::Condition(c) => check_condition(c).map_err(|e| e.scope("condition")),
        Version::Commitment(c) => check_commitment(c).map_err(|e| e.scope("commitment")),
    }
}

/// Version id of an amended subject.
fn version_id(v: &Version) -> &str {
    match v {
        Version::Plan(p) => &p.plan_id,
        Version::Goal(g) => &g.goal_id,
        Version::Indicator(x) => &x.indicator_id,
        Version::Pledge(p) => &p.pledge_id,
        Version::Condition(c) => &c.condition_id,
        Version::Commitment(c) => &c.commitment_id,
    }
}

/// Stateless checks of the book's statement kinds. Field paths are relative to the statement
/// (e.g. `pledge_announced.amount.value`). Governance kinds are checked by the caller.
pub fn check_shape(body: &Body) -> Result<()> {
    match body {
        Body::GoalDefined(g) => check_goal(g).map_err(|e| e.scope("goal_defined")),
        Body::IndicatorDefined(x) => check_indicator(x).map_err(|e| e.scope("indicator_defined")),
        Body::PledgeAnnounced(p) => check_pledge(p).map_err(|e| e.scope("pledge_announced")),
        Body::ConditionDefined(c) => check_condition(c).map_err(|e| e.scope("condition_defined")),
        Body::CommitmentSigned(c) => check_commitment(c).map_err(|e| e.scope("commitment_signed")),
        Body::TransactionRecorded(t) => (|| {
            check_id("txn_id", &t.txn_id)?;
            if !TRANSACTION_TYPES.contains(&t.transaction_type) {
                return Err(Error::invalid(
                    "transaction_type",
                    format!(
                        "{} is not one of 1 (incoming funds), 3 (disbursement), 4 (expenditure), 7 (reimbursement)",
                        t.transaction_type
                    ),
                ));
            }
            if matches!(t.transaction_type, 3 | 7) || !t.commitment_id.is_empty() {
                check_id("commitment_id", &t.commitment_id)?;
            }
            check_date("date", &t.date)?;
            parse_money("amount", t.amount.as_ref())?;
            check_id("provider_id", &t.provider_id)?;
            if t.transaction_type != 4 || !t.receiver_id.is_empty() {
                check_id("receiver_id", &t.receiver_id)?;
            }
            if !t.tranche_id.is_empty() {
                check_id("tranche_id", &t.tranche_id)?;
            }
            if !t.boundary.is_empty() {
                one_of("boundary", &t.boundary, BOUNDARIES)?;
            }
            check_sha256("evidence_sha256", &t.evidence_sha256)?;
            if !t.corrects.is_empty() {
                check_id("corrects", &t.corrects)?;
                if t.corrects == t.txn_id {
                    return Err(Error::invalid("corrects", "names this transaction itself"));
                }
            }
            check_text("description", &t.description, false)
        })()
        .map_err(|e| e.scope("transaction_recorded")),
        Body::TransactionReversed(r) => (|| {
            check_id("txn_id", &r.txn_id)?;
            if r.amount.is_some() {
                parse_money("amount", r.amount.as_ref())?;
            }
            check_text("rationale", &r.rationale, true)
        })()
        .map_err(|e| e.scope("transaction_reversed")),
        Body::InkindDelivered(d) => (|| {
            check_id("delivery_id", &d.delivery_id)?;
            check_id("pledge_id", &d.pledge_id)?;
            check_date("date", &d.date)?;
            if !d.item_id.is_empty() {
                check_id("item_id", &d.item_id)?;
            }
            if !d.quantity.is_empty() {
                parse_positive("quantity", &d.quantity)?;
            }
            parse_money("value", d.value.as_ref())?;
            check_id("receiver_id", &d.receiver_id)
        })()
        .map_err(|e| e.scope("inkind_delivered")),
        Body::DeliveryConfirmed(c) => (|| {
            check_id("delivery_id", &c.delivery_id)?;
            check_date("date", &c.date)?;
            check_text("note", &c.note, false)
        })()
        .map_err(|e| e.scope("delivery_confirmed")),
        Body::MilestoneUpdated(m) => (|| {
            check_id("pledge_id", &m.pledge_id)?;
            check_id("milestone_id", &m.milestone_id)?;
            one_of("status", &m.status, MILESTONE_STATUSES)?;
            check_date("date", &m.date)?;
            if !m.quantity_done.is_empty() {
                parse_decimal("quantity_done", &m.quantity_done)?;
            }
            check_text("note", &m.note, false)
        })()
        .map_err(|e| e.scope("milestone_updated")),
        Body::ConditionAssessed(a) => (|| {
            check_id("condition_id", &a.condition_id)?;
            if !a.tranche_id.is_empty() {
                check_id("tranche_id", &a.tranche_id)?;
            }
            one_of("outcome", &a.outcome, OUTCOMES)?;
            check_date("date", &a.date)?;
            check_sha256("evidence_sha256", &a.evidence_sha256)?;
            check_text("rationale", &a.rationale, false)
        })()
        .map_err(|e| e.scope("condition_assessed")),
        Body::ProgressReported(r) => (|| {
            check_id("report_id", &r.report_id)?;
            check_id("reporter_id", &r.reporter_id)?;
            check_id("plan_id", &r.plan_id)?;
            check_period("period", r.period.as_ref(), true)?;
            check_count("indicator_values", r.indicator_values.len())?;
            check_unique_ids(
                "indicator_values.indicator_id",
                r.indicator_values.iter().map(|v| v.indicator_id.as_str()),
            )?;
            for (i, v) in r.indicator_values.iter().enumerate() {
                parse_decimal(&format!("indicator_values[{i}].value"), &v.value)?;
            }
            if r.co_financing_realised.is_some() {
                parse_money("co_financing_realised", r.co_financing_realised.as_ref())?;
            }
            check_sha256("narrative_sha256", &r.narrative_sha256)
        })()
        .map_err(|e| e.scope("progress_reported")),
        Body::AttestationIssued(a) => (|| {
            check_id("attestation_id", &a.attestation_id)?;
            check_id("auditor_id", &a.auditor_id)?;
            check_text("scope", &a.scope, true)?;
            one_of("opinion", &a.opinion, OPINIONS)?;
            if a.covered_entries.is_empty() {
                return Err(Error::invalid("covered_entries", "an attestation covers at least one entry"));
            }
            check_count("covered_entries", a.covered_entries.len())?;
            let mut seen = BTreeSet::new();
            for (i, c) in a.covered_entries.iter().enumerate() {
                if c.len() != 32 {
                    return Err(Error::invalid(format!("covered_entries[{i}]"), "an entry identity is 32 bytes"));
                }
                if !seen.insert(c) {
                    return Err(Error::invalid(format!("covered_entries[{i}]"), "is listed twice"));
                }
            }
            check_count("adjustments", a.adjustments.len())?;
            for (i, x) in a.adjustments.iter().enumerate() {
                check_text(&format!("adjustments[{i}].item"), &x.item, true)?;
                parse_decimal(&format!("adjustments[{i}].reported"), &x.reported)?;
                parse_decimal(&format!("adjustments[{i}].verified"), &x.verified)?;
                check_text(&format!("adjustments[{i}].reason"), &x.reason, false)?;
            }
            Ok(())
        })()
        .map_err(|e| e.scope("attestation_issued")),
        Body::Amended(a) => (|| {
            check_id("subject_id", &a.subject_id)?;
            check_text("rationale", &a.rationale, true)?;
            let v = a.version.as_ref().ok_or_else(|| Error::invalid("version", "the new version is required"))?;
            check_version(v)?;
            if version_id(v) != a.subject_id {
                return Err(Error::invalid(
                    "subject_id",
                    format!(
                        "is {:?} but the new version's id is {:?} (ids are immutable)",
                        a.subject_id,
                        version_id(v)
                    ),
                ));
            }
            Ok(())
        })()
        .map_err(|e| e.scope("amended")),
        Body::Withdrawn(w) => (|| {
            one_of("subject_kind", &w.subject_kind, WITHDRAWABLE)?;
            check_id("subject_id", &w.subject_id)?;
            check_text("rationale", &w.rationale, true)
        })()
        .map_err(|e| e.scope("withdrawn")),
        Body::FxRateRecorded(f) => (|| {
            money::check_currency("from_currency", &f.from_currency)?;
            money::check_currency("to_currency", &f.to_currency)?;
            if f.from_currency == f.to_currency {
                return Err(Error::invalid("to_currency", "must differ from from_currency"));
            }
            parse_positive("rate", &f.rate)?;
            check_date("rate_date", &f.rate_date)?;
            check_text("source", &f.source, true)?;
            check_text("method", &f.method, false)
        })()
        .map_err(|e| e.scope("fx_rate_recorded")),
        _ => Ok(()),
    }
}
