//! The map function of the verifiable index (docs/INDEX.md §1–§2, issue 17): which index keys a log entry
//! files under, so that a verifiable map from key to the list of log indices can answer "every entry of
//! party X" completely.
//!
//! Pure: one function of the statement, its signers and (for the plan key of kinds that do not name their
//! plan) the plan of the subject the statement acts on, as the log up to the entry defines it.
//!
//! - [`IndexKey`]: party, plan, subject (kind + id) or statement kind, with its canonical text encoding
//!   ([`IndexKey::encode`], parsed back by [`IndexKey::parse`]) and its [`IndexKey::key_hash`].
//! - [`keys`]: the map function (spec version [`INDEX_VERSION`]); [`named_keys`] is the part that needs no
//!   state, and [`plan_anchor`] names the subject whose plan a statement inherits.
use std::collections::BTreeSet;
use std::fmt;

use sha2::Digest;

use crate::book::{fx_id, version_kind};
use crate::codes::SubjectKind;
use crate::ids::{PartyId, PlanId};
use crate::statement::*;

/// Version of the map function and key encoding. Adding a key type, or a key to a kind, changes the maps
/// every ledger computes, so it is a new version (named in the map checkpoint's first line).
pub const INDEX_VERSION: u32 = 1;

/// Every statement kind's wire name ([`Body::kind_name`]), the values of [`IndexKey::Kind`].
pub const KIND_NAMES: &[&str] = &[
    "charter",
    "party.admitted",
    "key.rotated",
    "key.revoked",
    "plan.created",
    "goal.defined",
    "indicator.defined",
    "pledge.announced",
    "condition.defined",
    "commitment.signed",
    "transaction.recorded",
    "transaction.reversed",
    "inkind.delivered",
    "delivery.confirmed",
    "milestone.updated",
    "condition.assessed",
    "progress.reported",
    "attestation.issued",
    "amended",
    "withdrawn",
    "fx_rate.recorded",
];

/// A key of the index: what a reader asks for the entries of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKey {
    /// Entries a party signed or is named in, in a party role (`party:<id>`).
    Party(PartyId),
    /// Entries of a plan (`plan:<id>`).
    Plan(PlanId),
    /// Entries that create or act on a subject (`subject:<kind>:<id>`). The id is a validated identifier,
    /// except for FX rates, whose id is [`fx_id`] (`EUR/USD/2026-01-31`).
    Subject {
        /// The subject's kind.
        kind: SubjectKind,
        /// Its id, unique within the kind.
        id: String,
    },
    /// Entries of a statement kind (`kind:<name>`, one of [`KIND_NAMES`]).
    Kind(&'static str),
}

impl IndexKey {
    /// The canonical encoding, UTF-8: `party:<id>`, `plan:<id>`, `subject:<kind>:<id>`, `kind:<name>`.
    ///
    /// Injective: the prefix up to the first `:` names the type; a subject's kind is a [`SubjectKind`]
    /// wire name, none of which contains `:`, so the next `:` ends it and the id is the rest (ids may hold
    /// `:`). [`IndexKey::parse`] inverts it.
    pub fn encode(&self) -> String {
        match self {
            IndexKey::Party(p) => format!("party:{p}"),
            IndexKey::Plan(p) => format!("plan:{p}"),
            IndexKey::Subject { kind, id } => format!("subject:{kind}:{id}"),
            IndexKey::Kind(k) => format!("kind:{k}"),
        }
    }

    /// `SHA-256(encode())`: the key's position in the map.
    pub fn key_hash(&self) -> [u8; 32] {
        sha2::Sha256::digest(self.encode().as_bytes()).into()
    }

    /// Parse an encoding ([`IndexKey::encode`]); `None` if it is not one.
    pub fn parse(s: &str) -> Option<IndexKey> {
        let (ty, rest) = s.split_once(':')?;
        match ty {
            "party" => PartyId::parse("key", rest).ok().map(IndexKey::Party),
            "plan" => PlanId::parse("key", rest).ok().map(IndexKey::Plan),
            "subject" => {
                let (kind, id) = rest.split_once(':')?;
                let kind = SubjectKind::parse("key", kind).ok()?;
                (!id.is_empty()).then(|| IndexKey::Subject { kind, id: id.to_string() })
            }
            "kind" => KIND_NAMES.iter().find(|k| **k == rest).map(|k| IndexKey::Kind(k)),
            _ => None,
        }
    }
}

