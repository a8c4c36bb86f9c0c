//! The IATI Standard Ruleset checker (tests/common/iati_rules.rs) can fail: a valid activity file passes it,
//! and each hand-broken copy is refused with the rule it breaks named.
// The test is one table of broken copies, a case per rule; split, the table would no longer read as the ruleset (issue 12).
#![allow(clippy::too_many_lines)]
#[path = "common/iati_rules.rs"]
mod iati_rules;

const NOW: &str = "2026-12-31";

/// A small activity file that keeps every rule (written by hand for this test, after the 2.03 reference).
const VALID: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<iati-activities version="2.03" generated-datetime="2026-03-31T12:00:00Z">
 <iati-activity last-updated-datetime="2026-03-31T12:00:00Z" default-currency="USD" xml:lang="en" hierarchy="1">
  <iati-identifier>XM-EXAMPLE-ORG-ACT-1</iati-identifier>
  <reporting-org ref="XM-EXAMPLE-ORG" type="40"><narrative>Secretariat</narrative></reporting-org>
  <title><narrative>Rule of law window</narrative></title>
  <description type="1"><narrative>Pledges and disbursements.</narrative></description>
  <participating-org ref="XM-EXAMPLE-DONOR" type="10" role="1"><narrative>Donor</narrative></participating-org>
  <participating-org role="4"><narrative>Partner ministry</narrative></participating-org>
  <other-identifier ref="ACT-1" type="A1"><owner-org ref="XM-EXAMPLE-ORG"><narrative>Secretariat</narrative></owner-org></other-identifier>
  <activity-status code="2"/>
  <activity-date type="1" iso-date="2026-01-01"/>
  <activity-date type="2" iso-date="2026-02-15"/>
  <activity-date type="3" iso-date="2029-12-31"/>
  <recipient-country code="HN" percentage="60"/>
  <recipient-country code="GT" percentage="40"/>
  <sector vocabulary="1" code="15113" percentage="60"/>
  <sector vocabulary="1" code="15130" percentage="40"/>
  <sector vocabulary="8" code="16.5" percentage="100"/>
  <sector vocabulary="99" code="G1" percentage="100"><narrative>Goal 1</narrative></sector>
  <policy-marker vocabulary="1" code="3" significance="2"/>
  <budget type="1" status="2"><period-start iso-date="2028-01-01"/><period-end iso-date="2028-12-31"/>
   <value currency="USD" value-date="2028-01-01">5000000</value></budget>
  <planned-disbursement type="1"><period-start iso-date="2026-07-01"/><period-end iso-date="2026-09-30"/>
   <value value-date="2026-07-01">2000000</value></planned-disbursement>
  <transaction ref="T1"><transaction-type code="3"/><transaction-date iso-date="2026-03-25"/>
   <value currency="EUR" value-date="2026-03-25">3500000</value>
   <provider-org ref="XM-EXAMPLE-DONOR"/>
   <receiver-org ref="XM-EXAMPLE-MOJ-HN"><narrative>Partner ministry</narrative></receiver-org></transaction>
  <transaction ref="T1-reversal"><transaction-type code="3"/><transaction-date iso-date="2026-04-02"/>
   <value currency="EUR" value-date="2026-03-25">-3500000</value>
   <description><narrative>Reversal of T1</narrative></description>
   <provider-org ref="XM-EXAMPLE-DONOR"/></transaction>
  <conditions attached="1"><condition type="1"><narrative>Unit constituted.</narrative></condition></conditions>
  <result type="2" aggregation-status="0"><title><narrative>Judicial independence</narrative></title>
   <indicator measure="2" ascending="1"><title><narrative>Verdicts within 24 months</narrative></title>
    <baseline year="2025" value="18"/>
    <period><period-start iso-date="2026-01-01"/><period-end iso-date="2026-12-31"/>
     <target value="25"/><actual value="22"/></period>
   </indicator></result>
 </iati-activity>
</iati-activities>
"#;

fn rules_broken(xml: &str) -> Vec<iati_rules::Violation> {
    iati_rules::check(xml, NOW)
}

/// The valid file is valid IATI 2.03 (the official schema, via xmllint) and keeps every rule.
#[test]
fn a_valid_file_passes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("valid.xml");
    std::fs::write(&file, VALID).unwrap();
    let schema =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iati-2.03/iati-activities-schema.xsd");
    let lint = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema)
        .arg(&file)
        .output()
        .expect("xmllint is required: run scripts/test.sh");
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    assert_eq!(rules_broken(VALID), vec![]);
}

