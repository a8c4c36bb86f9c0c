//! Timeliness and verification coverage (DOMAIN.md §5, §7): per reporter overall, and per reporting period
//! with every reporter within it, reports owed and not filed shown as missing with the days they are
//! overdue. A pure function of the reports filed, the reporters owing and their schedules.
use super::context::PlanContext;
use super::*;
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::{add, d, median, p90, pct, Acc, MissingReport, PeriodReporter, PeriodView, ReportLine, Timeliness};
use accord_domain::codes::Frequency;
use accord_domain::date;
use accord_domain::statement as ds;

/// A progress report as the timeliness and verification views see it.
pub(super) struct Filed {
    pub party: String,
    pub report_id: String,
    /// Day numbers of the period end and of the entry's integration.
    pub period_end: i64,
    pub integrated: i64,
    /// Integration day of the verified (or verified_with_exceptions) attestation covering it.
    pub attested: Option<i64>,
    /// Opinion of the latest attestation covering it, whatever the opinion.
    pub opinion: String,
    /// Co-financing realised, reported and (when attested) verified, in the reporting currency.
    pub reported: Option<Decimal>,
    pub verified: Option<Decimal>,
}

/// Ends of a schedule's reporting periods within the plan period (day numbers).
pub(super) fn period_ends(plan: &ds::PlanCreated, frequency: Frequency) -> Vec<i64> {
    let months = match frequency {
        Frequency::Monthly => 1,
        Frequency::Quarterly => 3,
        Frequency::Semiannual => 6,
        Frequency::Annual => 12,
    };
    let (start, end) = (plan.period.start.days(), plan.period.end.days());
    let first = plan.period.start.to_string();
    let (mut y, mut m) = (
        first.get(..4).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0),
        first.get(5..7).and_then(|x| x.parse::<i64>().ok()).unwrap_or(1),
    );
    let mut out = Vec::new();
    loop {
        m.acc(months);
        while m > 12 {
            m.acc_sub(12);
            y.acc(1);
        }
        let Some(next_start) = date::parse_date(&format!("{y:04}-{m:02}-01")) else { break };
        let pe = next_start.saturating_sub(1);
        if pe > end || pe < start {
            break;
        }
        out.push(pe);
    }
    out
}

/// Who owes reports and on which schedule: the plan's expected reporters on their own schedule (or the
/// plan's), and every other party in `others` on the plan's schedule (None: the plan has none, so nothing
/// falls due).
pub(super) fn owing(plan: &ds::PlanCreated, others: BTreeSet<String>) -> BTreeMap<String, Option<ds::ReportSchedule>> {
    let default = plan.report_schedule;
    let mut out: BTreeMap<String, Option<ds::ReportSchedule>> = others.into_iter().map(|p| (p, default)).collect();
    for x in &plan.expected_reporters {
        out.insert(x.party_id.to_string(), x.schedule.or(default));
    }
    out
}

fn days(n: i64) -> String {
    n.to_string()
}

