//! Scenario A of tests/data/scenarios/central-america-2026.md as signed statements, each signed by the party
//! that must sign it, submitted in date order to a real server whose clock starts on 2027-02-01.
// The scenario is one story in ledger order; split into steps it would hide what each entry depends on (issue 12).
#![allow(clippy::too_many_lines)]
use std::collections::BTreeMap;

use accord::client::Client;
use accord::crypto;
use accord::domain::date;
use accord::pb::{self, statement::Body, Envelope, Statement};
use prost::Message;

use super::{Founder, TestServer, ORIGIN};

pub const PLAN: &str = "CA-2026-2029";
/// 2027-02-01T00:00:00Z: after every dated event of the scenario.
pub const CLOCK_START_MS: i64 = 1_801_440_000_000;

pub fn money(value: &str, currency: &str, value_date: &str) -> Option<pb::Money> {
    Some(pb::Money { value: value.into(), currency: currency.into(), value_date: value_date.into() })
}

pub fn period(start: &str, end: &str) -> Option<pb::Period> {
    Some(pb::Period { start: start.into(), end: end.into() })
}

/// The parties: id → (roles).
pub const PARTIES: &[(&str, &str, &[&str])] = &[
    ("S", "Secretariat S", &["secretariat"]),
    ("DA", "Donor A", &["funder"]),
    ("DB", "Donor B", &["funder"]),
    ("BC", "Bank C", &["funder"]),
    ("GT", "Gov GT", &["partner_government"]),
    ("HN", "Gov HN", &["partner_government"]),
    ("SV", "Gov SV", &["partner_government"]),
    ("X", "Assessor X", &["assessor"]),
    ("Y", "Auditor Y", &["auditor"]),
    ("R", "Rates R", &["rate_publisher"]),
];

/// The founders sign the charter; the others are admitted by the secretariat (k = 1).
pub const FOUNDERS: &[&str] = &["S", "DA", "DB", "BC"];

/// A coalition under test: the server, every party's key, a verifying client, and a statement counter.
pub struct Coalition {
    pub server: TestServer,
    pub parties: BTreeMap<String, Founder>,
    pub client: Client,
    n: u32,
}

impl Coalition {
    /// Start a server at the scenario's clock, with the charter and admissions done.
    pub async fn start() -> Self {
        let server = TestServer::start_at(CLOCK_START_MS).await;
        let client = server.client().await;
        let parties = PARTIES
            .iter()
            .map(|(id, name, roles)| {
                let mut f = Founder::new(id, roles);
                f.party_id = id.to_string();
                f.name = name.to_string();
                (id.to_string(), f)
            })
            .collect();
        let mut c = Self { server, parties, client, n: 0 };
        let founders: Vec<&Founder> = FOUNDERS.iter().map(|id| &c.parties[*id]).collect();
        let charter = Statement { effective_date: "2026-01-05".into(), ..super::charter(&founders, 1) };
        let keys: Vec<&crypto::PrivateKey> = founders.iter().map(|f| &f.key).collect();
        c.client.submit(crypto::seal(&charter, &keys)).await.expect("charter");
        for (id, _, _) in PARTIES.iter().filter(|(id, _, _)| !FOUNDERS.contains(id)) {
            let party = c.parties[*id].party();
            c.submit(&[id, "S"], "2026-01-06", Body::PartyAdmitted(pb::PartyAdmitted { party: Some(party) }))
                .await
                .expect("admission");
        }
        c
    }

    /// A statement with a fresh id and the given effective date.
    pub fn statement(&mut self, effective_date: &str, body: Body) -> Statement {
        self.n += 1;
        Statement {
            ledger: ORIGIN.into(),
            statement_id: format!("st-{:04}", self.n),
            issued_at: Some(prost_types::Timestamp {
                seconds: date::parse_date(effective_date).unwrap_or(0) * 86_400,
                nanos: 0,
            }),
            effective_date: effective_date.into(),
            body: Some(body),
        }
    }

    /// Seal a statement with the keys of `signers`.
    pub fn seal(&mut self, signers: &[&str], effective_date: &str, body: Body) -> Envelope {
        let st = self.statement(effective_date, body);
        let keys: Vec<&crypto::PrivateKey> = signers.iter().map(|p| &self.parties[*p].key).collect();
        crypto::seal(&st, &keys)
    }

