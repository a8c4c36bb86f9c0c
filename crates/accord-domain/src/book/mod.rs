//! The coalition's book (DOMAIN.md §3–§4): plans, goals, indicators, pledges, conditions, commitments,
//! transactions, deliveries, milestones, assessments, progress reports, attestations, amendments,
//! withdrawals and FX rates.
//!
//! Two stages, as for governance: the stateless checks (formats, code lists, sums that need no state) are
//! made once when the statement is parsed at the wire boundary (`accord::proto`); [`apply`] runs in the
//! sequencer against the state as of the entry (through [`StateView`]),
//! checks signers and invariants, and returns the [`Effect`]s that update the projections. Every rule
//! names itself and the field in its error.
//!
//! - [`rules`]: the signer rules and invariants applied in order, producing effects.
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::codes::{GateStatus, SubjectKind, SubjectStatus};
use crate::codes::{MilestoneStatus, Outcome, PledgeKind};
use crate::date::Day;
use crate::error::Error;
use crate::money::{self, Amount, Currency};
use crate::state::{Result, StateView};
use crate::statement::{self as d, Body, OfBody, Version};

/// Subject kind: plans (`plan.created`).
pub const PLAN: SubjectKind = SubjectKind::Plan;
/// Subject kind: goals.
pub const GOAL: SubjectKind = SubjectKind::Goal;
/// Subject kind: indicators.
pub const INDICATOR: SubjectKind = SubjectKind::Indicator;
/// Subject kind: pledges.
pub const PLEDGE: SubjectKind = SubjectKind::Pledge;
/// Subject kind: conditions.
pub const CONDITION: SubjectKind = SubjectKind::Condition;
/// Subject kind: commitments.
pub const COMMITMENT: SubjectKind = SubjectKind::Commitment;
/// Subject kind: tranches (inside a commitment).
pub const TRANCHE: SubjectKind = SubjectKind::Tranche;
/// Subject kind: transactions (`transaction.recorded`).
pub const TRANSACTION: SubjectKind = SubjectKind::Transaction;
/// Subject kind: in-kind deliveries.
pub const DELIVERY: SubjectKind = SubjectKind::Delivery;
/// Subject kind: progress reports.
pub const REPORT: SubjectKind = SubjectKind::Report;
/// Subject kind: attestations.
pub const ATTESTATION: SubjectKind = SubjectKind::Attestation;
/// Subject kind: recorded FX rates.
pub const FX_RATE: SubjectKind = SubjectKind::FxRate;

/// Most items in any repeated field of a statement body.
pub use crate::statement::MAX_ITEMS;

/// A statement's compiled body ([`Body::compiled`]), as the subjects it creates or versions keep it: typed,
/// and with its wire encoding (opaque here), so that storage writes and proofs never re-encode it.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The typed body.
    pub body: Body,
    /// The body message as the wire encodes it (`accord::proto::compiled_body`).
    pub wire: Vec<u8>,
}

/// One thing the ledger tracks, as projected from the log: its compiled (latest) version and the running
/// figures derived from later entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Subject kind.
    pub kind: SubjectKind,
    /// Its id, unique within the kind.
    pub id: String,
    /// The plan it belongs to (empty for FX rates and attestations).
    pub plan_id: String,
    /// The party it belongs to (pledger, provider, condition party, reporter, auditor, recorder).
    pub party_id: String,
    /// Stored status (pledge lapse is applied at read time against the as-of date: [`pledge_status`]).
    pub status: SubjectStatus,
    /// Entry that created it.
    pub created_at: u64,
    /// Entry that last changed it (a new version, or a figure of its tally).
    pub updated_at: u64,
    /// Entry of the current version (the creation, or the latest amendment).
    pub version_at: u64,
    /// Version number: 1 at creation, one more per amendment.
    pub version: u32,
    /// Parties whose signatures amendments, withdrawals and reversals need again.
    pub signers: Vec<String>,
    /// The compiled body of the entry at `version_at` (e.g. a `PledgeAnnounced`); none for tranches, which
    /// live inside their commitment's body.
    pub body: Option<Arc<Compiled>>,
    /// Running figures from later entries.
    pub tally: Tally,
}

