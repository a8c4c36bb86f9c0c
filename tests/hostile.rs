//! One member or one stranger against the shared record (issue 11): each input below once panicked the
//! sequencer, broke every report of a plan, or reached a renderer or terminal raw. Now each is refused at
//! the shape check with INVALID_ARGUMENT naming the field and the rule, or (a missing rate) is reported
//! without breaking anything; the log never grows from a refusal and the server keeps serving.
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use accord::error::{Kind, Result};
use accord::pb::{self, statement::Body};
use accord::report::Report;
use common::scenario::{self as sc, money, period, Coalition};

async fn refused(c: &mut Coalition, signers: &[&str], body: Body, field: &str, part: &str) {
    let before = c.client.checkpoint(None).await.expect("checkpoint").size;
    let res: Result<u64> = c.submit(signers, "2026-05-01", body).await;
    let e = res.expect_err("must be refused");
    assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
    let field = common::json_names(field);
    assert!(e.message.contains(&field), "field {field:?} not named: {e}");
    assert!(e.message.contains(part), "{part:?} not in: {e}");
    assert_eq!(c.client.checkpoint(None).await.expect("checkpoint").size, before, "a refusal wrote something");
}

fn delivery(id: &str, pledge: &str, value: &str) -> Body {
    Body::InkindDelivered(pb::InkindDelivered {
        delivery_id: id.into(),
        pledge_id: pledge.into(),
        date: "2026-05-01".into(),
        item_id: String::new(),
        quantity: String::new(),
        value: money(value, "USD", "2026-05-01"),
        receiver_id: "HN".into(),
    })
}

/// Two deliveries whose values added past Decimal::MAX panicked the writer thread for good. Amounts are
/// now bounded at the shape check, sums are checked, and the sequencer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_amounts_are_refused_and_the_sequencer_never_dies() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    c.submit(&["DB"], "2026-01-20", sc::inkind_pledge("K1", "1000000000000000"))
        .await
        .expect("the largest amount is accepted");
    let max = "79228162514264337593543950335";
    refused(&mut c, &["DB", "HN"], delivery("D1", "K1", max), "inkind_delivered.value.value", "out of range").await;
    refused(&mut c, &["DB"], sc::inkind_pledge("K2", "1000000000000000.01"), "pledge_announced.amount.value", "10^15")
        .await;
    refused(&mut c, &["DB"], sc::inkind_pledge("K3", "1.23456"), "pledge_announced.amount.value", "decimal places")
        .await;
    // Deliveries beyond the pledge add up exactly, without overflow, many times over.
    for i in 0..3 {
        c.submit(&["DB", "HN"], "2026-05-01", delivery(&format!("D{i}"), "K1", "1000000000000000"))
            .await
            .expect("delivery");
    }
    let k1 = c.client.subject("pledge", "K1", false).await.expect("K1").item.expect("item");
    assert_eq!(k1.figures.expect("figures").delivered, "3000000000000000");
    // The writer still works.
    c.submit(&["DB"], "2026-05-02", sc::inkind_pledge("K4", "10")).await.expect("the sequencer is alive");
}

/// Identifiers from a documented character set; no control or bidi characters in text; valid timestamps
/// and dates inside 1900–2200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_text_timestamps_and_dates_are_checked_at_the_shape() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    for (id, part) in [
        ("\"><svg/onload=alert(1)>", "must start with a letter or a digit"),
        ("P<svg/onload=alert(1)>", "not allowed in an identifier"),
        ("P 1", "not allowed"),
        ("P/1", "not allowed"),
        ("-P1", "must start with a letter or a digit"),
        ("=cmd", "must start with a letter or a digit"),
    ] {
        refused(&mut c, &["DB"], sc::inkind_pledge(id, "10"), "pledge_announced.pledge_id", part).await;
    }
    for text in ["bell\u{7}", "esc\u{1b}[31m", "rtl\u{202e}gnp.exe", "del\u{7f}"] {
        let Body::PledgeAnnounced(mut p) = sc::inkind_pledge("K9", "10") else { unreachable!() };
        p.description = text.into();
        refused(&mut c, &["DB"], Body::PledgeAnnounced(p), "pledge_announced.description", "control character").await;
    }
    // Newlines and tabs are fine in text.
    let Body::PledgeAnnounced(mut p) = sc::inkind_pledge("K9", "10") else { unreachable!() };
    p.description = "line one\n\tline two".into();
    c.submit(&["DB"], "2026-05-01", Body::PledgeAnnounced(p)).await.expect("newline and tab are text");
    // Timestamps: nanos out of range, year 0.
    for (ts, field) in [
        (prost_types::Timestamp { seconds: 1_780_000_000, nanos: 2_000_000_000 }, "issued_at.nanos"),
        (prost_types::Timestamp { seconds: -62_135_596_800, nanos: 0 }, "issued_at.seconds"),
    ] {
        let mut st = c.statement("2026-05-01", sc::inkind_pledge("K10", "10"));
        st.issued_at = Some(ts);
        let keys = [&c.parties["DB"].key];
        let e = c.client.submit(accord::crypto::seal(&st, &keys)).await.expect_err("bad timestamp");
        assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
        assert!(e.message.contains(&common::json_names(field)), "{e}");
    }
    for day in ["0000-01-01", "9999-12-31", "1899-12-31"] {
        let Body::PledgeAnnounced(mut p) = sc::inkind_pledge("K11", "10") else { unreachable!() };
        p.usage_period = period("2026-01-01", day);
        refused(&mut c, &["DB"], Body::PledgeAnnounced(p), "pledge_announced.usage_period.end", "YYYY-MM-DD").await;
    }
}

