//! The IATI 2.03 export of scenario A, validated with xmllint against the official 2.03 activity schema
//! (vendored in tests/data/iati-2.03) and with the IATI Standard Ruleset (tests/common/iati_rules.rs), and
//! checked for the facts the scenario names; then a ledger with a reversal and its corrected re-entry.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;
#[path = "common/iati_rules.rs"]
mod iati_rules;

use std::process::Command;

use accord::pb::{self, statement::Body};
use common::scenario::{self, Coalition};

fn schema() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iati-2.03/iati-activities-schema.xsd")
}

/// The ruleset's NOW: the day of the scenario's server clock (CLOCK_START_MS, 2027-02-01), when the export
/// is made; the export's generated-datetime must be that day.
const NOW: &str = "2027-02-01";

/// The export of the coalition's plan, valid against the 2.03 schema and the Standard Ruleset.
fn export_valid(c: &Coalition) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.xml");
    let xml = scenario::export(c, "iati", &file);
    let lint = Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(schema()).arg(&file).output();
    let lint = lint.expect("xmllint is required: run scripts/test.sh (it installs Debian's libxml2-utils)");
    assert!(lint.status.success(), "the export does not validate:\n{}\n{xml}", String::from_utf8_lossy(&lint.stderr));
    assert!(xml.contains(&format!("generated-datetime=\"{NOW}T")), "{xml}");
    let broken = iati_rules::check(&xml, NOW);
    let list: Vec<String> = broken.iter().map(|v| v.to_string()).collect();
    assert!(broken.is_empty(), "the export breaks the IATI Standard Ruleset:\n{}\n{xml}", list.join("\n"));
    xml
}