/// Running figures of a subject. Amounts are in the subject's own currency (pledge or commitment).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// Committed against a pledge (in the pledge's currency).
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub committed: Decimal,
    /// Disbursed against a pledge, commitment or tranche.
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub disbursed: Decimal,
    /// Delivered in kind against a pledge.
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub delivered: Decimal,
    /// Part of a pledge restated by later pledges (so it is not counted twice).
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub restated: Decimal,
    /// The pledges that restate this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restated_by: Vec<String>,
    /// Tranche value and disbursed amount (tranche subjects).
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub value: Decimal,
    /// The commitment a tranche belongs to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commitment_id: String,
    /// The conditions that gate a tranche.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// Condition outcomes by tranche id ("" = every tranche the condition gates).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, Assessment>,
    /// A policy pledge's milestones by id, as last updated.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub milestones: BTreeMap<String, MilestoneState>,
    /// Entries an attestation covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub covered: Vec<u64>,
    /// A delivery confirmed by its recipient.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub confirmed: bool,
    /// A transaction reversed by a `transaction.reversed`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reversed: bool,
    /// The transaction that corrects this (reversed) one (DOMAIN.md §7).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub corrected_by: String,
    /// Withdrawn (pledges, conditions, commitments).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// A condition's assessment (`condition.assessed`). Stored in the tally's JSON with the wire spellings
/// (`"outcome":"not_met","date":"2026-05-01"`); older spellings still parse; a stored value that does not parse is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// met, not_met, partially_met or waived.
    pub outcome: Outcome,
    /// Day of the assessment (YYYY-MM-DD).
    pub date: Day,
    /// Entry that recorded it.
    pub index: u64,
}

/// A policy milestone as last updated (`milestone.updated`), stored like [`Assessment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneState {
    /// met, not_met or partially_met.
    pub status: MilestoneStatus,
    /// Day of the update (YYYY-MM-DD).
    pub date: Day,
    /// Entry that recorded it.
    pub index: u64,
    /// Quantity done so far, as written (empty when not given).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quantity_done: String,
}

impl Subject {
    /// A subject of `kind` with no figures yet: version 1, no body, status `active` (readers' tests and
    /// fixtures start from this; the rules build subjects from the entries that create them).
    pub fn new(kind: SubjectKind, id: impl Into<String>) -> Self {
        Subject {
            kind,
            id: id.into(),
            plan_id: String::new(),
            party_id: String::new(),
            status: SubjectStatus::Active,
            created_at: 0,
            updated_at: 0,
            version_at: 0,
            version: 1,
            signers: Vec::new(),
            body: None,
            tally: Tally::default(),
        }
    }

    /// The compiled body as its statement kind's struct (`let p: &PledgeAnnounced = s.body_as()?`). The
    /// body passed every rule when it was sequenced, so a subject without it, or with another kind, is a
    /// projection that is not what the rules built (INTERNAL, naming the subject).
    pub fn body_as<T: OfBody>(&self) -> Result<&T> {
        self.body.as_deref().and_then(|c| T::of_body(&c.body)).ok_or_else(|| {
            Error::internal(format!(
                "projection of {} {} does not hold a {} body",
                self.kind,
                self.id,
                std::any::type_name::<T>().rsplit("::").next().unwrap_or_default()
            ))
        })
    }

    /// [`Subject::body_as`], owned.
    pub fn parsed<T: OfBody + Clone>(&self) -> Result<T> {
        self.body_as::<T>().cloned()
    }
}

/// The kind name of a statement body that creates or updates subjects.
pub fn version_kind(v: &Version) -> SubjectKind {
    match v {
        Version::Plan(_) => PLAN,
        Version::Goal(_) => GOAL,
        Version::Indicator(_) => INDICATOR,
        Version::Pledge(_) => PLEDGE,
        Version::Condition(_) => CONDITION,
        Version::Commitment(_) => COMMITMENT,
    }
}

/// Id of an FX rate subject.
pub fn fx_id(from: Currency, to: Currency, day: &str) -> String {
    format!("{from}/{to}/{day}")
}