impl fmt::Display for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// The map function (spec version 1, docs/INDEX.md §1): the keys a log entry files under, sorted
/// ([`IndexKey`]'s order) and without duplicates.
///
/// `signers` are the parties with a valid signature on the entry. `plan_of(kind, id)` is the plan of an
/// earlier subject: the plan of the entry that created it (the `plan_id` of its projection, which
/// amendments keep; `None` when empty, as for a transaction without a commitment). It is asked at most
/// once, for [`plan_anchor`], and only for kinds that do not name their plan.
pub fn keys(
    statement: &Statement,
    signers: &[PartyId],
    plan_of: impl FnOnce(SubjectKind, &str) -> Option<PlanId>,
) -> Vec<IndexKey> {
    let mut k = Keys::default();
    collect(&mut k, statement, signers);
    if let Some((kind, id)) = plan_anchor(&statement.body) {
        if let Some(plan) = plan_of(kind, id) {
            k.0.insert(IndexKey::Plan(plan));
        }
    }
    k.0.into_iter().collect()
}

/// The keys that need no state: [`keys`] without the plan key inherited through [`plan_anchor`]. A
/// verifier holding only the entry can check these.
pub fn named_keys(statement: &Statement, signers: &[PartyId]) -> Vec<IndexKey> {
    let mut k = Keys::default();
    collect(&mut k, statement, signers);
    k.0.into_iter().collect()
}

/// For kinds that do not name their plan: the earlier subject whose plan the entry belongs to
/// (docs/INDEX.md §1.3). `None` for kinds that name their plan or belong to none.
pub fn plan_anchor(body: &Body) -> Option<(SubjectKind, &str)> {
    match body {
        Body::IndicatorDefined(x) => Some((SubjectKind::Goal, &x.goal_id)),
        Body::Amended(Amended { version: Version::Indicator(x), .. }) => Some((SubjectKind::Goal, &x.goal_id)),
        Body::TransactionRecorded(t) => t.commitment_id.as_deref().map(|c| (SubjectKind::Commitment, c)),
        Body::TransactionReversed(r) => Some((SubjectKind::Transaction, &r.txn_id)),
        Body::InkindDelivered(d) => Some((SubjectKind::Pledge, &d.pledge_id)),
        Body::DeliveryConfirmed(d) => Some((SubjectKind::Delivery, &d.delivery_id)),
        Body::MilestoneUpdated(m) => Some((SubjectKind::Pledge, &m.pledge_id)),
        Body::ConditionAssessed(a) => Some((SubjectKind::Condition, &a.condition_id)),
        Body::Withdrawn(w) => Some((w.subject_kind.into(), &w.subject_id)),
        _ => None,
    }
}

/// The subject a statement creates, with what a list filters it by: its owning party (the projection's
/// `party_id`) and its plan when the statement names them. Amendments keep both, so the creating entry
/// decides them for the subject's whole life (docs/INDEX.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created<'a> {
    /// Its kind.
    pub kind: SubjectKind,
    /// Its id.
    pub id: String,
    /// The owning party, when the creating statement names it (`None`: the subject has none, or it is
    /// known only from other entries, as a transaction's recorder).
    pub owner: Option<&'a PartyId>,
    /// The plan, when the creating statement names it (`None` for an inherited plan, see [`plan_anchor`]).
    pub plan: Option<&'a PlanId>,
}