/// A flow in a currency with no recorded rate for its value date made every report of the plan fail.
/// Now it is listed as unconverted, left out of converted totals with a warning naming every missing
/// rate, and the pledge-currency view still counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_rate_never_breaks_a_report() {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let p = sc::pledge("PCHF", "DB", "1000000", "CHF", &[("G2", "100")], "110", "external", "2027-12-31");
    c.submit(&["DB"], "2026-01-20", p).await.expect("a CHF pledge");
    // Another pledger: a second open pledge of DB in the same period would have to restate PCHF (§7).
    let p = sc::pledge("PJPY", "BC", "5000000", "JPY", &[("G2", "100")], "110", "external", "2027-12-31");
    c.submit(&["BC"], "2026-01-20", p).await.expect("a JPY pledge");
    let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: "json".into(), hxl: false };
    let (resp, _) = c.client.report(req).await.expect("the report is computed");
    let rep = Report::from_json(&resp.canonical_json).expect("report JSON");
    assert_eq!(rep.unconverted.len(), 2, "{:?}", rep.unconverted);
    let warning = rep.conversion_warning().expect("a visible warning");
    assert!(warning.contains("CHF→USD on 2026-01-20") && warning.contains("JPY→USD on 2026-01-20"), "{warning}");
    assert_eq!(rep.funding.total_external.pledged, "0", "unconverted amounts are left out of converted totals");
    for format in ["markdown", "html", "csv", "iati"] {
        let req = pb::GetReportRequest { plan_id: sc::PLAN.into(), format: format.into(), hxl: false };
        let (resp, _) = c.client.report(req).await.unwrap_or_else(|e| panic!("{format}: {e}"));
        if format != "iati" {
            let text: String = resp
                .files
                .iter()
                .map(|f| String::from_utf8_lossy(&f.content).into_owned())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(text.contains("JPY") && text.contains("CHF"), "{format} lists the unconverted amounts");
        }
    }
}

