//! The code lists a statement's fields take their values from (DOMAIN.md §2–§4, IATI and OECD code
//! lists), as enums: parsed once from their wire spelling, compared as values after.
use std::fmt;

use crate::error::{Refusal, Result};

/// A code list: an enum with one wire spelling per value, all in one family (snake_case, as IATI's and
/// DOMAIN.md's code lists are written). A value may also name older spellings after `|`, accepted on input
/// and never written: `notMet` and `partiallyMet` (OCDS's and DOMAIN.md §3's camelCase) were the wire
/// spellings of two lists before they joined the family, and ledgers already hold statements signed with
/// them.
macro_rules! code_list {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal $(| $alias:literal)*,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in the order the code list gives them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// Every wire spelling, in the same order.
            pub const NAMES: &'static [&'static str] = &[$($text,)*];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// Parse the wire spelling (or an older spelling still accepted: see [`code_list!`]), or refuse it
            /// naming `field` and the values allowed.
            pub fn parse(field: &str, s: &str) -> Result<Self> {
                match s {
                    $($text $(| $alias)* => Ok($name::$variant),)*
                    _ => Err(Refusal::invalid(field, format!("{s:?} is not one of {}", Self::NAMES.join(", ")))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Serialised as its wire spelling.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// Read from its wire spelling; any other text is an error naming the values allowed (never a default).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(stringify!($name), &s).map_err(|e| serde::de::Error::custom(e.rule))
            }
        }
    };
}

code_list! {
    /// Roles a party may hold (DOMAIN.md §2).
    Role {
        /// Provides funds.
        Funder = "funder",
        /// The government of a partner country.
        PartnerGovernment = "partner_government",
        /// Implements activities.
        Implementer = "implementer",
        /// Runs the coalition's secretariat.
        Secretariat = "secretariat",
        /// Attests to what was reported.
        Auditor = "auditor",
        /// Assesses conditions.
        Assessor = "assessor",
        /// Publishes exchange rates.
        RatePublisher = "rate_publisher",
        /// Reads, signs nothing of the book.
        Observer = "observer",
    }
}

code_list! {
    /// What a pledge promises (DOMAIN.md §3).
    PledgeKind {
        /// Money.
        Money = "money",
        /// Goods and services, valued.
        InKind = "in_kind",
        /// Policy actions with milestones.
        PolicyAction = "policy_action",
    }
}

code_list! {
    /// Where a pledge's resources come from.
    FundingSource {
        /// From outside the partner country.
        External = "external",
        /// The partner's own resources (co-financing).
        DomesticOwnResources = "domestic_own_resources",
        /// Private sources.
        Private = "private",
    }
}

code_list! {
    /// The kind of a condition.
    ConditionType {
        /// A policy action.
        Policy = "policy",
        /// A performance target.
        Performance = "performance",
        /// A fiduciary requirement.
        Fiduciary = "fiduciary",
        /// Co-financing by named parties.
        CoFinancing = "co_financing",
    }
}

code_list! {
    /// The outcome of a condition's assessment.
    Outcome {
        /// Met.
        Met = "met",
        /// Not met.
        NotMet = "not_met" | "notMet",
        /// Partially met.
        PartiallyMet = "partially_met" | "partiallyMet",
        /// Waived.
        Waived = "waived",
    }
}

code_list! {
    /// The status a milestone update reports.
    MilestoneStatus {
        /// Met.
        Met = "met",
        /// Not met.
        NotMet = "not_met" | "notMet",
        /// Partially met.
        PartiallyMet = "partially_met" | "partiallyMet",
    }
}

code_list! {
    /// An auditor's opinion (DOMAIN.md §3).
    Opinion {
        /// Verified.
        Verified = "verified",
        /// Verified, with exceptions listed as adjustments.
        VerifiedWithExceptions = "verified_with_exceptions",
        /// Not verified.
        NotVerified = "not_verified",
        /// The auditor could not verify.
        UnableToVerify = "unable_to_verify",
    }
}

