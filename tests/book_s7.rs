//! DOMAIN.md §7's new capabilities, each through a real server and a real client, in every report format
//! and through `accord report verify` (the in-memory replay): corrections with the correction log, plan
//! boundaries and expected reporters with missing reports, timeliness and verification per period,
//! milestones with quantity targets, and in-kind deliveries confirmed by their receivers.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use accord::error::Kind;
use accord::pb::{self, statement::Body};
use accord::report::Report;
use common::scenario::{self as sc, money, refused, Coalition};

async fn report(c: &mut Coalition) -> Report {
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "json".into(), hxl: false };
    let (resp, _) = c.client.report(req).await.expect("report");
    Report::from_json(&resp.canonical_json).expect("report JSON")
}

/// The Markdown, the HTML and every CSV file of the report.
async fn formats(c: &mut Coalition) -> (String, String, Vec<(String, String)>) {
    let mut text = Vec::new();
    for f in ["markdown", "html"] {
        let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: f.into(), hxl: false };
        let (resp, _) = c.client.report(req).await.expect("report");
        text.push(String::from_utf8(resp.files[0].content.clone()).unwrap());
    }
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "csv".into(), hxl: false };
    let (resp, _) = c.client.report(req).await.expect("csv");
    let csv = resp.files.iter().map(|f| (f.name.clone(), String::from_utf8(f.content.clone()).unwrap())).collect();
    let html = text.pop().unwrap();
    (text.pop().unwrap(), html, csv)
}

fn csv_file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    &files.iter().find(|(n, _)| n.ends_with(&format!("{name}.csv"))).unwrap_or_else(|| panic!("no {name}.csv")).1
}

fn txn(id: &str, amount: &str, day: &str, corrects: &str) -> Body {
    let Body::TransactionRecorded(mut t) = sc::disbursement(id, "K3", "", "BC", "GT", amount, "USD", day) else {
        unreachable!()
    };
    t.corrects = corrects.into();
    t.description = format!("disbursement {id}");
    Body::TransactionRecorded(t)
}

fn reverse(id: &str, amount: Option<&str>) -> Body {
    Body::TransactionReversed(pb::TransactionReversed {
        txn_id: id.into(),
        rationale: "keying error: wrong amount".into(),
        amount: amount.and_then(|a| money(a, "USD", "2026-03-01")),
    })
}

/// Plan, goals, BC's pledge P3 and its commitment K3 to GT (USD 1 m).
async fn with_commitment() -> Coalition {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let p3 = sc::pledge("P3", "BC", "300000000", "USD", &[("G3", "100")], "110", "external", "2029-12-31");
    c.submit(&["BC"], "2026-01-20", p3).await.expect("P3");
    let k3 = sc::commitment("K3", "BC", "GT", "P3", "1000000", "USD", "2026-02-01", "110", &[]);
    c.submit(&["BC", "GT"], "2026-02-01", k3).await.expect("K3");
    c
}