/// The text of the activity with this identifier.
fn activity<'a>(xml: &'a str, id: &str) -> &'a str {
    let a = &xml[xml.find(&format!("<iati-identifier>{id}</iati-identifier>")).unwrap()..];
    &a[..a.find("</iati-activity>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_iati_export_validates() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let xml = export_valid(&c);

    let count = |needle: &str| xml.matches(needle).count();
    // P1–P6 are pledges (type 12), each with its amount, currency and value date.
    assert_eq!(count("<transaction-type code=\"12\"/>"), 6, "{xml}");
    for v in [
        "<value currency=\"EUR\" value-date=\"2026-01-20\">120000000</value>",
        "<value currency=\"GTQ\" value-date=\"2026-01-20\">230000000</value>",
        "<value currency=\"HNL\" value-date=\"2026-01-20\">750000000</value>",
    ] {
        assert!(xml.contains(v), "missing {v}");
    }
    // Eight commitments (type 2); 13 disbursements (type 3: Donor A 5, Donor B 6, Bank C 2); three
    // co-financing spends (type 4).
    assert_eq!(count("<transaction-type code=\"2\"/>"), 8);
    assert_eq!(count("<transaction-type code=\"3\"/>"), 13);
    assert_eq!(count("<transaction-type code=\"4\"/>"), 3);
    assert!(xml.contains("<iati-identifier>S-CA-2026-2029-GT</iati-identifier>"));
    // One reporting organisation for the whole file: the secretariat, as a secondary reporter.
    assert_eq!(count("<reporting-org ref=\"S\" type=\"10\" secondary-reporter=\"1\">"), count("<iati-activity "));
    let gt = activity(&xml, "S-CA-2026-2029-GT");
    assert!(
        gt.contains("<transaction-type code=\"4\"/>") && gt.contains("value-date=\"2026-12-31\">100000000</value>")
    );
    // Conditions: C1–C3 policy (type 1); C4 has no IATI type and goes as type 3 with its rule in words.
    assert!(xml.contains("<condition type=\"1\">\n    <narrative>C1: "), "{xml}");
    assert_eq!(count("<narrative>C2: ") + count("<narrative>C3: "), 2);
    assert_eq!(count("<condition type=\"3\">\n    <narrative>C4: co-financing rule"), 3);
    // Every value carries its value date.
    assert_eq!(count("<value "), count("value-date=\""));
}

/// What §7 asks of the export, on scenario A: language and default currency, identifier prefix and the
/// ledger's own key, sectors per vocabulary from the goals' DAC codes weighted by the pledges' goal shares,
/// budgets per usage year and planned disbursements per commitment and usage year; no recipient-country,
/// because scenario A's parties carry no country.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_iati_export_has_sectors_budgets_and_language() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let xml = export_valid(&c);
    let da = activity(&xml, "S-CA-2026-2029-DA");
    assert!(xml.contains(r#"<iati-activity last-updated-datetime="2027-02-01T00:00:00Z" xml:lang="en" default-currency="EUR" hierarchy="1">"#), "{xml}");
    assert!(da.contains(r#"<other-identifier ref="CA-2026-2029:DA" type="A1">"#), "{da}");
    // P1: G1 50 % (15113, 15130 in equal parts), G4 50 % (15111).
    for s in [
        r#"<sector vocabulary="1" code="15111" percentage="50"/>"#,
        r#"<sector vocabulary="1" code="15113" percentage="25"/>"#,
        r#"<sector vocabulary="1" code="15130" percentage="25"/>"#,
    ] {
        assert!(da.contains(s), "missing {s} in {da}");
    }
    // The plan's goals themselves, vocabulary 98 with the goal's title.
    assert!(
        da.contains("<sector vocabulary=\"98\" code=\"G1\" percentage=\"50\">\n   <narrative>Anti-corruption and rule of law</narrative>"),
        "{da}"
    );
    // P2: G2 60 % (15210, 16063), G3 40 % (16020, 25010).
    let db = activity(&xml, "S-CA-2026-2029-DB");
    for s in [
        r#"code="15210" percentage="30""#,
        r#"code="16063" percentage="30""#,
        r#"code="16020" percentage="20""#,
        r#"code="25010" percentage="20""#,
    ] {
        assert!(db.contains(s), "missing {s} in {db}");
    }
    // Budgets per usage year: DA's three 2026 commitments of EUR 10 m; one planned disbursement each.
    assert!(da.contains("<budget type=\"1\" status=\"2\">\n   <period-start iso-date=\"2026-01-01\"/>\n   <period-end iso-date=\"2026-12-31\"/>\n   <value currency=\"EUR\" value-date=\"2026-01-01\">30000000</value>"), "{da}");
    assert_eq!(da.matches("<planned-disbursement type=\"1\">").count(), 3, "{da}");
    assert!(da.contains(r#"<receiver-org ref="SV"/>"#));
    assert!(!xml.contains("<recipient-country"), "scenario A's parties have no country: none is invented");
    assert!(!xml.contains("<result "), "scenario A defines no indicator");
}

/// A keying error reversed and re-entered, and an indicator with a verified value: the reversed
/// disbursement stays, followed by a negative transaction of the same type linked to it by ref and
/// description; the re-entry is a new transaction; the indicator is a result with its baseline, and per
/// period its target and the reported actual. The file still passes the schema and the ruleset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversal_is_a_negative_linked_transaction_and_results_carry_indicators() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let ind = Body::IndicatorDefined(pb::IndicatorDefined {
        indicator_id: "IND-1".into(),
        goal_id: "G1".into(),
        title: "Corruption cases reaching a first-instance verdict within 24 months".into(),
        measure: 2,
        ascending: true,
        unit: "%".into(),
        baseline: Some(pb::Baseline { value: "18".into(), year: 2025 }),
        targets: vec![
            pb::IndicatorTarget { period: scenario::period("2026-01-01", "2026-12-31"), value: "25".into() },
            pb::IndicatorTarget { period: scenario::period("2027-01-01", "2027-12-31"), value: "30".into() },
        ],
    });
    c.submit(&["S"], "2027-01-26", ind).await.expect("indicator");
    let rep = Body::ProgressReported(pb::ProgressReported {
        report_id: "R-GT-2026-IND".into(),
        reporter_id: "GT".into(),
        plan_id: scenario::PLAN.into(),
        period: scenario::period("2026-01-01", "2026-12-31"),
        indicator_values: vec![pb::IndicatorValue { indicator_id: "IND-1".into(), value: "22".into() }],
        co_financing_realised: None,
        narrative_sha256: vec![],
    });
    let idx = c.submit(&["GT"], "2027-01-27", rep).await.expect("indicator report");
    let covered = vec![c.identity(idx).await];
    let att = Body::AttestationIssued(pb::AttestationIssued {
        attestation_id: "A-IND".into(),
        auditor_id: "Y".into(),
        scope: "IND-1 2026 (GT)".into(),
        covered_entries: covered,
        opinion: "verified".into(),
        adjustments: vec![],
    });
    c.submit(&["Y"], "2027-01-28", att).await.expect("attestation");
    let rev = Body::TransactionReversed(pb::TransactionReversed {
        txn_id: "T-DA-GT-2".into(),
        rationale: "keyed against the wrong account".into(),
        ..Default::default()
    });
    c.submit(&["DA"], "2027-01-29", rev).await.expect("reversal by the original signer");
    let Body::TransactionRecorded(mut again) =
        scenario::disbursement("T-DA-GT-2b", "DA-GT", "DA-GT-C1", "DA", "GT", "2500000", "EUR", "2026-06-30")
    else {
        unreachable!()
    };
    again.description = "re-entry of T-DA-GT-2 on the right account".into();
    again.corrects = "T-DA-GT-2".into();
    c.submit(&["DA"], "2027-01-30", Body::TransactionRecorded(again)).await.expect("corrected re-entry");

    let xml = export_valid(&c);
    let da = activity(&xml, "S-CA-2026-2029-DA");
    // The original, then its reversal: same type (3), negated amount at the original value date, dated when
    // reversed, ref and description naming the original.
    let orig = &da[da.find(r#"<transaction ref="T-DA-GT-2">"#).expect("the original stays")..];
    let orig = &orig[..orig.find("</transaction>").unwrap()];
    assert!(orig.contains(r#"<value currency="EUR" value-date="2026-06-30">2500000</value>"#), "{orig}");
    assert!(orig.contains("reversed on 2027-01-29 by T-DA-GT-2-reversal"), "{orig}");
    let neg = &da[da.find(r#"<transaction ref="T-DA-GT-2-reversal">"#).expect("the reversal")..];
    let neg = &neg[..neg.find("</transaction>").unwrap()];
    for part in [
        r#"<transaction-type code="3"/>"#,
        r#"<transaction-date iso-date="2027-01-29"/>"#,
        r#"<value currency="EUR" value-date="2026-06-30">-2500000</value>"#,
        "Reversal of T-DA-GT-2 (original transaction ref T-DA-GT-2): keyed against the wrong account",
        r#"<receiver-org ref="GT"/>"#,
    ] {
        assert!(neg.contains(part), "missing {part} in {neg}");
    }
    let re = &da[da.find(r#"<transaction ref="T-DA-GT-2b">"#).expect("the re-entry")..];
    let re = &re[..re.find("</transaction>").unwrap()];
    assert!(re.contains(">2500000</value>") && re.contains("re-entry of T-DA-GT-2 on the right account"), "{re}");
    assert!(re.contains("corrects T-DA-GT-2 (reversed)"), "the re-entry names what it corrects: {re}");
    // 13 disbursements of scenario A, the reversal and the re-entry.
    assert_eq!(xml.matches(r#"<transaction-type code="3"/>"#).count(), 15);
    // Net disbursed by DA in EUR is unchanged: 3 × 7.5 m + 2.5 m (HN) + 2.5 − 2.5 + 2.5 (GT).
    let total: i64 = da
        .split("<transaction ")
        .skip(1)
        .filter(|t| t.contains(r#"<transaction-type code="3"/>"#))
        .map(|t| {
            let v = &t[t.find("value-date=").unwrap()..];
            v[v.find('>').unwrap() + 1..v.find("</value>").unwrap()].parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(total, 27_500_000);

    // Results: IND-1 under every activity funding G1 (DA, GT, HN, SV), not under DB or BC.
    for party in ["DA", "GT", "HN", "SV"] {
        let a = activity(&xml, &format!("S-CA-2026-2029-{party}"));
        assert_eq!(a.matches("<result type=\"2\" aggregation-status=\"0\">").count(), 1, "{party}: {a}");
    }
    for party in ["DB", "BC"] {
        assert!(!activity(&xml, &format!("S-CA-2026-2029-{party}")).contains("<result "), "{party}");
    }
    let result = &da[da.find("<result ").unwrap()..];
    for part in [
        r#"<indicator measure="2" ascending="1">"#,
        "Corruption cases reaching a first-instance verdict within 24 months (%)",
        r#"<baseline year="2025" value="18"/>"#,
        "<period-start iso-date=\"2026-01-01\"/>\n     <period-end iso-date=\"2026-12-31\"/>\n     <target value=\"25\"/>\n     <actual value=\"22\">",
        r#"<dimension name="reporter" value="GT"/>"#,
        "Reported by Gov GT in R-GT-2026-IND: 22; verified value 22 (auditor&apos;s opinion: verified).",
        "<period-start iso-date=\"2027-01-01\"/>\n     <period-end iso-date=\"2027-12-31\"/>\n     <target value=\"30\"/>\n    </period>",
    ] {
        assert!(result.contains(part), "missing {part} in {result}");
    }
}

/// A party whose only pledge is a policy action (no money value) still gets an activity that keeps the
/// ruleset: the pledge is a type 12 transaction of value 0 naming its milestones, its goals its sectors.
/// Before, the pledge left no transaction at all and the activity broke `atleast_one` (no provider or
/// receiver on any transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_pledge_without_money_keeps_the_ruleset() {
    let mut c = Coalition::start().await;
    scenario::plan_and_goals(&mut c).await;
    let p3 = scenario::pledge("P3", "BC", "300000000", "USD", &[("G3", "100")], "421", "external", "2029-12-31");
    c.submit(&["BC"], "2026-01-20", p3).await.expect("P3");
    let policy = Body::PledgeAnnounced(pb::PledgeAnnounced {
        pledge_id: "PA-GT".into(),
        plan_id: scenario::PLAN.into(),
        pledger_id: "GT".into(),
        pledge_kind: "policy_action".into(),
        goals: scenario::shares(&[("G1", "100")]),
        usage_period: scenario::period("2026-01-01", "2027-12-31"),
        funding_source: "domestic_own_resources".into(),
        announced: Some(pb::Announcement { event: "Conference".into(), date: "2026-01-20".into() }),
        milestones: vec![pb::PolicyMilestone {
            milestone_id: "M1".into(),
            title: "Anti-corruption law passed".into(),
            due_date: "2026-12-31".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    c.submit(&["GT"], "2026-01-20", policy).await.expect("policy pledge");
    let xml = export_valid(&c);
    let gt = activity(&xml, "S-CA-2026-2029-GT");
    assert!(gt.contains(r#"<value currency="USD" value-date="2026-01-20">0</value>"#), "{gt}");
    assert!(gt.contains("no money value; milestones: M1 Anti-corruption law passed (due 2026-12-31)"), "{gt}");
    assert!(gt.contains(r#"<receiver-org ref="GT"/>"#), "{gt}");
    assert!(gt.contains(r#"<sector vocabulary="1" code="15113" percentage="50"/>"#), "{gt}");
}