    /// Sign and submit; returns the entry index.
    pub async fn submit(&mut self, signers: &[&str], effective_date: &str, body: Body) -> accord::error::Result<u64> {
        let env = self.seal(signers, effective_date, body);
        Ok(self.client.submit(env).await?.receipt.index)
    }

    /// The identity hash of the entry at `index`.
    pub async fn identity(&mut self, index: u64) -> Vec<u8> {
        let (e, _) = self.client.entry(pb::get_entry_request::Key::Index(index)).await.expect("entry");
        e.identity
    }
}

pub fn fx(from: &str, rate: &str, day: &str) -> Body {
    Body::FxRateRecorded(pb::FxRateRecorded {
        from_currency: from.into(),
        to_currency: "USD".into(),
        rate: rate.into(),
        rate_date: day.into(),
        source: "Scenario A rate table".into(),
        method: "daily_reference".into(),
    })
}

pub fn goal(id: &str, title: &str, dac: &[&str]) -> Body {
    Body::GoalDefined(pb::GoalDefined {
        goal_id: id.into(),
        plan_id: PLAN.into(),
        title: title.into(),
        classifications: dac
            .iter()
            .map(|c| pb::Classification { vocabulary: "dac5".into(), code: c.to_string(), share: String::new() })
            .collect(),
        description: String::new(),
    })
}

pub fn shares(goals: &[(&str, &str)]) -> Vec<pb::GoalShare> {
    goals.iter().map(|(g, s)| pb::GoalShare { goal_id: g.to_string(), share: s.to_string() }).collect()
}

#[allow(clippy::too_many_arguments)]
pub fn pledge(
    id: &str,
    pledger: &str,
    amount: &str,
    currency: &str,
    goals: &[(&str, &str)],
    finance_type: &str,
    source: &str,
    usage_end: &str,
) -> Body {
    Body::PledgeAnnounced(pb::PledgeAnnounced {
        pledge_id: id.into(),
        plan_id: PLAN.into(),
        pledger_id: pledger.into(),
        pledge_kind: "money".into(),
        amount: money(amount, currency, "2026-01-20"),
        goals: shares(goals),
        recipient_ids: if source == "external" { vec!["GT".into(), "HN".into(), "SV".into()] } else { vec![] },
        usage_period: period("2026-01-01", usage_end),
        finance_type: finance_type.into(),
        funding_source: source.into(),
        new_money: true,
        restates: vec![],
        announced: Some(pb::Announcement {
            event: "Central America pledging conference".into(),
            date: "2026-01-20".into(),
        }),
        expires_on: String::new(),
        items: vec![],
        milestones: vec![],
        description: String::new(),
    })
}

/// An in-kind pledge of DB to HN (20 patrol vehicles at USD 25,000) of `value` USD.
pub fn inkind_pledge(id: &str, value: &str) -> Body {
    Body::PledgeAnnounced(pb::PledgeAnnounced {
        pledge_id: id.into(),
        plan_id: PLAN.into(),
        pledger_id: "DB".into(),
        pledge_kind: "in_kind".into(),
        amount: money(value, "USD", "2026-01-20"),
        goals: shares(&[("G2", "100")]),
        recipient_ids: vec!["HN".into()],
        usage_period: period("2026-01-01", "2026-12-31"),
        funding_source: "external".into(),
        new_money: true,
        items: vec![pb::InKindItem {
            item_id: "vehicles".into(),
            description: "Patrol vehicles".into(),
            quantity: "20".into(),
            unit: "vehicle".into(),
            unit_value: money("25000", "USD", "2026-01-20"),
            valuation_basis: "donor_cost".into(),
        }],
        ..Default::default()
    })
}

pub fn condition(id: &str, party: &str, text: &str, pledges: &[&str], at_stake: Option<pb::Money>) -> Body {
    Body::ConditionDefined(pb::ConditionDefined {
        condition_id: id.into(),
        plan_id: PLAN.into(),
        party_id: party.into(),
        condition_type: "policy".into(),
        text: text.into(),
        assessor_id: "X".into(),
        pledge_ids: pledges.iter().map(|p| p.to_string()).collect(),
        amount_at_stake: at_stake,
        co_financing: None,
    })
}

