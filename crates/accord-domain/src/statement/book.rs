//! The book's kinds: plans, goals, indicators, pledges, conditions, commitments, flows, reports,
//! attestations, amendments, withdrawals and rates (DOMAIN.md §3–§4, §7).
use rust_decimal::Decimal;

use super::{Body, Period, Sha256};
use crate::codes::*;
use crate::date::Day;
use crate::ids::*;
use crate::money::{Amount, Currency};

/// A party who signs a plan, with the role it signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatory {
    /// The party.
    pub party_id: PartyId,
    /// The role it signs in, if stated.
    pub role: Option<Role>,
}

/// When reports fall due: a frequency and a grace period (at most 366 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSchedule {
    /// How often.
    pub frequency: Frequency,
    /// Days after a period's end a report is due.
    pub days_after_period_end: u32,
}

/// A party expected to report, on the plan's schedule or its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedReporter {
    /// The reporter.
    pub party_id: PartyId,
    /// Its own schedule; the plan's when absent.
    pub schedule: Option<ReportSchedule>,
}

/// `plan.created`: a response plan, appeal or pledging frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanCreated {
    /// Its id.
    pub plan_id: PlanId,
    /// Its title.
    pub title: String,
    /// The period it covers.
    pub period: Period,
    /// The currency its figures are reported in (ISO 4217).
    pub reporting_currency: Currency,
    /// Who signs it.
    pub signatories: Vec<Signatory>,
    /// When progress reports are due.
    pub report_schedule: Option<ReportSchedule>,
    /// What the plan needs (OCHA FTS requirements).
    pub requirement: Option<Amount>,
    /// Free text.
    pub description: String,
    /// The parties inside the plan's boundary (flows between them are internal).
    pub boundary_party_ids: Vec<PartyId>,
    /// Who owes progress reports.
    pub expected_reporters: Vec<ExpectedReporter>,
}

/// A goal's classification in a vocabulary, with an optional share (shares per vocabulary sum to 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The vocabulary.
    pub vocabulary: Vocabulary,
    /// The code in it.
    pub code: Code,
    /// Percentage of the goal in this code.
    pub share: Option<Decimal>,
}

/// `goal.defined`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalDefined {
    /// Its id.
    pub goal_id: GoalId,
    /// The plan it belongs to.
    pub plan_id: PlanId,
    /// Its title.
    pub title: String,
    /// Sectors, SDG targets, plan codes.
    pub classifications: Vec<Classification>,
    /// Free text.
    pub description: String,
}

/// An indicator's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    /// The value.
    pub value: Decimal,
    /// The year it was measured (1900–2200).
    pub year: u32,
}

/// A target value for a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorTarget {
    /// The period.
    pub period: Period,
    /// The target.
    pub value: Decimal,
}

/// `indicator.defined`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorDefined {
    /// Its id.
    pub indicator_id: IndicatorId,
    /// The goal it measures.
    pub goal_id: GoalId,
    /// Its title.
    pub title: String,
    /// IATI IndicatorMeasure.
    pub measure: Measure,
    /// Whether higher is better.
    pub ascending: bool,
    /// Unit, free.
    pub unit: String,
    /// Baseline.
    pub baseline: Option<Baseline>,
    /// Targets.
    pub targets: Vec<IndicatorTarget>,
}

/// A pledge's share of a goal (percent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalShare {
    /// The goal.
    pub goal_id: GoalId,
    /// Percent, > 0; a pledge's shares sum to 100.
    pub share: Decimal,
}

/// Part of an earlier pledge a new pledge re-announces (0 declares none is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restatement {
    /// The earlier pledge.
    pub pledge_id: PledgeId,
    /// The amount re-announced, ≥ 0, in the earlier pledge's currency.
    pub amount: Amount,
}

/// Where and when a pledge was announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The event (a pledging conference).
    pub event: String,
    /// The day.
    pub date: Option<Day>,
}

/// An item of an in-kind pledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InKindItem {
    /// Its id within the pledge.
    pub item_id: ItemId,
    /// What it is.
    pub description: String,
    /// How many, > 0.
    pub quantity: Decimal,
    /// Unit, free.
    pub unit: String,
    /// Value of one unit.
    pub unit_value: Option<Amount>,
    /// How the value was set, free.
    pub valuation_basis: String,
}

/// A milestone of a policy-action pledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMilestone {
    /// Its id within the pledge.
    pub milestone_id: MilestoneId,
    /// What it is.
    pub title: String,
    /// When it is due.
    pub due_date: Day,
    /// A quantity to reach, > 0 (with `unit`).
    pub quantity_target: Option<Decimal>,
    /// The quantity's unit (required with a target).
    pub unit: String,
}

