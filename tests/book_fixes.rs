//! Regression tests for the book bugs of issue 13 (DOMAIN.md §7), each through a real server and a real
//! client: the overlap rule whatever `new_money` says, new money net of restatements, withdrawal of a
//! restating pledge, the IATI export of restated pledges, clean attestations, and DSSE JSON as the spec
//! reads it.
mod common;

use std::process::Command;

use accord::error::Kind;
use accord::pb::{self, statement::Body};
use accord::report::Report;
use base64::prelude::*;
use common::scenario::{self as sc, money, refused, Coalition};

const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// The plan and goals, and pledge P3 of BC (USD 300 m, new money, usage 2026–2029).
async fn setup() -> Coalition {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let p3 = sc::pledge("P3", "BC", "300000000", "USD", &[("G3", "100")], "421", "external", "2029-12-31");
    c.submit(&["BC"], "2026-01-20", p3).await.expect("P3");
    c
}

/// A second pledge of BC in the same plan and period, with `restates` [(pledge, amount)].
fn again(id: &str, amount: &str, restates: &[(&str, &str)], new_money: bool) -> Body {
    let Body::PledgeAnnounced(mut p) =
        sc::pledge(id, "BC", amount, "USD", &[("G3", "100")], "421", "external", "2029-12-31")
    else {
        unreachable!()
    };
    p.new_money = new_money;
    p.restates = restates
        .iter()
        .map(|(pid, a)| pb::Restatement { pledge_id: pid.to_string(), amount: money(a, "USD", "2026-01-20") })
        .collect();
    Body::PledgeAnnounced(p)
}

fn withdraw(kind: &str, id: &str) -> Body {
    Body::Withdrawn(pb::Withdrawn { subject_kind: kind.into(), subject_id: id.into(), rationale: "no longer".into() })
}

async fn report(c: &mut Coalition) -> Report {
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "json".into(), hxl: false };
    let (resp, _) = c.client.report(req).await.expect("report");
    Report::from_json(&resp.canonical_json).expect("report JSON")
}

async fn report_file(c: &mut Coalition, format: &str) -> String {
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: format.into(), hxl: false };
    let (resp, _) = c.client.report(req).await.expect("report");
    let f = resp.files.first().unwrap_or_else(|| panic!("no {format} file"));
    String::from_utf8(f.content.clone()).expect("UTF-8")
}

