//! Scenario A's "Expected figures", every one, through the ReportService API and through `accord report`;
//! `accord report verify` passes on an honest server and fails when a served figure or an entry is altered;
//! the HTML and CSV renderings carry the same figures.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use std::process::Command;

use accord::pb;
use accord::report::render::amount;
use accord::report::Report;
use common::scenario::{self, Coalition};

const BIN: &str = env!("CARGO_BIN_EXE_accord");

fn row<'a>(rows: &'a [accord::report::FlowRow], key: &str) -> &'a accord::report::FlowRow {
    rows.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("no row {key}"))
}

/// Every figure of the scenario's "Expected figures" section.
fn assert_expected_figures(rep: &Report) {
    let f = &rep.funding;
    assert_eq!(f.currency, "USD");
    // USD view: (P, C, D, C/P, D/P, D/C) per donor.
    let expect = [
        ("DA", "130,200,000.00", "32,400,000.00", "30,075,000.00", "24.9", "23.1", "92.8"),
        ("DB", "200,000,000.00", "100,000,000.00", "100,000,000.00", "50.0", "50.0", "100.0"),
        ("BC", "300,000,000.00", "120,000,000.00", "40,000,000.00", "40.0", "13.3", "33.3"),
    ];
    for (k, p, c, d, cp, dp, dc) in expect {
        let r = row(&f.by_donor, k);
        assert_eq!(
            (amount(&r.pledged).as_str(), amount(&r.committed).as_str(), amount(&r.disbursed).as_str()),
            (p, c, d),
            "{k}"
        );
        assert_eq!((r.conversion.as_str(), r.fulfilment.as_str(), r.execution.as_str()), (cp, dp, dc), "{k}");
    }
    assert_eq!(f.by_donor.len(), 3, "only external funders: {:?}", f.by_donor);
    let t = &f.total_external;
    assert_eq!(
        (amount(&t.pledged).as_str(), amount(&t.committed).as_str(), amount(&t.disbursed).as_str()),
        ("630,200,000.00", "252,400,000.00", "170,075,000.00")
    );
    assert_eq!((t.conversion.as_str(), t.fulfilment.as_str(), t.execution.as_str()), ("40.1", "27.0", "67.4"));
    // Pledge-currency view for Donor A (EUR), never mixed with the converted figures.
    let a = row(&f.pledge_currency, "DA");
    assert_eq!(a.currency, "EUR");
    assert_eq!(
        (amount(&a.pledged).as_str(), amount(&a.committed).as_str(), amount(&a.disbursed).as_str()),
        ("120,000,000.00", "30,000,000.00", "27,500,000.00")
    );
    assert_eq!((a.conversion.as_str(), a.fulfilment.as_str(), a.execution.as_str()), ("25.0", "22.9", "91.7"));

    // Conditional tranches: C1 released EUR 5 m (GT, HN), withheld EUR 2.5 m (SV); C2 released USD 50 m;
    // C3 pending USD 100 m.
    let cond = |id: &str| rep.tranches.conditions.iter().find(|c| c.condition_id == id).unwrap();
    let sum = |id: &str, status: &str| -> String {
        let c = cond(id);
        let mut total: rust_decimal::Decimal = c
            .tranches
            .iter()
            .filter(|t| t.status == status)
            .map(|t| t.value.parse::<rust_decimal::Decimal>().unwrap())
            .sum();
        if c.uncommitted_status == status {
            total += c.uncommitted_at_stake.parse::<rust_decimal::Decimal>().unwrap();
        }
        amount(&total.to_string())
    };
    assert_eq!(sum("C1", "released"), "5,000,000.00");
    assert_eq!(sum("C1", "withheld"), "2,500,000.00");
    let released_recipients: Vec<&str> =
        cond("C1").tranches.iter().filter(|t| t.status == "released").map(|t| t.recipient.as_str()).collect();
    assert_eq!(released_recipients, ["GT", "HN"]);
    assert_eq!(cond("C1").tranches.iter().find(|t| t.status == "withheld").unwrap().recipient, "SV");
    assert_eq!(sum("C2", "released"), "50,000,000.00");
    assert_eq!(sum("C3", "pending"), "100,000,000.00");
    assert!(cond("C1").tranches.iter().all(|t| t.currency == "EUR"));
    assert_eq!(cond("C3").currency, "USD");

    // External grants per country and the co-financing test (C4).
    let cf = rep.co_financing.iter().find(|c| c.condition_id == "C4").expect("C4");
    let expect = [
        ("GT", "50,925,000.00", "12,731,250.00", "13,000,000.00", "25.5", "102.1", "met", true, "43.5"),
        ("HN", "45,975,000.00", "11,493,750.00", "10,000,000.00", "21.8", "87.0", "not_met", true, "33.3"),
        ("SV", "33,175,000.00", "8,293,750.00", "3,000,000.00", "9.0", "36.2", "not_met", false, "15.0"),
    ];
    for (party, x, req, real, over, fulfil, result, verified, own) in expect {
        let r = cf.rows.iter().find(|r| r.party == party && r.year == "2026").unwrap();
        assert_eq!(amount(&r.external_grants), x, "{party}");
        assert_eq!(amount(&r.required), req, "{party}");
        assert_eq!(amount(&r.realised), real, "{party}");
        assert_eq!((r.realised_over_grants.as_str(), r.fulfilment.as_str()), (over, fulfil), "{party}");
        assert_eq!((r.result.as_str(), r.verified), (result, verified), "{party}");
        assert_eq!(r.realised_over_own_pledge, own, "{party}");
    }
    // Of which Donor A: GT 10,925,000.00; HN 10,975,000.00; SV 8,175,000.00.
    for (party, da) in [("GT", "10,925,000.00"), ("HN", "10,975,000.00"), ("SV", "8,175,000.00")] {
        let r = cf.rows.iter().find(|r| r.party == party).unwrap();
        assert_eq!(amount(&r.external_grants_by_provider["DA"]), da, "{party}");
    }
    assert_eq!(amount(&cf.plan_realised), "26,000,000.00");
    assert_eq!(amount(&cf.plan_external_grants), "130,075,000.00");
    assert_eq!(cf.plan_share, "20.0");
    // Grants by recipient including Bank C's loans are larger; the recipient view shows all external flows.
    assert_eq!(amount(&row(&f.by_recipient, "SV").disbursed), "33,175,000.00");
    assert_eq!(amount(&row(&f.by_recipient, "GT").disbursed), "70,925,000.00");

    // Verification coverage: GT and HN attested, SV not.
    assert_eq!((rep.verification.reports, rep.verification.reports_attested), (3, 2));
    assert_eq!(amount(&rep.verification.verified_amount), "23,000,000.00");
    assert_eq!(rep.new_money.share, "100.0");
    assert_eq!(rep.usage_years.len(), 1);
    assert_eq!(amount(&rep.usage_years[0].amount), "252,400,000.00");
    assert_eq!(amount(&rep.coverage.funded), "252,400,000.00");
    assert_eq!(amount(&rep.coverage.paid), "170,075,000.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_report_figures_verify_and_formats() {
    let _ = tracing_subscriber::fmt().with_env_filter("error").try_init();
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;

    // Through the API.
    let req = pb::GetReportRequest { plan_id: scenario::PLAN.into(), format: "json".into(), hxl: false };
    let (resp, cp) = c.client.report(req).await.expect("report");
    let rep = Report::from_json(&resp.canonical_json).unwrap();
    assert_eq!(rep.read_at.tree_size, cp.size);
    assert_expected_figures(&rep);

    // Through `accord report`, in every format.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = ["--server", c.server.url.as_str(), "--log-key", c.server.verifier_key.as_str()];
    let run = |args: &[&str]| {
        let out = Command::new(BIN).current_dir(d).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["report", "--plan", scenario::PLAN]
            .iter()
            .chain(server.iter())
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let a = args(&["--format", "json", "-o", "report.json"]);
    let (code, _, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(0), "{err}");
    let cli_json = std::fs::read_to_string(d.join("report.json")).unwrap();
    assert_eq!(cli_json, resp.canonical_json, "the CLI writes the canonical JSON unchanged");
    assert_expected_figures(&Report::from_json(&cli_json).unwrap());
    let a = args(&["--format", "markdown"]);
    let (code, md, _) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(0));
    for fig in ["130,200,000.00", "30,075,000.00", "92.8%", "12,731,250.00", "not_met, unverified", "20.0%"] {
        assert!(md.contains(fig), "markdown lacks {fig}");
    }
    let a = args(&["--format", "html", "-o", "report.html"]);
    assert_eq!(run(&a.iter().map(String::as_str).collect::<Vec<_>>()).0, Some(0));
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("630,200,000.00") && html.contains("67.4%"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="), "no external assets");
    let a = args(&["--format", "csv", "--hxl", "-o", "csv"]);
    assert_eq!(run(&a.iter().map(String::as_str).collect::<Vec<_>>()).0, Some(0));
    let donors = std::fs::read_to_string(d.join("csv/funding_by_donor.csv")).unwrap();
    let lines: Vec<&str> = donors.lines().collect();
    assert!(lines[0].starts_with("key,name,currency,pledged"));
    assert!(lines[1].starts_with("#org+code"));
    assert!(lines.iter().any(|l| l.starts_with("DA,") && l.contains("130200000") && l.contains(",92.8,")), "{donors}");
    assert!(d.join("csv/co_financing.csv").exists() && d.join("csv/conditional_tranches.csv").exists());

    // report verify: passes on the honest server.
    let a: Vec<String> = ["--json", "report", "verify", "--plan", scenario::PLAN]
        .iter()
        .chain(server.iter())
        .map(|s| s.to_string())
        .collect();
    let (code, out, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(0), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);

    // A served figure altered: the difference is shown field by field, exit 1.
    let forged = resp.canonical_json.replacen("\"30075000\"", "\"31075000\"", 1);
    assert_ne!(forged, resp.canonical_json);
    std::fs::write(d.join("forged.json"), &forged).unwrap();
    let mut a2 = a.clone();
    a2.extend(["--report".into(), "forged.json".into()]);
    let (code, out, _) = run(&a2.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let diffs = v["differences"].as_array().unwrap();
    assert!(
        diffs
            .iter()
            .any(|d| d.as_str().unwrap().starts_with("funding.by_donor[") && d.as_str().unwrap().contains("31075000")),
        "{diffs:?}"
    );

    // An entry altered in the server's database (triggers dropped): the leaves no longer hash to the
    // signed root, so verification fails.
    let db = c.server.dir.join(accord::ledger::DB_FILE);
    accord::store::raw_execute(&db, "DROP TRIGGER entries_no_update").unwrap();
    let n = accord::store::raw_execute(
        &db,
        "UPDATE entries SET leaf = unhex(substr(hex(leaf), 1, length(hex(leaf)) - 2) || '7E') WHERE idx = 20",
    )
    .unwrap();
    assert_eq!(n, 1);
    let (code, out, _) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("do not hash to the signed root"), "{out}");
}

/// Indicators against end and period targets with reported and verified values side by side, a
/// descending indicator, timeliness against the plan's schedule, policy milestones with amended due
/// dates, and the amendment log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_timeliness_delivery_and_corrections() {
    use accord::pb::statement::Body;
    let mut c = Coalition::start().await;
    scenario::plan_and_goals(&mut c).await;
    let ind = |id: &str, ascending: bool, base: &str, t1: &str, t2: &str| {
        Body::IndicatorDefined(pb::IndicatorDefined {
            indicator_id: id.into(),
            goal_id: "G1".into(),
            title: format!("indicator {id}"),
            measure: 1,
            ascending,
            unit: "cases".into(),
            baseline: Some(pb::Baseline { value: base.into(), year: 2025 }),
            targets: vec![
                pb::IndicatorTarget { period: scenario::period("2026-01-01", "2026-12-31"), value: t1.into() },
                pb::IndicatorTarget { period: scenario::period("2027-01-01", "2029-12-31"), value: t2.into() },
            ],
        })
    };
    c.submit(&["S"], "2026-01-10", ind("I-UP", true, "100", "150", "300")).await.unwrap();
    // Descending: a homicide rate from 40 to 20 by 2029.
    c.submit(&["S"], "2026-01-10", ind("I-DOWN", false, "40", "35", "20")).await.unwrap();
    let report = |id: &str, who: &str, up: &str, down: &str| {
        Body::ProgressReported(pb::ProgressReported {
            report_id: id.into(),
            reporter_id: who.into(),
            plan_id: scenario::PLAN.into(),
            period: scenario::period("2026-01-01", "2026-12-31"),
            indicator_values: vec![
                pb::IndicatorValue { indicator_id: "I-UP".into(), value: up.into() },
                pb::IndicatorValue { indicator_id: "I-DOWN".into(), value: down.into() },
            ],
            co_financing_realised: None,
            narrative_sha256: vec![],
        })
    };
    let gt = c.submit(&["GT"], "2027-01-20", report("R-GT", "GT", "160", "36")).await.unwrap();
    let covered = vec![c.identity(gt).await];
    c.submit(
        &["Y"],
        "2027-01-25",
        Body::AttestationIssued(pb::AttestationIssued {
            attestation_id: "A1".into(),
            auditor_id: "Y".into(),
            scope: "GT 2026".into(),
            covered_entries: covered,
            opinion: "verified_with_exceptions".into(),
            adjustments: vec![pb::Adjustment {
                item: "indicator:I-UP".into(),
                reported: "160".into(),
                verified: "140".into(),
                reason: "double-counted cases".into(),
            }],
        }),
    )
    .await
    .unwrap();
    // A policy pledge whose milestone is later amended to a new due date, then met late.
    let policy = |due: &str| pb::PledgeAnnounced {
        pledge_id: "Y1".into(),
        plan_id: scenario::PLAN.into(),
        pledger_id: "HN".into(),
        pledge_kind: "policy_action".into(),
        goals: scenario::shares(&[("G1", "100")]),
        funding_source: "domestic_own_resources".into(),
        new_money: true,
        milestones: vec![pb::PolicyMilestone {
            milestone_id: "M1".into(),
            title: "Law passed".into(),
            due_date: due.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    c.submit(&["HN"], "2026-01-20", Body::PledgeAnnounced(policy("2026-03-31"))).await.unwrap();
    let amend = Body::Amended(pb::Amended {
        subject_id: "Y1".into(),
        rationale: "parliament recess".into(),
        version: Some(pb::amended::Version::Pledge(policy("2026-06-30"))),
    });
    c.submit(&["HN"], "2026-03-01", amend).await.unwrap();
    let met = Body::MilestoneUpdated(pb::MilestoneUpdated {
        pledge_id: "Y1".into(),
        milestone_id: "M1".into(),
        status: "met".into(),
        date: "2026-07-10".into(),
        ..Default::default()
    });
    c.submit(&["HN"], "2026-07-10", met).await.unwrap();

    let req = pb::GetReportRequest { plan_id: scenario::PLAN.into(), format: "json".into(), hxl: false };
    let (resp, _) = c.client.report(req).await.unwrap();
    let rep = Report::from_json(&resp.canonical_json).unwrap();
    let up = rep.indicators.iter().find(|i| i.indicator_id == "I-UP").unwrap();
    assert_eq!(up.end_target, "300");
    let v = &up.values[0];
    assert_eq!((v.reported.as_str(), v.verified.as_str(), v.used.as_str()), ("160", "140", "140"));
    // (140 − 100) / (300 − 100) = 20.0%; against the 2026 target 150: 80.0%.
    assert_eq!((v.progress_to_end_target.as_str(), v.period_target.as_str()), ("20.0", "150"));
    assert_eq!(v.progress_to_period_target, "80.0");
    let down = rep.indicators.iter().find(|i| i.indicator_id == "I-DOWN").unwrap();
    // (36 − 40) / (20 − 40) = 20.0%; against the 2026 target 35: 80.0%.
    assert_eq!(down.values[0].progress_to_end_target, "20.0");
    assert_eq!(down.values[0].progress_to_period_target, "80.0");
    // Timeliness: the report arrived on 2027-02-01 (the clock), 32 days after the period end; due 60 days
    // after (2027-03-02), so not yet counted as due.
    let t = rep.timeliness.iter().find(|t| t.party == "GT").unwrap();
    assert_eq!((t.reports[0].lag_days, t.reports[0].days_late), (32, 0));
    assert_eq!(t.median_lag_days, "32");
    assert_eq!(t.reports_due, 0);
    // Milestones: original and amended due dates, 10 days late against the amended one.
    let m = &rep.delivery.milestones[0];
    assert_eq!((m.original_due_date.as_str(), m.due_date.as_str(), m.days_late), ("2026-03-31", "2026-06-30", 10));
    assert_eq!((rep.delivery.milestones_met, rep.delivery.milestones_total), (1, 1));
    // The amendment log names the rationale and the signer.
    let a = rep.amendments.iter().find(|a| a.id == "Y1").unwrap();
    assert_eq!(a.corrections[0].action, "amended");
    assert_eq!(a.corrections[0].rationale, "parliament recess");
    assert_eq!(a.corrections[0].signers, ["HN"]);
    assert_eq!(rep.verification.opinions["verified_with_exceptions"], 1);
    assert_eq!((rep.verification.reports, rep.verification.reports_attested), (1, 1));
}