/// The subject `body` creates, for the kinds a complete list proves ([`creating_kind`]).
pub fn creates(body: &Body) -> Option<Created<'_>> {
    use SubjectKind as S;
    let c = |kind, id: &str, owner, plan| Some(Created { kind, id: id.to_string(), owner, plan });
    match body {
        Body::PlanCreated(p) => c(S::Plan, &p.plan_id, None, Some(&p.plan_id)),
        Body::GoalDefined(g) => c(S::Goal, &g.goal_id, None, Some(&g.plan_id)),
        Body::IndicatorDefined(x) => c(S::Indicator, &x.indicator_id, None, None),
        Body::PledgeAnnounced(p) => c(S::Pledge, &p.pledge_id, Some(&p.pledger_id), Some(&p.plan_id)),
        Body::ConditionDefined(x) => c(S::Condition, &x.condition_id, Some(&x.party_id), Some(&x.plan_id)),
        Body::CommitmentSigned(x) => c(S::Commitment, &x.commitment_id, Some(&x.provider_id), Some(&x.plan_id)),
        Body::TransactionRecorded(t) => c(S::Transaction, &t.txn_id, None, None),
        Body::InkindDelivered(d) => c(S::Delivery, &d.delivery_id, None, None),
        Body::ProgressReported(r) => c(S::Report, &r.report_id, Some(&r.reporter_id), Some(&r.plan_id)),
        Body::AttestationIssued(a) => c(S::Attestation, &a.attestation_id, Some(&a.auditor_id), None),
        _ => None,
    }
}

/// The statement kind that creates subjects of `kind`, for the kinds a complete list proves; `None` for
/// tranches (created inside commitments) and FX rates.
pub fn creating_kind(kind: SubjectKind) -> Option<&'static str> {
    use SubjectKind as S;
    Some(match kind {
        S::Plan => "plan.created",
        S::Goal => "goal.defined",
        S::Indicator => "indicator.defined",
        S::Pledge => "pledge.announced",
        S::Condition => "condition.defined",
        S::Commitment => "commitment.signed",
        S::Transaction => "transaction.recorded",
        S::Delivery => "inkind.delivered",
        S::Report => "progress.reported",
        S::Attestation => "attestation.issued",
        _ => return None,
    })
}

/// Whether the owner of a subject of `kind` is named by its creating statement (a complete list can then
/// be filtered by party).
pub fn owner_named(kind: SubjectKind) -> bool {
    use SubjectKind as S;
    matches!(kind, S::Pledge | S::Condition | S::Commitment | S::Report | S::Attestation)
}

#[derive(Default)]
struct Keys(BTreeSet<IndexKey>);

impl Keys {
    fn party(&mut self, p: &PartyId) {
        self.0.insert(IndexKey::Party(p.clone()));
    }
    fn parties<'a>(&mut self, ps: impl IntoIterator<Item = &'a PartyId>) {
        ps.into_iter().for_each(|p| self.party(p));
    }
    fn plan(&mut self, p: &PlanId) {
        self.0.insert(IndexKey::Plan(p.clone()));
    }
    fn subject(&mut self, kind: SubjectKind, id: &str) {
        self.0.insert(IndexKey::Subject { kind, id: id.to_string() });
    }
}

fn collect(k: &mut Keys, statement: &Statement, signers: &[PartyId]) {
    k.parties(signers);
    k.0.insert(IndexKey::Kind(statement.body.kind_name()));
    body_keys(k, &statement.body);
}

fn body_keys(k: &mut Keys, body: &Body) {
    use SubjectKind as S;
    match body {
        Body::Charter(c) => k.parties(c.founders.iter().map(|f| &f.party_id)),
        Body::PartyAdmitted(p) => k.party(&p.party.party_id),
        Body::KeyRotated(x) => k.party(&x.party_id),
        Body::KeyRevoked(x) => k.party(&x.party_id),
        Body::PlanCreated(p) => plan_keys(k, p),
        Body::GoalDefined(g) => goal_keys(k, g),
        Body::IndicatorDefined(x) => indicator_keys(k, x),
        Body::PledgeAnnounced(p) => pledge_keys(k, p),
        Body::ConditionDefined(c) => condition_keys(k, c),
        Body::CommitmentSigned(c) => commitment_keys(k, c),
        Body::TransactionRecorded(t) => transaction_keys(k, t),
        Body::TransactionReversed(r) => k.subject(S::Transaction, &r.txn_id),
        Body::InkindDelivered(d) => {
            k.subject(S::Delivery, &d.delivery_id);
            k.subject(S::Pledge, &d.pledge_id);
            k.party(&d.receiver_id);
        }
        Body::DeliveryConfirmed(d) => k.subject(S::Delivery, &d.delivery_id),
        Body::MilestoneUpdated(m) => k.subject(S::Pledge, &m.pledge_id),
        Body::ConditionAssessed(a) => {
            k.subject(S::Condition, &a.condition_id);
            if let Some(t) = &a.tranche_id {
                k.subject(S::Tranche, t);
            }
        }
        Body::ProgressReported(r) => {
            k.subject(S::Report, &r.report_id);
            k.plan(&r.plan_id);
            k.party(&r.reporter_id);
            r.indicator_values.iter().for_each(|v| k.subject(S::Indicator, &v.indicator_id));
        }
        Body::AttestationIssued(a) => {
            k.subject(S::Attestation, &a.attestation_id);
            k.party(&a.auditor_id);
        }
        Body::Amended(a) => {
            k.subject(version_kind(&a.version), &a.subject_id);
            version_keys(k, &a.version);
        }
        Body::Withdrawn(w) => k.subject(w.subject_kind.into(), &w.subject_id),
        Body::FxRateRecorded(f) => {
            k.subject(S::FxRate, &fx_id(f.from_currency, f.to_currency, &f.rate_date.to_string()));
        }
    }
}

