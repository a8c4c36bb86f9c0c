//! Regression tests for the book bugs of issue 13 (DOMAIN.md §7), each through a real server and a real
//! client: the overlap rule whatever `new_money` says, new money net of restatements, withdrawal of a
//! restating pledge, the IATI export of restated pledges, clean attestations, and DSSE JSON as the spec
//! reads it.
mod common;

use std::process::Command;

use accord::error::{Kind, Result};
use accord::pb::{self, statement::Body};
use accord::report::Report;
use base64::prelude::*;
use common::scenario::{self as sc, money, Coalition};

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

/// `accord report verify` (the in-memory replay of the downloaded log) agrees with the served report.
fn report_verify(c: &Coalition) {
    let out = Command::new(BIN)
        .args(["--json", "report", "verify", "--plan", sc::PLAN, "--server", &c.server.url])
        .args(["--log-key", &c.server.verifier_key])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], true, "{text}");
}

async fn refused(c: &mut Coalition, signers: &[&str], day: &str, body: Body, kind: Kind, parts: &[&str]) {
    let before = c.client.checkpoint(None).await.unwrap().size;
    let res: Result<u64> = c.submit(signers, day, body).await;
    let e = res.expect_err("must be refused");
    assert_eq!(e.kind, kind, "{e}");
    for p in parts {
        assert!(e.message.contains(p), "{p:?} not in: {e}");
    }
    assert_eq!(c.client.checkpoint(None).await.unwrap().size, before, "a refusal wrote something: {e}");
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
}