/// Bug 1: a re-announcement that claims `new_money` but declares no `restates` is refused like any other;
/// a restatement of 0 says explicitly that none of the other pledge is re-announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_rule_holds_whatever_new_money_says() {
    let mut c = setup().await;
    for new_money in [true, false] {
        refused(
            &mut c,
            &["BC"],
            "2026-06-01",
            again("P3b", "100000000", &[], new_money),
            Kind::FailedPrecondition,
            &["restates", "overlaps open pledge P3"],
        )
        .await;
    }
    c.submit(&["BC"], "2026-06-01", again("P3b", "100000000", &[("P3", "0")], true))
        .await
        .expect("a restatement of 0: all of P3b is additional");
    let p3 = c.client.subject("pledge", "P3", false).await.unwrap().item.unwrap();
    assert_eq!(p3.status, "announced");
    let rep = report(&mut c).await;
    assert_eq!((rep.new_money.pledged.as_str(), rep.new_money.new_money.as_str()), ("400000000", "400000000"));
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// Bug 2: new money subtracts what a pledge restates. P3 (300 m) and P3b (100 m restating 20 m of P3):
/// P = 280 + 100 = 380 m; P_new = 280 + (100 − 20) = 360 m.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_money_is_net_of_restated_amounts() {
    let mut c = setup().await;
    c.submit(&["BC"], "2026-06-01", again("P3b", "100000000", &[("P3", "20000000")], true)).await.expect("P3b");
    let rep = report(&mut c).await;
    assert_eq!(rep.new_money.pledged, "380000000");
    assert_eq!(rep.new_money.new_money, "360000000");
    assert_eq!(rep.new_money.share, "94.7");
    let r = &rep.new_money.restatements;
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].pledge_id.as_str(), r[0].restates.as_str(), r[0].amount.as_str()), ("P3b", "P3", "20000000"));
    assert_eq!(r[0].status, "effective");
    // Per pledge and per pledger (DOMAIN.md §7), each restatement linked to its original.
    let by: Vec<(&str, &str, &str, &str)> = rep
        .new_money
        .by_pledge
        .iter()
        .map(|p| (p.pledge_id.as_str(), p.pledged.as_str(), p.restated.as_str(), p.new_money.as_str()))
        .collect();
    assert_eq!(by, [("P3", "280000000", "0", "280000000"), ("P3b", "100000000", "20000000", "80000000")]);
    assert_eq!(rep.new_money.by_pledge[1].restates, ["P3"]);
    let bc = &rep.new_money.by_pledger[0];
    assert_eq!((bc.pledger.as_str(), bc.pledged.as_str(), bc.new_money.as_str()), ("BC", "380000000", "360000000"));
    let md = report_file(&mut c, "markdown").await;
    assert!(md.contains("| P3b | BC | yes | 100,000,000.00 | P3 | 20,000,000.00 | 80,000,000.00 |"), "{md}");
    let html = report_file(&mut c, "html").await;
    assert!(html.contains("new-money-by-pledge") && html.contains("80,000,000.00"), "{html}");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// Bug 3: withdrawing a restating pledge releases what it restated: total pledged goes back up, the
/// original is active again, the restatement stays listed as withdrawn, and the replay agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_a_restating_pledge_releases_its_restatements() {
    let mut c = setup().await;
    c.submit(&["BC"], "2026-06-01", again("P3b", "300000000", &[("P3", "300000000")], true)).await.expect("P3b");
    let p3 = c.client.subject("pledge", "P3", false).await.unwrap().item.unwrap();
    assert_eq!(p3.status, "superseded");
    assert_eq!(report(&mut c).await.funding.total_external.pledged, "300000000");

    c.submit(&["BC"], "2026-08-01", withdraw("pledge", "P3b")).await.expect("withdrawal");
    let p3 = c.client.subject("pledge", "P3", false).await.unwrap().item.unwrap();
    assert_eq!(p3.status, "announced");
    let f = p3.figures.unwrap();
    assert!(f.restated_by.is_empty(), "{:?}", f.restated_by);
    let rep = report(&mut c).await;
    assert_eq!(rep.funding.total_external.pledged, "300000000");
    assert_eq!((rep.new_money.pledged.as_str(), rep.new_money.new_money.as_str()), ("300000000", "300000000"));
    let r = &rep.new_money.restatements;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].pledge_id.as_str(), r[0].restates.as_str(), r[0].status.as_str()), ("P3b", "P3", "withdrawn"));
    let md = report_file(&mut c, "markdown").await;
    assert!(md.contains("P3b restates 300,000,000.00 USD of P3 (withdrawn"), "{md}");
    // P3 is open again: a new overlapping pledge must restate it.
    refused(
        &mut c,
        &["BC"],
        "2026-09-01",
        again("P3c", "10000000", &[], true),
        Kind::FailedPrecondition,
        &["overlaps open pledge P3"],
    )
    .await;
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
    // Rebuild: drop the projections, replay the log; every answer and the report identical.
    let before = sc::all_answers(&mut c.client).await;
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "json".into(), hxl: false };
    let json_before = c.client.report(req.clone()).await.expect("report").0.canonical_json;
    let (dir, tmp) = c.server.stop().await;
    accord::ledger::rebuild(&dir, |_, _| {}).expect("rebuild");
    let server = common::TestServer::start_with(dir, Some(sc::CLOCK_START_MS)).await;
    let mut client = server.client().await;
    assert!(before == sc::all_answers(&mut client).await, "answers differ after rebuild");
    let (resp, _) = client.report(req).await.expect("report after rebuild");
    assert_eq!(resp.canonical_json, json_before);
    drop(tmp);
}

