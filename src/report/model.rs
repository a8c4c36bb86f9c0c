//! The report model: every view of DOMAIN.md §5 as plain data, serialised as the canonical JSON.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorValueView {
    pub report_id: String,
    pub reporter: String,
    pub period_end: String,
    pub reported: String,
    pub verified: String,
    /// The value used: the verified one when it exists.
    pub used: String,
    /// The opinion of the attestation covering the report (empty when none does), shown beside the value.
    #[serde(default)]
    pub opinion: String,
    pub progress_to_end_target: String,
    pub period_target: String,
    pub progress_to_period_target: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorProgress {
    pub indicator_id: String,
    pub goal_id: String,
    pub title: String,
    pub ascending: bool,
    pub unit: String,
    pub baseline: String,
    pub baseline_year: u32,
    pub end_target: String,
    pub targets: Vec<(String, String)>,
    pub values: Vec<IndicatorValueView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneLine {
    pub pledge_id: String,
    pub milestone_id: String,
    pub title: String,
    pub original_due_date: String,
    pub due_date: String,
    pub status: String,
    pub date: String,
    pub days_late: i64,
    pub quantity_done: String,
    /// Quantity target and unit (DOMAIN.md §7), and quantity done / target; empty without a target.
    #[serde(default)]
    pub quantity_target: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub percent_done: String,
}

/// One pledged in-kind item (or the part of a pledge's deliveries that names no item): quantity and value
/// pledged, delivered and confirmed by the receiver (DOMAIN.md §7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InKindItemLine {
    pub pledge_id: String,
    /// Empty for deliveries that name no item.
    pub item_id: String,
    pub description: String,
    pub unit: String,
    pub currency: String,
    pub quantity_pledged: String,
    pub value_pledged: String,
    pub quantity_delivered: String,
    pub value_delivered: String,
    pub quantity_confirmed: String,
    pub value_confirmed: String,
    /// Deliveries recorded against it, and how many of them the receiver confirmed.
    pub deliveries: u32,
    pub confirmed: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InKindLine {
    pub pledge_id: String,
    pub pledger: String,
    pub currency: String,
    pub pledged: String,
    pub delivered: String,
    pub share: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub in_kind: Vec<InKindLine>,
    /// The in-kind view per item.
    #[serde(default)]
    pub in_kind_items: Vec<InKindItemLine>,
    pub milestones: Vec<MilestoneLine>,
    pub milestones_met: u32,
    pub milestones_total: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub report_id: String,
    pub period_end: String,
    pub integrated: String,
    pub lag_days: i64,
    pub due_date: String,
    pub days_late: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeliness {
    pub party: String,
    pub reports: Vec<ReportLine>,
    pub median_lag_days: String,
    pub p90_lag_days: String,
    pub reports_due: u32,
    pub on_time: u32,
    pub punctuality: String,
    /// Reports owed and not filed (DOMAIN.md §7).
    #[serde(default)]
    pub missing: Vec<MissingReport>,
}

/// A report a reporter owed and has not filed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingReport {
    pub period_end: String,
    pub due_date: String,
    pub days_overdue: i64,
}

/// One reporter in one reporting period: its report (or that it is missing), timeliness and verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodReporter {
    pub party: String,
    /// on_time, late, missing or not_due.
    pub status: String,
    pub report_id: String,
    pub due_date: String,
    pub integrated: String,
    pub lag_days: String,
    pub days_late: String,
    pub days_overdue: String,
    pub attested: bool,
    pub opinion: String,
    pub attestation_lag_days: String,
    /// Co-financing realised, as reported and as verified (reporting currency).
    pub reported_amount: String,
    pub verified_amount: String,
}

/// Timeliness and verification coverage of one reporting period (DOMAIN.md §7), per reporter within it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodView {
    pub period_end: String,
    pub reporters: Vec<PeriodReporter>,
    pub reports_due: u32,
    pub on_time: u32,
    pub missing: u32,
    pub punctuality: String,
    pub median_lag_days: String,
    pub reports: u32,
    pub reports_attested: u32,
    pub attested_share: String,
    pub median_attestation_lag_days: String,
    pub reported_amount: String,
    pub verified_amount: String,
    pub verified_share: String,
    pub opinions: BTreeMap<String, u32>,
}