code_list! {
    /// Which side of a plan's boundary a flow crosses (OCHA FTS).
    Boundary {
        /// Into the plan.
        Incoming = "incoming",
        /// Between parties inside the plan: counted once.
        Internal = "internal",
        /// Out of the plan.
        Outgoing = "outgoing",
    }
}

code_list! {
    /// A goal classification's vocabulary.
    Vocabulary {
        /// OECD DAC 5-digit sector.
        Dac5 = "dac5",
        /// SDG target.
        SdgTarget = "sdg_target",
        /// The plan's own codes.
        Plan = "plan",
    }
}

code_list! {
    /// Kinds of subject a withdrawal may name.
    Withdrawable {
        /// A pledge.
        Pledge = "pledge",
        /// A condition.
        Condition = "condition",
        /// A commitment.
        Commitment = "commitment",
    }
}

code_list! {
    /// The kinds of subject the ledger tracks: what its projections (and queries) are about.
    SubjectKind {
        /// A plan (`plan.created`).
        Plan = "plan",
        /// A goal of a plan.
        Goal = "goal",
        /// An indicator of a goal.
        Indicator = "indicator",
        /// A pledge.
        Pledge = "pledge",
        /// A condition on pledges or tranches.
        Condition = "condition",
        /// A commitment.
        Commitment = "commitment",
        /// A tranche of a commitment (it lives inside the commitment's body).
        Tranche = "tranche",
        /// A transaction (`transaction.recorded`).
        Transaction = "transaction",
        /// An in-kind delivery.
        Delivery = "delivery",
        /// A progress report.
        Report = "report",
        /// An attestation.
        Attestation = "attestation",
        /// A recorded FX rate.
        FxRate = "fx_rate",
    }
}

impl From<Withdrawable> for SubjectKind {
    fn from(w: Withdrawable) -> Self {
        match w {
            Withdrawable::Pledge => SubjectKind::Pledge,
            Withdrawable::Condition => SubjectKind::Condition,
            Withdrawable::Commitment => SubjectKind::Commitment,
        }
    }
}

code_list! {
    /// How often reports are due.
    Frequency {
        /// Every month.
        Monthly = "monthly",
        /// Every quarter.
        Quarterly = "quarterly",
        /// Every half year.
        Semiannual = "semiannual",
        /// Every year.
        Annual = "annual",
    }
}

code_list! {
    /// The period a co-financing ratio is measured over.
    CoFinancingPeriod {
        /// Each calendar year.
        Year = "year",
        /// The whole plan.
        Plan = "plan",
    }
}

code_list! {
    /// The status a subject is stored with (the `status` column of the projections) and shown with. One
    /// list for every kind, as storage and queries keep one status per subject whatever its kind:
    ///
    /// - plans, goals, indicators and tranches: `active`;
    /// - pledges ([`crate::book::pledge_status`]): `announced`, `partially_committed`, `committed`,
    ///   `partially_disbursed`, `fulfilled`, `superseded`, `lapsed` or `withdrawn`;
    /// - conditions ([`crate::book::condition_status`]): `pending`, an [`Outcome`] or `withdrawn`;
    /// - commitments: `active`, `disbursed` or `withdrawn`;
    /// - transactions: `recorded` or `reversed`; deliveries: `recorded` or `confirmed`;
    /// - progress reports: `reported`; attestations: the auditor's [`Opinion`]; FX rates: `recorded`.
    SubjectStatus {
        /// In force (plans, goals, indicators, tranches, commitments not yet fully disbursed).
        Active = "active",
        /// A pledge announced, nothing committed or disbursed against it yet.
        Announced = "announced",
        /// A pledge partly committed.
        PartiallyCommitted = "partially_committed",
        /// A pledge fully committed.
        Committed = "committed",
        /// A pledge partly disbursed or delivered (or a policy pledge with milestones under way).
        PartiallyDisbursed = "partially_disbursed",
        /// A pledge fully disbursed or delivered (or every milestone met).
        Fulfilled = "fulfilled",
        /// A pledge wholly restated by later pledges.
        Superseded = "superseded",
        /// A pledge past its expiry with nothing done.
        Lapsed = "lapsed",
        /// Withdrawn (pledges, conditions, commitments).
        Withdrawn = "withdrawn",
        /// A condition not yet assessed.
        Pending = "pending",
        /// A condition met.
        Met = "met",
        /// A condition not met.
        NotMet = "not_met" | "notMet",
        /// A condition partially met.
        PartiallyMet = "partially_met" | "partiallyMet",
        /// A condition waived.
        Waived = "waived",
        /// A commitment fully disbursed.
        Disbursed = "disbursed",
        /// A transaction, FX rate, or a delivery not yet confirmed by its receiver.
        Recorded = "recorded",
        /// A delivery confirmed by its receiver.
        Confirmed = "confirmed",
        /// A transaction reversed.
        Reversed = "reversed",
        /// A progress report.
        Reported = "reported",
        /// An attestation: verified.
        Verified = "verified",
        /// An attestation: verified with exceptions.
        VerifiedWithExceptions = "verified_with_exceptions",
        /// An attestation: not verified.
        NotVerified = "not_verified",
        /// An attestation: the auditor could not verify.
        UnableToVerify = "unable_to_verify",
    }
}