/// Bug 4: the IATI export counts restated money once: a superseded pledge is not exported, a partly
/// restated one is exported net of what was restated, and the file still validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iati_export_does_not_double_count_restated_pledges() {
    let mut c = setup().await;
    c.submit(&["BC"], "2026-06-01", again("P3b", "300000000", &[("P3", "300000000")], true)).await.expect("P3b");
    let p1 = sc::pledge("P1", "DA", "120000000", "EUR", &[("G1", "100")], "110", "external", "2029-12-31");
    c.submit(&["DA"], "2026-01-20", p1).await.expect("P1");
    let p1b = Body::PledgeAnnounced(pb::PledgeAnnounced {
        pledge_id: "P1b".into(),
        pledger_id: "DA".into(),
        restates: vec![pb::Restatement { pledge_id: "P1".into(), amount: money("20000000", "EUR", "2026-01-20") }],
        ..match sc::pledge("P1b", "DA", "50000000", "EUR", &[("G1", "100")], "110", "external", "2029-12-31") {
            Body::PledgeAnnounced(p) => p,
            _ => unreachable!(),
        }
    });
    c.submit(&["DA"], "2026-06-01", p1b).await.expect("P1b");

    let xml = report_file(&mut c, "iati").await;
    let pledge_value = |id: &str| -> Option<String> {
        let start = xml.find(&format!("<transaction ref=\"{id}\">"))?;
        let t = &xml[start..];
        let t = &t[..t.find("</transaction>")?];
        assert!(t.contains("<transaction-type code=\"12\"/>"), "{t}");
        let v = &t[t.find("<value ")?..];
        Some(v[v.find('>')? + 1..v.find("</value>")?].to_string())
    };
    assert_eq!(pledge_value("P3"), None, "a superseded pledge is not exported:\n{xml}");
    assert_eq!(pledge_value("P3b").as_deref(), Some("300000000"));
    assert_eq!(pledge_value("P1").as_deref(), Some("100000000"), "P1 net of the 20 m P1b restates");
    assert_eq!(pledge_value("P1b").as_deref(), Some("50000000"));
    assert!(xml.contains("restates 20000000 EUR of pledge P1"), "{xml}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.xml");
    std::fs::write(&file, &xml).unwrap();
    let schema =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iati-2.03/iati-activities-schema.xsd");
    let lint = Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(schema).arg(&file).output();
    let lint = lint.expect("xmllint is required: run scripts/test.sh (it installs Debian's libxml2-utils)");
    assert!(lint.status.success(), "the export does not validate:\n{}", String::from_utf8_lossy(&lint.stderr));
}