/// `pledge.announced`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PledgeAnnounced {
    /// Its id.
    pub pledge_id: PledgeId,
    /// The plan.
    pub plan_id: PlanId,
    /// Who pledges.
    pub pledger_id: PartyId,
    /// Money, in kind or policy action.
    pub pledge_kind: PledgeKind,
    /// The amount (required unless a policy action).
    pub amount: Option<Amount>,
    /// Shares of goals.
    pub goals: Vec<GoalShare>,
    /// Intended recipients.
    pub recipient_ids: Vec<PartyId>,
    /// When the money is to be used.
    pub usage_period: Option<Period>,
    /// IATI FinanceType code.
    pub finance_type: Option<String>,
    /// Where it comes from.
    pub funding_source: FundingSource,
    /// Claimed additional.
    pub new_money: bool,
    /// Earlier pledges re-announced.
    pub restates: Vec<Restatement>,
    /// Where and when it was announced.
    pub announced: Option<Announcement>,
    /// When it lapses if not committed.
    pub expires_on: Option<Day>,
    /// In-kind items.
    pub items: Vec<InKindItem>,
    /// Policy milestones.
    pub milestones: Vec<PolicyMilestone>,
    /// Free text.
    pub description: String,
}

/// A co-financing rule: named parties invest `ratio` × the funds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoFinancingRule {
    /// 0.25 for 25 %; > 0, at most 100.
    pub ratio: Decimal,
    /// Who must co-finance.
    pub party_ids: Vec<PartyId>,
    /// Which finance types count.
    pub finance_types: Vec<String>,
    /// Measured per year or over the plan.
    pub period: Option<CoFinancingPeriod>,
}

/// `condition.defined`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionDefined {
    /// Its id.
    pub condition_id: ConditionId,
    /// The plan.
    pub plan_id: PlanId,
    /// Who must meet it.
    pub party_id: PartyId,
    /// Its kind.
    pub condition_type: ConditionType,
    /// What it requires.
    pub text: String,
    /// Who assesses it (required unless co-financing).
    pub assessor_id: Option<PartyId>,
    /// The pledges it conditions.
    pub pledge_ids: Vec<PledgeId>,
    /// What is at stake.
    pub amount_at_stake: Option<Amount>,
    /// The co-financing rule (exactly when `condition_type` is co-financing).
    pub co_financing: Option<CoFinancingRule>,
}

/// Part of a commitment drawn from a pledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PledgeAllocation {
    /// The pledge.
    pub pledge_id: PledgeId,
    /// The amount drawn.
    pub amount: Amount,
}

/// A commitment's amount for one year of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageYear {
    /// The year (1900–2200), each once.
    pub year: u32,
    /// The amount, > 0; the years sum to the commitment.
    pub value: Decimal,
}

/// A tranche of a commitment, released when its conditions are met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tranche {
    /// Its id within the commitment.
    pub tranche_id: TrancheId,
    /// The amount, > 0; tranches sum to the commitment.
    pub value: Decimal,
    /// Conditions that release it.
    pub condition_ids: Vec<ConditionId>,
}

/// `commitment.signed`: a signed agreement between a provider and a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentSigned {
    /// Its id.
    pub commitment_id: CommitmentId,
    /// The plan.
    pub plan_id: PlanId,
    /// Who provides.
    pub provider_id: PartyId,
    /// Who receives (not the provider).
    pub recipient_id: PartyId,
    /// Pledges it draws on.
    pub allocations: Vec<PledgeAllocation>,
    /// The amount.
    pub amount: Amount,
    /// When it was signed.
    pub signed_date: Day,
    /// IATI FinanceType code.
    pub finance_type: Option<String>,
    /// Its amount by year of use.
    pub usage_years: Vec<UsageYear>,
    /// Its tranches.
    pub tranches: Vec<Tranche>,
    /// Digest of the agreement document.
    pub agreement_sha256: Option<Sha256>,
}

/// `transaction.recorded`: money moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRecorded {
    /// Its id.
    pub txn_id: TxnId,
    /// The commitment it draws on (required for disbursements and reimbursements).
    pub commitment_id: Option<CommitmentId>,
    /// IATI TransactionType.
    pub transaction_type: TransactionType,
    /// The day it happened.
    pub date: Day,
    /// How much.
    pub amount: Amount,
    /// Who paid.
    pub provider_id: PartyId,
    /// Who received (optional for expenditure).
    pub receiver_id: Option<PartyId>,
    /// The tranche it pays.
    pub tranche_id: Option<TrancheId>,
    /// The side of the plan's boundary, when stated.
    pub boundary: Option<Boundary>,
    /// Digest of the evidence.
    pub evidence_sha256: Option<Sha256>,
    /// Free text.
    pub description: String,
    /// The reversed transaction this one re-enters.
    pub corrects: Option<TxnId>,
}

/// `transaction.reversed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionReversed {
    /// The transaction reversed.
    pub txn_id: TxnId,
    /// Why.
    pub rationale: String,
    /// The amount reversed (must be the whole amount), when stated.
    pub amount: Option<Amount>,
}

