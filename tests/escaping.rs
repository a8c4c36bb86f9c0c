//! Escaping by construction (issue 11, finding 3): hostile text in ids and free-text fields never becomes
//! markup in the HTML report or the public page, never breaks the IATI XML (still valid against the 2.03
//! schema), and never becomes a spreadsheet formula in the CSVs; the public page forbids script with a
//! Content-Security-Policy on every response.
mod common;

use std::process::Command;

use accord::pb::{self, statement::Body};
use accord::report::{render, CoFinancing, ConditionView, FlowRow, IndicatorProgress, Report};
use common::scenario::{self, Coalition};
use common::Founder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Script in an attribute, script in text, an entity start, a CDATA end, a comment end, quotes, and a
/// spreadsheet formula at the start.
const HOSTILE: &str = "=cmd|' /C calc'!A0 \"><svg/onload=alert(1)><script>alert(2)</script> & ]]> -- 'x'";
/// A hostile identifier: the attribute breakout of the finding, for renderer-level tests (the shape check
/// restricts identifiers, so a submission cannot carry one).
const HOSTILE_ID: &str = "\"><svg/onload=alert(1)>";

/// No markup from data: every `<svg` is one of our charts, and no `<script` at all.
fn assert_no_markup_from_data(html: &str, charts: usize) {
    assert!(!html.to_ascii_lowercase().contains("<script"), "script from data:\n{html}");
    assert!(!html.contains("<svg/onload"), "svg from data:\n{html}");
    assert_eq!(html.matches("<svg").count(), charts, "an <svg> that is not one of our charts:\n{html}");
}

/// The hostile text is shown, as text.
fn assert_shown_escaped(html: &str) {
    assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt; &amp;"), "the text is not shown, escaped:\n{html}");
    assert!(html.contains("&quot;&gt;&lt;svg/onload=alert(1)&gt;"), "the text is not shown, escaped:\n{html}");
}

/// No cell a spreadsheet would evaluate: a cell starting with `=`, `+`, `-`, `@`, tab or CR must be a plain
/// decimal number.
fn assert_no_formula(name: &str, text: &str) {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    for rec in r.records() {
        for cell in rec.unwrap().iter() {
            let numeric = cell.strip_prefix(['-', '+']).is_some_and(|d| {
                !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.') && d.matches('.').count() <= 1
            });
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || numeric,
                "{name}: cell {cell:?} would be evaluated as a formula"
            );
        }
    }
}

fn hostile_flow(key: &str) -> FlowRow {
    FlowRow {
        key: key.into(),
        name: HOSTILE.into(),
        currency: "USD".into(),
        pledged: "-1250.00".into(),
        committed: "100".into(),
        disbursed: "50".into(),
        ..Default::default()
    }
}

/// A report whose every id and free-text field the HTML shows is hostile.
fn hostile_report() -> Report {
    let mut rep = Report::default();
    rep.plan.plan_id = HOSTILE_ID.into();
    rep.plan.title = HOSTILE.into();
    rep.plan.period_start = HOSTILE.into();
    rep.plan.reporting_currency = HOSTILE_ID.into();
    rep.read_at.as_of_date = HOSTILE_ID.into();
    rep.read_at.checkpoint = HOSTILE.into();
    rep.funding.by_donor = vec![hostile_flow(HOSTILE_ID)];
    rep.funding.total_external = hostile_flow("total");
    rep.funding.by_goal = vec![hostile_flow(HOSTILE_ID)];
    rep.funding.by_recipient = vec![hostile_flow(HOSTILE_ID)];
    rep.funding.pledge_currency = vec![hostile_flow(HOSTILE_ID)];
    rep.tranches.conditions = vec![ConditionView {
        condition_id: HOSTILE_ID.into(),
        assessor: HOSTILE.into(),
        status: HOSTILE_ID.into(),
        uncommitted_at_stake: "10".into(),
        uncommitted_status: HOSTILE_ID.into(),
        currency: HOSTILE_ID.into(),
        ..Default::default()
    }];
    rep.co_financing = vec![CoFinancing {
        condition_id: HOSTILE_ID.into(),
        ratio: HOSTILE.into(),
        rows: vec![accord::report::CoFinancingRow {
            year: HOSTILE.into(),
            party: HOSTILE_ID.into(),
            result: HOSTILE_ID.into(),
            ..Default::default()
        }],
        ..Default::default()
    }];
    rep.indicators = vec![IndicatorProgress {
        indicator_id: HOSTILE_ID.into(),
        title: HOSTILE.into(),
        baseline: HOSTILE.into(),
        end_target: HOSTILE.into(),
        targets: vec![(HOSTILE_ID.into(), "1".into())],
        values: vec![accord::report::IndicatorValueView {
            period_end: HOSTILE_ID.into(),
            reported: HOSTILE.into(),
            verified: HOSTILE.into(),
            ..Default::default()
        }],
        ..Default::default()
    }];
    rep
}

#[test]
fn html_report_escapes_hostile_ids_and_text() {
    let html = render::html(&hostile_report(), accord::report::VERIFY_HELP);
    // Our charts: by donor, by goal, one co-financing rule, one indicator.
    assert_no_markup_from_data(&html, 4);
    assert_shown_escaped(&html);
    // The id attributes of the finding carry the id as text.
    assert!(html.contains("id=\"cofinancing-&quot;&gt;&lt;svg/onload=alert(1)&gt;\""), "{html}");
    assert!(html.contains("id=\"indicator-&quot;&gt;&lt;svg/onload=alert(1)&gt;\""), "{html}");
}

