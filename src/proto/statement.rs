//! `pb::Statement` → typed statement, one function per kind, with the stateless rules of each.
use std::collections::{BTreeMap, BTreeSet};

use accord_domain::codes::*;
use accord_domain::date::{self, Day};
use accord_domain::ids::*;
use accord_domain::statement as d;
use prost::Message;
use rust_decimal::Decimal;

use accord_domain::money::{self, parse_decimal, parse_positive, Amount};
use accord_domain::statement::{MAX_ITEMS, MAX_KEYS_PER_PARTY, MAX_PARTIES};
use accord_domain::text::{check_text, is_forbidden_in_text};

use super::money::{parse_money, parse_money_or_zero};
use crate::crypto;
use crate::error::{Error, Result};
use crate::pb::{self, amended::Version as PbVersion, statement::Body as PbBody};

/// A typed value read from its protobuf message (used to read a subject's stored body).
pub trait FromWire: Sized {
    /// The protobuf message.
    type Wire: Message + Default;
    /// Parse the message, applying its stateless rules; field paths are relative to the message.
    fn from_wire(w: &Self::Wire) -> Result<Self>;
    /// Decode and parse an encoded message.
    fn decode_wire(bytes: &[u8]) -> Result<Self> {
        let w = Self::Wire::decode(bytes).map_err(|e| Error::internal(format!("body does not decode: {e}")))?;
        Self::from_wire(&w)
    }
}

macro_rules! from_wire {
    ($($t:ty => $w:ty, $f:path;)*) => {$(
        impl FromWire for $t {
            type Wire = $w;
            fn from_wire(w: &$w) -> Result<Self> {
                $f(w)
            }
        }
    )*};
}

from_wire! {
    d::PlanCreated => pb::PlanCreated, plan;
    d::GoalDefined => pb::GoalDefined, goal;
    d::IndicatorDefined => pb::IndicatorDefined, indicator;
    d::PledgeAnnounced => pb::PledgeAnnounced, pledge;
    d::ConditionDefined => pb::ConditionDefined, condition;
    d::CommitmentSigned => pb::CommitmentSigned, commitment;
    d::TransactionRecorded => pb::TransactionRecorded, transaction;
    d::TransactionReversed => pb::TransactionReversed, reversal;
    d::InkindDelivered => pb::InkindDelivered, delivery;
    d::DeliveryConfirmed => pb::DeliveryConfirmed, confirmation;
    d::MilestoneUpdated => pb::MilestoneUpdated, milestone;
    d::ConditionAssessed => pb::ConditionAssessed, assessment;
    d::ProgressReported => pb::ProgressReported, progress;
    d::AttestationIssued => pb::AttestationIssued, attestation;
    d::Withdrawn => pb::Withdrawn, withdrawal;
    d::FxRateRecorded => pb::FxRateRecorded, fx_rate;
}

/// Parse a statement for a ledger of origin `origin`: the ledger, ids, dates, text and each body's shape.
/// Field paths are relative to the statement (`pledge_announced.amount.value`).
pub fn parse_statement(st: &pb::Statement, origin: &str) -> Result<d::Statement> {
    if st.ledger != origin {
        return Err(Error::invalid("ledger", format!("is {:?}, but this ledger's origin is {origin:?}", st.ledger)));
    }
    let statement_id = StatementId::parse("statement_id", &st.statement_id)?;
    let issued_at = issued_at(st.issued_at.as_ref())?;
    if let Some((field, c)) = crate::json::forbidden_text(st, &is_forbidden_in_text) {
        return Err(Error::invalid(
            field,
            format!("contains the control character U+{:04X} (only newline and tab are allowed in text)", u32::from(c)),
        ));
    }
    let effective_date = day("effective_date", &st.effective_date)?;
    let body = st.body.as_ref().ok_or_else(|| Error::invalid("body", "one statement kind must be set"))?;
    let body = parse_body(body)?;
    Ok(d::Statement { ledger: st.ledger.clone(), statement_id, issued_at, effective_date, body })
}

