//! The money views of the report model: funding, coverage, new money, usage years, tranches and
//! co-financing.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One row of pledged / committed / disbursed figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRow {
    /// The donor's or recipient's party id, the goal id, the year (`YYYY`), or `total_external`.
    pub key: String,
    /// The party's name, the goal's title, the year again, or `Total external`; empty when unknown.
    pub name: String,
    /// The row's currency: the reporting currency, each amount converted at its own value date's recorded
    /// rate; or, in `pledge_currency`, the donor's own, amounts as recorded.
    pub currency: String,
    /// P: Σ effective external pledges (latest version, withdrawn excluded, net of amounts restated by later
    /// pledges); empty in `by_recipient` and in a donor or goal row with no pledge.
    pub pledged: String,
    /// C: Σ commitments not withdrawn that draw on an external pledge.
    pub committed: String,
    /// D: Σ disbursements (3) and reimbursements (7) over those commitments, neither reversed nor internal.
    pub disbursed: String,
    /// C/P in percent; empty when P is zero or the row has none.
    pub conversion: String,
    /// D/P in percent; empty when P is zero or the row has none.
    pub fulfilment: String,
    /// D/C in percent; empty when C is zero.
    pub execution: String,
    /// P − C; empty when the row has no P.
    pub uncommitted: String,
    /// C − D.
    pub pipeline: String,
}

/// Pledged, committed and disbursed by external funders (DOMAIN.md §5), in rows of the same shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    /// The reporting currency every flow is converted to, each at its own value-date rate.
    pub currency: String,
    /// External funders (pledges with funding_source external and their commitments and flows), in party
    /// id order: P by pledger, C by the commitment's provider, D by the transaction's provider.
    pub by_donor: Vec<FlowRow>,
    /// Every external funder together (`key` `total_external`): the headline P, C and D.
    pub total_external: FlowRow,
    /// Per goal, in goal id order: pledges split by their goal shares, commitments and disbursements by
    /// the goal shares of the pledges they draw on, weighted by allocation.
    pub by_goal: Vec<FlowRow>,
    /// Committed and disbursed by recipient (pledges are not split by recipient, so P is empty).
    pub by_recipient: Vec<FlowRow>,
    /// P by announcement year (the value date's year when the pledge states no announcement date), C by
    /// signature year, D by transaction year; in year order.
    pub by_year: Vec<FlowRow>,
    /// Each donor in its own currency, unconverted (rates computed there, never mixed); donors whose
    /// pledges, commitments and disbursements are in more than one currency are listed in
    /// `mixed_currency_donors` instead.
    pub pledge_currency: Vec<FlowRow>,
    /// Party ids of the donors left out of `pledge_currency` because their figures are in several
    /// currencies, in id order.
    pub mixed_currency_donors: Vec<String>,
}

/// Plan coverage (FTS, DOMAIN.md §5): funded F against the plan's requirement R.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Requirement R in the reporting currency, converted at its value date's recorded rate (empty when
    /// the plan states none).
    pub requirement: String,
    /// F = Σ incoming flows counted once at their current status: paid plus committed-not-yet-paid.
    pub funded: String,
    /// D of the external funders (`funding.total_external.disbursed`): what is paid.
    pub paid: String,
    /// F − paid: external commitments not yet paid, C − D and never below zero.
    pub committed_unpaid: String,
    /// F/R in percent; empty when the plan states no requirement or it is zero.
    pub percent_funded: String,
    /// R − F (negative when the plan is over-funded); empty when the plan states no requirement.
    pub unmet: String,
    /// P (`funding.total_external.pledged`), shown beside F, never added to it.
    pub pledged_beside: String,
    /// Flows internal to the plan (boundary `internal`, stated or derived from the plan's boundary
    /// parties), not reversed, in transaction id order: shown, never added.
    pub internal_flows: Vec<FlowLine>,
    /// Σ of the internal flows in the reporting currency (shown with them, never added to F).
    #[serde(default)]
    pub internal_total: String,
}

