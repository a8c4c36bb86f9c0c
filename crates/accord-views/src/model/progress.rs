//! The progress views of the report model: indicators, delivery (milestones, in-kind), timeliness and
//! reporting periods.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One value of an indicator in a progress report, reported and verified side by side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorValueView {
    /// The progress report's id.
    pub report_id: String,
    /// The reporting party's id.
    pub reporter: String,
    /// The last day of the period reported on (`YYYY-MM-DD`).
    pub period_end: String,
    /// The value as reported, as written.
    pub reported: String,
    /// The value an auditor's adjustment (item `indicator:ID`) gives, else the reported value when a
    /// verified or verified_with_exceptions attestation covers the report; empty when none does.
    pub verified: String,
    /// The value used: the verified one when it exists.
    pub used: String,
    /// The opinion of the attestation covering the report (empty when none does), shown beside the value.
    #[serde(default)]
    pub opinion: String,
    /// (`used` − baseline) / (`end_target` − baseline) in percent (baseline 0 when none; works for
    /// descending indicators); empty without targets or when the target equals the baseline.
    pub progress_to_end_target: String,
    /// The target of the first target period ending on or after `period_end`; empty when none does.
    pub period_target: String,
    /// (`used` − baseline) / (`period_target` − baseline) in percent; empty as `progress_to_end_target`.
    pub progress_to_period_target: String,
}

/// Progress of one indicator (DOMAIN.md §5): its definition and every value reported for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorProgress {
    /// The indicator's id.
    pub indicator_id: String,
    /// The goal it measures.
    pub goal_id: String,
    /// Its title.
    pub title: String,
    /// Whether higher is better (false for a descending indicator).
    pub ascending: bool,
    /// The unit its values are in, as defined.
    pub unit: String,
    /// The baseline value, as written; empty when the indicator states none.
    pub baseline: String,
    /// The baseline's year; 0 when there is no baseline.
    pub baseline_year: u32,
    /// The target of the last target period; empty without targets.
    pub end_target: String,
    /// (period end `YYYY-MM-DD`, target value) pairs, in period order.
    pub targets: Vec<(String, String)>,
    /// Every value reported for it, in report id order.
    pub values: Vec<IndicatorValueView>,
}

/// One milestone of a policy-action pledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneLine {
    /// The policy-action pledge.
    pub pledge_id: String,
    /// The milestone's id within the pledge.
    pub milestone_id: String,
    /// Its title.
    pub title: String,
    /// The due date in the pledge's original version (`YYYY-MM-DD`).
    pub original_due_date: String,
    /// The current (amended) due date (`YYYY-MM-DD`).
    pub due_date: String,
    /// met, not_met or partially_met as last updated, or pending when never updated.
    pub status: String,
    /// The date of the last update (`YYYY-MM-DD`); empty when never updated.
    pub date: String,
    /// Days past the current due date, never below zero: to the date it was met, or to the as-of date
    /// while it is not met.
    pub days_late: i64,
    /// The quantity reached as last reported, as written; empty when none is.
    pub quantity_done: String,
    /// The quantity target (DOMAIN.md §7), as written; empty without a target.
    #[serde(default)]
    pub quantity_target: String,
    /// The unit of the quantities; empty when the milestone names none.
    #[serde(default)]
    pub unit: String,
    /// `quantity_done` / `quantity_target` in percent; empty without a target or a quantity done.
    #[serde(default)]
    pub percent_done: String,
}

/// One pledged in-kind item (or the part of a pledge's deliveries that names no item): quantity and value
/// pledged, delivered and confirmed by the receiver (DOMAIN.md §7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InKindItemLine {
    /// The in-kind pledge.
    pub pledge_id: String,
    /// Empty for deliveries that name no item.
    pub item_id: String,
    /// The item's description; empty for deliveries that name no item.
    pub description: String,
    /// The unit its quantities are in; empty for deliveries that name no item.
    pub unit: String,
    /// The pledge's currency (ISO 4217), in which every value of the line is.
    pub currency: String,
    /// The quantity pledged, as written; empty for deliveries that name no item.
    pub quantity_pledged: String,
    /// Quantity pledged × the item's unit value; empty when the item states no unit value.
    pub value_pledged: String,
    /// Σ quantities of the deliveries recorded against it.
    pub quantity_delivered: String,
    /// Σ values of the deliveries recorded against it.
    pub value_delivered: String,
    /// Σ quantities of those deliveries the receiver confirmed (countersigned).
    pub quantity_confirmed: String,
    /// Σ values of those deliveries the receiver confirmed (countersigned).
    pub value_confirmed: String,
    /// Number of deliveries recorded against it.
    pub deliveries: u32,
    /// How many of them the receiver confirmed.
    pub confirmed: u32,
}

/// Delivered value against pledged value of one in-kind pledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InKindLine {
    /// The in-kind pledge.
    pub pledge_id: String,
    /// The pledger's party id.
    pub pledger: String,
    /// The pledge's currency (ISO 4217); empty when it states no amount.
    pub currency: String,
    /// The pledge's amount as recorded (not net of restatements), in `currency`; `0` without an amount.
    pub pledged: String,
    /// Σ values delivered against the pledge, in `currency`.
    pub delivered: String,
    /// `delivered` / `pledged` in percent; empty when nothing is pledged.
    pub share: String,
}

