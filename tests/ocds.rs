//! The OCDS 1.1 export of scenario A, validated against the official OCDS 1.1 release-package and release
//! schemas (vendored in tests/data/ocds-1.1 from PyPI packages, see its README) with Python's `jsonschema`
//! (scripts/ocds_validate.py; scripts/test.sh installs it), and checked for the facts the scenario names
//! against the report the server serves.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use accord::pb::{self, statement::Body};
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
    // The package names the checkpoint it was computed at: tree size and root hash.
    let (size, root) = (&report["read_at"]["tree_size"], report["read_at"]["root_hash"].as_str().unwrap());
    let uri = pkg["uri"].as_str().unwrap();
    assert!(uri.ends_with(&format!(":ocds:{size}:{root}")), "{uri} does not name checkpoint {size} {root}");
    assert_eq!(pkg["publishedDate"], format!("{}T00:00:00Z", report["read_at"]["as_of_date"].as_str().unwrap()));

    // One contracting process per commitment: eight, in commitment id order, each ocid = the ledger's prefix
    // + the commitment id, each release id naming the checkpoint.
    let releases = pkg["releases"].as_array().unwrap();
    let ids: Vec<&str> = releases.iter().map(|r| r["contracts"][0]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["BC-GT", "BC-HN", "DA-GT", "DA-HN", "DA-SV", "DB-GT", "DB-HN", "DB-SV"]);
    let prefix = releases[0]["ocid"].as_str().unwrap().strip_suffix("-BC-GT").unwrap().to_string();
    assert!(prefix.starts_with("ocds-") && prefix.len() == 11, "{prefix}");
    let mut txns: Vec<&Value> = Vec::new();
    let mut funders = BTreeMap::new();
    for (r, id) in releases.iter().zip(&ids) {
        assert_eq!(r["ocid"], format!("{prefix}-{id}"));
        assert_eq!(r["id"], format!("{id}-{size}"));
        assert_eq!(r["initiationType"], "tender");
        assert_eq!(r["tag"], serde_json::json!(["planning", "tender", "award", "contract", "implementation"]));
        // One award and one contract: the commitment; the contract names its award.
        let (awards, contracts) = (r["awards"].as_array().unwrap(), r["contracts"].as_array().unwrap());
        assert_eq!((awards.len(), contracts.len()), (1, 1));
        assert_eq!(contracts[0]["awardID"], awards[0]["id"]);
        assert_eq!((&awards[0]["status"], &contracts[0]["status"]), (&"active".into(), &"active".into()));
        // Planning: the pledge it draws on, the whole commitment allocated from it, in the plan.
        let budget = &r["planning"]["budget"];
        let pledge = match &id[..2] {
            "DA" => "P1",
            "DB" => "P2",
            _ => "P3",
        };
        assert_eq!(budget["id"], pledge, "{budget}");
        assert_eq!(budget["projectID"], scenario::PLAN);
        assert_eq!(budget["amount"], contracts[0]["value"], "{budget}");
        // Total pledged (P) is the report's figure, in the reporting currency, stated in every release.
        let p = format!(
            "total external pledged (P) {} {}",
            report["funding"]["total_external"]["pledged"].as_str().unwrap(),
            report["funding"]["currency"].as_str().unwrap()
        );
        assert!(budget["description"].as_str().unwrap().contains(&p), "{budget} does not state {p}");
        // The secretariat is buyer and procuring entity; the government receiving the money is the supplier.
        assert_eq!(r["buyer"]["id"], "S");
        assert_eq!(r["tender"]["procuringEntity"]["id"], "S");
        let recipient = &id[3..];
        assert_eq!(awards[0]["suppliers"][0]["id"], recipient);
        for party in r["parties"].as_array().unwrap() {
            let roles = party["roles"].as_array().unwrap();
            if party["id"] == recipient {
                assert!(roles.contains(&Value::from("supplier")), "{party}");
            }
            if roles.contains(&Value::from("funder")) {
                funders.insert(party["id"].as_str().unwrap().to_string(), party["details"]["accordFunding"].clone());
            }
        }
        // Its payments: each drawn on this commitment.
        for t in contracts[0]["implementation"]["transactions"].as_array().unwrap() {
            assert!(t["id"].as_str().unwrap().starts_with(&format!("T-{id}-")), "{t} in {id}");
            txns.push(t);
        }
    }
    // Each funder's figures are the report's; every external funder of the plan is a funder of some process.
    for row in report["funding"]["by_donor"].as_array().unwrap() {
        let f = funders.get(row["key"].as_str().unwrap()).unwrap_or_else(|| panic!("{row} funds no process"));
        assert_eq!(f["pledged"], row["pledged"]);
        assert_eq!(f["committed"], row["committed"]);
        assert_eq!(f["disbursed"], row["disbursed"]);
    }

    // 13 disbursements (Donor A 5, Donor B 6, Bank C 2), each exactly once across the releases.
    assert_eq!(txns.len(), 13, "{txns:?}");
    let tids: BTreeSet<&str> = txns.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(tids.len(), 13, "a disbursement appears twice");
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
    let releases = pkg["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 8);
    let txns: Vec<&Value> = releases
        .iter()
        .flat_map(|r| r["contracts"][0]["implementation"]["transactions"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(txns.len(), 12, "{txns:?}");
    assert!(txns.iter().all(|t| t["id"] != "T-DA-GT-2" && num(&t["value"]["amount"]) > 0.0));
    // Only DA-GT's process records an implementation update; the others are unchanged.
    for r in releases {
        let updated = r["tag"].as_array().unwrap().contains(&Value::from("implementationUpdate"));
        assert_eq!(updated, r["contracts"][0]["id"] == "DA-GT", "{}", r["tag"]);
    }
    let da_gt = releases.iter().find(|r| r["contracts"][0]["id"] == "DA-GT").unwrap();
    assert!(da_gt["ocid"].as_str().unwrap().ends_with("-DA-GT"));
    let amendments = da_gt["contracts"][0]["amendments"].as_array().unwrap();
    assert_eq!(amendments.len(), 1, "{da_gt}");
    assert_eq!(amendments[0]["rationale"], "keyed against the wrong account");
    let description = amendments[0]["description"].as_str().unwrap();
    assert!(description.contains("T-DA-GT-2 reversed"), "{}", amendments[0]);
    // The report's net change of the correction (nothing re-entered: − the original).
    assert!(description.contains("net change -2500000 EUR"), "{}", amendments[0]);
    assert_eq!(amendments[0]["date"], "2027-01-15T00:00:00Z");
}

/// A commitment amended and then withdrawn keeps its contracting process (an ocid is never deleted): the
/// award is cancelled and the contract terminated, both changes are in `amendments` with their rationale and
/// old → new amount, the release is tagged accordingly, and the other processes are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_commitment_keeps_its_process_marked_cancelled() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let signed = scenario::commitment("BC-SV", "BC", "SV", "P3", "1000000", "USD", "2027-01-15", "421", &[]);
    c.submit(&["BC", "SV"], "2027-01-15", signed).await.expect("commitment BC-SV");
    let Body::CommitmentSigned(lower) =
        scenario::commitment("BC-SV", "BC", "SV", "P3", "800000", "USD", "2027-01-15", "421", &[])
    else {
        unreachable!()
    };
    let amend = Body::Amended(pb::Amended {
        subject_id: "BC-SV".into(),
        rationale: "scaled down to the revised budget".into(),
        version: Some(pb::amended::Version::Commitment(lower)),
    });
    c.submit(&["BC", "SV"], "2027-01-20", amend).await.expect("amendment of BC-SV");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("amended.json");
    let pkg: Value = serde_json::from_str(&export(&c, &file)).unwrap();
    validate(&file).unwrap_or_else(|e| panic!("the OCDS export does not validate: {e}\n{pkg}"));
    let bc_sv = |pkg: &Value| {
        pkg["releases"].as_array().unwrap().iter().find(|r| r["contracts"][0]["id"] == "BC-SV").cloned().unwrap()
    };
    let r = bc_sv(&pkg);
    assert_eq!(r["tag"], serde_json::json!(["planning", "tender", "award", "contract", "contractAmendment"]));
    assert_eq!(r["contracts"][0]["value"]["amount"], 800000);
    assert_eq!(r["planning"]["budget"]["amount"]["amount"], 800000);
    let a = &r["contracts"][0]["amendments"][0];
    assert_eq!(a["rationale"], "scaled down to the revised budget");
    assert_eq!(a["description"], "commitment BC-SV amended (amount 1000000 → 800000)");

    let withdraw = Body::Withdrawn(pb::Withdrawn {
        subject_kind: "commitment".into(),
        subject_id: "BC-SV".into(),
        rationale: "the ministry declined the loan".into(),
    });
    c.submit(&["BC", "SV"], "2027-02-01", withdraw).await.expect("withdrawal of BC-SV");
    let file = dir.path().join("withdrawn.json");
    let pkg: Value = serde_json::from_str(&export(&c, &file)).unwrap();
    validate(&file).unwrap_or_else(|e| panic!("the OCDS export does not validate: {e}\n{pkg}"));
    let releases = pkg["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 9, "the withdrawn commitment's process is kept");
    let r = bc_sv(&pkg);
    assert!(r["ocid"].as_str().unwrap().ends_with("-BC-SV"));
    assert_eq!(
        r["tag"],
        serde_json::json!([
            "planning",
            "tender",
            "award",
            "contract",
            "contractAmendment",
            "awardCancellation",
            "contractTermination"
        ])
    );
    assert_eq!(r["awards"][0]["status"], "cancelled");
    assert_eq!(r["contracts"][0]["status"], "terminated");
    assert!(r["contracts"][0].get("implementation").is_none());
    let amendments = r["contracts"][0]["amendments"].as_array().unwrap();
    assert_eq!(amendments.len(), 2, "{amendments:?}");
    assert_eq!(amendments[1]["rationale"], "the ministry declined the loan");
    assert_eq!(amendments[1]["description"], "commitment BC-SV withdrawn (amount 800000 → 0)");
    assert_eq!(amendments[1]["date"], "2027-02-01T00:00:00Z");
    // Every other process is active.
    for r in releases.iter().filter(|r| r["contracts"][0]["id"] != "BC-SV") {
        assert_eq!(r["contracts"][0]["status"], "active", "{}", r["ocid"]);
    }
}

/// A plan without any commitment has no contracting process, and an OCDS release package needs at least one
/// release: the export is refused with the reason, never written invalid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_commitments_is_refused_not_exported_invalid() {
    let mut c = Coalition::start().await;
    scenario::plan_and_goals(&mut c).await;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["export", "ocds", "--plan", scenario::PLAN, "--server", &c.server.url])
        .args(["--log-key", &c.server.verifier_key])
        .arg("-o")
        .arg(dir.path().join("none.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an export without commitments succeeded");
    assert!(stderr.contains("planId") && stderr.contains("no commitment"), "{stderr}");
    assert!(!dir.path().join("none.json").exists());
}

/// A payment keyed against the wrong commitment, reversed and re-entered (`corrects`) against the right one:
/// each process names its side of the correction in `amendments` and is tagged `implementationUpdate`; the
/// payment is counted once, in the process it now belongs to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_onto_another_commitment_is_named_in_both_processes() {
    let mut c = Coalition::start().await;
    scenario::plan_and_goals(&mut c).await;
    let p3 = scenario::pledge("P3", "BC", "300000000", "USD", &[("G3", "100")], "110", "external", "2029-12-31");
    c.submit(&["BC"], "2026-01-20", p3).await.expect("P3");
    for (k, gov) in [("K3", "GT"), ("K4", "HN")] {
        let body = scenario::commitment(k, "BC", gov, "P3", "1000000", "USD", "2026-02-01", "110", &[]);
        c.submit(&["BC", gov], "2026-02-01", body).await.expect("commitment");
    }
    let t1 = scenario::disbursement("T1", "K3", "", "BC", "GT", "500000", "USD", "2026-03-01");
    c.submit(&["BC", "GT"], "2026-03-01", t1).await.expect("T1");
    let rev = Body::TransactionReversed(pb::TransactionReversed {
        txn_id: "T1".into(),
        rationale: "keyed against the wrong commitment".into(),
        amount: None,
    });
    c.submit(&["BC"], "2026-03-05", rev).await.expect("reversal of T1");
    let Body::TransactionRecorded(mut t2) =
        scenario::disbursement("T2", "K4", "", "BC", "HN", "500000", "USD", "2026-03-01")
    else {
        unreachable!()
    };
    t2.corrects = "T1".into();
    c.submit(&["BC", "HN"], "2026-03-06", Body::TransactionRecorded(t2)).await.expect("T2 corrects T1");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("moved.json");
    let text = export(&c, &file);
    validate(&file).unwrap_or_else(|e| panic!("the OCDS export does not validate: {e}\n{text}"));
    let pkg: Value = serde_json::from_str(&text).unwrap();
    let [k3, k4] = pkg["releases"].as_array().unwrap().as_slice() else { panic!("two processes: {text}") };
    assert_eq!(k3["tag"], serde_json::json!(["planning", "tender", "award", "contract", "implementationUpdate"]));
    assert!(k3["contracts"][0].get("implementation").is_none(), "{k3}");
    let a3 = k3["contracts"][0]["amendments"].as_array().unwrap();
    assert_eq!(a3.len(), 1, "{k3}");
    assert!(a3[0]["description"].as_str().unwrap().starts_with("transaction T1 (corrected by T2) reversed"), "{k3}");
    assert_eq!(a3[0]["rationale"], "keyed against the wrong commitment");
    assert_eq!(
        k4["tag"],
        serde_json::json!(["planning", "tender", "award", "contract", "implementation", "implementationUpdate"])
    );
    assert_eq!(k4["contracts"][0]["implementation"]["transactions"][0]["id"], "T2");
    let a4 = k4["contracts"][0]["amendments"].as_array().unwrap();
    assert_eq!(a4.len(), 1, "{k4}");
    assert_eq!(a4[0]["description"], "transaction T2 corrects transaction T1 of commitment K3 (reversed)");
    // Dated when the re-entry was recorded, not at its value date.
    assert_eq!(a4[0]["date"], "2026-03-06T00:00:00Z");
}