/// Bug 5: a clean `verified` attestation verifies the values as reported; the opinion is shown beside
/// each value (JSON, Markdown, HTML, CSV); an adjustment still replaces the value it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_attestation_fills_the_verified_value() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let ind = |id: &str| {
        Body::IndicatorDefined(pb::IndicatorDefined {
            indicator_id: id.into(),
            goal_id: "G1".into(),
            title: format!("indicator {id}"),
            measure: 1,
            ascending: true,
            unit: "cases".into(),
            baseline: Some(pb::Baseline { value: "100".into(), year: 2025 }),
            targets: vec![pb::IndicatorTarget { period: sc::period("2026-01-01", "2029-12-31"), value: "300".into() }],
        })
    };
    c.submit(&["S"], "2026-01-10", ind("I-A")).await.unwrap();
    c.submit(&["S"], "2026-01-10", ind("I-B")).await.unwrap();
    let report_body = |id: &str, who: &str| {
        Body::ProgressReported(pb::ProgressReported {
            report_id: id.into(),
            reporter_id: who.into(),
            plan_id: sc::PLAN.into(),
            period: sc::period("2026-01-01", "2026-12-31"),
            indicator_values: vec![
                pb::IndicatorValue { indicator_id: "I-A".into(), value: "160".into() },
                pb::IndicatorValue { indicator_id: "I-B".into(), value: "120".into() },
            ],
            co_financing_realised: None,
            narrative_sha256: vec![],
        })
    };
    let gt = c.submit(&["GT"], "2027-01-20", report_body("R-GT", "GT")).await.unwrap();
    c.submit(&["HN"], "2027-01-20", report_body("R-HN", "HN")).await.unwrap();
    let covered = vec![c.identity(gt).await];
    let att = Body::AttestationIssued(pb::AttestationIssued {
        attestation_id: "A1".into(),
        auditor_id: "Y".into(),
        scope: "GT 2026".into(),
        covered_entries: covered,
        opinion: "verified".into(),
        adjustments: vec![],
    });
    c.submit(&["Y"], "2027-01-25", att).await.unwrap();

    let rep = report(&mut c).await;
    let value = |ind: &str, report: &str| {
        let i = rep.indicators.iter().find(|i| i.indicator_id == ind).unwrap();
        i.values.iter().find(|v| v.report_id == report).unwrap().clone()
    };
    let a = value("I-A", "R-GT");
    assert_eq!((a.reported.as_str(), a.verified.as_str(), a.used.as_str()), ("160", "160", "160"));
    assert_eq!(a.opinion, "verified");
    assert_eq!((value("I-B", "R-GT").verified.as_str(), value("I-B", "R-GT").opinion.as_str()), ("120", "verified"));
    // An unattested report has no verified value and no opinion.
    let h = value("I-A", "R-HN");
    assert_eq!((h.reported.as_str(), h.verified.as_str(), h.opinion.as_str()), ("160", "", ""));
    let md = report_file(&mut c, "markdown").await;
    assert!(md.contains("| 160 | 160 | verified |"), "{md}");
    let html = report_file(&mut c, "html").await;
    assert!(html.contains("<th>opinion</th>") || html.contains(">opinion<"), "{html}");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// Bug 7: DSSE JSON is read as the spec allows (URL-safe base64, padded or not; unknown fields ignored),
/// and the server accepts the envelope so read; the JSON written stays standard base64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsse_json_in_url_safe_base64_with_unknown_fields_is_accepted() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let p3 = sc::pledge("P3", "BC", "300000000", "USD", &[("G3", "100")], "421", "external", "2029-12-31");
    let env = c.seal(&["BC"], "2026-01-20", p3);
    let written = accord::json::envelope_to_json(&env);
    let v: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(v["payload"].as_str().unwrap(), BASE64_STANDARD.encode(&env.payload), "written in standard base64");
    let json = serde_json::json!({
        "payloadType": env.payload_type,
        "payload": BASE64_URL_SAFE_NO_PAD.encode(&env.payload),
        "signatures": [{
            "keyid": env.signatures[0].keyid,
            "sig": BASE64_URL_SAFE.encode(&env.signatures[0].sig),
            "comment": "ignored, as DSSE readers do",
        }],
        "x-tool": {"name": "securesystemslib"},
    })
    .to_string();
    let read = accord::json::envelope_from_json(&json).expect("DSSE JSON as the spec allows");
    assert_eq!(read, env);
    // Through the CLI as well: `accord submit` reads the file and the server accepts it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p3.dsse.json");
    std::fs::write(&file, &json).unwrap();
    let out = Command::new(BIN)
        .args(["submit", "--server", &c.server.url, "--log-key", &c.server.verifier_key])
        .arg(&file)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let p3 = c.client.subject("pledge", "P3", false).await.unwrap().item.unwrap();
    assert_eq!(p3.status, "announced");
    // `accord sign` adds a signature to such a file and writes it back in standard base64.
    let st = Command::new(BIN).args(["key", "generate", "--name", "XM-X", "--out"]).arg(dir.path().join("k")).output();
    assert!(st.unwrap().status.success());
    let out = Command::new(BIN).arg("sign").arg("--key").arg(dir.path().join("k.key")).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["payload"].as_str().unwrap(), BASE64_STANDARD.encode(&env.payload));
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2);
    let original = BASE64_STANDARD.encode(&env.signatures[0].sig);
    assert!(sigs.iter().any(|x| x["sig"].as_str() == Some(original.as_str())), "{sigs:?}");
}

