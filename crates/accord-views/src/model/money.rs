//! The money views of the report model: funding, coverage, new money, usage years, tranches and
//! co-financing.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One row of pledged / committed / disbursed figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRow {
    pub key: String,
    pub name: String,
    pub currency: String,
    pub pledged: String,
    pub committed: String,
    pub disbursed: String,
    /// C/P, D/P, D/C in percent (one decimal); empty when the denominator is zero or not applicable.
    pub conversion: String,
    pub fulfilment: String,
    pub execution: String,
    /// P − C and C − D.
    pub uncommitted: String,
    pub pipeline: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    /// The reporting currency every flow is converted to, each at its own value-date rate.
    pub currency: String,
    /// External funders (pledges with funding_source external and their commitments and flows).
    pub by_donor: Vec<FlowRow>,
    pub total_external: FlowRow,
    pub by_goal: Vec<FlowRow>,
    /// Committed and disbursed by recipient (pledges are not split by recipient, so P is empty).
    pub by_recipient: Vec<FlowRow>,
    /// P by announcement year, C by signature year, D by transaction year.
    pub by_year: Vec<FlowRow>,
    /// Each donor in its own pledge currency (rates computed there, never mixed); donors pledging in more
    /// than one currency are listed in `mixed_currency_donors` instead.
    pub pledge_currency: Vec<FlowRow>,
    pub mixed_currency_donors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Requirement R in the reporting currency (empty when the plan states none).
    pub requirement: String,
    /// F = Σ incoming flows counted once at their current status: paid plus committed-not-yet-paid.
    pub funded: String,
    pub paid: String,
    pub committed_unpaid: String,
    pub percent_funded: String,
    pub unmet: String,
    /// Shown beside F, never added to it.
    pub pledged_beside: String,
    /// Flows internal to the plan: shown, never added.
    pub internal_flows: Vec<FlowLine>,
    /// Σ of the internal flows in the reporting currency (shown with them, never added to F).
    #[serde(default)]
    pub internal_total: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLine {
    pub txn_id: String,
    pub transaction_type: u32,
    pub date: String,
    pub provider: String,
    pub receiver: String,
    pub amount: String,
    pub currency: String,
    pub converted: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restated {
    pub pledge_id: String,
    pub restates: String,
    pub amount: String,
    pub currency: String,
    /// `effective`, or `withdrawn` when the restating pledge was withdrawn (the restated amount is released
    /// back to the original pledge).
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMoney {
    pub new_money: String,
    pub pledged: String,
    pub share: String,
    pub restatements: Vec<Restated>,
    /// Per effective external pledge, in pledge id order (DOMAIN.md §7).
    #[serde(default)]
    pub by_pledge: Vec<NewMoneyPledge>,
    /// Per pledger, in id order: pledged (P), new money and its share.
    #[serde(default)]
    pub by_pledger: Vec<NewMoneyPledger>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMoneyPledge {
    pub pledge_id: String,
    pub pledger: String,
    /// Whether the pledge claims new money.
    pub claims_new_money: bool,
    /// What the pledge counts in P (net of later restatements), reporting currency.
    pub pledged: String,
    /// Σ of the amounts it restates, reporting currency.
    pub restated: String,
    pub new_money: String,
    /// The pledges it restates (each linked to its original).
    pub restates: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMoneyPledger {
    pub pledger: String,
    pub pledged: String,
    pub new_money: String,
    pub share: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearAmount {
    pub year: u32,
    pub amount: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrancheLine {
    pub tranche_id: String,
    pub commitment_id: String,
    pub recipient: String,
    pub value: String,
    pub currency: String,
    pub disbursed: String,
    /// released, withheld or pending.
    pub status: String,
    pub outcome: String,
    pub date: String,
    pub evidence_sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionView {
    pub condition_id: String,
    pub condition_type: String,
    pub party: String,
    pub assessor: String,
    pub status: String,
    pub tranches: Vec<TrancheLine>,
    /// Amount at stake not yet committed in tranches, with the condition's status.
    pub uncommitted_at_stake: String,
    pub uncommitted_status: String,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusTotal {
    pub status: String,
    pub currency: String,
    pub amount: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tranches {
    pub conditions: Vec<ConditionView>,
    /// Totals released / withheld / pending per currency.
    pub totals: Vec<StatusTotal>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoFinancingRow {
    pub year: String,
    pub party: String,
    /// X: external grants disbursed to the party in the year (loans excluded).
    pub external_grants: String,
    /// X split by provider.
    pub external_grants_by_provider: BTreeMap<String, String>,
    pub required: String,
    pub realised: String,
    /// Own-resource pledges (indicative) and own commitments.
    pub indicative: String,
    pub committed: String,
    pub realised_over_grants: String,
    pub fulfilment: String,
    pub realised_over_own_pledge: String,
    /// met or notMet.
    pub result: String,
    pub verified: bool,
    /// The opinions of the attestations covering the realised amounts (distinct, sorted, comma-separated).
    #[serde(default)]
    pub opinion: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoFinancing {
    pub condition_id: String,
    pub ratio: String,
    pub finance_types: Vec<String>,
    pub rows: Vec<CoFinancingRow>,
    pub plan_realised: String,
    pub plan_external_grants: String,
    pub plan_share: String,
}