/// A keying error reversed and re-entered: the reversal must take back the whole amount; a correction
/// needs the original reversed, keeps its type and happens once; the correction log shows original,
/// reversal and re-entry with signers and dates and the net change; D counts the re-entry only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keying_error_is_reversed_and_corrected_with_its_log() {
    let mut c = with_commitment().await;
    // Money that has not moved yet is not a transaction: a date after the integration date (the test
    // clock's 2027-02-01) is refused.
    refused(
        &mut c,
        &["BC"],
        "2027-01-31",
        txn("T0", "500000", "2027-03-01", ""),
        Kind::FailedPrecondition,
        &["date", "2027-03-01 is after the integration date 2027-02-01"],
    )
    .await;
    c.submit(&["BC", "GT"], "2026-03-01", txn("T1", "500000", "2026-03-01", "")).await.expect("T1");
    refused(
        &mut c,
        &["BC"],
        "2026-03-05",
        txn("T2", "450000", "2026-03-01", "T1"),
        Kind::FailedPrecondition,
        &["corrects", "transaction T1 is not reversed"],
    )
    .await;
    refused(
        &mut c,
        &["BC"],
        "2026-03-05",
        reverse("T1", Some("400000")),
        Kind::FailedPrecondition,
        &["amount", "reversal takes back the whole amount"],
    )
    .await;
    c.submit(&["BC"], "2026-03-05", reverse("T1", Some("500000"))).await.expect("reversal");
    let Body::TransactionRecorded(mut incoming) = txn("T2", "450000", "2026-03-01", "T1") else { unreachable!() };
    incoming.transaction_type = 1;
    incoming.commitment_id = String::new();
    refused(
        &mut c,
        &["GT"],
        "2026-03-05",
        Body::TransactionRecorded(incoming),
        Kind::FailedPrecondition,
        &["transaction_type", "a correction keeps the type"],
    )
    .await;
    c.submit(&["BC", "GT"], "2026-03-06", txn("T2", "450000", "2026-03-01", "T1")).await.expect("T2");
    refused(
        &mut c,
        &["BC"],
        "2026-03-07",
        txn("T3", "450000", "2026-03-01", "T1"),
        Kind::FailedPrecondition,
        &["already corrected by T2"],
    )
    .await;

    let rep = report(&mut c).await;
    assert_eq!(rep.format, "accord.report.v2");
    assert_eq!(rep.funding.total_external.disbursed, "450000", "D counts the re-entry, not the reversed original");
    assert_eq!(rep.corrections.len(), 1, "{:?}", rep.corrections);
    let log = &rep.corrections[0];
    assert_eq!((log.txn_id.as_str(), log.corrected_by.as_str()), ("T1", "T2"));
    assert_eq!((log.net_change.as_str(), log.currency.as_str()), ("-50000", "USD"));
    let steps: Vec<(&str, &str, &str, &str)> =
        log.steps.iter().map(|s| (s.step.as_str(), s.txn_id.as_str(), s.amount.as_str(), s.date.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("original", "T1", "500000", "2026-03-01"),
            ("reversal", "T1", "-500000", "2026-03-05"),
            ("correction", "T2", "450000", "2026-03-06"),
        ]
    );
    assert_eq!(log.steps[0].signers, ["BC", "GT"]);
    assert_eq!(log.steps[1].signers, ["BC"]);
    assert_eq!(log.steps[1].rationale, "keying error: wrong amount");

    let (md, html, csv) = formats(&mut c).await;
    assert!(md.contains("### Correction log") && md.contains("| T1 | reversal | T1 |"), "{md}");
    assert!(md.contains("-500,000.00") && md.contains("-50,000.00"), "{md}");
    assert!(html.contains("id=\"corrections\"") && html.contains("-50,000.00"), "{html}");
    let log_csv = csv_file(&csv, "corrections");
    assert!(log_csv.starts_with("transaction,step,txn_id,entry,date,value_date,signers,amount"), "{log_csv}");
    assert!(log_csv.contains("T1,correction,T2,") && log_csv.contains(",-50000"), "{log_csv}");
    // OCDS: K3's contracting process pays T2 only; the reversal is an amendment naming the re-entry and the
    // report's net change, and the release says it updates implementation.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ocds.json");
    let ocds = sc::export(&c, "ocds", &file);
    let pkg: serde_json::Value = serde_json::from_str(&ocds).unwrap();
    let [k3] = pkg["releases"].as_array().unwrap().as_slice() else { panic!("one process per commitment: {ocds}") };
    assert!(k3["ocid"].as_str().unwrap().ends_with("-K3"), "{ocds}");
    assert!(k3["tag"].as_array().unwrap().contains(&"implementationUpdate".into()), "{ocds}");
    let paid: Vec<&str> = k3["contracts"][0]["implementation"]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(paid, ["T2"], "{ocds}");
    let amendment = k3["contracts"][0]["amendments"][0]["description"].as_str().unwrap_or_default();
    assert!(amendment.contains("transaction T1 (corrected by T2) reversed; net change -50000 USD"), "{ocds}");
    sc::ocds_validate(&file).unwrap_or_else(|e| panic!("the OCDS export does not validate: {e}\n{ocds}"));
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");

    // A correction stays in the plan of what it corrects (docs/INDEX.md §1.3: every entry acting on a
    // plan's subjects is filed under that plan): GT's incoming funds I1 with no commitment are in no plan;
    // once reversed, incoming funds under K3 (plan 1) may not correct them.
    let incoming = |id: &str, corrects: &str, commitment: &str| {
        let Body::TransactionRecorded(mut t) = txn(id, "1000", "2026-03-01", corrects) else { unreachable!() };
        t.transaction_type = 1;
        t.commitment_id = commitment.into();
        Body::TransactionRecorded(t)
    };
    c.submit(&["GT"], "2026-03-08", incoming("I1", "", "")).await.expect("incoming funds in no plan");
    let mut back = reverse("I1", Some("1000"));
    if let Body::TransactionReversed(r) = &mut back {
        r.rationale = "recorded twice".into();
    }
    c.submit(&["GT"], "2026-03-08", back).await.expect("reversal of I1");
    refused(
        &mut c,
        &["GT"],
        "2026-03-08",
        incoming("I2", "I1", "K3"),
        Kind::FailedPrecondition,
        &["corrects", "transaction I1 is in no plan, this correction in plan"],
    )
    .await;
    c.submit(&["GT"], "2026-03-08", incoming("I2", "I1", "")).await.expect("a correction in no plan, like I1");
}