/// One flow internal to the plan, as recorded and converted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLine {
    /// The transaction's id.
    pub txn_id: String,
    /// Its IATI TransactionType code (1 incoming funds, 3 disbursement, 4 expenditure, 7 reimbursement).
    pub transaction_type: u32,
    /// The transaction's date (`YYYY-MM-DD`).
    pub date: String,
    /// The providing party's id.
    pub provider: String,
    /// The receiving party's id; empty when the transaction names none.
    pub receiver: String,
    /// The amount as recorded, an exact decimal in `currency`.
    pub amount: String,
    /// The recorded currency (ISO 4217).
    pub currency: String,
    /// The amount in the reporting currency at its value date's recorded rate (`0` when no rate converts
    /// it: it is then listed in `unconverted`).
    pub converted: String,
}

/// One restatement: part of an earlier pledge re-announced by a later pledge, counted once in P.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restated {
    /// The restating (later) pledge.
    pub pledge_id: String,
    /// The pledge it restates (the original).
    pub restates: String,
    /// The amount restated as declared, an exact decimal in `currency` (`0` declares that none of the
    /// original is re-announced).
    pub amount: String,
    /// Its currency (ISO 4217).
    pub currency: String,
    /// `effective`, or `withdrawn` when the restating pledge was withdrawn (the restated amount is released
    /// back to the original pledge).
    #[serde(default)]
    pub status: String,
}

/// New money (DOMAIN.md §5, §7): P_new against P, with every restatement linked to the pledge it restates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMoney {
    /// P_new: Σ over effective external pledges claiming new money of (the amount counted in P − the
    /// amounts the pledge restates), never below zero per pledge.
    pub new_money: String,
    /// P, as in `funding.total_external.pledged`.
    pub pledged: String,
    /// P_new/P in percent; empty when P is zero.
    pub share: String,
    /// Every restatement by an external pledge, effective or withdrawn, in (pledge_id, restates) order.
    pub restatements: Vec<Restated>,
    /// Per effective external pledge, in pledge id order (DOMAIN.md §7).
    #[serde(default)]
    pub by_pledge: Vec<NewMoneyPledge>,
    /// Per pledger, in id order: pledged (P), new money and its share.
    #[serde(default)]
    pub by_pledger: Vec<NewMoneyPledger>,
}

/// New money of one effective external pledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMoneyPledge {
    /// The pledge's id.
    pub pledge_id: String,
    /// The pledger's party id.
    pub pledger: String,
    /// Whether the pledge claims new money.
    pub claims_new_money: bool,
    /// What the pledge counts in P (net of later restatements), reporting currency.
    pub pledged: String,
    /// Σ of the amounts it restates, reporting currency, each converted at its value date's recorded rate
    /// (one no rate converts is left out).
    pub restated: String,
    /// `pledged` − `restated`, never below zero, when the pledge claims new money and every restatement
    /// converts; `0` otherwise.
    pub new_money: String,
    /// The pledges it restates (each linked to its original).
    pub restates: Vec<String>,
}

/// New money of one pledger, over its effective external pledges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMoneyPledger {
    /// The pledger's party id.
    pub pledger: String,
    /// Its part of P: Σ `pledged` of its pledges in `by_pledge`.
    pub pledged: String,
    /// Σ `new_money` of its pledges in `by_pledge`.
    pub new_money: String,
    /// `new_money` / `pledged` in percent; empty when `pledged` is zero.
    pub share: String,
}

/// The external commitments' amounts used in one year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearAmount {
    /// The calendar year of use.
    pub year: u32,
    /// Σ of the commitments' parts for the year, each converted at its commitment's value-date rate.
    pub amount: String,
}

/// One tranche gated by a condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrancheLine {
    /// The tranche's id.
    pub tranche_id: String,
    /// The commitment it is a tranche of.
    pub commitment_id: String,
    /// The commitment's recipient party id.
    pub recipient: String,
    /// The tranche's value, an exact decimal in `currency`.
    pub value: String,
    /// The commitment's currency (ISO 4217).
    pub currency: String,
    /// Disbursed against the tranche so far, in `currency`.
    pub disbursed: String,
    /// released, withheld or pending: the gate over every condition of the tranche (released when each is
    /// met, waived or withdrawn; withheld when one is not_met or partially_met; pending when one is not yet
    /// assessed).
    pub status: String,
    /// This condition's assessment of the tranche (its condition-wide one when none names the tranche):
    /// met, not_met, partially_met, waived, or pending when not yet assessed.
    pub outcome: String,
    /// The date of that assessment (`YYYY-MM-DD`); empty when pending.
    pub date: String,
    /// The SHA-256 of the assessment's evidence, hex; empty when it names none.
    pub evidence_sha256: String,
}

