//! Typed statements: what a signed statement says, parsed once at the wire boundary into one struct per
//! kind. Identifiers are validated newtypes ([`crate::ids`]), codes are enums ([`crate::codes`]), money is
//! an exact [`Amount`], dates are [`Day`]s, and an optional field is an `Option`, never an empty string.
//! The rules and the reports read these; only the boundary (`accord::proto`) knows the protobuf form.
mod book;
mod governance;

pub use book::*;
pub use governance::*;

use crate::date::Day;
use crate::ids::StatementId;

/// A statement: the envelope's payload, as signed.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The ledger's origin (the checkpoint's first line) the statement is meant for.
    pub ledger: String,
    /// Unique per ledger; a resubmission with the same id and bytes is idempotent.
    pub statement_id: StatementId,
    /// When the signer issued it (signer's clock; informational).
    pub issued_at: Timestamp,
    /// The day the statement takes effect.
    pub effective_date: Day,
    /// What it says.
    pub body: Body,
}

/// A point in time: seconds since the Unix epoch and nanoseconds (0..1e9), in the plausible window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds, 0..=999,999,999.
    pub nanos: i32,
}

/// One statement kind with its content.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs, reason = "each variant is the kind of the same name; the structs are documented")]
pub enum Body {
    Charter(Charter),
    PartyAdmitted(PartyAdmitted),
    KeyRotated(KeyRotated),
    KeyRevoked(KeyRevoked),
    PlanCreated(PlanCreated),
    GoalDefined(GoalDefined),
    IndicatorDefined(IndicatorDefined),
    PledgeAnnounced(PledgeAnnounced),
    ConditionDefined(ConditionDefined),
    CommitmentSigned(CommitmentSigned),
    TransactionRecorded(TransactionRecorded),
    TransactionReversed(TransactionReversed),
    InkindDelivered(InkindDelivered),
    DeliveryConfirmed(DeliveryConfirmed),
    MilestoneUpdated(MilestoneUpdated),
    ConditionAssessed(ConditionAssessed),
    ProgressReported(ProgressReported),
    AttestationIssued(AttestationIssued),
    Amended(Amended),
    Withdrawn(Withdrawn),
    FxRateRecorded(FxRateRecorded),
}

impl Body {
    /// The kind's stable name, as stored and reported (`pledge.announced`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Body::Charter(_) => "charter",
            Body::PartyAdmitted(_) => "party.admitted",
            Body::KeyRotated(_) => "key.rotated",
            Body::KeyRevoked(_) => "key.revoked",
            Body::PlanCreated(_) => "plan.created",
            Body::GoalDefined(_) => "goal.defined",
            Body::IndicatorDefined(_) => "indicator.defined",
            Body::PledgeAnnounced(_) => "pledge.announced",
            Body::ConditionDefined(_) => "condition.defined",
            Body::CommitmentSigned(_) => "commitment.signed",
            Body::TransactionRecorded(_) => "transaction.recorded",
            Body::TransactionReversed(_) => "transaction.reversed",
            Body::InkindDelivered(_) => "inkind.delivered",
            Body::DeliveryConfirmed(_) => "delivery.confirmed",
            Body::MilestoneUpdated(_) => "milestone.updated",
            Body::ConditionAssessed(_) => "condition.assessed",
            Body::ProgressReported(_) => "progress.reported",
            Body::AttestationIssued(_) => "attestation.issued",
            Body::Amended(_) => "amended",
            Body::Withdrawn(_) => "withdrawn",
            Body::FxRateRecorded(_) => "fx_rate.recorded",
        }
    }

    /// The body's field name on the wire (`pledge_announced`), which prefixes its field paths in refusals.
    pub fn field_name(&self) -> &'static str {
        match self {
            Body::Charter(_) => "charter",
            Body::PartyAdmitted(_) => "party_admitted",
            Body::KeyRotated(_) => "key_rotated",
            Body::KeyRevoked(_) => "key_revoked",
            Body::PlanCreated(_) => "plan_created",
            Body::GoalDefined(_) => "goal_defined",
            Body::IndicatorDefined(_) => "indicator_defined",
            Body::PledgeAnnounced(_) => "pledge_announced",
            Body::ConditionDefined(_) => "condition_defined",
            Body::CommitmentSigned(_) => "commitment_signed",
            Body::TransactionRecorded(_) => "transaction_recorded",
            Body::TransactionReversed(_) => "transaction_reversed",
            Body::InkindDelivered(_) => "inkind_delivered",
            Body::DeliveryConfirmed(_) => "delivery_confirmed",
            Body::MilestoneUpdated(_) => "milestone_updated",
            Body::ConditionAssessed(_) => "condition_assessed",
            Body::ProgressReported(_) => "progress_reported",
            Body::AttestationIssued(_) => "attestation_issued",
            Body::Amended(_) => "amended",
            Body::Withdrawn(_) => "withdrawn",
            Body::FxRateRecorded(_) => "fx_rate_recorded",
        }
    }

    /// The compiled body: what a subject the statement creates or versions keeps as its current version
    /// (an amendment's new version, otherwise the body itself).
    pub fn compiled(&self) -> Body {
        match self {
            Body::Amended(a) => a.version.clone().into_body(),
            other => other.clone(),
        }
    }

    /// Whether the kind governs the coalition (charter, admission, keys) rather than the book.
    pub fn is_governance(&self) -> bool {
        matches!(self, Body::Charter(_) | Body::PartyAdmitted(_) | Body::KeyRotated(_) | Body::KeyRevoked(_))
    }
}

/// A statement kind's struct, read out of a [`Body`] (`pledge.announced` from `Body::PledgeAnnounced`).
pub trait OfBody: Sized {
    /// The kind's struct, if the body is of this kind.
    fn of_body(body: &Body) -> Option<&Self>;
}

macro_rules! of_body {
    ($($variant:ident),* $(,)?) => {$(
        impl OfBody for $variant {
            fn of_body(body: &Body) -> Option<&Self> {
                match body {
                    Body::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    )*};
}

of_body!(
    Charter,
    PartyAdmitted,
    KeyRotated,
    KeyRevoked,
    PlanCreated,
    GoalDefined,
    IndicatorDefined,
    PledgeAnnounced,
    ConditionDefined,
    CommitmentSigned,
    TransactionRecorded,
    TransactionReversed,
    InkindDelivered,
    DeliveryConfirmed,
    MilestoneUpdated,
    ConditionAssessed,
    ProgressReported,
    AttestationIssued,
    Amended,
    Withdrawn,
    FxRateRecorded,
);

/// A closed range of days, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    /// First day.
    pub start: Day,
    /// Last day, not before `start`.
    pub end: Day,
}

impl Period {
    /// Whether two periods share at least one day.
    pub fn overlaps(&self, other: &Period) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

/// Most items in one list of a statement (goals, items, tranches, covered entries ...).
pub const MAX_ITEMS: usize = 1000;
/// Most parties in a charter or a party list.
pub const MAX_PARTIES: usize = 1000;
/// Most keys a party may hold.
pub const MAX_KEYS_PER_PARTY: usize = 16;

/// A SHA-256 digest (of an agreement, evidence, a narrative).
pub type Sha256 = [u8; 32];