/// Bug 6 (part): internal flows are listed with their total in every format (JSON, CSV, Markdown, HTML),
/// and never added to F.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_flows_are_listed_with_their_total_in_every_format() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let p4 = sc::pledge("P4", "GT", "1000000", "USD", &[("G1", "100")], "", "domestic_own_resources", "2029-12-31");
    c.submit(&["GT"], "2026-01-20", p4).await.expect("P4");
    let k = sc::commitment("K4", "GT", "HN", "P4", "500000", "USD", "2026-03-01", "110", &[]);
    c.submit(&["GT", "HN"], "2026-03-01", k).await.expect("K4");
    let Body::TransactionRecorded(mut t) =
        sc::disbursement("T-INT", "K4", "", "GT", "HN", "200000", "USD", "2026-04-01")
    else {
        unreachable!()
    };
    t.boundary = "internal".into();
    c.submit(&["GT"], "2026-04-01", Body::TransactionRecorded(t)).await.expect("internal flow");

    let rep = report(&mut c).await;
    assert_eq!(rep.coverage.internal_flows.len(), 1);
    assert_eq!(rep.coverage.internal_flows[0].txn_id, "T-INT");
    assert_eq!(rep.coverage.internal_total, "200000");
    assert_eq!(rep.coverage.funded, "0", "internal flows are never added to F");
    let md = report_file(&mut c, "markdown").await;
    assert!(md.contains("| T-INT |") && md.contains("| Total internal |"), "{md}");
    assert!(md.contains("200,000.00"), "{md}");
    let html = report_file(&mut c, "html").await;
    assert!(html.contains("T-INT") && html.contains("Total internal") && html.contains("200,000.00"), "{html}");
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "csv".into(), hxl: false };
    let (resp, _) = c.client.report(req).await.expect("csv");
    let f = resp.files.iter().find(|f| f.name.ends_with("internal_flows.csv")).expect("internal_flows.csv");
    let text = String::from_utf8(f.content.clone()).unwrap();
    assert!(text.contains("T-INT") && text.contains("total_internal") && text.contains("200000"), "{text}");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// Bug 6 (part): the HTML report shows every view the Markdown report shows (new money, usage years,
/// in-kind and policy delivery, timeliness, amendments and corrections); the usage years have a total
/// row; an amended pledge shows the reason and the old and new amounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_has_every_view_usage_years_total_and_amendment_amounts() {
    let mut c = setup().await;
    let k = sc::commitment("K1", "BC", "GT", "P3", "100000000", "USD", "2026-03-01", "421", &[]);
    c.submit(&["BC", "GT"], "2026-03-01", k).await.expect("K1");
    let Body::PledgeAnnounced(p) =
        sc::pledge("P3", "BC", "250000000", "USD", &[("G3", "100")], "421", "external", "2029-12-31")
    else {
        unreachable!()
    };
    let amend = Body::Amended(pb::Amended {
        subject_id: "P3".into(),
        rationale: "board cut the envelope".into(),
        version: Some(pb::amended::Version::Pledge(p)),
    });
    c.submit(&["BC"], "2026-05-01", amend).await.expect("amendment");

    let rep = report(&mut c).await;
    assert_eq!(rep.usage_years_total, "100000000");
    let a = rep.amendments.iter().find(|a| a.id == "P3").expect("P3 in the amendment log");
    let x = &a.corrections[0];
    assert_eq!(
        (x.rationale.as_str(), x.old_amount.as_str(), x.new_amount.as_str()),
        ("board cut the envelope", "300000000", "250000000")
    );
    let md = report_file(&mut c, "markdown").await;
    let html = report_file(&mut c, "html").await;
    for view in ["New money", "Usage years", "In-kind and policy delivery", "Timeliness", "Amendments and corrections"]
    {
        assert!(md.contains(&format!("## {view}")), "markdown lacks {view}");
        assert!(html.contains(&format!("<h2>{view}</h2>")), "HTML lacks {view}:\n{html}");
    }
    for text in [&md, &html] {
        assert!(text.contains("board cut the envelope"), "{text}");
        assert!(text.contains("300,000,000.00 → 250,000,000.00 USD"), "{text}");
        assert!(text.contains("Total") && text.contains("100,000,000.00"), "{text}");
    }
    assert!(md.contains("| Total | 100,000,000.00 |"), "{md}");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// Bug 5 (co-financing): each co-financing row shows the opinion of the attestations covering the