/// Convert an amount into `to` at its value date, only through a recorded `fx_rate.recorded` of that date
/// (direct, or the inverse of the opposite direction). A missing rate is an error that says which.
pub fn convert(view: &dyn StateView, a: &Amount, to: Currency) -> Result<Decimal> {
    if a.currency == to {
        return Ok(a.value);
    }
    apply_rate(a, to, recorded_rate(view, a.currency, to, &a.value_date_str())?)
}

/// How a recorded rate converts one currency into another on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// A rate recorded in this direction: multiply.
    Direct(Decimal),
    /// A rate recorded in the opposite direction: divide.
    Inverse(Decimal),
}

/// The rate recorded for `from` → `to` on `day` (direct first, else the inverse), or None. Readers that
/// convert many amounts look each (pair, day) up once ([`apply_rate`] then gives [`convert`]'s answer).
pub fn recorded_rate(view: &dyn StateView, from: Currency, to: Currency, day: &str) -> Result<Option<Rate>> {
    if let Some(s) = view.subject(FX_RATE, &fx_id(from, to, day))? {
        let r: d::FxRateRecorded = s.parsed()?;
        return Ok(Some(Rate::Direct(r.rate)));
    }
    if let Some(s) = view.subject(FX_RATE, &fx_id(to, from, day))? {
        let r: d::FxRateRecorded = s.parsed()?;
        return Ok(Some(Rate::Inverse(r.rate)));
    }
    Ok(None)
}

/// [`convert`] with the rate already looked up by [`recorded_rate`].
pub fn apply_rate(a: &Amount, to: Currency, rate: Option<Rate>) -> Result<Decimal> {
    match rate {
        _ if a.currency == to => Ok(a.value),
        Some(Rate::Direct(r)) => Ok(money::mul("fx_rate.rate", a.value, r)?),
        Some(Rate::Inverse(r)) => Ok(money::div("fx_rate.rate", a.value, r)?),
        None => Err(Error::precondition(
            "fx_rate",
            format!(
                "no fx_rate.recorded converts {} to {to} on {} (the value date); a rate_publisher must record one",
                a.currency,
                a.value_date_str()
            ),
        )),
    }
}

/// Whether a [`convert`] error is a gap in the rates (no rate recorded, or a result out of the decimal
/// range) rather than a failure to read: readers list such amounts as unconverted instead of failing.
pub fn is_conversion_gap(e: &Error) -> bool {
    use crate::RefusalKind::{Invalid, Precondition};
    e.refusal().is_some_and(|r| matches!(r.kind, Precondition | Invalid))
}

/// The derived status of a pledge as of a day (lapse depends on the day; everything else on the tally).
pub fn pledge_status(s: &Subject, p: &d::PledgeAnnounced, as_of_day: i64) -> SubjectStatus {
    let t = &s.tally;
    if t.withdrawn {
        return SubjectStatus::Withdrawn;
    }
    let amount = p.amount.as_ref().map(|m| m.value).unwrap_or_default();
    if !amount.is_zero() && t.restated >= amount {
        return SubjectStatus::Superseded;
    }
    if p.pledge_kind == PledgeKind::PolicyAction {
        let all_met = !p.milestones.is_empty()
            && p.milestones
                .iter()
                .all(|m| t.milestones.get(m.milestone_id.as_str()).is_some_and(|x| x.status == MilestoneStatus::Met));
        if all_met {
            return SubjectStatus::Fulfilled;
        }
        if t.milestones.values().any(|x| x.status != MilestoneStatus::NotMet) {
            return SubjectStatus::PartiallyDisbursed;
        }
    } else {
        let done = t.disbursed.checked_add(t.delivered).unwrap_or(Decimal::MAX);
        if done >= amount && !amount.is_zero() {
            return SubjectStatus::Fulfilled;
        }
        if done > Decimal::ZERO {
            return SubjectStatus::PartiallyDisbursed;
        }
        if t.committed >= amount && !amount.is_zero() {
            return SubjectStatus::Committed;
        }
        if t.committed > Decimal::ZERO {
            return SubjectStatus::PartiallyCommitted;
        }
    }
    if p.expires_on.is_some_and(|e| e.days() < as_of_day) {
        return SubjectStatus::Lapsed;
    }
    SubjectStatus::Announced
}