/// One step of a transaction's correction: the original, its reversal or the corrected re-entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionStep {
    /// original, reversal or correction.
    pub step: String,
    pub txn_id: String,
    pub entry: u64,
    /// The statement's effective date.
    pub date: String,
    /// The amount's value date (the reversal's is the original's).
    pub value_date: String,
    pub signers: Vec<String>,
    /// Signed: the reversal's is the negative of the original.
    pub amount: String,
    pub currency: String,
    pub rationale: String,
}

/// The correction log of one reversed transaction (DOMAIN.md §7): original, reversal, corrected re-entry,
/// and the net change (re-entry − original, or − original when nothing was re-entered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnCorrection {
    pub txn_id: String,
    pub transaction_type: u32,
    pub steps: Vec<CorrectionStep>,
    pub corrected_by: String,
    /// Empty when the re-entry is in another currency than the original.
    pub net_change: String,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Co-financing realised, reported and verified (reporting currency).
    pub reported_amount: String,
    pub verified_amount: String,
    pub verified_share: String,
    pub reports: u32,
    pub reports_attested: u32,
    pub attested_share: String,
    pub median_attestation_lag_days: String,
    pub opinions: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub index: u64,
    pub date: String,
    /// amended, withdrawn or reversed.
    pub action: String,
    pub rationale: String,
    pub signers: Vec<String>,
    /// For an amendment or withdrawal of a pledge or commitment: the amount before and after (subject's
    /// currency; a withdrawal takes it to 0). Empty for other subjects.
    #[serde(default)]
    pub old_amount: String,
    #[serde(default)]
    pub new_amount: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendmentLog {
    pub kind: String,
    pub id: String,
    pub corrections: Vec<Correction>,
    /// Current amount − original amount, in the subject's currency (money subjects only).
    pub net_change: String,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInfo {
    pub plan_id: String,
    pub title: String,
    pub period_start: String,
    pub period_end: String,
    pub reporting_currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    pub tree_size: u64,
    pub root_hash: String,
    pub as_of_date: String,
    /// The signed checkpoint (C2SP signed note) the report is computed at.
    pub checkpoint: String,
}

/// A plan's transparency report: every view of DOMAIN.md §5.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub plan: PlanInfo,
    pub read_at: CheckpointInfo,
    pub funding: Funding,
    pub coverage: Coverage,
    pub new_money: NewMoney,
    pub usage_years: Vec<YearAmount>,
    /// Σ of the usage years (reporting currency).
    #[serde(default)]
    pub usage_years_total: String,
    pub tranches: Tranches,
    pub co_financing: Vec<CoFinancing>,
    pub indicators: Vec<IndicatorProgress>,
    pub delivery: Delivery,
    pub timeliness: Vec<Timeliness>,
    /// Timeliness and verification per reporting period and reporter (DOMAIN.md §7).
    #[serde(default)]
    pub periods: Vec<PeriodView>,
    pub verification: Verification,
    pub amendments: Vec<AmendmentLog>,
    /// Per reversed transaction: original, reversal, corrected re-entry, net change (DOMAIN.md §7).
    #[serde(default)]
    pub corrections: Vec<TxnCorrection>,
    /// Amounts left out of every converted total because no recorded rate converts them on their value
    /// date (pledge-currency views still count them). Empty when every amount converted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unconverted: Vec<Unconverted>,
    /// Some figure left the exact decimal range and is shown clamped (never silently: see the warning).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overflow: bool,
}

/// An amount that could not be converted into the reporting currency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unconverted {
    /// The entry that carries the amount.
    pub entry: u64,
    pub from: String,
    pub to: String,
    pub value_date: String,
    pub amount: String,
    pub reason: String,
}