/// A commitment with optional unconditional and conditional tranches.
#[allow(clippy::too_many_arguments)]
pub fn commitment(
    id: &str,
    provider: &str,
    recipient: &str,
    pledge: &str,
    amount: &str,
    currency: &str,
    signed: &str,
    finance_type: &str,
    tranches: &[(&str, &str, &[&str])],
) -> Body {
    Body::CommitmentSigned(pb::CommitmentSigned {
        commitment_id: id.into(),
        plan_id: PLAN.into(),
        provider_id: provider.into(),
        recipient_id: recipient.into(),
        allocations: vec![pb::PledgeAllocation { pledge_id: pledge.into(), amount: money(amount, currency, signed) }],
        amount: money(amount, currency, signed),
        signed_date: signed.into(),
        finance_type: finance_type.into(),
        usage_years: vec![pb::UsageYear { year: signed[..4].parse().unwrap(), value: amount.into() }],
        tranches: tranches
            .iter()
            .map(|(t, v, c)| pb::Tranche {
                tranche_id: t.to_string(),
                value: v.to_string(),
                condition_ids: c.iter().map(|x| x.to_string()).collect(),
            })
            .collect(),
        agreement_sha256: vec![7; 32],
    })
}

#[allow(clippy::too_many_arguments)]
pub fn disbursement(
    id: &str,
    commitment: &str,
    tranche: &str,
    provider: &str,
    receiver: &str,
    amount: &str,
    currency: &str,
    day: &str,
) -> Body {
    Body::TransactionRecorded(pb::TransactionRecorded {
        txn_id: id.into(),
        commitment_id: commitment.into(),
        transaction_type: 3,
        date: day.into(),
        amount: money(amount, currency, day),
        provider_id: provider.into(),
        receiver_id: receiver.into(),
        tranche_id: tranche.into(),
        boundary: "incoming".into(),
        evidence_sha256: vec![],
        description: String::new(),
        ..Default::default()
    })
}

pub fn assessed(condition: &str, tranche: &str, outcome: &str, day: &str) -> Body {
    Body::ConditionAssessed(pb::ConditionAssessed {
        condition_id: condition.into(),
        tranche_id: tranche.into(),
        outcome: outcome.into(),
        date: day.into(),
        evidence_sha256: vec![9; 32],
        rationale: format!("assessment of {condition}"),
    })
}

/// What the scenario run produced, for assertions.
pub struct Outcome {
    /// The rejected attempt to disburse SV's withheld C1 tranche.
    pub withheld_rejection: accord::error::Error,
    /// Entry indexes of the progress reports by country.
    pub reports: BTreeMap<String, u64>,
}

/// Rates, the plan and its goals (the first part of scenario A).
pub async fn plan_and_goals(c: &mut Coalition) {
    // Rates R: every rate the scenario gives (USD per unit).
    for (cur, rate, day) in [
        ("EUR", "1.085", "2026-01-20"),
        ("GTQ", "0.13", "2026-01-20"),
        ("HNL", "0.040", "2026-01-20"),
        ("EUR", "1.08", "2026-02-15"),
        ("EUR", "1.09", "2026-03-10"),
        ("EUR", "1.10", "2026-06-30"),
        ("EUR", "1.12", "2026-09-30"),
        ("GTQ", "0.13", "2026-12-31"),
        ("HNL", "0.040", "2026-12-31"),
    ] {
        c.submit(&["R"], day, fx(cur, rate, day)).await.expect("fx rate");
    }
    // Secretariat S: the plan and its goals.
    c.submit(
        &["S"],
        "2026-01-10",
        Body::PlanCreated(pb::PlanCreated {
            plan_id: PLAN.into(),
            title: "Four-year Central America plan (2026–2029)".into(),
            period: period("2026-01-01", "2029-12-31"),
            reporting_currency: "USD".into(),
            signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
            report_schedule: Some(pb::ReportSchedule { frequency: "annual".into(), days_after_period_end: 60 }),
            requirement: None,
            description: String::new(),
            ..Default::default()
        }),
    )
    .await
    .expect("plan");
    for (id, title, dac) in [
        ("G1", "Anti-corruption and rule of law", &["15113", "15130"][..]),
        ("G2", "Citizen security and drug trafficking", &["15210", "16063"][..]),
        ("G3", "Inclusive economy and inequality", &["16020", "25010"][..]),
        ("G4", "Institutions and revenue", &["15111"][..]),
    ] {
        c.submit(&["S"], "2026-01-10", goal(id, title, dac)).await.expect("goal");
    }
}