/// realised amounts (scenario A: GT's and HN's reports attested `verified`, SV's not); figures unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_financing_rows_show_the_opinion() {
    let mut c = Coalition::start().await;
    sc::run(&mut c).await;
    let rep = report(&mut c).await;
    let rows: Vec<(&str, &str, bool, &str)> = rep.co_financing[0]
        .rows
        .iter()
        .map(|r| (r.party.as_str(), r.realised.as_str(), r.verified, r.opinion.as_str()))
        .filter(|r| !r.1.is_empty() && r.1 != "0")
        .collect();
    assert!(rows.iter().any(|r| r.0 == "GT" && r.2 && r.3 == "verified"), "{rows:?}");
    assert!(rows.iter().any(|r| r.0 == "SV" && !r.2 && r.3.is_empty()), "{rows:?}");
    let md = report_file(&mut c, "markdown").await;
    assert!(md.contains("| met | verified |") || md.contains("| not_met | verified |"), "{md}");
}

/// Bug 3 (amendment): amending a restating pledge changes what it restates: the old restatement is
/// released and the new one applied, with the same rules (never over-restated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amending_a_restating_pledge_changes_its_restatements() {
    let mut c = setup().await;
    c.submit(&["BC"], "2026-06-01", again("P3b", "100000000", &[("P3", "20000000")], true)).await.expect("P3b");
    let amend = |restated: &str| {
        let Body::PledgeAnnounced(p) = again("P3b", "100000000", &[("P3", restated)], true) else { unreachable!() };
        Body::Amended(pb::Amended {
            subject_id: "P3b".into(),
            rationale: "more of P3 was re-announced".into(),
            version: Some(pb::amended::Version::Pledge(p)),
        })
    };
    refused(
        &mut c,
        &["BC"],
        "2026-07-01",
        amend("300000001"),
        Kind::FailedPrecondition,
        &["restate more than pledge P3"],
    )
    .await;
    c.submit(&["BC"], "2026-07-01", amend("50000000")).await.expect("amendment");
    let p3 = c.client.subject("pledge", "P3", false).await.unwrap().item.unwrap();
    let f = p3.figures.unwrap();
    assert_eq!((f.restated.as_str(), f.restated_by.as_slice()), ("50000000", &["P3b".to_string()][..]));
    let rep = report(&mut c).await;
    // P = (300 − 50) + 100 = 350 m; P_new = 250 + (100 − 50) = 300 m.
    assert_eq!((rep.new_money.pledged.as_str(), rep.new_money.new_money.as_str()), ("350000000", "300000000"));
    assert_eq!(rep.new_money.restatements[0].amount, "50000000");
    sc::report_verify(&c.server.url, &c.server.verifier_key, sc::PLAN, "");
}

