//! The coalition's book (DOMAIN.md §3–§4): plans, goals, indicators, pledges, conditions, commitments,
//! transactions, deliveries, milestones, assessments, progress reports, attestations, amendments,
//! withdrawals and FX rates.
//!
//! Two stages, as for governance: the stateless checks (formats, code lists, sums that need no state) are
//! made once when the statement is parsed at the wire boundary ([`crate::proto`]); [`apply`] runs in the sequencer against the state as of the entry (through [`StateView`]),
//! checks signers and invariants, and returns the [`Effect`]s that update the projections. Every rule
//! names itself and the field in its error.
//!
//! - [`rules`]: the signer rules and invariants applied in order, producing effects.
mod rules;

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::date;
use super::money::{self, Amount};
use super::StateView;
use crate::error::{Error, Result};
use crate::proto::FromWire;
use accord_domain::codes::PledgeKind;
use accord_domain::statement::{self as d, Version};

/// Subject kinds kept in the projections.
pub const PLAN: &str = "plan";
pub const GOAL: &str = "goal";
pub const INDICATOR: &str = "indicator";
pub const PLEDGE: &str = "pledge";
pub const CONDITION: &str = "condition";
pub const COMMITMENT: &str = "commitment";
pub const TRANCHE: &str = "tranche";
pub const TRANSACTION: &str = "transaction";
pub const DELIVERY: &str = "delivery";
pub const REPORT: &str = "report";
pub const ATTESTATION: &str = "attestation";
pub const FX_RATE: &str = "fx_rate";
/// Every subject kind, in the order queries list them.
pub const SUBJECT_KINDS: &[&str] = &[
    PLAN,
    GOAL,
    INDICATOR,
    PLEDGE,
    CONDITION,
    COMMITMENT,
    TRANCHE,
    TRANSACTION,
    DELIVERY,
    REPORT,
    ATTESTATION,
    FX_RATE,
];

pub const PLEDGE_KINDS: &[&str] = &["money", "in_kind", "policy_action"];
pub const FUNDING_SOURCES: &[&str] = &["external", "domestic_own_resources", "private"];
pub const CONDITION_TYPES: &[&str] = &["policy", "performance", "fiduciary", "co_financing"];
pub const OUTCOMES: &[&str] = &["met", "notMet", "partiallyMet", "waived"];
pub const MILESTONE_STATUSES: &[&str] = &["met", "notMet", "partiallyMet"];
pub const OPINIONS: &[&str] = &["verified", "verified_with_exceptions", "not_verified", "unable_to_verify"];
pub const BOUNDARIES: &[&str] = &["incoming", "internal", "outgoing"];
pub const VOCABULARIES: &[&str] = &["dac5", "sdg_target", "plan"];
pub const WITHDRAWABLE: &[&str] = &[PLEDGE, CONDITION, COMMITMENT];
/// IATI TransactionType codes accepted (1 incoming funds, 3 disbursement, 4 expenditure, 7 reimbursement).
pub const TRANSACTION_TYPES: &[u32] = &[1, 3, 4, 7];
/// Derived pledge statuses (DOMAIN.md §5).
pub const PLEDGE_STATUSES: &[&str] = &[
    "announced",
    "partially_committed",
    "committed",
    "partially_disbursed",
    "fulfilled",
    "withdrawn",
    "lapsed",
    "superseded",
];
/// Most items in any repeated field of a statement body.
pub use accord_domain::statement::MAX_ITEMS;

/// One thing the ledger tracks, as projected from the log: its compiled (latest) version and the running
/// figures derived from later entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    pub kind: String,
    pub id: String,
    pub plan_id: String,
    /// The party it belongs to (pledger, provider, condition party, reporter, auditor, recorder).
    pub party_id: String,
    /// Stored status (pledge lapse is applied at read time against the as-of date: [`pledge_status`]).
    pub status: String,
    /// Entry that created it, entry of its latest version.
    pub created_at: u64,
    pub updated_at: u64,
    /// Entry of the current version (the creation, or the latest amendment).
    pub version_at: u64,
    pub version: u32,
    /// Parties whose signatures amendments, withdrawals and reversals need again.
    pub signers: Vec<String>,
    /// Encoded compiled body message (e.g. `PledgeAnnounced`); empty for tranches.
    pub body: Vec<u8>,
    pub tally: Tally,
}

/// Running figures of a subject. Amounts are in the subject's own currency (pledge or commitment).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub committed: Decimal,
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub disbursed: Decimal,
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub delivered: Decimal,
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub restated: Decimal,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restated_by: Vec<String>,
    /// Tranche value and disbursed amount (tranche subjects).
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub value: Decimal,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commitment_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// Condition outcomes by tranche id ("" = every tranche the condition gates).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, Assessment>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub milestones: BTreeMap<String, MilestoneState>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub covered: Vec<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub confirmed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reversed: bool,
    /// The transaction that corrects this (reversed) one (DOMAIN.md §7).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub corrected_by: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assessment {
    pub outcome: String,
    pub date: String,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MilestoneState {
    pub status: String,
    pub date: String,
    pub index: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quantity_done: String,
}

impl Subject {
    /// Decode the compiled body.
    pub fn decode<M: Message + Default>(&self) -> Result<M> {
        M::decode(self.body.as_slice())
            .map_err(|e| Error::internal(format!("projection of {} {} does not decode: {e}", self.kind, self.id)))
    }

    /// The compiled body, parsed into its typed statement kind. The body passed every rule when it was
    /// sequenced, so a failure here means the stored projection is corrupt (INTERNAL, naming the subject).
    pub fn parsed<T: FromWire>(&self) -> Result<T> {
        T::decode_wire(&self.body)
            .map_err(|e| Error::internal(format!("projection of {} {} does not parse: {}", self.kind, self.id, e)))
    }
}

/// The kind name of a statement body that creates or updates subjects.
pub fn version_kind(v: &Version) -> &'static str {
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
pub fn fx_id(from: &str, to: &str, day: &str) -> String {
    format!("{from}/{to}/{day}")
}

/// Convert an amount into `to` at its value date, only through a recorded `fx_rate.recorded` of that date
/// (direct, or the inverse of the opposite direction). A missing rate is an error that says which.
pub fn convert(view: &dyn StateView, a: &Amount, to: &str) -> Result<Decimal> {
    if a.currency == to {
        return Ok(a.value);
    }
    apply_rate(a, to, recorded_rate(view, &a.currency, to, &a.value_date_str())?)
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
pub fn recorded_rate(view: &dyn StateView, from: &str, to: &str, day: &str) -> Result<Option<Rate>> {
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
pub fn apply_rate(a: &Amount, to: &str, rate: Option<Rate>) -> Result<Decimal> {
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
pub fn is_conversion_gap(e: &crate::error::Error) -> bool {
    matches!(e.kind, crate::error::Kind::FailedPrecondition | crate::error::Kind::InvalidArgument)
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