/// The per-reporter timeliness view and the per-period view.
pub(super) fn build(
    plan: &ds::PlanCreated,
    as_of: i64,
    owing: &BTreeMap<String, Option<ds::ReportSchedule>>,
    filed: &[Filed],
) -> (Vec<Timeliness>, Vec<PeriodView>) {
    let mut timeliness = Vec::new();
    // period end → party → its line in that period.
    let mut periods: BTreeMap<i64, BTreeMap<String, PeriodReporter>> = BTreeMap::new();
    for (party, schedule) in owing {
        let grace = i64::from(schedule.map_or(0, |s| s.days_after_period_end));
        let mut lines = Vec::new();
        let mut lags = Vec::new();
        for f in filed.iter().filter(|f| &f.party == party) {
            let due = f.period_end.saturating_add(grace);
            let (lag, late) = (f.integrated.saturating_sub(f.period_end), f.integrated.saturating_sub(due).max(0));
            lags.push(lag);
            lines.push(ReportLine {
                report_id: f.report_id.clone(),
                period_end: date::format_date(f.period_end),
                integrated: date::format_date(f.integrated),
                lag_days: lag,
                due_date: date::format_date(due),
                days_late: late,
            });
            periods.entry(f.period_end).or_default().insert(party.clone(), filed_reporter(party, f, due, lag, late));
        }
        let (mut due_n, mut on_time) = (0u32, 0u32);
        let mut missing = Vec::new();
        for pe in schedule.map(|s| period_ends(plan, s.frequency)).unwrap_or_default() {
            let due = pe.saturating_add(grace);
            let slot = periods.entry(pe).or_default();
            if due > as_of {
                slot.entry(party.clone()).or_insert_with(|| PeriodReporter {
                    party: party.clone(),
                    status: "not_due".into(),
                    due_date: date::format_date(due),
                    ..Default::default()
                });
                continue;
            }
            due_n.acc(1);
            let pe_s = date::format_date(pe);
            if lines.iter().any(|l| l.period_end == pe_s && l.days_late == 0) {
                on_time.acc(1);
            }
            if !lines.iter().any(|l| l.period_end == pe_s) {
                let overdue = as_of.saturating_sub(due);
                missing.push(MissingReport {
                    period_end: pe_s,
                    due_date: date::format_date(due),
                    days_overdue: overdue,
                });
                slot.insert(
                    party.clone(),
                    PeriodReporter {
                        party: party.clone(),
                        status: "missing".into(),
                        due_date: date::format_date(due),
                        days_overdue: days(overdue),
                        ..Default::default()
                    },
                );
            }
        }
        timeliness.push(Timeliness {
            party: party.clone(),
            reports: lines,
            median_lag_days: median(&mut lags.clone()),
            p90_lag_days: p90(&mut lags),
            reports_due: due_n,
            on_time,
            punctuality: pct(Decimal::from(on_time), Decimal::from(due_n)),
            missing,
        });
    }
    let views =
        periods.into_iter().map(|(pe, reporters)| period_view(pe, as_of, reporters.into_values().collect())).collect();
    (timeliness, views)
}

/// A reporter's line in the period of a report it filed: on time or late, its lags, attestation and amounts.
fn filed_reporter(party: &str, f: &Filed, due: i64, lag: i64, late: i64) -> PeriodReporter {
    PeriodReporter {
        party: party.to_string(),
        status: if late == 0 { "on_time" } else { "late" }.into(),
        report_id: f.report_id.clone(),
        due_date: date::format_date(due),
        integrated: date::format_date(f.integrated),
        lag_days: days(lag),
        days_late: days(late),
        days_overdue: String::new(),
        attested: f.attested.is_some(),
        opinion: f.opinion.clone(),
        attestation_lag_days: f.attested.map(|a| days(a.saturating_sub(f.integrated))).unwrap_or_default(),
        reported_amount: f.reported.map(d).unwrap_or_default(),
        verified_amount: f.verified.map(d).unwrap_or_default(),
    }
}

/// The totals of one period over its reporters. As in the per-reporter view, a report counts as due (and as
/// on time) only once its due date is on or before the as-of date; one filed earlier counts as filed.
fn period_view(pe: i64, as_of: i64, reporters: Vec<PeriodReporter>) -> PeriodView {
    let mut v = PeriodView { period_end: date::format_date(pe), ..Default::default() };
    let (mut lags, mut att_lags) = (Vec::new(), Vec::new());
    let (mut reported, mut verified) = (Decimal::ZERO, Decimal::ZERO);
    for r in &reporters {
        match r.status.as_str() {
            "on_time" | "late" => {
                v.reports.acc(1);
                if date::parse_date(&r.due_date).is_some_and(|due| due <= as_of) {
                    v.reports_due.acc(1);
                    if r.status == "on_time" {
                        v.on_time.acc(1);
                    }
                }
                lags.extend(r.lag_days.parse::<i64>().ok());
                if r.attested {
                    v.reports_attested.acc(1);
                    att_lags.extend(r.attestation_lag_days.parse::<i64>().ok());
                }
                if !r.opinion.is_empty() {
                    v.opinions.entry(r.opinion.clone()).or_default().acc(1);
                }
                reported = add(reported, r.reported_amount.parse().unwrap_or_default());
                verified = add(verified, r.verified_amount.parse().unwrap_or_default());
            }
            "missing" => {
                v.reports_due.acc(1);
                v.missing.acc(1);
            }
            _ => {}
        }
    }
    v.punctuality = pct(Decimal::from(v.on_time), Decimal::from(v.reports_due));
    v.median_lag_days = median(&mut lags);
    v.attested_share = pct(Decimal::from(v.reports_attested), Decimal::from(v.reports));
    v.median_attestation_lag_days = median(&mut att_lags);
    v.reported_amount = d(reported);
    v.verified_amount = d(verified);
    v.verified_share = pct(verified, reported);
    v.reporters = reporters;
    v
}