/// Run scenario A from the plan to the attestations.
pub async fn run(c: &mut Coalition) -> Outcome {
    plan_and_goals(c).await;
    run_after_plan(c).await
}

/// The scenario after [`plan_and_goals`]: pledges, conditions, commitments, disbursements and reports.
pub async fn run_after_plan(c: &mut Coalition) -> Outcome {
    // Pledges at the conference of 2026-01-20, each by its pledger.
    let pledges = [
        ("P1", "DA", "120000000", "EUR", &[("G1", "50"), ("G4", "50")][..], "110", "external", "2029-12-31"),
        ("P2", "DB", "200000000", "USD", &[("G2", "60"), ("G3", "40")][..], "110", "external", "2027-12-31"),
        ("P3", "BC", "300000000", "USD", &[("G3", "100")][..], "421", "external", "2029-12-31"),
        ("P4", "GT", "230000000", "GTQ", &[("G1", "50"), ("G2", "50")][..], "", "domestic_own_resources", "2029-12-31"),
        ("P5", "HN", "750000000", "HNL", &[("G1", "50"), ("G2", "50")][..], "", "domestic_own_resources", "2029-12-31"),
        ("P6", "SV", "20000000", "USD", &[("G1", "50"), ("G2", "50")][..], "", "domestic_own_resources", "2029-12-31"),
    ];
    for (id, who, amount, cur, goals, ft, src, end) in pledges {
        c.submit(&[who], "2026-01-20", pledge(id, who, amount, cur, goals, ft, src, end)).await.expect("pledge");
    }
    // Conditions, each by the party whose money it gates; C4 by the secretariat over the governments.
    c.submit(
        &["DA"],
        "2026-01-20",
        condition("C1", "DA", "National anti-corruption unit legally constituted", &["P1"], None),
    )
    .await
    .expect("C1");
    c.submit(
        &["DB"],
        "2026-01-20",
        condition(
            "C2",
            "DB",
            "Certification on border and trafficking cooperation",
            &["P2"],
            money("50000000", "USD", "2026-01-20"),
        ),
    )
    .await
    .expect("C2");
    c.submit(
        &["DB"],
        "2026-01-20",
        condition("C3", "DB", "Governance criteria", &["P2"], money("100000000", "USD", "2026-01-20")),
    )
    .await
    .expect("C3");
    c.submit(
        &["S"],
        "2026-01-20",
        Body::ConditionDefined(pb::ConditionDefined {
            condition_id: "C4".into(),
            plan_id: PLAN.into(),
            party_id: "S".into(),
            condition_type: "co_financing".into(),
            text: "Own resources at least 25% of external grants disbursed to the country in the year".into(),
            assessor_id: "X".into(),
            pledge_ids: vec!["P4".into(), "P5".into(), "P6".into()],
            amount_at_stake: None,
            co_financing: Some(pb::CoFinancingRule {
                ratio: "0.25".into(),
                party_ids: vec!["GT".into(), "HN".into(), "SV".into()],
                finance_types: vec!["110".into()],
                period: "year".into(),
            }),
        }),
    )
    .await
    .expect("C4");
    // Commitments, signed by provider and recipient.
    for country in ["GT", "HN", "SV"] {
        let (u, c1) = (format!("DA-{country}-U"), format!("DA-{country}-C1"));
        let body = commitment(
            &format!("DA-{country}"),
            "DA",
            country,
            "P1",
            "10000000",
            "EUR",
            "2026-02-15",
            "110",
            &[(&u, "7500000", &[]), (&c1, "2500000", &["C1"])],
        );
        c.submit(&["DA", country], "2026-02-15", body).await.expect("DA commitment");
    }
    for (country, total, half) in
        [("GT", "40000000", "20000000"), ("HN", "35000000", "17500000"), ("SV", "25000000", "12500000")]
    {
        let (u, c2) = (format!("DB-{country}-U"), format!("DB-{country}-C2"));
        let body = commitment(
            &format!("DB-{country}"),
            "DB",
            country,
            "P2",
            total,
            "USD",
            "2026-03-01",
            "110",
            &[(&u, half, &[]), (&c2, half, &["C2"])],
        );
        c.submit(&["DB", country], "2026-03-01", body).await.expect("DB commitment");
    }
    for country in ["GT", "HN"] {
        let body =
            commitment(&format!("BC-{country}"), "BC", country, "P3", "60000000", "USD", "2026-04-10", "421", &[]);
        c.submit(&["BC", country], "2026-04-10", body).await.expect("BC commitment");
    }
    // 2026 in date order: disbursements (by the provider) and assessments (by Assessor X).
    for country in ["GT", "HN", "SV"] {
        let body = disbursement(
            &format!("T-DA-{country}-1"),
            &format!("DA-{country}"),
            &format!("DA-{country}-U"),
            "DA",
            country,
            "7500000",
            "EUR",
            "2026-03-10",
        );
        c.submit(&["DA"], "2026-03-10", body).await.expect("DA first disbursement");
    }
    for (country, v) in [("GT", "20000000"), ("HN", "17500000"), ("SV", "12500000")] {
        let body = disbursement(
            &format!("T-DB-{country}-1"),
            &format!("DB-{country}"),
            &format!("DB-{country}-U"),
            "DB",
            country,
            v,
            "USD",
            "2026-04-15",
        );
        c.submit(&["DB"], "2026-04-15", body).await.expect("DB unconditional disbursement");
    }
    c.submit(&["X"], "2026-05-31", assessed("C1", "DA-GT-C1", "met", "2026-05-31")).await.expect("C1-GT");
    let body = disbursement("T-DA-GT-2", "DA-GT", "DA-GT-C1", "DA", "GT", "2500000", "EUR", "2026-06-30");
    c.submit(&["DA"], "2026-06-30", body).await.expect("C1 GT tranche");
    c.submit(&["X"], "2026-07-01", assessed("C2", "", "met", "2026-07-01")).await.expect("C2");
    for (country, v) in [("GT", "20000000"), ("HN", "17500000"), ("SV", "12500000")] {
        let body = disbursement(
            &format!("T-DB-{country}-2"),
            &format!("DB-{country}"),
            &format!("DB-{country}-C2"),
            "DB",
            country,
            v,
            "USD",
            "2026-07-20",
        );
        c.submit(&["DB"], "2026-07-20", body).await.expect("DB C2 disbursement");
    }
    c.submit(&["X"], "2026-08-15", assessed("C1", "DA-HN-C1", "met", "2026-08-15")).await.expect("C1-HN");
    let body = disbursement("T-DA-HN-2", "DA-HN", "DA-HN-C1", "DA", "HN", "2500000", "EUR", "2026-09-30");
    c.submit(&["DA"], "2026-09-30", body).await.expect("C1 HN tranche");
    for country in ["GT", "HN"] {
        let body = disbursement(
            &format!("T-BC-{country}-1"),
            &format!("BC-{country}"),
            "",
            "BC",
            country,
            "20000000",
            "USD",
            "2026-10-01",
        );
        c.submit(&["BC"], "2026-10-01", body).await.expect("BC disbursement");
    }
    c.submit(&["X"], "2026-12-31", assessed("C1", "DA-SV-C1", "notMet", "2026-12-31")).await.expect("C1-SV");
    // SV's C1 tranche is withheld: disbursing it must be refused.
    let body = disbursement("T-DA-SV-2", "DA-SV", "DA-SV-C1", "DA", "SV", "2500000", "EUR", "2026-12-31");
    let withheld_rejection = c.submit(&["DA"], "2026-12-31", body).await.expect_err("withheld tranche must be refused");
    // Progress reports for 2026 with co-financing realised, by each government.
    let mut reports = BTreeMap::new();
    for (country, v, cur) in [("GT", "100000000", "GTQ"), ("HN", "250000000", "HNL"), ("SV", "3000000", "USD")] {
        let body = Body::ProgressReported(pb::ProgressReported {
            report_id: format!("R-{country}-2026"),
            reporter_id: country.into(),
            plan_id: PLAN.into(),
            period: period("2026-01-01", "2026-12-31"),
            indicator_values: vec![],
            co_financing_realised: money(v, cur, "2026-12-31"),
            narrative_sha256: vec![1; 32],
        });
        let idx = c.submit(&[country], "2027-01-15", body).await.expect("progress report");
        reports.insert(country.to_string(), idx);
    }
    // Auditor Y attests GT's and HN's reports; SV's stays unattested.
    let covered = vec![c.identity(reports["GT"]).await, c.identity(reports["HN"]).await];
    c.submit(
        &["Y"],
        "2027-01-25",
        Body::AttestationIssued(pb::AttestationIssued {
            attestation_id: "A-2026-1".into(),
            auditor_id: "Y".into(),
            scope: "Co-financing realised in 2026 (GT, HN)".into(),
            covered_entries: covered,
            opinion: "verified".into(),
            adjustments: vec![],
        }),
    )
    .await
    .expect("attestation");
    Outcome { withheld_rejection, reports }
}