/// The plan names its boundary and its expected reporters: a flow between two parties inside the boundary is
/// internal (listed, never added to D or F); a reporter who owes a report and has not filed it is shown
/// as missing with the days it is overdue, per reporter and per period, with verification per period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_reporters_who_did_not_report_are_shown_missing_per_period() {
    let mut c = with_commitment().await;
    // The plan is amended to name its boundary and who owes reports: GT on the plan's schedule (annual, 60
    // days) and HN semiannually with 30 days.
    let mut p = pb::PlanCreated {
        plan_id: sc::PLAN.into(),
        title: "Four-year Central America plan (2026–2029)".into(),
        period: sc::period("2026-01-01", "2029-12-31"),
        reporting_currency: "USD".into(),
        signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
        report_schedule: Some(pb::ReportSchedule { frequency: "annual".into(), days_after_period_end: 60 }),
        ..Default::default()
    };
    p.boundary_party_ids = vec!["GT".into(), "HN".into()];
    p.expected_reporters = vec![
        pb::ExpectedReporter { party_id: "GT".into(), schedule: None },
        pb::ExpectedReporter {
            party_id: "HN".into(),
            schedule: Some(pb::ReportSchedule { frequency: "semiannual".into(), days_after_period_end: 30 }),
        },
    ];
    let mut bad = p.clone();
    bad.expected_reporters.push(pb::ExpectedReporter { party_id: "NOBODY".into(), schedule: None });
    let amend = |p: pb::PlanCreated| {
        Body::Amended(pb::Amended {
            subject_id: sc::PLAN.into(),
            rationale: "boundary and reporters".into(),
            version: Some(pb::amended::Version::Plan(p)),
        })
    };
    refused(
        &mut c,
        &["S"],
        "2026-02-02",
        amend(bad),
        Kind::FailedPrecondition,
        &["expected_reporters[2].party_id", "NOBODY"],
    )
    .await;
    c.submit(&["S"], "2026-02-02", amend(p)).await.expect("plan amended");
    // GT reports for 2026, integrated at the clock's 2027-02-01: before its due date 2027-03-01, so filed
    // on time but not yet due.
    let report_body = Body::ProgressReported(pb::ProgressReported {
        report_id: "R-GT-2026".into(),
        reporter_id: "GT".into(),
        plan_id: sc::PLAN.into(),
        period: sc::period("2026-01-01", "2026-12-31"),
        co_financing_realised: money("100000", "USD", "2026-12-31"),
        ..Default::default()
    });
    c.submit(&["GT"], "2027-01-15", report_body).await.expect("GT report");
    // An internal flow GT → HN (no boundary stated: the plan's boundary makes it internal).
    let p4 = sc::pledge("P4", "GT", "1000000", "USD", &[("G1", "100")], "", "domestic_own_resources", "2029-12-31");
    c.submit(&["GT"], "2026-01-20", p4).await.expect("P4");
    let k4 = sc::commitment("K4", "GT", "HN", "P4", "500000", "USD", "2026-03-01", "110", &[]);
    c.submit(&["GT", "HN"], "2026-03-01", k4).await.expect("K4");
    let Body::TransactionRecorded(mut t) =
        sc::disbursement("T-INT", "K4", "", "GT", "HN", "200000", "USD", "2026-04-01")
    else {
        unreachable!()
    };
    t.boundary = String::new();
    c.submit(&["GT"], "2026-04-01", Body::TransactionRecorded(t)).await.expect("internal flow");

    let rep = report(&mut c).await;
    assert_eq!(rep.read_at.as_of_date, "2027-02-01");
    assert_eq!(rep.coverage.internal_flows.len(), 1, "the plan's boundary makes GT → HN internal");
    assert_eq!(rep.coverage.internal_total, "200000");
    assert_eq!(rep.funding.total_external.disbursed, "0");
    let hn = rep.timeliness.iter().find(|t| t.party == "HN").expect("HN owes reports although it filed none");
    // H1 2026 due 2026-07-30 (186 days before 2027-02-01), H2 due 2027-01-30 (2 days).
    let missing: Vec<(&str, i64)> = hn.missing.iter().map(|m| (m.period_end.as_str(), m.days_overdue)).collect();
    assert_eq!(missing, [("2026-06-30", 186), ("2026-12-31", 2)]);
    assert_eq!((hn.reports_due, hn.on_time, hn.punctuality.as_str()), (2, 0, "0.0"));
    let gt = rep.timeliness.iter().find(|t| t.party == "GT").unwrap();
    assert_eq!((gt.reports_due, gt.on_time, gt.missing.len()), (0, 0, 0));
    let y2026 = rep.periods.iter().find(|p| p.period_end == "2026-12-31").expect("period 2026-12-31");
    let who: Vec<(&str, &str)> = y2026.reporters.iter().map(|r| (r.party.as_str(), r.status.as_str())).collect();
    assert_eq!(who, [("GT", "on_time"), ("HN", "missing")]);
    assert_eq!((y2026.reports_due, y2026.on_time, y2026.missing, y2026.reports), (1, 0, 1, 1));
    assert_eq!((y2026.reported_amount.as_str(), y2026.verified_amount.as_str()), ("100000", "0"));
    assert_eq!(y2026.punctuality, "0.0");

    let (md, html, csv) = formats(&mut c).await;
    assert!(md.contains("### Missing reports") && md.contains("| HN | 2026-06-30 | 2026-07-30 | 186 |"), "{md}");
    assert!(md.contains("### Reporting periods") && md.contains("### Reporters per period"), "{md}");
    assert!(html.contains("id=\"missing_reports\"") && html.contains("id=\"period_reporters\""), "{html}");
    assert!(csv_file(&csv, "missing_reports").contains("HN,2026-12-31,2027-01-30,2"), "{csv:?}");
    assert!(csv_file(&csv, "period_reporters").contains("2026-12-31,HN,missing"), "{csv:?}");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// Milestones with a quantity target show % done; an in-kind delivery is confirmed when the receiver
