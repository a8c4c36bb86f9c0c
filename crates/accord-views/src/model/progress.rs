//! The progress views of the report model: indicators, delivery (milestones, in-kind), timeliness and
//! reporting periods.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