/// Where one of the conditions gating a tranche stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateCondition {
    /// The condition was withdrawn: it no longer gates.
    Withdrawn,
    /// Not yet assessed (for this tranche or condition-wide).
    Pending,
    /// Assessed: the outcome and its day.
    Assessed(Outcome, Day),
}

impl GateCondition {
    /// `withdrawn`, `pending` or the outcome's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GateCondition::Withdrawn => "withdrawn",
            GateCondition::Pending => "pending",
            GateCondition::Assessed(o, _) => o.as_str(),
        }
    }

    /// The day of the assessment, if assessed.
    pub fn date(self) -> Option<Day> {
        match self {
            GateCondition::Assessed(_, day) => Some(day),
            GateCondition::Withdrawn | GateCondition::Pending => None,
        }
    }

    /// Whether it lets the tranche through: withdrawn, met or waived.
    pub fn clears(self) -> bool {
        matches!(self, GateCondition::Withdrawn | GateCondition::Assessed(Outcome::Met | Outcome::Waived, _))
    }
}

/// How a tranche stands against its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// unconditional, released (all met or waived), withheld (a condition not met), pending (not yet assessed).
    pub status: GateStatus,
    /// Per condition: its id and where it stands.
    pub conditions: Vec<(String, GateCondition)>,
}

/// The outcome that applies to a tranche: its own assessment, else the condition-wide one.
pub fn outcome_for<'a>(condition: &'a Subject, tranche_id: &str) -> Option<&'a Assessment> {
    condition.tally.outcomes.get(tranche_id).or_else(|| condition.tally.outcomes.get(""))
}

/// Gate of a tranche subject.
pub fn tranche_gate(view: &dyn StateView, tranche: &Subject) -> Result<Gate> {
    let mut conditions = Vec::new();
    let mut any_withheld = false;
    let mut any_pending = false;
    for cid in &tranche.tally.conditions {
        let Some(c) = view.subject(CONDITION, cid)? else { continue };
        let state = if c.tally.withdrawn {
            GateCondition::Withdrawn
        } else {
            outcome_for(&c, &tranche.id).map_or(GateCondition::Pending, |a| GateCondition::Assessed(a.outcome, a.date))
        };
        match state {
            GateCondition::Pending => any_pending = true,
            _ if !state.clears() => any_withheld = true,
            _ => {}
        }
        conditions.push((cid.clone(), state));
    }
    let status = if tranche.tally.conditions.is_empty() {
        GateStatus::Unconditional
    } else if any_withheld {
        GateStatus::Withheld
    } else if any_pending {
        GateStatus::Pending
    } else {
        GateStatus::Released
    };
    Ok(Gate { status, conditions })
}

/// Status of a condition from its assessments: pending, met, not_met, partially_met, waived or withdrawn.
pub fn condition_status(t: &Tally) -> SubjectStatus {
    if t.withdrawn {
        return SubjectStatus::Withdrawn;
    }
    let outcomes: BTreeSet<Outcome> = t.outcomes.values().map(|a| a.outcome).collect();
    let mut each = outcomes.iter().copied();
    match (each.next(), each.next()) {
        (None, _) => SubjectStatus::Pending,
        (Some(only), None) => only.into(),
        _ if outcomes.iter().all(|o| matches!(o, Outcome::Met | Outcome::Waived)) => SubjectStatus::Met,
        _ => SubjectStatus::PartiallyMet,
    }
}

pub use rules::{apply, Ctx};

#[cfg(test)]
mod tests {
    use super::*;

    /// A tally as storage keeps it: the typed tally must write exactly this text and read it back.
    const STORED: &str = r#"{"committed":"60","disbursed":"12.5","conditions":["C1","C2"],"outcomes":{"":{"outcome":"waived","date":"2026-03-31","index":7},"T1":{"outcome":"not_met","date":"2026-05-01","index":9},"T2":{"outcome":"partially_met","date":"2026-06-30","index":11}},"milestones":{"M1":{"status":"met","date":"2026-02-28","index":4,"quantity_done":"3"},"M2":{"status":"partially_met","date":"2026-04-15","index":5}},"withdrawn":true}"#;