/// `inkind.delivered`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InkindDelivered {
    /// Its id.
    pub delivery_id: DeliveryId,
    /// The in-kind pledge delivered against.
    pub pledge_id: PledgeId,
    /// The day.
    pub date: Day,
    /// The item.
    pub item_id: Option<ItemId>,
    /// How many, > 0.
    pub quantity: Option<Decimal>,
    /// The value delivered.
    pub value: Amount,
    /// Who received it.
    pub receiver_id: PartyId,
}

/// `delivery.confirmed`: the receiver confirms an in-kind delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfirmed {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// The day of confirmation.
    pub date: Day,
    /// Free text.
    pub note: String,
}

/// `milestone.updated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilestoneUpdated {
    /// The pledge.
    pub pledge_id: PledgeId,
    /// The milestone.
    pub milestone_id: MilestoneId,
    /// Its status.
    pub status: MilestoneStatus,
    /// The day.
    pub date: Day,
    /// The quantity reached.
    pub quantity_done: Option<Decimal>,
    /// Free text.
    pub note: String,
}

/// `condition.assessed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionAssessed {
    /// The condition.
    pub condition_id: ConditionId,
    /// The tranche the assessment is for.
    pub tranche_id: Option<TrancheId>,
    /// The outcome.
    pub outcome: Outcome,
    /// The day.
    pub date: Day,
    /// Digest of the evidence.
    pub evidence_sha256: Option<Sha256>,
    /// Why.
    pub rationale: String,
}

/// An indicator's reported value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorValue {
    /// The indicator.
    pub indicator_id: IndicatorId,
    /// The value.
    pub value: Decimal,
}

/// `progress.reported`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReported {
    /// Its id.
    pub report_id: ReportId,
    /// Who reports.
    pub reporter_id: PartyId,
    /// The plan.
    pub plan_id: PlanId,
    /// The period reported on.
    pub period: Period,
    /// Indicator values, each indicator once.
    pub indicator_values: Vec<IndicatorValue>,
    /// Co-financing realised in the period.
    pub co_financing_realised: Option<Amount>,
    /// Digest of the narrative.
    pub narrative_sha256: Option<Sha256>,
}

/// An auditor's adjustment of a reported figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// What was adjusted.
    pub item: String,
    /// As reported.
    pub reported: Decimal,
    /// As verified.
    pub verified: Decimal,
    /// Why.
    pub reason: String,
}

/// `attestation.issued`: an auditor's opinion on entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationIssued {
    /// Its id.
    pub attestation_id: AttestationId,
    /// The auditor.
    pub auditor_id: PartyId,
    /// What was audited.
    pub scope: String,
    /// Identities of the entries covered, each once, at least one.
    pub covered_entries: Vec<[u8; 32]>,
    /// The opinion.
    pub opinion: Opinion,
    /// Adjustments.
    pub adjustments: Vec<Adjustment>,
}

/// The new version an amendment states.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs, reason = "each variant is the new version of a subject of that kind")]
pub enum Version {
    Plan(PlanCreated),
    Goal(GoalDefined),
    Indicator(IndicatorDefined),
    Pledge(PledgeAnnounced),
    Condition(ConditionDefined),
    Commitment(CommitmentSigned),
}

impl Version {
    /// The version as the body of the statement kind that creates the subject (`Pledge` → `PledgeAnnounced`).
    pub fn into_body(self) -> Body {
        match self {
            Version::Plan(p) => Body::PlanCreated(p),
            Version::Goal(g) => Body::GoalDefined(g),
            Version::Indicator(x) => Body::IndicatorDefined(x),
            Version::Pledge(p) => Body::PledgeAnnounced(p),
            Version::Condition(c) => Body::ConditionDefined(c),
            Version::Commitment(c) => Body::CommitmentSigned(c),
        }
    }

    /// The id of the subject the version is of.
    pub fn id(&self) -> &str {
        match self {
            Version::Plan(p) => &p.plan_id,
            Version::Goal(g) => &g.goal_id,
            Version::Indicator(x) => &x.indicator_id,
            Version::Pledge(p) => &p.pledge_id,
            Version::Condition(c) => &c.condition_id,
            Version::Commitment(c) => &c.commitment_id,
        }
    }
}

/// `amended`: a new version of a subject, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Amended {
    /// The subject (the version's own id).
    pub subject_id: SubjectId,
    /// Why.
    pub rationale: String,
    /// The new version.
    pub version: Version,
}

/// `withdrawn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    /// The kind of subject withdrawn.
    pub subject_kind: Withdrawable,
    /// The subject.
    pub subject_id: SubjectId,
    /// Why.
    pub rationale: String,
}

/// `fx_rate.recorded`: a published exchange rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRateRecorded {
    /// From this currency.
    pub from_currency: Currency,
    /// To this one (different).
    pub to_currency: Currency,
    /// Units of `to` per unit of `from`, > 0.
    pub rate: Decimal,
    /// The rate's day.
    pub rate_date: Day,
    /// Who published it.
    pub source: String,
    /// How it was derived.
    pub method: String,
}