/// Parse a statement body; field paths are scoped under the body's field name (`pledge_announced`).
pub fn parse_body(body: &PbBody) -> Result<d::Body> {
    Ok(match body {
        PbBody::Charter(c) => d::Body::Charter(charter(c)?),
        PbBody::PartyAdmitted(a) => {
            let p = a.party.as_ref().ok_or_else(|| Error::invalid("party_admitted.party", "is required"))?;
            d::Body::PartyAdmitted(d::PartyAdmitted { party: party(p).map_err(|e| e.scope("party_admitted.party"))? })
        }
        PbBody::KeyRotated(r) => d::Body::KeyRotated(key_rotated(r)?),
        PbBody::KeyRevoked(r) => d::Body::KeyRevoked(key_revoked(r)?),
        PbBody::PlanCreated(p) => d::Body::PlanCreated(plan(p).map_err(|e| e.scope("plan_created"))?),
        PbBody::GoalDefined(g) => d::Body::GoalDefined(goal(g).map_err(|e| e.scope("goal_defined"))?),
        PbBody::IndicatorDefined(x) => {
            d::Body::IndicatorDefined(indicator(x).map_err(|e| e.scope("indicator_defined"))?)
        }
        PbBody::PledgeAnnounced(p) => d::Body::PledgeAnnounced(pledge(p).map_err(|e| e.scope("pledge_announced"))?),
        PbBody::ConditionDefined(c) => {
            d::Body::ConditionDefined(condition(c).map_err(|e| e.scope("condition_defined"))?)
        }
        PbBody::CommitmentSigned(c) => {
            d::Body::CommitmentSigned(commitment(c).map_err(|e| e.scope("commitment_signed"))?)
        }
        PbBody::TransactionRecorded(t) => {
            d::Body::TransactionRecorded(transaction(t).map_err(|e| e.scope("transaction_recorded"))?)
        }
        PbBody::TransactionReversed(r) => {
            d::Body::TransactionReversed(reversal(r).map_err(|e| e.scope("transaction_reversed"))?)
        }
        PbBody::InkindDelivered(x) => d::Body::InkindDelivered(delivery(x).map_err(|e| e.scope("inkind_delivered"))?),
        PbBody::DeliveryConfirmed(c) => {
            d::Body::DeliveryConfirmed(confirmation(c).map_err(|e| e.scope("delivery_confirmed"))?)
        }
        PbBody::MilestoneUpdated(m) => {
            d::Body::MilestoneUpdated(milestone(m).map_err(|e| e.scope("milestone_updated"))?)
        }
        PbBody::ConditionAssessed(a) => {
            d::Body::ConditionAssessed(assessment(a).map_err(|e| e.scope("condition_assessed"))?)
        }
        PbBody::ProgressReported(r) => {
            d::Body::ProgressReported(progress(r).map_err(|e| e.scope("progress_reported"))?)
        }
        PbBody::AttestationIssued(a) => {
            d::Body::AttestationIssued(attestation(a).map_err(|e| e.scope("attestation_issued"))?)
        }
        PbBody::Amended(a) => d::Body::Amended(amended(a).map_err(|e| e.scope("amended"))?),
        PbBody::Withdrawn(w) => d::Body::Withdrawn(withdrawal(w).map_err(|e| e.scope("withdrawn"))?),
        PbBody::FxRateRecorded(f) => d::Body::FxRateRecorded(fx_rate(f).map_err(|e| e.scope("fx_rate_recorded"))?),
    })
}

/// Public keys a statement introduces, read from the wire without checking the statement (a replay
/// collects every key of a log before it verifies signatures); malformed keys are skipped.
pub fn introduced_keys(st: &pb::Statement) -> Vec<[u8; 32]> {
    let party_keys = |p: &pb::Party| -> Vec<[u8; 32]> {
        p.public_keys.iter().filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok()).collect()
    };
    match &st.body {
        Some(PbBody::Charter(c)) => c.founders.iter().flat_map(party_keys).collect(),
        Some(PbBody::PartyAdmitted(a)) => a.party.as_ref().map(party_keys).unwrap_or_default(),
        Some(PbBody::KeyRotated(r)) => <[u8; 32]>::try_from(r.new_public_key.as_slice()).into_iter().collect(),
        _ => Vec::new(),
    }
}

// ---- values ----

