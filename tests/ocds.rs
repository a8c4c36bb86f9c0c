//! The OCDS 1.1 export of scenario A, validated against the official OCDS 1.1 release-package and release
//! schemas (vendored in tests/data/ocds-1.1 from PyPI packages, see its README) with Python's `jsonschema`
//! (scripts/ocds_validate.py; scripts/test.sh installs it), and checked for the facts the scenario names
//! against the report the server serves.
mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::scenario::{self, Coalition};
use serde_json::Value;

use scenario::ocds_validate as validate;

fn export(c: &Coalition, file: &Path) -> String {
    scenario::export(c, "ocds", file)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_ocds_export_validates_and_states_the_report_figures() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.ocds.json");
    let text = export(&c, &file);
    if let Ok(p) = std::env::var("OCDS_DUMP") {
        std::fs::write(p, &text).unwrap();
    }
    if let Err(e) = validate(&file) {
        panic!("the OCDS export does not validate against the official 1.1 schemas:\n{e}\n{text}");
    }

    // Deterministic: the same ledger gives the same bytes.
    let again = export(&c, &dir.path().join("again.json"));
    assert_eq!(text, again, "two exports of one checkpoint differ");
    // `accord report --format ocds` (GetReport format ocds) serves the same file.
    let via_report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["report", "--plan", scenario::PLAN, "--format", "ocds", "--server", &c.server.url])
        .args(["--log-key", &c.server.verifier_key])
        .arg("-o")
        .arg(&via_report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&via_report).unwrap(), text);

    // The report the server serves, for the figures.
    let report = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["report", "--plan", scenario::PLAN, "--format", "json", "--server", &c.server.url])
        .args(["--log-key", &c.server.verifier_key])
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();

    let pkg: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(pkg["version"], "1.1");
    let releases = pkg["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1);
    let r = &releases[0];
    assert!(r["ocid"].as_str().unwrap().starts_with("ocds-"), "{}", r["ocid"]);
    assert!(r["ocid"].as_str().unwrap().ends_with(&format!("-{}", scenario::PLAN)));
    assert_eq!(r["initiationType"], "tender");

    // Total pledged (P) is the report's figure, in the reporting currency.
    let p = &report["funding"]["total_external"]["pledged"];
    let budget = &r["planning"]["budget"]["amount"];
    assert_eq!(budget["currency"], report["funding"]["currency"]);
    assert_eq!(num(&budget["amount"]), p.as_str().unwrap().parse::<f64>().unwrap(), "{budget} vs {p}");
    // Each funder's figures are the report's.
    for row in report["funding"]["by_donor"].as_array().unwrap() {
        let party = r["parties"].as_array().unwrap().iter().find(|x| x["id"] == row["key"]).unwrap();
        assert!(party["roles"].as_array().unwrap().contains(&Value::from("funder")), "{party}");
        assert_eq!(party["details"]["accordFunding"]["pledged"], row["pledged"]);
        assert_eq!(party["details"]["accordFunding"]["disbursed"], row["disbursed"]);
    }
    // The secretariat is buyer and procuring entity; the governments receiving money are suppliers.
    assert_eq!(r["buyer"]["id"], "S");
    assert_eq!(r["tender"]["procuringEntity"]["id"], "S");
    for gov in ["GT", "HN", "SV"] {
        let party = r["parties"].as_array().unwrap().iter().find(|x| x["id"] == gov).unwrap();
        assert!(party["roles"].as_array().unwrap().contains(&Value::from("supplier")), "{party}");
    }

    // Eight commitments: one award and one contract each. 13 disbursements (Donor A 5, Donor B 6, Bank C 2),
    // each exactly once.
    let contracts = r["contracts"].as_array().unwrap();
    assert_eq!(r["awards"].as_array().unwrap().len(), 8);
    assert_eq!(contracts.len(), 8);
    let txns: Vec<&Value> =
        contracts.iter().flat_map(|k| k["implementation"]["transactions"].as_array().into_iter().flatten()).collect();
    assert_eq!(txns.len(), 13, "{txns:?}");
    let ids: BTreeSet<&str> = txns.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 13, "a disbursement appears twice");
    let by_payer = |who: &str| txns.iter().filter(|t| t["payer"]["id"] == who).count();
    assert_eq!((by_payer("DA"), by_payer("DB"), by_payer("BC")), (5, 6, 2));
    // No negative amount anywhere (reversals are corrections, not negative payments).
    assert!(txns.iter().all(|t| num(&t["value"]["amount"]) > 0.0));
    // Donor A's disbursements in EUR sum to the report's 27.5 m (in EUR, the pledge currency).
    let da_eur: f64 = txns
        .iter()
        .filter(|t| t["payer"]["id"] == "DA" && t["value"]["currency"] == "EUR")
        .map(|t| num(&t["value"]["amount"]))
        .sum();
    assert_eq!(da_eur, 27_500_000.0);

    // The validator can fail: a package without the required `publisher`, and a release with a tag outside
    // the closed releaseTag codelist, are both refused.
    let mut broken = pkg.clone();
    broken.as_object_mut().unwrap().remove("publisher");
    let bad = dir.path().join("no-publisher.json");
    std::fs::write(&bad, serde_json::to_string(&broken).unwrap()).unwrap();
    let e = validate(&bad).expect_err("a package without publisher must not validate");
    assert!(e.contains("publisher"), "{e}");
    let mut broken = pkg.clone();
    broken["releases"][0]["tag"] = serde_json::json!(["pledge"]);
    broken["releases"][0]["contracts"][0]["implementation"]["transactions"][0]["date"] = "2026-13-45".into();
    std::fs::write(&bad, serde_json::to_string(&broken).unwrap()).unwrap();
    let e = validate(&bad).expect_err("an unknown tag and a bad date must not validate");
    assert!(e.contains("tag") && e.contains("date"), "{e}");
}

/// A keying error reversed: the reversed disbursement leaves `implementation.transactions` (never a
/// negative amount), the reversal is named with its rationale in the contract's amendments, and the
/// package still validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversed_disbursement_is_a_correction_not_a_negative_payment() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let rev = accord::pb::statement::Body::TransactionReversed(accord::pb::TransactionReversed {
        txn_id: "T-DA-GT-2".into(),
        rationale: "keyed against the wrong account".into(),
        ..Default::default()
    });
    c.submit(&["DA"], "2027-01-15", rev).await.expect("reversal by the original signer");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.ocds.json");
    let text = export(&c, &file);
    if let Err(e) = validate(&file) {
        panic!("the OCDS export does not validate against the official 1.1 schemas:\n{e}\n{text}");
    }
    let pkg: Value = serde_json::from_str(&text).unwrap();
    let contracts = pkg["releases"][0]["contracts"].as_array().unwrap();
    let txns: Vec<&Value> =
        contracts.iter().flat_map(|k| k["implementation"]["transactions"].as_array().into_iter().flatten()).collect();
    assert_eq!(txns.len(), 12, "{txns:?}");
    assert!(txns.iter().all(|t| t["id"] != "T-DA-GT-2" && num(&t["value"]["amount"]) > 0.0));
    let da_gt = contracts.iter().find(|k| k["id"] == "DA-GT").unwrap();
    let amendments = da_gt["amendments"].as_array().unwrap();
    assert_eq!(amendments.len(), 1, "{da_gt}");
    assert_eq!(amendments[0]["rationale"], "keyed against the wrong account");
    assert!(amendments[0]["description"].as_str().unwrap().contains("T-DA-GT-2 reversed"), "{}", amendments[0]);
    assert_eq!(amendments[0]["date"], "2027-01-15T00:00:00Z");
}