impl Report {
    /// The warning a reader must see beside converted totals when some amounts are left out, naming every
    /// missing rate at once; None when nothing is left out.
    pub fn conversion_warning(&self) -> Option<String> {
        if self.overflow {
            return Some("some figures of this plan leave the exact decimal range and are shown clamped".into());
        }
        if self.unconverted.is_empty() {
            return None;
        }
        let mut pairs: Vec<String> =
            self.unconverted.iter().map(|u| format!("{}→{} on {}", u.from, u.to, u.value_date)).collect();
        pairs.sort();
        pairs.dedup();
        Some(format!(
            "{} amount(s) are left out of the converted totals in {}: no recorded rate for {}",
            self.unconverted.len(),
            self.plan.reporting_currency,
            pairs.join(", ")
        ))
    }
}

impl Report {
    /// The canonical JSON: compact, fields in declaration order, maps sorted. Byte-for-byte comparable.
    pub fn canonical_json(&self) -> String {
        // Plain data (strings, numbers, vectors, string-keyed maps) always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| Error::invalid("report", format!("not an {} report: {e}", super::FORMAT)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of the canonical JSON, nested ones too, is named in docs/REPORTS.md's field-by-field
    /// section: an auditor finds every figure there without reading the code, and a new field without its
    /// line fails here.
    #[test]
    fn every_json_field_is_documented_in_reports_md() {
        let one = |r: &mut Report| {
            r.funding.by_donor.push(FlowRow::default());
            r.funding.mixed_currency_donors.push(String::new());
            r.coverage.internal_flows.push(FlowLine::default());
            r.new_money.restatements.push(Restated::default());
            r.new_money.by_pledge.push(NewMoneyPledge::default());
            r.new_money.by_pledger.push(NewMoneyPledger::default());
            r.usage_years.push(YearAmount::default());
            let mut c = ConditionView::default();
            c.tranches.push(TrancheLine::default());
            r.tranches.conditions.push(c);
            r.tranches.totals.push(StatusTotal::default());
            let mut cf = CoFinancing::default();
            cf.rows.push(CoFinancingRow::default());
            r.co_financing.push(cf);
            let mut ind = IndicatorProgress::default();
            ind.values.push(IndicatorValueView::default());
            r.indicators.push(ind);
            r.delivery.in_kind.push(InKindLine::default());
            r.delivery.milestones.push(MilestoneLine::default());
            r.delivery.in_kind_items.push(InKindItemLine::default());
            let mut t = Timeliness::default();
            t.reports.push(ReportLine::default());
            t.missing.push(MissingReport::default());
            r.timeliness.push(t);
            let mut pv = PeriodView::default();
            pv.reporters.push(PeriodReporter::default());
            r.periods.push(pv);
            let mut tc = TxnCorrection::default();
            tc.steps.push(CorrectionStep::default());
            r.corrections.push(tc);
            let mut a = AmendmentLog::default();
            a.corrections.push(Correction::default());
            r.amendments.push(a);
            r.unconverted.push(Unconverted {
                entry: 0,
                from: String::new(),
                to: String::new(),
                value_date: String::new(),
                amount: String::new(),
                reason: String::new(),
            });
            r.overflow = true;
        };
        let mut r = Report::default();
        one(&mut r);
        let v: serde_json::Value = serde_json::from_str(&r.canonical_json()).unwrap();
        fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        out.insert(k.clone());
                        keys(v, out);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }
        let mut all = std::collections::BTreeSet::new();
        keys(&v, &mut all);
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/REPORTS.md")).unwrap();
        let section = doc.split("## The JSON, field by field").nth(1).unwrap().split("\n## ").next().unwrap();
        // A list is written `name[]`.
        let named = |k: &String| section.contains(&format!("`{k}`")) || section.contains(&format!("`{k}[]`"));
        let missing: Vec<&String> = all.iter().filter(|k| !named(k)).collect();
        assert!(missing.is_empty(), "fields of the report JSON not in docs/REPORTS.md: {missing:?}");
        assert!(all.len() > 120, "only {} keys seen", all.len());
    }
}