/// Every progress report of the plan as the timeliness and verification views see it, read once: its
/// period, integration and attestation days, the opinion covering it, and its co-financing as reported and
/// (when attested) as verified, in the reporting currency.
pub(super) fn filed(ctx: &PlanContext<'_>) -> Result<Vec<Filed>> {
    let mut filed = Vec::new();
    for rep in &ctx.reports {
        let b: ds::ProgressReported = rep.parsed()?;
        let attested_at = ctx.attested.get(&rep.created_at).map(|(_, _, i)| integrated_day(ctx.r, *i)).transpose()?;
        let (mut reported, mut verified) = (None, None);
        if let Some(m) = b.co_financing_realised.as_ref() {
            let mut a = m.clone();
            reported = Some(ctx.conv(&a, rep.created_at)?);
            if attested_at.is_some() {
                if let Some(v) = ctx.verified_value(rep, "co_financing_realised") {
                    a.value = dec(&v);
                }
                verified = Some(ctx.conv(&a, rep.created_at)?);
            }
        }
        filed.push(Filed {
            party: rep.party_id.to_string(),
            report_id: rep.id.clone(),
            period_end: b.period.end.days(),
            integrated: integrated_day(ctx.r, rep.created_at)?,
            attested: attested_at,
            opinion: ctx.opinion_of.get(&rep.created_at).map(|o| o.1.clone()).unwrap_or_default(),
            reported,
            verified,
        });
    }
    Ok(filed)
}

/// Timeliness per reporter and per period (DOMAIN.md §7): the reporters owing reports are the plan's
/// expected reporters, every party that filed one, and the recipients of external commitments.
pub(super) fn timeliness(ctx: &PlanContext<'_>, filed: &[Filed]) -> (Vec<Timeliness>, Vec<PeriodView>) {
    let mut others: BTreeSet<String> = ctx.reports.iter().map(|s| s.party_id.to_string()).collect();
    others.extend(ctx.commits.iter().filter(|c| ctx.is_external(c)).map(|c| c.c.recipient_id.to_string()));
    build(&ctx.plan, ctx.as_of, &owing(&ctx.plan, others), filed)
}

