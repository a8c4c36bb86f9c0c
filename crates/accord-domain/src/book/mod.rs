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

use crate::codes::PledgeKind;
pub use crate::codes::SubjectKind;
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
    pub status: String,
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

/// A condition's assessment (`condition.assessed`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assessment {
    /// met, notMet, partiallyMet or waived.
    pub outcome: String,
    /// Day of the assessment (YYYY-MM-DD).
    pub date: String,
    /// Entry that recorded it.
    pub index: u64,
}

/// A policy milestone as last updated (`milestone.updated`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MilestoneState {
    /// met, notMet or partiallyMet.
    pub status: String,
    /// Day of the update (YYYY-MM-DD).
    pub date: String,
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
            status: "active".into(),
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
pub fn pledge_status(s: &Subject, p: &d::PledgeAnnounced, as_of_day: i64) -> &'static str {
    let t = &s.tally;
    if t.withdrawn {
        return "withdrawn";
    }
    let amount = p.amount.as_ref().map(|m| m.value).unwrap_or_default();
    if !amount.is_zero() && t.restated >= amount {
        return "superseded";
    }
    if p.pledge_kind == PledgeKind::PolicyAction {
        let all_met = !p.milestones.is_empty()
            && p.milestones
                .iter()
                .all(|m| t.milestones.get(m.milestone_id.as_str()).is_some_and(|x| x.status == "met"));
        if all_met {
            return "fulfilled";
        }
        if t.milestones.values().any(|x| x.status != "notMet") {
            return "partially_disbursed";
        }
    } else {
        let done = t.disbursed.checked_add(t.delivered).unwrap_or(Decimal::MAX);
        if done >= amount && !amount.is_zero() {
            return "fulfilled";
        }
        if done > Decimal::ZERO {
            return "partially_disbursed";
        }
        if t.committed >= amount && !amount.is_zero() {
            return "committed";
        }
        if t.committed > Decimal::ZERO {
            return "partially_committed";
        }
    }
    if p.expires_on.is_some_and(|e| e.days() < as_of_day) {
        return "lapsed";
    }
    "announced"
}

/// How a tranche stands against its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// unconditional, released (all met or waived), withheld (a condition not met), pending (not yet assessed).
    pub status: &'static str,
    /// Per condition: (condition id, outcome or "pending", date).
    pub conditions: Vec<(String, String, String)>,
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
        if c.tally.withdrawn {
            conditions.push((cid.clone(), "withdrawn".to_string(), String::new()));
            continue;
        }
        match outcome_for(&c, &tranche.id) {
            Some(a) if a.outcome == "met" || a.outcome == "waived" => {
                conditions.push((cid.clone(), a.outcome.clone(), a.date.clone()))
            }
            Some(a) => {
                any_withheld = true;
                conditions.push((cid.clone(), a.outcome.clone(), a.date.clone()))
            }
            None => {
                any_pending = true;
                conditions.push((cid.clone(), "pending".to_string(), String::new()))
            }
        }
    }
    let status = if tranche.tally.conditions.is_empty() {
        "unconditional"
    } else if any_withheld {
        "withheld"
    } else if any_pending {
        "pending"
    } else {
        "released"
    };
    Ok(Gate { status, conditions })
}

/// Status of a condition from its assessments: pending, met, notMet, partiallyMet, waived or withdrawn.
pub fn condition_status(t: &Tally) -> String {
    if t.withdrawn {
        return "withdrawn".into();
    }
    let outcomes: BTreeSet<&str> = t.outcomes.values().map(|a| a.outcome.as_str()).collect();
    match outcomes.len() {
        0 => "pending".into(),
        1 => outcomes.into_iter().next().unwrap_or_default().to_string(),
        _ if outcomes.iter().all(|o| *o == "met" || *o == "waived") => "met".into(),
        _ => "partiallyMet".into(),
    }
}

pub use rules::{apply, Ctx};