/// `issued_at`: a valid protobuf Timestamp (nanos 0..1e9) inside the plausible date window.
fn issued_at(t: Option<&prost_types::Timestamp>) -> Result<d::Timestamp> {
    let t = t.ok_or_else(|| Error::invalid("issued_at", "is required"))?;
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Error::invalid("issued_at.nanos", format!("{} is not in 0..=999999999", t.nanos)));
    }
    if !date::in_window(t.seconds.div_euclid(86_400)) {
        return Err(Error::invalid(
            "issued_at.seconds",
            format!("{} is outside the years {}–{}", t.seconds, date::MIN_YEAR, date::MAX_YEAR),
        ));
    }
    Ok(d::Timestamp { seconds: t.seconds, nanos: t.nanos })
}

fn day(field: &str, s: &str) -> Result<Day> {
    Ok(Day::parse(field, s)?)
}

fn opt_day(field: &str, s: &str) -> Result<Option<Day>> {
    Ok(Day::parse_opt(field, s)?)
}

fn id<T>(parse: fn(&str, &str) -> accord_domain::Result<T>, field: &str, s: &str) -> Result<T> {
    Ok(parse(field, s)?)
}

fn opt_id<T>(parse: fn(&str, &str) -> accord_domain::Result<T>, field: &str, s: &str) -> Result<Option<T>> {
    if s.is_empty() {
        Ok(None)
    } else {
        id(parse, field, s).map(Some)
    }
}

fn text(field: &str, s: &str, required: bool) -> Result<String> {
    check_text(field, s, required)?;
    Ok(s.to_string())
}

fn period(field: &str, p: Option<&pb::Period>) -> Result<Option<d::Period>> {
    let Some(p) = p else { return Ok(None) };
    let start = day(&format!("{field}.start"), &p.start)?;
    let end = day(&format!("{field}.end"), &p.end)?;
    if end < start {
        return Err(Error::invalid(format!("{field}.end"), "is before period.start"));
    }
    Ok(Some(d::Period { start, end }))
}

fn required_period(field: &str, p: Option<&pb::Period>) -> Result<d::Period> {
    period(field, p)?.ok_or_else(|| Error::invalid(field, "is required"))
}

fn sha256(field: &str, b: &[u8]) -> Result<Option<d::Sha256>> {
    if b.is_empty() {
        return Ok(None);
    }
    <[u8; 32]>::try_from(b)
        .map(Some)
        .map_err(|_| Error::invalid(field, format!("a SHA-256 digest is 32 bytes, got {}", b.len())))
}

fn count(field: &str, n: usize) -> Result<()> {
    if n > MAX_ITEMS {
        return Err(Error::invalid(field, format!("at most {MAX_ITEMS} items")));
    }
    Ok(())
}

fn finance_type(field: &str, s: &str) -> Result<Option<String>> {
    if s.is_empty() {
        Ok(None)
    } else if s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(s.to_string()))
    } else {
        Err(Error::invalid(field, format!("{s:?} is not an IATI FinanceType code (e.g. \"110\")")))
    }
}

fn opt_money(field: &str, m: Option<&pb::Money>) -> Result<Option<Amount>> {
    match m {
        Some(_) => parse_money(field, m).map(Some),
        None => Ok(None),
    }
}

fn opt_decimal(
    field: &str,
    s: &str,
    parse: fn(&str, &str) -> accord_domain::Result<Decimal>,
) -> Result<Option<Decimal>> {
    if s.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parse(field, s)?))
    }
}

/// Shares (percentages) that must sum to exactly 100.
fn check_shares(field: &str, shares: &[(usize, Decimal)]) -> Result<()> {
    let mut total = Decimal::ZERO;
    for (_, d) in shares {
        total = money::add(field, total, *d)?;
    }
    if !shares.is_empty() && total != Decimal::ONE_HUNDRED {
        return Err(Error::invalid(
            field,
            format!("shares sum to {total}, not 100 (goal shares per vocabulary sum to 100)"),
        ));
    }
    Ok(())
}

/// A list of ids, each valid and none twice (`field[i]` names the i-th).
fn unique_ids<'a, T>(
    parse: fn(&str, &str) -> accord_domain::Result<T>,
    field: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<Vec<T>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, s) in ids.enumerate() {
        let f = format!("{field}[{i}]");
        out.push(id(parse, &f, s)?);
        if !seen.insert(s) {
            return Err(Error::invalid(f, format!("{s:?} is listed twice")));
        }
    }
    Ok(out)
}