/// A tranche gated by two conditions is one amount at stake: the tranche totals count it once, under its
/// gate's status (released when every condition is met, withheld when one is not), however many conditions
/// list it. A withdrawn condition no longer gates, so what it still had at stake outside tranches is
/// released, as `tranche_gate` treats it, never withheld.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tranche_gated_by_two_conditions_is_counted_once_in_the_totals() {
    let mut c = setup().await;
    for id in ["CA", "CB"] {
        let body = sc::condition(id, "BC", "A reform", &["P3"], None);
        c.submit(&["BC"], "2026-01-25", body).await.expect("condition");
    }
    let stake = money("5000000", "USD", "2026-01-25");
    c.submit(&["BC"], "2026-01-25", sc::condition("CW", "BC", "Withdrawn later", &["P3"], stake)).await.expect("CW");
    let tranches: &[(&str, &str, &[&str])] = &[("T-U", "40000000", &[]), ("T-AB", "20000000", &["CA", "CB"])];
    let body = sc::commitment("BC-GT", "BC", "GT", "P3", "60000000", "USD", "2026-02-01", "421", tranches);
    c.submit(&["BC", "GT"], "2026-02-01", body).await.expect("commitment");
    c.submit(&["X"], "2026-03-01", sc::assessed("CA", "T-AB", "met", "2026-03-01")).await.expect("CA met");
    c.submit(&["BC"], "2026-03-02", withdraw("condition", "CW")).await.expect("CW withdrawn");

    let totals = |rep: &Report| -> Vec<(String, String, String)> {
        rep.tranches.totals.iter().map(|t| (t.status.clone(), t.currency.clone(), t.amount.clone())).collect()
    };
    let row = |s: &str, a: &str| (s.to_string(), "USD".to_string(), a.to_string());
    // CB not yet assessed: the tranche is pending, once (not 40 m); CW's stake is released.
    let rep = report(&mut c).await;
    assert_eq!(totals(&rep), vec![row("pending", "20000000"), row("released", "5000000")]);
    let cw = rep.tranches.conditions.iter().find(|x| x.condition_id == "CW").expect("CW listed");
    assert_eq!((cw.uncommitted_at_stake.as_str(), cw.uncommitted_status.as_str()), ("5000000", "released"));

    c.submit(&["X"], "2026-03-10", sc::assessed("CB", "T-AB", "met", "2026-03-10")).await.expect("CB met");
    let rep = report(&mut c).await;
    assert_eq!(totals(&rep), vec![row("released", "25000000")]);
}

/// Issue 14: a subject's body is stored once, as the one-byte marker of "the compiled body of the entry of
/// its version", and stays so when later entries change only its tally (commitments and disbursements
/// against a pledge, disbursements against a commitment and its tranches). Before, every tally change
/// wrote the whole body again, a second copy that spilled into overflow pages on every disbursement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tally_changes_keep_the_stored_body_a_marker() {
    let mut c = Coalition::start().await;
    let _ = sc::run(&mut c).await;
    let db = c.server.dir.join(accord::ledger::PROJECTIONS_FILE);
    let conn = rusqlite::Connection::open(db).expect("db");
    let updated: i64 =
        conn.query_row("SELECT count(*) FROM subjects WHERE updated_at > version_at", [], |r| r.get(0)).expect("count");
    assert!(updated > 5, "the scenario changes tallies after creation ({updated} subjects)");
    let copies: Vec<(String, String)> = conn
        .prepare("SELECT kind, id FROM subjects WHERE body != x'00' AND length(body) > 0")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(copies.is_empty(), "subjects storing a second copy of their body: {copies:?}");
}