/// Verification coverage over the whole plan: co-financing reported vs verified, reports attested, the
/// median attestation lag, and the opinions of the attestations covering any report.
pub(super) fn verification(ctx: &PlanContext<'_>, filed: &[Filed]) -> Result<Verification> {
    let mut opinions: BTreeMap<String, u32> = BTreeMap::new();
    for a in &ctx.attestations {
        let body: ds::AttestationIssued = a.parsed()?;
        if a.tally.covered.iter().any(|i| ctx.reports.iter().any(|r| r.created_at == *i)) {
            opinions.entry(body.opinion.as_str().to_string()).or_default().acc(1);
        }
    }
    let (mut reported_amount, mut verified_amount) = (Decimal::ZERO, Decimal::ZERO);
    let mut n_attested = 0u32;
    let mut lags = Vec::new();
    for f in filed {
        if let Some(at) = f.attested {
            n_attested.acc(1);
            lags.push(at.saturating_sub(f.integrated));
        }
        if let Some(x) = f.reported {
            reported_amount.acc(x);
        }
        if let Some(x) = f.verified {
            verified_amount.acc(x);
        }
    }
    let n = filed.len() as u32;
    Ok(Verification {
        reported_amount: d(reported_amount),
        verified_amount: d(verified_amount),
        verified_share: pct(verified_amount, reported_amount),
        reports: n,
        reports_attested: n_attested,
        attested_share: pct(Decimal::from(n_attested), Decimal::from(n)),
        median_attestation_lag_days: median(&mut lags),
        opinions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use accord_domain::date::Day;
    use accord_domain::ids::{PartyId, PlanId};

    fn schedule(freq: &str, grace: u32) -> ds::ReportSchedule {
        ds::ReportSchedule { frequency: Frequency::parse("frequency", freq).unwrap(), days_after_period_end: grace }
    }

    fn plan(freq: &str, grace: u32) -> ds::PlanCreated {
        let day = |s: &str| Day::parse("period", s).unwrap();
        ds::PlanCreated {
            plan_id: PlanId::parse("plan_id", "P").unwrap(),
            title: "Plan".into(),
            period: ds::Period { start: day("2026-01-01"), end: day("2026-12-31") },
            reporting_currency: "USD".parse().unwrap(),
            signatories: Vec::new(),
            report_schedule: Some(schedule(freq, grace)),
            requirement: None,
            description: String::new(),
            boundary_party_ids: Vec::new(),
            expected_reporters: Vec::new(),
        }
    }

    fn day(s: &str) -> i64 {
        date::parse_date(s).unwrap()
    }

    fn filed(party: &str, id: &str, pe: &str, at: &str) -> Filed {
        Filed {
            party: party.into(),
            report_id: id.into(),
            period_end: day(pe),
            integrated: day(at),
            attested: None,
            opinion: String::new(),
            reported: None,
            verified: None,
        }
    }

    /// An expected reporter that never filed is listed as missing for every period due, with the days
    /// overdue counted from its due date; a reporter on its own schedule is judged on that schedule.
    #[test]
    fn missing_reports_are_shown_with_days_overdue() {
        let mut p = plan("quarterly", 30);
        let party = |id: &str| PartyId::parse("party_id", id).unwrap();
        p.expected_reporters = vec![
            ds::ExpectedReporter { party_id: party("GT"), schedule: None },
            ds::ExpectedReporter { party_id: party("HN"), schedule: Some(schedule("semiannual", 60)) },
        ];
        let owing = owing(&p, BTreeSet::from(["SV".to_string()]));
        let f = vec![filed("SV", "R1", "2026-03-31", "2026-04-20"), filed("SV", "R2", "2026-06-30", "2026-08-15")];
        let (t, periods) = build(&p, day("2026-10-15"), &owing, &f);
        let gt = t.iter().find(|x| x.party == "GT").unwrap();
        // Q1 due 04-30 (168 days before 10-15), Q2 due 07-30 (77 days); Q3 due 10-30 is not yet due.
        assert_eq!(gt.reports_due, 2);
        assert_eq!(
            gt.missing.iter().map(|m| (m.period_end.as_str(), m.days_overdue)).collect::<Vec<_>>(),
            [("2026-03-31", 168), ("2026-06-30", 77)]
        );
        let hn = t.iter().find(|x| x.party == "HN").unwrap();
        // H1 ends 06-30, due 08-29: 47 days overdue.
        assert_eq!(hn.missing.len(), 1);
        assert_eq!(hn.missing[0].days_overdue, 47);
        let sv = t.iter().find(|x| x.party == "SV").unwrap();
        assert_eq!((sv.reports_due, sv.on_time, sv.missing.len()), (2, 1, 0));
        assert_eq!(sv.punctuality, "50.0");
        let q2 = periods.iter().find(|v| v.period_end == "2026-06-30").unwrap();
        let status: Vec<(&str, &str)> = q2.reporters.iter().map(|r| (r.party.as_str(), r.status.as_str())).collect();
        assert_eq!(status, [("GT", "missing"), ("HN", "missing"), ("SV", "late")]);
        assert_eq!((q2.reports_due, q2.on_time, q2.missing, q2.reports), (3, 0, 2, 1));
        let q3 = periods.iter().find(|v| v.period_end == "2026-09-30").unwrap();
        assert!(q3.reporters.iter().all(|r| r.status == "not_due"), "{q3:?}");
    }

    /// Verification coverage per period: reported and verified amounts and attested reports.
    #[test]
    fn verification_is_counted_per_period() {
        let p = plan("quarterly", 30);
        let owing = owing(&p, BTreeSet::from(["A".to_string(), "B".to_string()]));
        let mut a = filed("A", "RA", "2026-03-31", "2026-04-10");
        a.attested = Some(day("2026-04-30"));
        a.opinion = "verified".into();
        a.reported = Some(Decimal::from(100));
        a.verified = Some(Decimal::from(90));
        let mut b = filed("B", "RB", "2026-03-31", "2026-04-12");
        b.reported = Some(Decimal::from(50));
        let (_, periods) = build(&p, day("2026-05-31"), &owing, &[a, b]);
        let q1 = &periods[0];
        assert_eq!(q1.period_end, "2026-03-31");
        assert_eq!((q1.reports, q1.reports_attested), (2, 1));
        assert_eq!((q1.reported_amount.as_str(), q1.verified_amount.as_str()), ("150", "90"));
        assert_eq!(q1.verified_share, "60.0");
        assert_eq!(q1.median_attestation_lag_days, "20");
        assert_eq!(q1.opinions.get("verified"), Some(&1));
    }
}