/// A list of party ids: each valid, none twice, at most [`MAX_PARTIES`].
fn party_list<'a>(field: impl Fn(usize) -> String, ids: impl Iterator<Item = &'a String>) -> Result<Vec<PartyId>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, s) in ids.enumerate() {
        if i >= MAX_PARTIES {
            return Err(Error::invalid(field(i), format!("at most {MAX_PARTIES} parties")));
        }
        out.push(id(PartyId::parse, &field(i), s)?);
        if !seen.insert(s) {
            return Err(Error::invalid(field(i), format!("{s:?} is listed twice")));
        }
    }
    Ok(out)
}

// ---- governance ----

fn party(p: &pb::Party) -> Result<d::Party> {
    let party_id = id(PartyId::parse, "party_id", &p.party_id)?;
    let name = text("name", &p.name, true)?;
    if p.roles.is_empty() {
        return Err(Error::invalid("roles", "at least one role is required"));
    }
    let mut roles = Vec::new();
    for (i, r) in p.roles.iter().enumerate() {
        let role = Role::parse(&format!("roles[{i}]"), r)?;
        if roles.contains(&role) {
            return Err(Error::invalid(format!("roles[{i}]"), format!("role {r:?} is listed twice")));
        }
        roles.push(role);
    }
    if p.public_keys.is_empty() {
        return Err(Error::invalid("public_keys", "at least one Ed25519 public key is required"));
    }
    if p.public_keys.len() > MAX_KEYS_PER_PARTY {
        return Err(Error::invalid("public_keys", format!("at most {MAX_KEYS_PER_PARTY} keys")));
    }
    let country_ok =
        p.country.is_empty() || (p.country.len() == 2 && p.country.bytes().all(|b| b.is_ascii_uppercase()));
    if !country_ok {
        return Err(Error::invalid("country", "must be an ISO 3166-1 alpha-2 code"));
    }
    let mut public_keys: Vec<[u8; 32]> = Vec::new();
    for (i, k) in p.public_keys.iter().enumerate() {
        let key = crypto::public_key_from_bytes(k).map_err(|e| e.scope(&format!("public_keys[{i}]")))?;
        if public_keys.contains(key.as_bytes()) {
            return Err(Error::invalid(format!("public_keys[{i}]"), "key is listed twice"));
        }
        public_keys.push(*key.as_bytes());
    }
    Ok(d::Party {
        party_id,
        name,
        roles,
        public_keys,
        organisation_type: p.organisation_type.clone(),
        country: (!p.country.is_empty()).then(|| p.country.clone()),
    })
}

fn charter(c: &pb::Charter) -> Result<d::Charter> {
    let name = text("name", &c.name, true).map_err(|e| e.scope("charter"))?;
    let purpose = text("purpose", &c.purpose, false).map_err(|e| e.scope("charter"))?;
    if c.founders.is_empty() {
        return Err(Error::invalid("charter.founders", "at least one founding party is required"));
    }
    if c.founders.len() > MAX_PARTIES {
        return Err(Error::invalid("charter.founders", format!("at most {MAX_PARTIES} founders")));
    }
    let mut ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut founders = Vec::new();
    for (i, f) in c.founders.iter().enumerate() {
        let scope = format!("charter.founders[{i}]");
        let p = party(f).map_err(|e| e.scope(&scope))?;
        for k in &p.public_keys {
            if !keys.insert(*k) {
                return Err(Error::invalid(format!("{scope}.public_keys"), "key is already used by another founder"));
            }
        }
        if !ids.insert(f.party_id.clone()) {
            return Err(Error::invalid(format!("{scope}.party_id"), format!("{:?} is listed twice", f.party_id)));
        }
        founders.push(p);
    }
    let k = c.admission.as_ref().map(|a| a.k).unwrap_or(0);
    if k == 0 || k as usize > c.founders.len() {
        return Err(Error::invalid(
            "charter.admission.k",
            format!("must be between 1 and the number of founders ({})", c.founders.len()),
        ));
    }
    Ok(d::Charter { name, founders, admission_k: k, purpose })
}