impl From<Outcome> for SubjectStatus {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Met => SubjectStatus::Met,
            Outcome::NotMet => SubjectStatus::NotMet,
            Outcome::PartiallyMet => SubjectStatus::PartiallyMet,
            Outcome::Waived => SubjectStatus::Waived,
        }
    }
}

impl From<Opinion> for SubjectStatus {
    fn from(o: Opinion) -> Self {
        match o {
            Opinion::Verified => SubjectStatus::Verified,
            Opinion::VerifiedWithExceptions => SubjectStatus::VerifiedWithExceptions,
            Opinion::NotVerified => SubjectStatus::NotVerified,
            Opinion::UnableToVerify => SubjectStatus::UnableToVerify,
        }
    }
}

code_list! {
    /// What an entry did to a subject, as its history records it (one entry may do several things to
    /// several subjects: a disbursement is `disbursed` on the transaction's commitment, tranche and pledge).
    Action {
        /// The subject was created.
        Created = "created",
        /// A new version replaced the subject (`amended`).
        Amended = "amended",
        /// The subject was withdrawn.
        Withdrawn = "withdrawn",
        /// Money was committed against a pledge.
        Committed = "committed",
        /// A commitment's amendment or withdrawal took money off a pledge.
        Uncommitted = "uncommitted",
        /// Money was disbursed against the subject.
        Disbursed = "disbursed",
        /// A reversal (a negative flow, or `transaction.reversed`) took money off the subject.
        Reversed = "reversed",
        /// A correcting transaction names this reversed one.
        Corrected = "corrected",
        /// A transaction under a commitment touched it without changing its figures (an incoming or
        /// internal flow).
        Flow = "flow",
        /// A commitment's tranche is gated by this condition.
        Gates = "gates",
        /// A condition was assessed (the condition, and each tranche it gates).
        Assessed = "assessed",
        /// Goods or services were delivered in kind against a pledge.
        Delivered = "delivered",
        /// The recipient confirmed a delivery or a transaction.
        Confirmed = "confirmed",
        /// A policy milestone was updated.
        Milestone = "milestone",
        /// A later pledge restated part of this one.
        Restated = "restated",
        /// The restating pledge was withdrawn, so its restatement of this one no longer holds.
        RestatementReleased = "restatement_released",
    }
}

code_list! {
    /// How a tranche stands against the conditions that gate it ([`crate::book::tranche_gate`]).
    GateStatus {
        /// No condition gates it.
        Unconditional = "unconditional",
        /// Every condition met or waived (or withdrawn).
        Released = "released",
        /// A condition assessed and not met.
        Withheld = "withheld",
        /// A condition not yet assessed.
        Pending = "pending",
    }
}

impl GateStatus {
    /// Whether the tranche may be disbursed.
    pub fn is_open(self) -> bool {
        matches!(self, GateStatus::Unconditional | GateStatus::Released)
    }
}

/// IATI TransactionType codes a transaction may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransactionType {
    /// 1: incoming funds.
    IncomingFunds,
    /// 3: disbursement.
    Disbursement,
    /// 4: expenditure.
    Expenditure,
    /// 7: reimbursement.
    Reimbursement,
}