#[test]
fn csv_cells_are_neutralised_but_numbers_stay_numbers() {
    let files = render::csv_files(&hostile_report(), true);
    for f in &files {
        assert_no_formula(&f.name, &f.text);
    }
    let donors = &files.iter().find(|f| f.name == "funding_by_donor.csv").unwrap().text;
    let mut r = csv::Reader::from_reader(donors.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    // Under the header, the HXL row as it was; then the donor with its name neutralised and its negative
    // amount left a number.
    assert_eq!(&rows[0][0], "#org+code");
    assert_eq!(&rows[1][1], format!("'{HOSTILE}"));
    assert_eq!(&rows[1][3], "-1250.00");
}

/// One HTTP/1.1 GET over a real socket: (status line, lower-cased headers, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<(String, String)>, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn schema() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iati-2.03/iati-activities-schema.xsd")
}

/// End to end through real submissions: a member's hostile free text (party name, plan title and
/// description, goal title, condition text) on the public page, in the HTML report, the CSVs and the
/// IATI export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_free_text_end_to_end() {
    let mut c = Coalition::start().await;
    let mut ev = Founder::new("EV", &["funder"]);
    ev.name = HOSTILE.into();
    let party = ev.party();
    c.parties.insert("EV".into(), ev);
    c.submit(&["EV", "S"], "2026-01-06", Body::PartyAdmitted(pb::PartyAdmitted { party: Some(party) }))
        .await
        .expect("admission of a party with a hostile name");
    c.submit(
        &["S"],
        "2026-01-10",
        Body::PlanCreated(pb::PlanCreated {
            plan_id: scenario::PLAN.into(),
            title: HOSTILE.into(),
            period: scenario::period("2026-01-01", "2029-12-31"),
            reporting_currency: "USD".into(),
            signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
            report_schedule: Some(pb::ReportSchedule { frequency: "annual".into(), days_after_period_end: 60 }),
            requirement: None,
            description: HOSTILE.into(),
            ..Default::default()
        }),
    )
    .await
    .expect("plan with a hostile title");
    c.submit(&["S"], "2026-01-10", scenario::goal("G1", HOSTILE, &["15113"])).await.expect("goal");
    let p9 = scenario::pledge("P9", "EV", "1000000", "USD", &[("G1", "100")], "110", "external", "2029-12-31");
    c.submit(&["EV"], "2026-01-20", p9).await.expect("pledge");
    c.submit(&["EV"], "2026-01-20", scenario::condition("C9", "EV", HOSTILE, &["P9"], None)).await.expect("condition");

    // The public page over real HTTP: the text escaped, and script forbidden on every response.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(accord::server::web::serve(listener, c.server.ledger.clone(), std::future::pending()));
    let plan_page = format!("/plan/{}", scenario::PLAN);
    for (path, charts, shows_text) in [("/", 0, true), (plan_page.as_str(), 2, true), ("/pledge/P9", 0, false)] {
        let (status, headers, body) = get(addr, path).await;
        assert!(status.contains(" 200 "), "{path}: {status}\n{body}");
        assert_no_markup_from_data(&body, charts);
        if shows_text {
            assert_shown_escaped(&body);
        }
        let csp = header(&headers, "content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{path}: {csp}");
        assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"), "{path}");
    }
    let (status, headers, _) = get(addr, "/no/such/page").await;
    assert!(status.contains(" 404 "), "{status}");
    assert!(header(&headers, "content-security-policy").is_some_and(|v| v.contains("default-src 'none'")));

    // The HTML report (GetReport).
    let report =
        |format: &str| pb::GetReportRequest { plan_id: scenario::PLAN.into(), format: format.into(), hxl: true };
    let (resp, _) = c.client.report(report("html")).await.unwrap();
    let html = String::from_utf8(resp.files[0].content.clone()).unwrap();
    assert_no_markup_from_data(&html, 2);
    assert_shown_escaped(&html);

    // The CSVs: the donor's name is text in the spreadsheet, not a formula.
    let (resp, _) = c.client.report(report("csv")).await.unwrap();
    for f in &resp.files {
        assert_no_formula(&f.name, &String::from_utf8_lossy(&f.content));
    }
    let donors = resp.files.iter().find(|f| f.name == "funding_by_donor.csv").unwrap();
    assert!(String::from_utf8_lossy(&donors.content).contains(&format!("'{}", HOSTILE.replace('"', "\"\""))));

    // The IATI export: still valid against the 2.03 schema, and the text is all there.
    let (resp, _) = c.client.report(report("iati")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.xml");
    std::fs::write(&file, &resp.files[0].content).unwrap();
    let lint = Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(schema()).arg(&file).output();
    let lint = lint.expect("xmllint is required: run scripts/test.sh (it installs Debian's libxml2-utils)");
    let xml = String::from_utf8_lossy(&resp.files[0].content).into_owned();
    assert!(lint.status.success(), "the export does not validate:\n{}\n{xml}", String::from_utf8_lossy(&lint.stderr));
    assert!(!xml.contains("<svg") && !xml.contains("<script"), "{xml}");
    assert!(xml.contains("&lt;script&gt;alert(2)&lt;/script&gt; &amp; ]]&gt;"), "{xml}");
}