/// Every query answer, encoded: each kind listed page by page (small pages, so tokens are exercised), each
/// subject with its history, and the parties.
pub async fn all_answers(client: &mut Client) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for kind in accord::domain::book::SubjectKind::NAMES {
        let mut token = String::new();
        loop {
            let req = pb::ListRequest { page_size: 3, page_token: token.clone(), ..Default::default() };
            let resp = client.list(kind, req).await.expect("list");
            out.push(resp.encode_to_vec());
            for item in &resp.items {
                let s = client.subject(kind, &item.id, false).await.expect("subject");
                out.push(s.encode_to_vec());
            }
            if resp.next_page_token.is_empty() {
                break;
            }
            token = resp.next_page_token;
        }
    }
    let parties = client
        .coalition()
        .list_parties(pb::ListPartiesRequest { page_size: 1000, ..Default::default() })
        .await
        .expect("parties")
        .into_inner();
    out.push(parties.encode_to_vec());
    out
}

/// Submit and expect a refusal of `kind` whose message contains every part; the log must not grow.
pub async fn refused(
    c: &mut Coalition,
    signers: &[&str],
    day: &str,
    body: Body,
    kind: accord::error::Kind,
    parts: &[&str],
) {
    let before = c.client.checkpoint(None).await.unwrap().size;
    let res: accord::error::Result<u64> = c.submit(signers, day, body).await;
    let e = res.expect_err("must be refused");
    assert_eq!(e.kind, kind, "{e}");
    // A part is a field (named as the code names it; the message has its JSON spelling) or rule text.
    for p in parts {
        assert!(e.message.contains(&super::json_names(p)) || e.message.contains(p), "{p:?} not in: {e}");
    }
    assert_eq!(c.client.checkpoint(None).await.unwrap().size, before, "a refusal wrote something: {e}");
}