/// In-kind and policy delivery (DOMAIN.md §5, §7) over the plan's effective pledges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// One line per in-kind pledge, in pledge id order.
    pub in_kind: Vec<InKindLine>,
    /// The in-kind view per item.
    #[serde(default)]
    pub in_kind_items: Vec<InKindItemLine>,
    /// Every milestone of the policy-action pledges, by pledge id and then in the pledge's order.
    pub milestones: Vec<MilestoneLine>,
    /// How many of them are met.
    pub milestones_met: u32,
    /// How many are listed.
    pub milestones_total: u32,
}

/// One progress report of a reporter, with its lag and lateness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    /// The progress report's id.
    pub report_id: String,
    /// The last day of the period it reports on (`YYYY-MM-DD`).
    pub period_end: String,
    /// The day its entry was integrated into the log (`YYYY-MM-DD`).
    pub integrated: String,
    /// Integration date − period end, in days.
    pub lag_days: i64,
    /// Period end + the days the reporter's schedule allows after it (`YYYY-MM-DD`; the period end when it
    /// has no schedule).
    pub due_date: String,
    /// Integration date − due date in days, never below zero.
    pub days_late: i64,
}

/// Reporting timeliness of one reporter (DOMAIN.md §5, §7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeliness {
    /// The reporter: an expected reporter of the plan, a party that filed a report, or a recipient of an
    /// external commitment.
    pub party: String,
    /// Every report it filed in the plan, in report id order.
    pub reports: Vec<ReportLine>,
    /// Median of the reports' `lag_days` (a decimal string, `.5` when the middle falls between two); empty
    /// without reports.
    pub median_lag_days: String,
    /// 90th percentile of the reports' `lag_days` (nearest rank); empty without reports.
    pub p90_lag_days: String,
    /// Periods of its schedule within the plan period whose due date is on or before the as-of date.
    pub reports_due: u32,
    /// Those due periods reported by their due date.
    pub on_time: u32,
    /// `on_time` / `reports_due` in percent; empty when nothing is due.
    pub punctuality: String,
    /// Reports owed and not filed (DOMAIN.md §7).
    #[serde(default)]
    pub missing: Vec<MissingReport>,
}

/// A report a reporter owed and has not filed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingReport {
    /// The last day of the period owed (`YYYY-MM-DD`).
    pub period_end: String,
    /// The day the report was due (`YYYY-MM-DD`).
    pub due_date: String,
    /// As-of date − due date, in days.
    pub days_overdue: i64,
}

/// One reporter in one reporting period: its report (or that it is missing), timeliness and verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodReporter {
    /// The reporter's party id.
    pub party: String,
    /// on_time, late, missing or not_due.
    pub status: String,
    /// The report filed for the period; empty when missing or not due.
    pub report_id: String,
    /// Period end + the days its schedule allows after it (`YYYY-MM-DD`).
    pub due_date: String,
    /// The day its report was integrated (`YYYY-MM-DD`); empty when none is filed.
    pub integrated: String,
    /// Integration date − period end in days, as a string; empty when no report is filed.
    pub lag_days: String,
    /// Integration date − due date in days, never below zero, as a string; empty when no report is filed.
    pub days_late: String,
    /// As-of date − due date in days, as a string, when the report is missing; empty otherwise.
    pub days_overdue: String,
    /// Whether a verified or verified_with_exceptions attestation covers its report.
    pub attested: bool,
    /// The opinion of the latest attestation covering its report, whatever it is; empty when none does.
    pub opinion: String,
    /// The verified attestation's integration date − the report's, in days, as a string; empty when not
    /// attested.
    pub attestation_lag_days: String,
    /// Co-financing realised as reported, converted at its value date's recorded rate (reporting
    /// currency); empty when the report states none.
    pub reported_amount: String,
    /// The same as verified (an auditor's adjustment replaces it), when the report is attested; empty
    /// otherwise.
    pub verified_amount: String,
}

/// Timeliness and verification coverage of one reporting period (DOMAIN.md §7), per reporter within it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodView {
    /// The last day of the period (`YYYY-MM-DD`): a period end of a reporter's schedule or of a report filed.
    pub period_end: String,
    /// Every reporter owing or filing a report for the period, in party id order.
    pub reporters: Vec<PeriodReporter>,
    /// Reports filed whose due date is on or before the as-of date, plus the missing ones.
    pub reports_due: u32,
    /// Of those, the reports filed by their due date.
    pub on_time: u32,
    /// Reports due and not filed.
    pub missing: u32,
    /// `on_time` / `reports_due` in percent; empty when nothing is due.
    pub punctuality: String,
    /// Median lag in days of the reports filed (a decimal string); empty when none is.
    pub median_lag_days: String,
    /// Reports filed for the period.
    pub reports: u32,
    /// Of those, the ones a verified or verified_with_exceptions attestation covers.
    pub reports_attested: u32,
    /// `reports_attested` / `reports` in percent; empty when none is filed.
    pub attested_share: String,
    /// Median attestation lag in days of the attested reports (a decimal string); empty when none is.
    pub median_attestation_lag_days: String,
    /// Σ of the reporters' `reported_amount` (reporting currency).
    pub reported_amount: String,
    /// Σ of the reporters' `verified_amount` (reporting currency).
    pub verified_amount: String,
    /// `verified_amount` / `reported_amount` in percent; empty when nothing is reported.
    pub verified_share: String,
    /// Opinion → number of the period's reports whose latest covering attestation gives it.
    pub opinions: BTreeMap<String, u32>,
}
