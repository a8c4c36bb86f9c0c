//! Transactions, deliveries, milestones, assessments, reports, attestations, amendments, withdrawals and rates.
use std::collections::BTreeSet;

use accord_domain::codes::*;
use accord_domain::ids::*;
use accord_domain::statement as d;

use accord_domain::money::{parse_decimal, parse_positive, Currency};

use super::super::money::parse_money;
use super::values::*;
use super::{commitments::*, plans::*};
use crate::error::{Error, Result};
use crate::pb::{self, amended::Version as PbVersion};

pub(super) fn transaction(t: &pb::TransactionRecorded) -> Result<d::TransactionRecorded> {
    let txn_id = id(TxnId::parse, "txn_id", &t.txn_id)?;
    let transaction_type = TransactionType::parse("transaction_type", t.transaction_type)?;
    let commitment_id = if transaction_type.pays_out() || !t.commitment_id.is_empty() {
        Some(id(CommitmentId::parse, "commitment_id", &t.commitment_id)?)
    } else {
        None
    };
    let date = day("date", &t.date)?;
    let amount = parse_money("amount", t.amount.as_ref())?;
    let provider_id = id(PartyId::parse, "provider_id", &t.provider_id)?;
    let receiver_id = if transaction_type != TransactionType::Expenditure || !t.receiver_id.is_empty() {
        Some(id(PartyId::parse, "receiver_id", &t.receiver_id)?)
    } else {
        None
    };
    let tranche_id = opt_id(TrancheId::parse, "tranche_id", &t.tranche_id)?;
    let boundary = if t.boundary.is_empty() { None } else { Some(Boundary::parse("boundary", &t.boundary)?) };
    let evidence_sha256 = sha256("evidence_sha256", &t.evidence_sha256)?;
    let corrects = opt_id(TxnId::parse, "corrects", &t.corrects)?;
    if corrects.as_ref().is_some_and(|c| *c == txn_id) {
        return Err(Error::invalid("corrects", "names this transaction itself"));
    }
    let description = text("description", &t.description, false)?;
    Ok(d::TransactionRecorded {
        txn_id,
        commitment_id,
        transaction_type,
        date,
        amount,
        provider_id,
        receiver_id,
        tranche_id,
        boundary,
        evidence_sha256,
        description,
        corrects,
    })
}

pub(super) fn reversal(r: &pb::TransactionReversed) -> Result<d::TransactionReversed> {
    let txn_id = id(TxnId::parse, "txn_id", &r.txn_id)?;
    let amount = opt_money("amount", r.amount.as_ref())?;
    let rationale = text("rationale", &r.rationale, true)?;
    Ok(d::TransactionReversed { txn_id, rationale, amount })
}

pub(super) fn delivery(x: &pb::InkindDelivered) -> Result<d::InkindDelivered> {
    let delivery_id = id(DeliveryId::parse, "delivery_id", &x.delivery_id)?;
    let pledge_id = id(PledgeId::parse, "pledge_id", &x.pledge_id)?;
    let date = day("date", &x.date)?;
    let item_id = opt_id(ItemId::parse, "item_id", &x.item_id)?;
    let quantity = opt_decimal("quantity", &x.quantity, parse_positive)?;
    let value = parse_money("value", x.value.as_ref())?;
    let receiver_id = id(PartyId::parse, "receiver_id", &x.receiver_id)?;
    Ok(d::InkindDelivered { delivery_id, pledge_id, date, item_id, quantity, value, receiver_id })
}

pub(super) fn confirmation(c: &pb::DeliveryConfirmed) -> Result<d::DeliveryConfirmed> {
    let delivery_id = id(DeliveryId::parse, "delivery_id", &c.delivery_id)?;
    let date = day("date", &c.date)?;
    let note = text("note", &c.note, false)?;
    Ok(d::DeliveryConfirmed { delivery_id, date, note })
}

pub(super) fn milestone(m: &pb::MilestoneUpdated) -> Result<d::MilestoneUpdated> {
    let pledge_id = id(PledgeId::parse, "pledge_id", &m.pledge_id)?;
    let milestone_id = id(MilestoneId::parse, "milestone_id", &m.milestone_id)?;
    let status = MilestoneStatus::parse("status", &m.status)?;
    let date = day("date", &m.date)?;
    let quantity_done = opt_decimal("quantity_done", &m.quantity_done, parse_decimal)?;
    let note = text("note", &m.note, false)?;
    Ok(d::MilestoneUpdated { pledge_id, milestone_id, status, date, quantity_done, note })
}

pub(super) fn assessment(a: &pb::ConditionAssessed) -> Result<d::ConditionAssessed> {
    let condition_id = id(ConditionId::parse, "condition_id", &a.condition_id)?;
    let tranche_id = opt_id(TrancheId::parse, "tranche_id", &a.tranche_id)?;
    let outcome = Outcome::parse("outcome", &a.outcome)?;
    let date = day("date", &a.date)?;
    let evidence_sha256 = sha256("evidence_sha256", &a.evidence_sha256)?;
    let rationale = text("rationale", &a.rationale, false)?;
    Ok(d::ConditionAssessed { condition_id, tranche_id, outcome, date, evidence_sha256, rationale })
}