/// countersigns it, in the same envelope or later by `delivery.confirmed` (by the receiver only, once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_confirmed_by_their_receivers_and_milestones_measured() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    c.submit(&["DB"], "2026-01-20", sc::inkind_pledge("P5", "500000")).await.expect("in-kind pledge");
    let delivered = |id: &str, qty: &str, value: &str| {
        Body::InkindDelivered(pb::InkindDelivered {
            delivery_id: id.into(),
            pledge_id: "P5".into(),
            date: "2026-05-01".into(),
            item_id: "vehicles".into(),
            quantity: qty.into(),
            value: money(value, "USD", "2026-05-01"),
            receiver_id: "HN".into(),
        })
    };
    c.submit(&["DB", "HN"], "2026-05-01", delivered("D1", "8", "200000")).await.expect("D1 countersigned");
    c.submit(&["DB"], "2026-05-01", delivered("D2", "4", "100000")).await.expect("D2 unconfirmed");
    c.submit(&["DB"], "2026-05-01", delivered("D3", "2", "50000")).await.expect("D3 unconfirmed");
    let confirm = |id: &str, date: &str| {
        Body::DeliveryConfirmed(pb::DeliveryConfirmed {
            delivery_id: id.into(),
            date: date.into(),
            note: "received".into(),
        })
    };
    refused(
        &mut c,
        &["DB"],
        "2026-05-10",
        confirm("D2", "2026-05-10"),
        Kind::PermissionDenied,
        &["must be signed by HN"],
    )
    .await;
    refused(
        &mut c,
        &["HN"],
        "2026-05-10",
        confirm("D2", "2026-04-01"),
        Kind::FailedPrecondition,
        &["is before the delivery's date"],
    )
    .await;
    refused(
        &mut c,
        &["HN"],
        "2026-05-10",
        confirm("D1", "2026-05-10"),
        Kind::FailedPrecondition,
        &["already confirmed"],
    )
    .await;
    refused(&mut c, &["HN"], "2026-05-10", confirm("D9", "2026-05-10"), Kind::FailedPrecondition, &["D9"]).await;
    c.submit(&["HN"], "2026-05-10", confirm("D2", "2026-05-10")).await.expect("D2 confirmed");

    // A policy-action pledge with a quantity target.
    let Body::PledgeAnnounced(mut pol) =
        sc::pledge("P6", "GT", "0", "USD", &[("G1", "100")], "", "domestic_own_resources", "2029-12-31")
    else {
        unreachable!()
    };
    pol.pledge_kind = "policy_action".into();
    pol.amount = None;
    pol.milestones = vec![pb::PolicyMilestone {
        milestone_id: "M1".into(),
        title: "Train anti-corruption judges".into(),
        due_date: "2026-12-31".into(),
        quantity_target: "120".into(),
        unit: String::new(),
    }];
    refused(
        &mut c,
        &["GT"],
        "2026-01-20",
        Body::PledgeAnnounced(pol.clone()),
        Kind::InvalidArgument,
        &["milestones[0].unit"],
    )
    .await;
    pol.milestones[0].unit = "judges trained".into();
    c.submit(&["GT"], "2026-01-20", Body::PledgeAnnounced(pol)).await.expect("policy pledge");
    let update = Body::MilestoneUpdated(pb::MilestoneUpdated {
        pledge_id: "P6".into(),
        milestone_id: "M1".into(),
        status: "partiallyMet".into(),
        date: "2026-09-30".into(),
        quantity_done: "90".into(),
        note: String::new(),
    });
    c.submit(&["GT"], "2026-09-30", update).await.expect("milestone");

    let rep = report(&mut c).await;
    let items = &rep.delivery.in_kind_items;
    assert_eq!(items.len(), 1, "{items:?}");
    let v = &items[0];
    assert_eq!((v.item_id.as_str(), v.unit.as_str()), ("vehicles", "vehicle"));
    assert_eq!((v.quantity_pledged.as_str(), v.value_pledged.as_str()), ("20", "500000"));
    assert_eq!((v.quantity_delivered.as_str(), v.value_delivered.as_str()), ("14", "350000"));
    assert_eq!((v.quantity_confirmed.as_str(), v.value_confirmed.as_str()), ("12", "300000"));
    assert_eq!((v.deliveries, v.confirmed), (3, 2));
    let m = &rep.delivery.milestones[0];
    assert_eq!((m.quantity_done.as_str(), m.quantity_target.as_str(), m.percent_done.as_str()), ("90", "120", "75.0"));
    assert_eq!(m.unit, "judges trained");

    let (md, html, csv) = formats(&mut c).await;
    assert!(md.contains("### In-kind items") && md.contains("| P5 | vehicles |"), "{md}");
    assert!(md.contains("| 90 | 120 | judges trained | 75.0% |"), "{md}");
    assert!(html.contains("id=\"in_kind_items\"") && html.contains("300,000.00"), "{html}");
    assert!(
        csv_file(&csv, "in_kind_items").contains("P5,vehicles,Patrol vehicles,vehicle,20,14,12,500000,350000,300000"),
        "{csv:?}"
    );
    assert!(csv_file(&csv, "milestones").contains(",90,120,judges trained,75.0"), "{csv:?}");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}