fn key_rotated(r: &pb::KeyRotated) -> Result<d::KeyRotated> {
    let party_id = id(PartyId::parse, "key_rotated.party_id", &r.party_id)?;
    if !crypto::is_valid_keyid(&r.old_keyid) {
        return Err(Error::invalid("key_rotated.old_keyid", "must be 64 lowercase hex characters"));
    }
    let key = crypto::public_key_from_bytes(&r.new_public_key).map_err(|e| e.scope("key_rotated.new_public_key"))?;
    Ok(d::KeyRotated { party_id, old_keyid: r.old_keyid.clone(), new_public_key: *key.as_bytes() })
}

fn key_revoked(r: &pb::KeyRevoked) -> Result<d::KeyRevoked> {
    let party_id = id(PartyId::parse, "key_revoked.party_id", &r.party_id)?;
    if !crypto::is_valid_keyid(&r.keyid) {
        return Err(Error::invalid("key_revoked.keyid", "must be 64 lowercase hex characters"));
    }
    let reason = text("key_revoked.reason", &r.reason, true)?;
    Ok(d::KeyRevoked { party_id, keyid: r.keyid.clone(), reason })
}

// ---- plans, goals, indicators ----

fn schedule(field: &str, r: &pb::ReportSchedule) -> Result<d::ReportSchedule> {
    let frequency = Frequency::parse(&format!("{field}.frequency"), &r.frequency).map_err(|_| {
        Error::invalid(format!("{field}.frequency"), "must be one of monthly, quarterly, semiannual, annual")
    })?;
    if r.days_after_period_end > 366 {
        return Err(Error::invalid(format!("{field}.days_after_period_end"), "at most 366"));
    }
    Ok(d::ReportSchedule { frequency, days_after_period_end: r.days_after_period_end })
}

fn plan(p: &pb::PlanCreated) -> Result<d::PlanCreated> {
    let plan_id = id(PlanId::parse, "plan_id", &p.plan_id)?;
    let title = text("title", &p.title, true)?;
    let description = text("description", &p.description, false)?;
    let period = required_period("period", p.period.as_ref())?;
    money::check_currency("reporting_currency", &p.reporting_currency)?;
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
        reporting_currency: p.reporting_currency.clone(),
        signatories,
        report_schedule,
        requirement,
        description,
        boundary_party_ids,
        expected_reporters,
    })
}