pub(super) fn progress(r: &pb::ProgressReported) -> Result<d::ProgressReported> {
    let report_id = id(ReportId::parse, "report_id", &r.report_id)?;
    let reporter_id = id(PartyId::parse, "reporter_id", &r.reporter_id)?;
    let plan_id = id(PlanId::parse, "plan_id", &r.plan_id)?;
    let period = required_period("period", r.period.as_ref())?;
    count("indicator_values", r.indicator_values.len())?;
    let ids = unique_ids(
        IndicatorId::parse,
        "indicator_values.indicator_id",
        r.indicator_values.iter().map(|v| v.indicator_id.as_str()),
    )?;
    let mut indicator_values = Vec::new();
    for ((i, v), indicator_id) in r.indicator_values.iter().enumerate().zip(ids) {
        let value = parse_decimal(&format!("indicator_values[{i}].value"), &v.value)?;
        indicator_values.push(d::IndicatorValue { indicator_id, value });
    }
    let co_financing_realised = opt_money("co_financing_realised", r.co_financing_realised.as_ref())?;
    let narrative_sha256 = sha256("narrative_sha256", &r.narrative_sha256)?;
    Ok(d::ProgressReported {
        report_id,
        reporter_id,
        plan_id,
        period,
        indicator_values,
        co_financing_realised,
        narrative_sha256,
    })
}

pub(super) fn attestation(a: &pb::AttestationIssued) -> Result<d::AttestationIssued> {
    let attestation_id = id(AttestationId::parse, "attestation_id", &a.attestation_id)?;
    let auditor_id = id(PartyId::parse, "auditor_id", &a.auditor_id)?;
    let scope = text("scope", &a.scope, true)?;
    let opinion = Opinion::parse("opinion", &a.opinion)?;
    if a.covered_entries.is_empty() {
        return Err(Error::invalid("covered_entries", "an attestation covers at least one entry"));
    }
    count("covered_entries", a.covered_entries.len())?;
    let mut covered_entries: Vec<[u8; 32]> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in a.covered_entries.iter().enumerate() {
        let c = <[u8; 32]>::try_from(c.as_slice())
            .map_err(|_| Error::invalid(format!("covered_entries[{i}]"), "an entry identity is 32 bytes"))?;
        if !seen.insert(c) {
            return Err(Error::invalid(format!("covered_entries[{i}]"), "is listed twice"));
        }
        covered_entries.push(c);
    }
    count("adjustments", a.adjustments.len())?;
    let mut adjustments = Vec::new();
    for (i, x) in a.adjustments.iter().enumerate() {
        adjustments.push(d::Adjustment {
            item: text(&format!("adjustments[{i}].item"), &x.item, true)?,
            reported: parse_decimal(&format!("adjustments[{i}].reported"), &x.reported)?,
            verified: parse_decimal(&format!("adjustments[{i}].verified"), &x.verified)?,
            reason: text(&format!("adjustments[{i}].reason"), &x.reason, false)?,
        });
    }
    Ok(d::AttestationIssued { attestation_id, auditor_id, scope, covered_entries, opinion, adjustments })
}

pub(super) fn version(v: &PbVersion) -> Result<d::Version> {
    Ok(match v {
        PbVersion::Plan(p) => d::Version::Plan(plan(p).map_err(|e| e.scope("plan"))?),
        PbVersion::Goal(g) => d::Version::Goal(goal(g).map_err(|e| e.scope("goal"))?),
        PbVersion::Indicator(x) => d::Version::Indicator(indicator(x).map_err(|e| e.scope("indicator"))?),
        PbVersion::Pledge(p) => d::Version::Pledge(pledge(p).map_err(|e| e.scope("pledge"))?),
        PbVersion::Condition(c) => d::Version::Condition(condition(c).map_err(|e| e.scope("condition"))?),
        PbVersion::Commitment(c) => d::Version::Commitment(commitment(c).map_err(|e| e.scope("commitment"))?),
    })
}

pub(super) fn amended(a: &pb::Amended) -> Result<d::Amended> {
    let subject_id = id(SubjectId::parse, "subject_id", &a.subject_id)?;
    let rationale = text("rationale", &a.rationale, true)?;
    let v = a.version.as_ref().ok_or_else(|| Error::invalid("version", "the new version is required"))?;
    let version = version(v)?;
    if version.id() != a.subject_id {
        return Err(Error::invalid(
            "subject_id",
            format!("is {:?} but the new version's id is {:?} (ids are immutable)", a.subject_id, version.id()),
        ));
    }
    Ok(d::Amended { subject_id, rationale, version })
}

pub(super) fn withdrawal(w: &pb::Withdrawn) -> Result<d::Withdrawn> {
    let subject_kind = Withdrawable::parse("subject_kind", &w.subject_kind)?;
    let subject_id = id(SubjectId::parse, "subject_id", &w.subject_id)?;
    let rationale = text("rationale", &w.rationale, true)?;
    Ok(d::Withdrawn { subject_kind, subject_id, rationale })
}

pub(super) fn fx_rate(f: &pb::FxRateRecorded) -> Result<d::FxRateRecorded> {
    let from_currency = Currency::parse("from_currency", &f.from_currency)?;
    let to_currency = Currency::parse("to_currency", &f.to_currency)?;
    if from_currency == to_currency {
        return Err(Error::invalid("to_currency", "must differ from from_currency"));
    }
    let rate = parse_positive("rate", &f.rate)?;
    let rate_date = day("rate_date", &f.rate_date)?;
    let source = text("source", &f.source, true)?;
    let method = text("method", &f.method, false)?;
    Ok(d::FxRateRecorded { from_currency, to_currency, rate, rate_date, source, method })
}