/// One condition (other than co-financing) with the tranches it gates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionView {
    /// The condition's id.
    pub condition_id: String,
    /// policy, performance or fiduciary.
    pub condition_type: String,
    /// The party that must meet it.
    pub party: String,
    /// The party that assesses it; empty when the condition names none.
    pub assessor: String,
    /// The condition's status: pending, met, not_met, partially_met, waived or withdrawn.
    pub status: String,
    /// The tranches it gates, in tranche id order.
    pub tranches: Vec<TrancheLine>,
    /// Amount at stake not yet committed in tranches, with the condition's status: the stake − Σ values
    /// of the tranches it gates in the stake's currency, when positive; empty otherwise.
    pub uncommitted_at_stake: String,
    /// released (condition met or waived), pending (not yet assessed) or withheld (any other status);
    /// empty when `uncommitted_at_stake` is.
    pub uncommitted_status: String,
    /// The stake's currency, else the first tranche's; empty when there is neither.
    pub currency: String,
}

/// The tranche values and uncommitted stakes of one status in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusTotal {
    /// released, withheld or pending.
    pub status: String,
    /// The currency (ISO 4217) of `amount`.
    pub currency: String,
    /// Σ of the listed tranche values and uncommitted amounts at stake with this status, in `currency`.
    pub amount: String,
}

/// Conditional tranches (DOMAIN.md §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tranches {
    /// Every condition of the plan except co-financing ones, in condition id order.
    pub conditions: Vec<ConditionView>,
    /// Totals released / withheld / pending per currency, in (status, currency) order.
    pub totals: Vec<StatusTotal>,
}

/// The co-financing test of one party in one year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoFinancingRow {
    /// The calendar year (`YYYY`).
    pub year: String,
    /// The party that must co-finance.
    pub party: String,
    /// X: external grants disbursed to the party in the year: disbursements and reimbursements dated in
    /// the year over external commitments whose finance type the rule counts (every type when it names
    /// none), each at its value date's recorded rate.
    pub external_grants: String,
    /// X split by provider party id.
    pub external_grants_by_provider: BTreeMap<String, String>,
    /// ratio × X.
    pub required: String,
    /// Co-financing realised stated in the party's progress reports for periods ending in the year, each
    /// at its value date's recorded rate; an auditor's adjustment replaces the reported value.
    pub realised: String,
    /// Σ the party's effective pledges from domestic own resources (indicative), net of restatements, over
    /// the whole plan rather than the year.
    pub indicative: String,
    /// Σ the commitments the party provides (own commitments), over the whole plan rather than the year.
    pub committed: String,
    /// realised / X in percent; empty when X is zero.
    pub realised_over_grants: String,
    /// realised / required in percent; empty when required is zero.
    pub fulfilment: String,
    /// realised / indicative in percent; empty when indicative is zero.
    pub realised_over_own_pledge: String,
    /// met (realised ≥ required) or not_met.
    pub result: String,
    /// Whether some report of the year states co-financing realised and each such report is covered by a
    /// verified or verified_with_exceptions attestation.
    pub verified: bool,
    /// The opinions of the latest attestations covering the realised amounts (distinct, sorted, joined by
    /// `, `).
    #[serde(default)]
    pub opinion: String,
}

/// The test of one co-financing condition: own resources realised ≥ ratio × external grants received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoFinancing {
    /// The condition's id.
    pub condition_id: String,
    /// The rule's ratio as an exact decimal factor (`0.25` for 25 %).
    pub ratio: String,
    /// The finance types that count as external grants (every type when empty).
    pub finance_types: Vec<String>,
    /// One row per year and party: the years of the parties' incoming disbursements and report periods,
    /// in year order, each with the rule's parties in the rule's order.
    pub rows: Vec<CoFinancingRow>,
    /// Σ `realised` over the rows.
    pub plan_realised: String,
    /// Σ `external_grants` over the rows.
    pub plan_external_grants: String,
    /// `plan_realised` / `plan_external_grants` in percent; empty when the latter is zero.
    pub plan_share: String,
}