impl TransactionType {
    /// The IATI code.
    pub fn code(self) -> u32 {
        match self {
            Self::IncomingFunds => 1,
            Self::Disbursement => 3,
            Self::Expenditure => 4,
            Self::Reimbursement => 7,
        }
    }

    /// Parse an IATI code, or refuse it naming `field`.
    pub fn parse(field: &str, code: u32) -> Result<Self> {
        match code {
            1 => Ok(Self::IncomingFunds),
            3 => Ok(Self::Disbursement),
            4 => Ok(Self::Expenditure),
            7 => Ok(Self::Reimbursement),
            _ => Err(Refusal::invalid(
                field,
                format!(
                    "{code} is not one of 1 (incoming funds), 3 (disbursement), 4 (expenditure), 7 (reimbursement)"
                ),
            )),
        }
    }

    /// Whether the transaction pays out against a commitment (disbursement or reimbursement).
    pub fn pays_out(self) -> bool {
        matches!(self, Self::Disbursement | Self::Reimbursement)
    }
}

/// IATI IndicatorMeasure codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// 1: unit.
    Unit,
    /// 2: percentage.
    Percentage,
    /// 3: nominal.
    Nominal,
    /// 4: ordinal.
    Ordinal,
    /// 5: qualitative.
    Qualitative,
}

impl Measure {
    /// The IATI code.
    pub fn code(self) -> u32 {
        match self {
            Self::Unit => 1,
            Self::Percentage => 2,
            Self::Nominal => 3,
            Self::Ordinal => 4,
            Self::Qualitative => 5,
        }
    }

    /// Parse an IATI code, or refuse it naming `field`.
    pub fn parse(field: &str, code: u32) -> Result<Self> {
        match code {
            1 => Ok(Self::Unit),
            2 => Ok(Self::Percentage),
            3 => Ok(Self::Nominal),
            4 => Ok(Self::Ordinal),
            5 => Ok(Self::Qualitative),
            _ => Err(Refusal::invalid(
                field,
                "must be an IATI IndicatorMeasure: 1 unit, 2 percentage, 3 nominal, 4 ordinal, 5 qualitative",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code list writes one spelling family (snake_case); the two lists that were camelCase still read
    /// their old spellings, which ledgers hold in signed statements, and write the new ones.
    #[test]
    fn one_spelling_family_written_older_spellings_read() {
        for name in Outcome::NAMES
            .iter()
            .chain(MilestoneStatus::NAMES)
            .chain(SubjectStatus::NAMES)
            .chain(Role::NAMES)
            .chain(GateStatus::NAMES)
        {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name} is not snake_case");
        }
        for (old, new) in [("notMet", "not_met"), ("partiallyMet", "partially_met")] {
            assert_eq!(Outcome::parse("outcome", old).unwrap().as_str(), new);
            assert_eq!(MilestoneStatus::parse("status", old).unwrap().as_str(), new);
            assert_eq!(SubjectStatus::parse("status", old).unwrap().as_str(), new);
        }
        let e = Outcome::parse("outcome", "NotMet").unwrap_err();
        assert_eq!(
            e.rule, "\"NotMet\" is not one of met, not_met, partially_met, waived",
            "the refusal names the new spellings"
        );
    }

    #[test]
    fn code_lists_round_trip_and_name_the_allowed_values() {
        for (v, s) in Outcome::ALL.iter().zip(Outcome::NAMES) {
            assert_eq!(Outcome::parse("outcome", s).unwrap(), *v);
            assert_eq!(v.as_str(), *s);
        }
        let e = PledgeKind::parse("pledge_kind", "cash").unwrap_err();
        assert_eq!(e.field, "pledge_kind");
        assert_eq!(e.rule, "\"cash\" is not one of money, in_kind, policy_action");
        assert_eq!(TransactionType::parse("t", 3).unwrap().code(), 3);
        assert!(TransactionType::parse("t", 2).is_err());
        assert_eq!(Measure::parse("m", 5).unwrap(), Measure::Qualitative);
    }
}
