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
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/REPORTS.md")).unwrap();
        let section = doc.split("## The JSON, field by field").nth(1).unwrap().split("\n## ").next().unwrap();
        // A list is written `name[]`.
        let named = |k: &String| section.contains(&format!("`{k}`")) || section.contains(&format!("`{k}[]`"));
        let missing: Vec<&String> = all.iter().filter(|k| !named(k)).collect();
        assert!(missing.is_empty(), "fields of the report JSON not in docs/REPORTS.md: {missing:?}");
        assert!(all.len() > 120, "only {} keys seen", all.len());
    }
}