/// Each case: a replacement in VALID, the rule it must be refused under, and a part of the message.
#[test]
fn each_broken_copy_is_refused_with_its_rule() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // atleast_one: a planned or actual start date.
        (
            r#"<activity-date type="1" iso-date="2026-01-01"/>
  <activity-date type="2" iso-date="2026-02-15"/>"#,
            "",
            "atleast_one",
            "activity-date of type 1",
        ),
        // atleast_one: an other-identifier with its owner organisation.
        (
            r#"<owner-org ref="XM-EXAMPLE-ORG"><narrative>Secretariat</narrative></owner-org>"#,
            "",
            "atleast_one",
            "owner-org",
        ),
        // atleast_one: a transaction naming its receiver.
        (
            r#"<receiver-org ref="XM-EXAMPLE-MOJ-HN"><narrative>Partner ministry</narrative></receiver-org>"#,
            "",
            "atleast_one",
            "transaction/receiver-org",
        ),
        // atleast_one (//participating-org): @ref or narrative.
        (
            r#"<participating-org role="4"><narrative>Partner ministry</narrative></participating-org>"#,
            r#"<participating-org role="4"/>"#,
            "atleast_one",
            "neither @ref nor narrative",
        ),
        // atleast_one (//policy-marker): significance for vocabulary 1.
        (r#" significance="2""#, "", "atleast_one", "no @significance"),
        // atleast_one: a sector somewhere.
        (
            r#"<sector vocabulary="1" code="15113" percentage="60"/>
  <sector vocabulary="1" code="15130" percentage="40"/>
  <sector vocabulary="8" code="16.5" percentage="100"/>
  <sector vocabulary="99" code="G1" percentage="100"><narrative>Goal 1</narrative></sector>"#,
            "",
            "atleast_one",
            "no sector",
        ),
        // one_or_all: sector on the activity XOR on every transaction.
        (
            r#"<provider-org ref="XM-EXAMPLE-DONOR"/></transaction>"#,
            r#"<provider-org ref="XM-EXAMPLE-DONOR"/><sector vocabulary="1" code="15113"/></transaction>"#,
            "one_or_all",
            "both on the activity and on transactions",
        ),
        // one_or_all: @xml:lang or a language on every narrative.
        (r#" xml:lang="en""#, "", "one_or_all", "without @xml:lang"),
        // one_or_all: @default-currency or @currency on every value (the planned disbursement has none).
        (r#" default-currency="USD""#, "", "one_or_all", "without @currency"),
        // only_one_of: country on the activity and on a transaction.
        (
            r#"<provider-org ref="XM-EXAMPLE-DONOR"/></transaction>"#,
            r#"<provider-org ref="XM-EXAMPLE-DONOR"/><recipient-country code="HN"/></transaction>"#,
            "only_one_of",
            "one level",
        ),
        // date_now: last updated in the future.
        (
            r#"last-updated-datetime="2026-03-31T12:00:00Z""#,
            r#"last-updated-datetime="2027-01-01T00:00:00Z""#,
            "date_now",
            "after now",
        ),
        // date_order: planned end before planned start.
        (
            r#"<activity-date type="3" iso-date="2029-12-31"/>"#,
            r#"<activity-date type="3" iso-date="2025-12-31"/>"#,
            "date_order",
            "type 1 vs type 3",
        ),
        // date_order: actual start in the future.
        (
            r#"<activity-date type="2" iso-date="2026-02-15"/>"#,
            r#"<activity-date type="2" iso-date="2027-02-15"/>"#,
            "date_order",
            "type 2 vs NOW",
        ),
        // date_order (//transaction): a future transaction date.
        (
            r#"<transaction-date iso-date="2026-03-25"/>"#,
            r#"<transaction-date iso-date="2027-03-25"/>"#,
            "date_order",
            "transaction-date vs NOW",
        ),
        // date_order (//transaction): a future value date.
        (r#"value-date="2026-03-25">3500000"#, r#"value-date="2027-03-25">3500000"#, "date_order", "value-date vs NOW"),
        // date_order (//budget).
        (r#"<period-end iso-date="2028-12-31"/>"#, r#"<period-end iso-date="2027-12-31"/>"#, "date_order", "//budget"),
        // date_order (//planned-disbursement).
        (
            r#"<period-end iso-date="2026-09-30"/>"#,
            r#"<period-end iso-date="2026-06-30"/>"#,
            "date_order",
            "//planned-disbursement",
        ),
        // date_order (//result/indicator/period).
        (
            r#"<period><period-start iso-date="2026-01-01"/>"#,
            r#"<period><period-start iso-date="2027-01-01"/>"#,
            "date_order",
            "//result/indicator/period",
        ),
        // time_limit: a budget longer than a year.
        (
            r#"<period-end iso-date="2028-12-31"/>"#,
            r#"<period-end iso-date="2029-01-01"/>"#,
            "time_limit",
            "longer than one year",
        ),
        // regex_matches: a / in the identifier.
        (
            "<iati-identifier>XM-EXAMPLE-ORG-ACT-1</iati-identifier>",
            "<iati-identifier>XM-EXAMPLE-ORG-ACT/1</iati-identifier>",
            "regex_matches",
            "iati-identifier",
        ),
        // regex_matches: & in a provider reference.
        (
            r#"<provider-org ref="XM-EXAMPLE-DONOR"/>
   <receiver-org"#,
            r#"<provider-org ref="XM-EXAMPLE-DONOR&amp;CO"/>
   <receiver-org"#,
            "regex_matches",
            "transaction/provider-org/@ref",
        ),
        // startswith: the identifier is not prefixed with the reporting organisation.
        (
            "<iati-identifier>XM-EXAMPLE-ORG-ACT-1</iati-identifier>",
            "<iati-identifier>XM-OTHER-ACT-1</iati-identifier>",
            "startswith",
            "does not start with",
        ),
        // sum: recipient-country percentages.
        (
            r#"<recipient-country code="GT" percentage="40"/>"#,
            r#"<recipient-country code="GT" percentage="30"/>"#,
            "sum",
            "sum to 90",
        ),
        // strict_sum: vocabulary 1 sectors.
        (r#"code="15130" percentage="40""#, r#"code="15130" percentage="40.01""#, "strict_sum", "sum to 100.01"),
        // loop + strict_sum: another vocabulary.
        (r#"code="16.5" percentage="100""#, r#"code="16.5" percentage="99""#, "loop", "vocabulary 8"),
        // dependent: several sectors of a vocabulary, one without a percentage.
        (r#"code="15130" percentage="40""#, r#"code="15130""#, "dependent", "no @percentage"),
        // if_then: a reporting-organisation sector without narrative.
        (
            r#"<sector vocabulary="99" code="G1" percentage="100"><narrative>Goal 1</narrative></sector>"#,
            r#"<sector vocabulary="99" code="G1" percentage="100"/>"#,
            "if_then",
            "no narrative",
        ),
        // range: a negative percentage.
        (r#"code="HN" percentage="60""#, r#"code="HN" percentage="-60""#, "range", "not a decimal ≥ 0"),
        // no_more_than_one (2.0x ruleset): a reference on the result and on its indicator.
        (
            r#"<indicator measure="2" ascending="1"><title><narrative>Verdicts within 24 months</narrative></title>"#,
            r#"<reference vocabulary="99" code="R1"/><indicator measure="2" ascending="1"><title><narrative>Verdicts within 24 months</narrative></title><reference vocabulary="1" code="16.5.1"/>"#,
            "no_more_than_one",
            "both the result and its indicator",
        ),
        // atleast_one (2.0x ruleset): a quantitative actual without @value.
        (r#"<actual value="22"/>"#, "<actual/>", "atleast_one", "actual of a quantitative indicator"),
        // atleast_one (2.0x ruleset): a quantitative baseline without @value.
        (
            r#"<baseline year="2025" value="18"/>"#,
            r#"<baseline year="2025"/>"#,
            "atleast_one",
            "baseline of a quantitative",
        ),
    ];
    for (from, to, rule, part) in cases {
        assert!(VALID.contains(from), "case {rule}: {from:?} not in the valid file");
        let broken = VALID.replacen(from, to, 1);
        let found = rules_broken(&broken);
        assert!(
            found.iter().any(|v| v.rule == *rule && v.message.contains(part)),
            "case {rule} ({part}) not reported; found {found:#?}"
        );
    }
}

/// A qualitative indicator needs no values; an identifier may carry a previous reporting-org prefix (B1).
#[test]
fn qualitative_indicators_and_previous_prefixes_pass() {
    let qualitative = VALID.replacen(r#"<indicator measure="2""#, r#"<indicator measure="5""#, 1).replacen(
        r#"<actual value="22"/>"#,
        "<actual/>",
        1,
    );
    assert_eq!(rules_broken(&qualitative), vec![]);
    let renamed = VALID.replacen("<iati-identifier>XM-EXAMPLE-ORG-ACT-1", "<iati-identifier>XM-OLD-ACT-1", 1).replacen(
        r#"<activity-status"#,
        r#"<other-identifier ref="XM-OLD" type="B1"/><activity-status"#,
        1,
    );
    assert_eq!(rules_broken(&renamed), vec![]);
}

#[test]
fn unique_identifiers_across_the_file() {
    let start = VALID.find("<iati-activity ").unwrap();
    let end = VALID.find("</iati-activity>").unwrap() + "</iati-activity>".len();
    let twice = VALID.replacen("</iati-activities>", &format!("{}\n</iati-activities>", &VALID[start..end]), 1);
    let found = rules_broken(&twice);
    assert!(found.iter().any(|v| v.rule == "unique"), "{found:#?}");
}

#[test]
fn loan_terms_rates_carry_no_percent_sign() {
    let with_loan = VALID.replacen("<result ", r#"<crs-add><loan-terms rate-1="4%"/></crs-add><result "#, 1);
    let found = rules_broken(&with_loan);
    assert!(found.iter().any(|v| v.rule == "no_percent"), "{found:#?}");
}