    /// The same tally as storage kept it before outcomes and milestone statuses joined the snake_case family
    /// (`notMet`, `partiallyMet`): a database written then still reads, as the same tally.
    const STORED_BEFORE: &str = r#"{"committed":"60","disbursed":"12.5","conditions":["C1","C2"],"outcomes":{"":{"outcome":"waived","date":"2026-03-31","index":7},"T1":{"outcome":"notMet","date":"2026-05-01","index":9},"T2":{"outcome":"partiallyMet","date":"2026-06-30","index":11}},"milestones":{"M1":{"status":"met","date":"2026-02-28","index":4,"quantity_done":"3"},"M2":{"status":"partiallyMet","date":"2026-04-15","index":5}},"withdrawn":true}"#;

    fn day(s: &str) -> Day {
        Day::parse("date", s).unwrap()
    }

    fn typed() -> Tally {
        let a = |outcome, d: &str, index| Assessment { outcome, date: day(d), index };
        let m = |status, d: &str, index, q: &str| MilestoneState {
            status,
            date: day(d),
            index,
            quantity_done: q.to_string(),
        };
        Tally {
            committed: Decimal::new(60, 0),
            disbursed: Decimal::new(125, 1),
            conditions: vec!["C1".into(), "C2".into()],
            outcomes: BTreeMap::from([
                (String::new(), a(Outcome::Waived, "2026-03-31", 7)),
                ("T1".into(), a(Outcome::NotMet, "2026-05-01", 9)),
                ("T2".into(), a(Outcome::PartiallyMet, "2026-06-30", 11)),
            ]),
            milestones: BTreeMap::from([
                ("M1".into(), m(MilestoneStatus::Met, "2026-02-28", 4, "3")),
                ("M2".into(), m(MilestoneStatus::PartiallyMet, "2026-04-15", 5, "")),
            ]),
            withdrawn: true,
            ..Tally::default()
        }
    }

    #[test]
    fn a_typed_tally_is_stored_as_the_same_text() {
        assert_eq!(serde_json::to_string(&typed()).unwrap(), STORED);
        let read: Tally = serde_json::from_str(STORED).unwrap();
        assert_eq!(read, typed());
        assert_eq!(serde_json::to_string(&read).unwrap(), STORED);
        assert_eq!(serde_json::from_str::<Tally>(STORED_BEFORE).unwrap(), typed());
    }

    #[test]
    fn an_unknown_stored_status_outcome_or_day_is_refused_not_defaulted() {
        for (bad, why) in [
            (STORED.replace(r#""outcome":"not_met""#, r#""outcome":"unmet""#), "\"unmet\" is not one of met, not_met"),
            (STORED.replace(r#""status":"met""#, r#""status":"waived""#), "\"waived\" is not one of met, not_met"),
            (STORED.replace(r#""outcome":"waived""#, r#""outcome":"""#), "\"\" is not one of met, not_met"),
            (STORED.replace("2026-05-01", "2026-02-30"), "\"2026-02-30\" is not a date of the form YYYY-MM-DD"),
        ] {
            let e = serde_json::from_str::<Tally>(&bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = SubjectStatus::parse("status", "actve").unwrap_err();
        assert_eq!(e.field, "status");
        assert!(e.rule.starts_with("\"actve\" is not one of active, announced, "), "{}", e.rule);
        for (s, text) in SubjectStatus::ALL.iter().zip(SubjectStatus::NAMES) {
            assert_eq!(SubjectStatus::parse("status", text).unwrap(), *s);
        }
    }

    #[test]
    fn a_condition_takes_its_status_from_its_outcomes() {
        let mut t = typed();
        assert_eq!(condition_status(&t), SubjectStatus::Withdrawn);
        t.withdrawn = false;
        assert_eq!(condition_status(&t), SubjectStatus::PartiallyMet);
        t.outcomes.retain(|k, _| k.is_empty());
        assert_eq!(condition_status(&t).as_str(), "waived");
        t.outcomes.insert("T1".into(), Assessment { outcome: Outcome::Met, date: day("2026-01-01"), index: 1 });
        assert_eq!(condition_status(&t), SubjectStatus::Met);
        t.outcomes.clear();
        assert_eq!(condition_status(&t).to_string(), "pending");
    }
}
