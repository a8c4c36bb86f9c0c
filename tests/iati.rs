//! The IATI 2.03 export of scenario A, validated with xmllint against the official 2.03 activity schema
//! (vendored in tests/data/iati-2.03), and checked for the facts the scenario names.
mod common;

use std::process::Command;

use common::scenario::{self, Coalition};

fn schema() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iati-2.03/iati-activities-schema.xsd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_iati_export_validates() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.xml");
    let xml = scenario::export(&c, "iati", &file);

    let lint = Command::new("xmllint").args(["--noout", "--nonet", "--schema"]).arg(schema()).arg(&file).output();
    let lint = lint.expect("xmllint is required: run scripts/test.sh (it installs Debian's libxml2-utils)");
    assert!(lint.status.success(), "the export does not validate:\n{}\n{xml}", String::from_utf8_lossy(&lint.stderr));

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
    let gt = &xml[xml.find("<iati-identifier>S-CA-2026-2029-GT").unwrap()..];
    let gt = &gt[..gt.find("</iati-activity>").unwrap()];
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
