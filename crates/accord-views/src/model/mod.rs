//! The report model: every view of DOMAIN.md §5 as plain data, serialised as the canonical JSON.
//!
//! This file holds the [`Report`] itself; its views are in `money.rs`, `progress.rs` and `history.rs`.
mod history;
mod money;
mod progress;

pub use history::*;
pub use money::*;
pub use progress::*;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The plan a report is about, as its current version states it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInfo {
    /// The plan's id.
    pub plan_id: String,
    /// Its title.
    pub title: String,
    /// First day of the plan period (`YYYY-MM-DD`).
    pub period_start: String,
    /// Last day of the plan period (`YYYY-MM-DD`).
    pub period_end: String,
    /// The currency (ISO 4217) every converted amount of the report is in.
    pub reporting_currency: String,
}

/// The checkpoint a report is computed at (see [`ReadAt`](crate::ReadAt)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// Number of log entries the checkpoint covers.
    pub tree_size: u64,
    /// The tree's root hash in lowercase hex.
    pub root_hash: String,
    /// The integration day of the last entry (`YYYY-MM-DD`), the day the report's figures are as of; empty
    /// for an empty log.
    pub as_of_date: String,
    /// The signed checkpoint (C2SP signed note) the report is computed at.
    pub checkpoint: String,
}

/// A plan's transparency report: every view of DOMAIN.md §5.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The layout version of the JSON, [`FORMAT`](crate::FORMAT) (`accord.report.v2`).
    pub format: String,
    /// The plan reported on.
    pub plan: PlanInfo,
    /// The signed checkpoint the report is computed at.
    pub read_at: CheckpointInfo,
    /// Pledged, committed and disbursed by external funders.
    pub funding: Funding,
    /// Plan coverage: funded F against the requirement R.
    pub coverage: Coverage,
    /// New money P_new against P.
    pub new_money: NewMoney,
    /// External commitments split by usage year, in year order.
    pub usage_years: Vec<YearAmount>,
    /// Σ of the usage years (reporting currency).
    #[serde(default)]
    pub usage_years_total: String,
    /// Conditional tranches per condition, and totals per status and currency.
    pub tranches: Tranches,
    /// One test per co-financing condition, in condition id order.
    pub co_financing: Vec<CoFinancing>,
    /// Progress of each indicator of the plan, in indicator id order.
    pub indicators: Vec<IndicatorProgress>,
    /// In-kind and policy delivery.
    pub delivery: Delivery,
    /// Reporting timeliness per reporter owing reports, in party id order.
    pub timeliness: Vec<Timeliness>,
    /// Timeliness and verification per reporting period and reporter (DOMAIN.md §7).
    #[serde(default)]
    pub periods: Vec<PeriodView>,
    /// Verification coverage over the whole plan.
    pub verification: Verification,
    /// Every subject amended, withdrawn or reversed: plan, goals, indicators, pledges, conditions,
    /// commitments, then transactions, each kind in id order.
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
    /// The amount's currency (ISO 4217).
    pub from: String,
    /// The reporting currency it could not be converted into.
    pub to: String,
    /// The amount's value date (`YYYY-MM-DD`), whose rate is missing.
    pub value_date: String,
    /// The amount, an exact decimal in `from`.
    pub amount: String,
    /// `no recorded rate for the value date`, or `the converted amount leaves the decimal range`.
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
    /// Parse a report from its canonical JSON; an invalid-input refusal naming `report` when it is not one.
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
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/REPORTS.md")).unwrap();
        let section = doc.split("## The JSON, field by field").nth(1).unwrap().split("\n## ").next().unwrap();
        // A list is written `name[]`.
        let named = |k: &String| section.contains(&format!("`{k}`")) || section.contains(&format!("`{k}[]`"));
        let missing: Vec<&String> = all.iter().filter(|k| !named(k)).collect();
        assert!(missing.is_empty(), "fields of the report JSON not in docs/REPORTS.md: {missing:?}");
        assert!(all.len() > 120, "only {} keys seen", all.len());
    }
}