fn goal(g: &pb::GoalDefined) -> Result<d::GoalDefined> {
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

fn indicator(x: &pb::IndicatorDefined) -> Result<d::IndicatorDefined> {
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

// ---- pledges, conditions, commitments ----

fn pledge(p: &pb::PledgeAnnounced) -> Result<d::PledgeAnnounced> {
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

fn co_financing(r: &pb::CoFinancingRule) -> Result<d::CoFinancingRule> {
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

fn condition(c: &pb::ConditionDefined) -> Result<d::ConditionDefined> {
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

fn commitment(c: &pb::CommitmentSigned) -> Result<d::CommitmentSigned> {
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

// ---- flows, reports, attestations, amendments, rates ----

fn transaction(t: &pb::TransactionRecorded) -> Result<d::TransactionRecorded> {
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

fn reversal(r: &pb::TransactionReversed) -> Result<d::TransactionReversed> {
    let txn_id = id(TxnId::parse, "txn_id", &r.txn_id)?;
    let amount = opt_money("amount", r.amount.as_ref())?;
    let rationale = text("rationale", &r.rationale, true)?;
    Ok(d::TransactionReversed { txn_id, rationale, amount })
}

fn delivery(x: &pb::InkindDelivered) -> Result<d::InkindDelivered> {
    let delivery_id = id(DeliveryId::parse, "delivery_id", &x.delivery_id)?;
    let pledge_id = id(PledgeId::parse, "pledge_id", &x.pledge_id)?;
    let date = day("date", &x.date)?;
    let item_id = opt_id(ItemId::parse, "item_id", &x.item_id)?;
    let quantity = opt_decimal("quantity", &x.quantity, parse_positive)?;
    let value = parse_money("value", x.value.as_ref())?;
    let receiver_id = id(PartyId::parse, "receiver_id", &x.receiver_id)?;
    Ok(d::InkindDelivered { delivery_id, pledge_id, date, item_id, quantity, value, receiver_id })
}

fn confirmation(c: &pb::DeliveryConfirmed) -> Result<d::DeliveryConfirmed> {
    let delivery_id = id(DeliveryId::parse, "delivery_id", &c.delivery_id)?;
    let date = day("date", &c.date)?;
    let note = text("note", &c.note, false)?;
    Ok(d::DeliveryConfirmed { delivery_id, date, note })
}

fn milestone(m: &pb::MilestoneUpdated) -> Result<d::MilestoneUpdated> {
    let pledge_id = id(PledgeId::parse, "pledge_id", &m.pledge_id)?;
    let milestone_id = id(MilestoneId::parse, "milestone_id", &m.milestone_id)?;
    let status = MilestoneStatus::parse("status", &m.status)?;
    let date = day("date", &m.date)?;
    let quantity_done = opt_decimal("quantity_done", &m.quantity_done, parse_decimal)?;
    let note = text("note", &m.note, false)?;
    Ok(d::MilestoneUpdated { pledge_id, milestone_id, status, date, quantity_done, note })
}

fn assessment(a: &pb::ConditionAssessed) -> Result<d::ConditionAssessed> {
    let condition_id = id(ConditionId::parse, "condition_id", &a.condition_id)?;
    let tranche_id = opt_id(TrancheId::parse, "tranche_id", &a.tranche_id)?;
    let outcome = Outcome::parse("outcome", &a.outcome)?;
    let date = day("date", &a.date)?;
    let evidence_sha256 = sha256("evidence_sha256", &a.evidence_sha256)?;
    let rationale = text("rationale", &a.rationale, false)?;
    Ok(d::ConditionAssessed { condition_id, tranche_id, outcome, date, evidence_sha256, rationale })
}

fn progress(r: &pb::ProgressReported) -> Result<d::ProgressReported> {
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

fn attestation(a: &pb::AttestationIssued) -> Result<d::AttestationIssued> {
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

fn version(v: &PbVersion) -> Result<d::Version> {
    Ok(match v {
        PbVersion::Plan(p) => d::Version::Plan(plan(p).map_err(|e| e.scope("plan"))?),
        PbVersion::Goal(g) => d::Version::Goal(goal(g).map_err(|e| e.scope("goal"))?),
        PbVersion::Indicator(x) => d::Version::Indicator(indicator(x).map_err(|e| e.scope("indicator"))?),
        PbVersion::Pledge(p) => d::Version::Pledge(pledge(p).map_err(|e| e.scope("pledge"))?),
        PbVersion::Condition(c) => d::Version::Condition(condition(c).map_err(|e| e.scope("condition"))?),
        PbVersion::Commitment(c) => d::Version::Commitment(commitment(c).map_err(|e| e.scope("commitment"))?),
    })
}

fn amended(a: &pb::Amended) -> Result<d::Amended> {
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

fn withdrawal(w: &pb::Withdrawn) -> Result<d::Withdrawn> {
    let subject_kind = Withdrawable::parse("subject_kind", &w.subject_kind)?;
    let subject_id = id(SubjectId::parse, "subject_id", &w.subject_id)?;
    let rationale = text("rationale", &w.rationale, true)?;
    Ok(d::Withdrawn { subject_kind, subject_id, rationale })
}

fn fx_rate(f: &pb::FxRateRecorded) -> Result<d::FxRateRecorded> {
    money::check_currency("from_currency", &f.from_currency)?;
    money::check_currency("to_currency", &f.to_currency)?;
    if f.from_currency == f.to_currency {
        return Err(Error::invalid("to_currency", "must differ from from_currency"));
    }
    let rate = parse_positive("rate", &f.rate)?;
    let rate_date = day("rate_date", &f.rate_date)?;
    let source = text("source", &f.source, true)?;
    let method = text("method", &f.method, false)?;
    Ok(d::FxRateRecorded {
        from_currency: f.from_currency.clone(),
        to_currency: f.to_currency.clone(),
        rate,
        rate_date,
        source,
        method,
    })
}