/// `accord sign` refuses a statement JSON that gives a key twice (which of the two would be signed is
/// parser-dependent).
#[test]
fn duplicate_json_keys_are_refused_by_sign() {
    let tmp = tempfile::tempdir().expect("tmp");
    let key = tmp.path().join("k");
    let st = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["key", "generate", "--name", "XM-X", "--out"])
        .arg(&key)
        .output()
        .expect("key");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let json = r#"{ "ledger": "a.example/l", "statementId": "s1", "statementId": "s2", "issuedAt": "2026-01-01T00:00:00Z",
        "effectiveDate": "2026-01-01", "planCreated": { "planId": "P", "title": "t", "reportingCurrency": "USD",
        "period": { "start": "2026-01-01", "end": "2026-12-31" } } }"#;
    let file = tmp.path().join("st.json");
    std::fs::write(&file, json).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("sign")
        .arg("--key")
        .arg(tmp.path().join("k.key"))
        .arg(&file)
        .arg("-o")
        .arg(tmp.path().join("env.json"))
        .stdin(Stdio::null())
        .output()
        .expect("sign");
    assert!(!out.status.success(), "duplicate keys must be refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("statementId") && err.contains("twice"), "{err}");
    let _ = std::io::stderr().flush();
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// A bounded flood of bad inputs (garbage, wrong payload types, forged signatures, bad ids, hostile text)
/// from a stranger and a member leaves the tree size, health and memory where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_inputs_changes_nothing() {
    use accord::crypto;
    use common::{charter_envelope, plan, Founder, ORIGIN};
    let tmp = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["--json", "--log", "error", "serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN, "--data-dir"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("stdout")), &mut line)
        .expect("line");
    let _guard = common::ChildGuard(child);
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    let url = format!("http://{}", v["listening"].as_str().expect("addr"));
    let pid = _guard.0.id();
    let mut c = accord::client::Client::connect(&url, None).await.expect("connect");
    let (sec, fun) = (Founder::new("XM-SEC", &["secretariat"]), Founder::new("XM-DAC-1", &["funder"]));
    c.submit(charter_envelope(&[&sec, &fun], 1)).await.expect("charter");
    let stranger = crypto::generate_key();
    let bad = |i: usize| -> pb::Envelope {
        match i % 6 {
            0 => pb::Envelope {
                payload: vec![0xff; i % 300 + 1],
                payload_type: accord::PAYLOAD_TYPE.into(),
                signatures: vec![],
            },
            1 => pb::Envelope { payload: vec![1, 2, 3], payload_type: "text/html".into(), signatures: vec![] },
            2 => crypto::seal(&plan(&format!("s{i}")), &[&stranger]),
            3 => {
                let mut e = crypto::seal(&plan(&format!("f{i}")), &[&sec.key]);
                if let Some(s) = e.signatures.first_mut() {
                    s.sig[0] ^= 1;
                }
                e
            }
            4 => {
                let mut st = plan(&format!("x{i}"));
                st.statement_id = format!("<script>{i}</script>");
                crypto::seal(&st, &[&sec.key])
            }
            _ => {
                let mut st = plan(&format!("t{i}"));
                if let Some(Body::PlanCreated(p)) = st.body.as_mut() {
                    p.title = format!("\u{1b}[2J{i}");
                }
                crypto::seal(&st, &[&sec.key])
            }
        }
    };
    let flood = |c: &mut accord::client::Client, from: usize, n: usize| {
        let envs: Vec<_> = (from..from + n).map(bad).collect();
        let mut raw = c.raw().clone();
        async move {
            let mut refused = 0usize;
            for e in envs {
                if raw.submit(pb::SubmitRequest { envelope: Some(e) }).await.is_err() {
                    refused += 1;
                }
            }
            refused
        }
    };
    let size = c.checkpoint(None).await.expect("cp").size;
    assert_eq!(flood(&mut c, 0, 1500).await, 1500, "every bad input is refused");
    let before = rss_kib(pid);
    assert_eq!(flood(&mut c, 1500, 3000).await, 3000);
    let after = rss_kib(pid);
    assert_eq!(c.checkpoint(None).await.expect("cp").size, size, "the flood wrote nothing");
    assert!(after <= before + 8 * 1024, "memory grew from {before} KiB to {after} KiB over 3,000 bad inputs");
    c.submit(crypto::seal(&plan("after-flood"), &[&sec.key])).await.expect("still serving");
}

/// A refusal carries its field as the standard rich error details (google.rpc.Status, the
/// `grpc-status-details-bin` trailer), not only in its message: INVALID_ARGUMENT a `BadRequest` whose one
/// field violation names the exact field and the rule, FAILED_PRECONDITION a `PreconditionFailure` whose
/// violation has type `STATE` and the field as its subject. The message is unchanged, and the client reads
/// the field back into its error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_names_its_field_in_standard_error_details() {
    use tonic_types::StatusExt;
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;

    let env = c.seal(&["DB"], "2026-01-20", sc::inkind_pledge("K3", "1.23456"));
    let req = pb::SubmitRequest { envelope: Some(env.clone()) };
    let st = c.client.raw().submit(req).await.expect_err("too many decimal places");
    assert_eq!(st.code(), tonic::Code::InvalidArgument, "{st:?}");
    let field = "statement.pledgeAnnounced.amount.value";
    let bad = st.get_details_bad_request().expect("a BadRequest in the status details");
    assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
    assert_eq!(bad.field_violations[0].field, field);
    assert!(bad.field_violations[0].description.contains("decimal places"), "{bad:?}");
    assert_eq!(st.message(), format!("{field}: {}", bad.field_violations[0].description), "the message is as before");
    let e = c.client.submit(env).await.expect_err("refused");
    assert_eq!((e.kind, e.field.to_string()), (Kind::InvalidArgument, field.to_string()));
    assert_eq!(e.to_string(), format!("server: {}", st.message()), "the CLI prints what it printed before");

    let Body::PledgeAnnounced(mut p) = sc::inkind_pledge("K4", "100") else { unreachable!() };
    p.plan_id = "NO-PLAN".into();
    let env = c.seal(&["DB"], "2026-01-20", Body::PledgeAnnounced(p));
    let st = c.client.raw().submit(pb::SubmitRequest { envelope: Some(env.clone()) }).await.expect_err("no plan");
    assert_eq!(st.code(), tonic::Code::FailedPrecondition, "{st:?}");
    let field = "statement.pledgeAnnounced.planId";
    let failed = st.get_details_precondition_failure().expect("a PreconditionFailure in the status details");
    assert_eq!(failed.violations.len(), 1, "{failed:?}");
    let v = &failed.violations[0];
    assert_eq!((v.r#type.as_str(), v.subject.as_str()), (accord::server::api::PRECONDITION_TYPE, field));
    assert!(v.description.contains("no earlier plan"), "{v:?}");
    assert_eq!(st.message(), format!("{field}: {}", v.description));
    assert!(st.get_details_bad_request().is_none(), "a precondition is not a bad request");
    let e = c.client.submit(env).await.expect_err("refused");
    assert_eq!((e.kind, e.field.to_string()), (Kind::FailedPrecondition, field.to_string()));
    assert_eq!(e.to_string(), format!("server: {}", st.message()));
}