/// `accord export FORMAT --plan PLAN -o FILE` through the real binary against the coalition's server;
/// returns the file's text.
pub fn export(c: &Coalition, format: &str, file: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["export", format, "--plan", PLAN, "--server", &c.server.url, "--log-key", &c.server.verifier_key])
        .arg("-o")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(file).unwrap()
}

/// Validate an OCDS release package file against the vendored OCDS 1.1 schemas (tests/data/ocds-1.1) with
/// scripts/ocds_validate.py: Ok(()) when valid, Err(errors) when not. A missing Python or `jsonschema`
/// fails the test (never a skip).
#[allow(dead_code)]
pub fn ocds_validate(file: &std::path::Path) -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(root.join("scripts/ocds_validate.py"))
        .arg(file)
        .arg(root.join("tests/data/ocds-1.1"))
        .output()
        .expect("python3 is required to validate the OCDS export: run scripts/test.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(text),
        _ => panic!("the OCDS validator could not run (run scripts/test.sh, which installs it):\n{text}"),
    }
}

/// `accord report verify --plan PLAN` against a server: the in-memory replay of the downloaded log computes
/// the report the server serves (exit 0, `"ok": true`); `context` is shown when it does not.
#[allow(dead_code)]
pub fn report_verify(url: &str, log_key: &str, plan: &str, context: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["--json", "report", "verify", "--plan", plan, "--server", url, "--log-key", log_key])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "report verify {plan} disagrees {context}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], true, "{text}");
}