/// An amendment files under the keys of its new version, as the statement creating it would (without
/// that statement's kind key).
fn version_keys(k: &mut Keys, v: &Version) {
    match v {
        Version::Plan(p) => plan_keys(k, p),
        Version::Goal(g) => goal_keys(k, g),
        Version::Indicator(x) => indicator_keys(k, x),
        Version::Pledge(p) => pledge_keys(k, p),
        Version::Condition(c) => condition_keys(k, c),
        Version::Commitment(c) => commitment_keys(k, c),
    }
}

fn plan_keys(k: &mut Keys, p: &PlanCreated) {
    k.plan(&p.plan_id);
    k.subject(SubjectKind::Plan, &p.plan_id);
    k.parties(p.signatories.iter().map(|s| &s.party_id));
    k.parties(&p.boundary_party_ids);
    k.parties(p.expected_reporters.iter().map(|r| &r.party_id));
}

fn goal_keys(k: &mut Keys, g: &GoalDefined) {
    k.plan(&g.plan_id);
    k.subject(SubjectKind::Goal, &g.goal_id);
}

fn indicator_keys(k: &mut Keys, x: &IndicatorDefined) {
    k.subject(SubjectKind::Indicator, &x.indicator_id);
    k.subject(SubjectKind::Goal, &x.goal_id);
}

fn pledge_keys(k: &mut Keys, p: &PledgeAnnounced) {
    k.plan(&p.plan_id);
    k.subject(SubjectKind::Pledge, &p.pledge_id);
    k.party(&p.pledger_id);
    k.parties(&p.recipient_ids);
    p.goals.iter().for_each(|g| k.subject(SubjectKind::Goal, &g.goal_id));
    p.restates.iter().for_each(|r| k.subject(SubjectKind::Pledge, &r.pledge_id));
}

fn condition_keys(k: &mut Keys, c: &ConditionDefined) {
    k.plan(&c.plan_id);
    k.subject(SubjectKind::Condition, &c.condition_id);
    k.party(&c.party_id);
    k.parties(&c.assessor_id);
    c.pledge_ids.iter().for_each(|p| k.subject(SubjectKind::Pledge, p));
    if let Some(rule) = &c.co_financing {
        k.parties(&rule.party_ids);
    }
}

fn commitment_keys(k: &mut Keys, c: &CommitmentSigned) {
    k.plan(&c.plan_id);
    k.subject(SubjectKind::Commitment, &c.commitment_id);
    k.party(&c.provider_id);
    k.party(&c.recipient_id);
    c.allocations.iter().for_each(|a| k.subject(SubjectKind::Pledge, &a.pledge_id));
    for t in &c.tranches {
        k.subject(SubjectKind::Tranche, &t.tranche_id);
        t.condition_ids.iter().for_each(|id| k.subject(SubjectKind::Condition, id));
    }
}

fn transaction_keys(k: &mut Keys, t: &TransactionRecorded) {
    k.subject(SubjectKind::Transaction, &t.txn_id);
    k.party(&t.provider_id);
    k.parties(&t.receiver_id);
    if let Some(c) = &t.commitment_id {
        k.subject(SubjectKind::Commitment, c);
    }
    if let Some(tr) = &t.tranche_id {
        k.subject(SubjectKind::Tranche, tr);
    }
    if let Some(c) = &t.corrects {
        k.subject(SubjectKind::Transaction, c);
    }
}