/// Issue 14 (the projector): the subject projections live in a file of their own, derived from the log
/// and written after the log's COMMIT. At open the ledger brings the file back to the log, and every
/// answer and the report are then what they were: a file behind the log (a crash between the log's
/// COMMIT and the projector's; here the file of an earlier stop put back, with governance entries and
/// subjects before its position), no file at all, a database from before the projector (its own
/// `subjects` table is dropped), and a file that covers another tree or more entries than the log (a
/// restored older database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_behind_missing_or_foreign_are_replayed_from_the_log() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let (dir, tmp) = c.server.stop().await;
    let projections = dir.join(accord::ledger::PROJECTIONS_FILE);
    let early = dir.join("projections.early");
    std::fs::copy(&projections, &early).expect("copy the early projections");
    let position = |p: &std::path::Path| -> (u64, Vec<u8>) {
        let conn = rusqlite::Connection::open(p).expect("projections");
        conn.query_row("SELECT size, root FROM position", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("position")
    };
    let (early_size, _) = position(&early);
    assert!(early_size > 10, "the early file covers the charter, admissions, plan and goals ({early_size})");
    c.server = common::TestServer::start_with(dir, Some(sc::CLOCK_START_MS)).await;
    c.client = c.server.client().await;
    let _ = sc::run_after_plan(&mut c).await;
    let before = sc::all_answers(&mut c.client).await;
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "json".into(), hxl: false };
    let json_before = c.client.report(req.clone()).await.expect("report").0.canonical_json;
    let size = c.client.checkpoint(None).await.expect("checkpoint").size;
    assert!(size > early_size + 20, "the scenario adds entries ({early_size} → {size})");

    let replace = |dir: &std::path::Path, with: Option<&std::path::Path>| {
        for f in ["projections.db", "projections.db-wal", "projections.db-shm"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        if let Some(from) = with {
            std::fs::copy(from, dir.join(accord::ledger::PROJECTIONS_FILE)).expect("put the file back");
        }
    };
    let edit = |p: &std::path::Path, sql: &str| {
        rusqlite::Connection::open(p).expect("open").execute_batch(sql).expect(sql);
    };
    type Case<'a> = (&'a str, Box<dyn Fn(&std::path::Path) + 'a>);
    let cases: Vec<Case> = vec![
        ("behind the log", Box::new(|d| replace(d, Some(&early)))),
        ("missing", Box::new(|d| replace(d, None))),
        (
            "a database from before the projector",
            Box::new(|d| {
                replace(d, None);
                edit(
                    &d.join(accord::ledger::DB_FILE),
                    "CREATE TABLE subjects (kind TEXT); CREATE TABLE history (kind TEXT);",
                );
            }),
        ),
        (
            "another tree",
            Box::new(|d| edit(&d.join(accord::ledger::PROJECTIONS_FILE), "UPDATE position SET root = zeroblob(32)")),
        ),
        (
            "more entries than the log",
            Box::new(|d| edit(&d.join(accord::ledger::PROJECTIONS_FILE), "UPDATE position SET size = size + 1000")),
        ),
    ];
    let mut server = c.server;
    for (case, damage) in cases {
        let (dir, _) = server.stop().await;
        damage(&dir);
        server = common::TestServer::start_with(dir.clone(), Some(sc::CLOCK_START_MS)).await;
        let mut client = server.client().await;
        assert!(before == sc::all_answers(&mut client).await, "answers differ with projections {case}");
        let (resp, _) = client.report(req.clone()).await.expect("report");
        assert_eq!(resp.canonical_json, json_before, "report with projections {case}");
        assert_eq!(resp.read_at.expect("read_at").tree_size, size, "{case}");
        assert_eq!(position(&dir.join(accord::ledger::PROJECTIONS_FILE)).0, size, "{case}");
        let old_tables = rusqlite::Connection::open(dir.join(accord::ledger::DB_FILE))
            .expect("db")
            .query_row("SELECT count(*) FROM sqlite_master WHERE name IN ('subjects', 'history')", [], |r| {
                r.get::<_, i64>(0)
            })
            .expect("tables");
        assert_eq!(old_tables, 0, "the ledger's database holds no subject projections ({case})");
    }
    drop(server);
    drop(tmp);
}
