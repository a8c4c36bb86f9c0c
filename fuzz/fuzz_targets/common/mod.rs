//! Shared by the fuzz targets and by `tests/fuzz.rs` (which writes and checks the seed corpus): fixed keys,
//! a small coalition's statements, and a Merkle tree of them with checkpoints signed by a fixed log key.
//! Everything is deterministic (Ed25519 signatures are), so the committed seeds can be regenerated and
//! compared byte for byte.
// statements() is one coalition's ledger in entry order; split, the order each entry depends on would be hidden (issue 12).
#![allow(clippy::too_many_lines)]
#![allow(dead_code)]

use accord::crypto::{self, LogSigner, PrivateKey, PublicKey, StrictNoteVerifier};
use accord::merkle::{self, MemoryHashes, ProofBundle};
use accord::pb::{self, statement::Body, Envelope, LogEntry, Statement};
use prost::Message;

/// Origin of the fuzzed ledger (the log key's name).
pub const ORIGIN: &str = "fuzz.example/ledger";
/// Name of the fixed witness.
pub const WITNESS: &str = "witness.fuzz.example";
/// 2027-02-01T00:00:00Z: after every dated statement below (the web target's ledger clock).
pub const CLOCK_MS: i64 = 1_801_440_000_000;
/// The plan and pledges the statements create.
pub const PLAN: &str = "PL-1";

/// The coalition: (party id, role). Party `i` has the key with seed `[i + 1; 32]`.
pub const PARTIES: &[(&str, &str)] =
    &[("S", "secretariat"), ("DA", "funder"), ("GT", "partner_government"), ("R", "rate_publisher")];

pub fn party_key(id: &str) -> PrivateKey {
    let i = PARTIES.iter().position(|(p, _)| *p == id).unwrap_or(0);
    PrivateKey::from_bytes(&[u8::try_from(i).unwrap_or(0) + 1; 32])
}

/// Every party's public key by keyid (the "registered keys" of the stateless stage).
pub fn party_keys() -> std::collections::HashMap<String, PublicKey> {
    PARTIES.iter().map(|(p, _)| party_key(p).verifying_key()).map(|k| (crypto::keyid(&k), k)).collect()
}

pub fn log_signer() -> LogSigner {
    LogSigner::new(ORIGIN, PrivateKey::from_bytes(&[0x4c; 32])).expect("valid origin")
}

pub fn log_verifier() -> StrictNoteVerifier {
    log_signer().verifier().clone()
}

pub fn cosigner() -> crypto::cosign::Cosigner {
    crypto::cosign::Cosigner::new(WITNESS, PrivateKey::from_bytes(&[0x57; 32]))
}

/// A trust policy: the log plus the witness, quorum of that witness.
pub fn policy_text() -> String {
    format!("log {}\nwitness W {}\nquorum W\n", log_signer().verifier_key(), cosigner().verifier_key())
}

fn money(value: &str, currency: &str, value_date: &str) -> Option<pb::Money> {
    Some(pb::Money { value: value.into(), currency: currency.into(), value_date: value_date.into() })
}

fn statement(id: &str, day: &str, body: Body) -> Statement {
    Statement {
        ledger: ORIGIN.into(),
        statement_id: id.into(),
        issued_at: Some(prost_types::Timestamp {
            seconds: accord::domain::date::parse_date(day).unwrap_or(0) * 86_400,
            nanos: 0,
        }),
        effective_date: day.into(),
        body: Some(body),
    }
}

fn pledge(id: &str, amount: &str, currency: &str) -> Body {
    Body::PledgeAnnounced(pb::PledgeAnnounced {
        pledge_id: id.into(),
        plan_id: PLAN.into(),
        pledger_id: "DA".into(),
        pledge_kind: "money".into(),
        amount: money(amount, currency, "2026-01-20"),
        goals: vec![pb::GoalShare { goal_id: "G1".into(), share: "100".into() }],
        recipient_ids: vec!["GT".into()],
        usage_period: Some(pb::Period { start: "2026-01-01".into(), end: "2028-12-31".into() }),
        finance_type: "110".into(),
        funding_source: "external".into(),
        new_money: true,
        announced: Some(pb::Announcement { event: "Pledging conference".into(), date: "2026-01-20".into() }),
        ..Default::default()
    })
}

/// DA's second pledge, in EUR: it overlaps P1 (same pledger, plan and usage period), so it declares that it
/// restates none of it (a restatement of 0, DOMAIN.md §7).
fn second_pledge() -> Body {
    let mut b = pledge("P2", "250000.50", "EUR");
    if let Body::PledgeAnnounced(p) = &mut b {
        p.restates = vec![pb::Restatement { pledge_id: "P1".into(), amount: money("0", "USD", "2026-01-20") }];
    }
    b
}

/// The statements of a small coalition, in order, each with the parties that sign it.
pub fn statements() -> Vec<(Statement, Vec<&'static str>)> {
    let party = |id: &str, role: &str| pb::Party {
        party_id: id.into(),
        name: format!("Party {id}"),
        roles: vec![role.into()],
        public_keys: vec![party_key(id).verifying_key().as_bytes().to_vec()],
        organisation_type: "10".into(),
        country: String::new(),
    };
    let charter = Body::Charter(pb::Charter {
        name: "Fuzz coalition".into(),
        founders: PARTIES.iter().map(|(p, r)| party(p, r)).collect(),
        admission: Some(pb::AdmissionRule { k: 1 }),
        purpose: "fuzzing".into(),
    });
    let all: Vec<&'static str> = PARTIES.iter().map(|(p, _)| *p).collect();
    vec![
        (statement("charter", "2026-01-05", charter), all),
        (
            statement(
                "fx-1",
                "2026-01-20",
                Body::FxRateRecorded(pb::FxRateRecorded {
                    from_currency: "EUR".into(),
                    to_currency: "USD".into(),
                    rate: "1.085".into(),
                    rate_date: "2026-01-20".into(),
                    source: "rate table".into(),
                    method: "daily_reference".into(),
                }),
            ),
            vec!["R"],
        ),
        (
            statement(
                "plan-1",
                "2026-01-10",
                Body::PlanCreated(pb::PlanCreated {
                    plan_id: PLAN.into(),
                    title: "Regional plan".into(),
                    period: Some(pb::Period { start: "2026-01-01".into(), end: "2028-12-31".into() }),
                    reporting_currency: "USD".into(),
                    signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
                    report_schedule: Some(pb::ReportSchedule { frequency: "annual".into(), days_after_period_end: 60 }),
                    requirement: None,
                    description: String::new(),
                    ..Default::default()
                }),
            ),
            vec!["S"],
        ),
        (
            statement(
                "goal-1",
                "2026-01-10",
                Body::GoalDefined(pb::GoalDefined {
                    goal_id: "G1".into(),
                    plan_id: PLAN.into(),
                    title: "Rule of law".into(),
                    classifications: vec![pb::Classification {
                        vocabulary: "dac5".into(),
                        code: "15130".into(),
                        share: String::new(),
                    }],
                    description: String::new(),
                }),
            ),
            vec!["S"],
        ),
        (statement("pledge-1", "2026-01-20", pledge("P1", "1000000", "USD")), vec!["DA"]),
        (statement("pledge-2", "2026-01-20", second_pledge()), vec!["DA"]),
        (
            statement(
                "commitment-1",
                "2026-02-15",
                Body::CommitmentSigned(pb::CommitmentSigned {
                    commitment_id: "DA-GT".into(),
                    plan_id: PLAN.into(),
                    provider_id: "DA".into(),
                    recipient_id: "GT".into(),
                    allocations: vec![pb::PledgeAllocation {
                        pledge_id: "P1".into(),
                        amount: money("400000", "USD", "2026-02-15"),
                    }],
                    amount: money("400000", "USD", "2026-02-15"),
                    signed_date: "2026-02-15".into(),
                    finance_type: "110".into(),
                    usage_years: vec![pb::UsageYear { year: 2026, value: "400000".into() }],
                    tranches: vec![],
                    agreement_sha256: vec![7; 32],
                }),
            ),
            vec!["DA", "GT"],
        ),
        (
            statement(
                "txn-1",
                "2026-03-01",
                Body::TransactionRecorded(pb::TransactionRecorded {
                    txn_id: "T1".into(),
                    commitment_id: "DA-GT".into(),
                    transaction_type: 3,
                    date: "2026-03-01".into(),
                    amount: money("150000", "USD", "2026-03-01"),
                    provider_id: "DA".into(),
                    receiver_id: "GT".into(),
                    tranche_id: String::new(),
                    boundary: "incoming".into(),
                    evidence_sha256: vec![],
                    description: String::new(),
                    ..Default::default()
                }),
            ),
            vec!["DA"],
        ),
    ]
}

/// The statements sealed by their signers.
pub fn envelopes() -> Vec<Envelope> {
    statements()
        .iter()
        .map(|(st, signers)| {
            let keys: Vec<PrivateKey> = signers.iter().map(|p| party_key(p)).collect();
            crypto::seal(st, &keys.iter().collect::<Vec<_>>())
        })
        .collect()
}

/// The leaves of a log holding [`envelopes`], a minute apart.
pub fn leaves() -> Vec<Vec<u8>> {
    envelopes()
        .into_iter()
        .zip(0i64..)
        .map(|(e, i)| {
            LogEntry { envelope: Some(e), integrated_at_ms: CLOCK_MS - 3_600_000 + i * 60_000 }.encode_to_vec()
        })
        .collect()
}

/// The Merkle tree of [`leaves`].
pub fn tree() -> MemoryHashes {
    let mut t = MemoryHashes::default();
    for l in leaves() {
        t.append(&l);
    }
    t
}

/// The checkpoint of the first `size` leaves, signed by the log key.
pub fn checkpoint(size: u64) -> String {
    let mut t = MemoryHashes::default();
    for l in leaves().iter().take(usize::try_from(size).unwrap_or(usize::MAX)) {
        t.append(l);
    }
    log_signer().sign_checkpoint(size, &t.root())
}

/// The tlog-proof bundle of leaf `index` in the tree of `size` leaves.
pub fn bundle(index: u64, size: u64) -> ProofBundle {
    let t = tree();
    let leaves = leaves();
    let proof = merkle::prove_record(size, index, &t).expect("index below size").into_iter().map(|h| h.0).collect();
    ProofBundle {
        extra: leaves.get(usize::try_from(index).unwrap_or(usize::MAX)).cloned(),
        index,
        proof,
        checkpoint: checkpoint(size),
    }
}

/// Consistency proof from `old` to `new` leaves.
pub fn consistency(old: u64, new: u64) -> Vec<[u8; 32]> {
    merkle::prove_tree(new, old, &tree()).expect("sizes in the tree").into_iter().map(|h| h.0).collect()
}

/// The witness state the witness target starts every input from: it has cosigned the checkpoint of size 3.
pub const WITNESS_STATE_SIZE: u64 = 3;

pub fn witness_state_json() -> String {
    use base64::prelude::*;
    let note = checkpoint(WITNESS_STATE_SIZE);
    let cp = crypto::open_checkpoint(note.as_bytes(), &log_verifier()).expect("own checkpoint opens");
    let state = std::collections::BTreeMap::from([(
        ORIGIN.to_string(),
        accord::server::witness::LogState {
            size: cp.size,
            root: BASE64_STANDARD.encode(cp.root),
            checkpoint: note,
            map: None,
        },
    )]);
    serde_json::to_string_pretty(&state).expect("plain data")
}

/// An add-checkpoint request body: `old N`, the proof lines, a blank line, the checkpoint.
pub fn add_checkpoint_body(old: u64, proof: &[[u8; 32]], note: &str) -> String {
    use base64::prelude::*;
    let mut s = format!("old {old}\n");
    for h in proof {
        s.push_str(&BASE64_STANDARD.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(note);
    s
}

/// The paths of the public page the web target starts from.
pub const WEB_PATHS: &[&str] = &[
    "/",
    "/plan/PL-1",
    "/plan/PL-1?currency=EUR",
    "/pledge/P1",
    "/pledge/P2",
    "/checkpoint",
    "/checkpoint.txt",
    "/healthz",
    "/metrics",
    "/plan/NOPE",
    "/pledge/%22%3E%3Csvg%3E",
];

/// The seed corpus: (target, file name, bytes). File names start with `seed-`: everything else in
/// fuzz/corpus is what a local run added, and .gitignore keeps it out.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let envs = envelopes();
    let sts = statements();
    for (e, (st, _)) in envs.iter().zip(&sts) {
        out.push(("envelope", format!("{}.pb", st.statement_id), e.encode_to_vec()));
    }
    // A leaf (LogEntry) as the target also tries it as one.
    if let Some(l) = leaves().get(4) {
        out.push(("envelope", "leaf-pledge-1.pb".into(), l.clone()));
    }
    for (st, _) in sts.iter().skip(1).take(4) {
        let json = accord::json::statement_to_json(st).expect("statement JSON");
        out.push(("statement_json", format!("{}.json", st.statement_id), json.into_bytes()));
    }
    if let Some(e) = envs.get(6) {
        out.push((
            "statement_json",
            "envelope-commitment-1.json".into(),
            accord::json::envelope_to_json(e).into_bytes(),
        ));
    }
    for kind in ["pledge.announced", "transaction.recorded"] {
        let t = accord::json::statement_template(kind, ORIGIN, "st-1", "2026-01-20").expect("template");
        out.push(("statement_json", format!("template-{kind}.jsonc"), t.into_bytes()));
    }
    let cp8 = checkpoint(8);
    let (body, _) = crypto::cosign::split_note(&cp8).expect("signed note");
    let cosigned = format!("{cp8}{}", cosigner().cosign(body, 1_801_440_000));
    out.push(("checkpoint", "checkpoint-0".into(), checkpoint(0).into_bytes()));
    out.push(("checkpoint", "checkpoint-8".into(), cp8.clone().into_bytes()));
    out.push(("checkpoint", "checkpoint-8-cosigned".into(), cosigned.clone().into_bytes()));
    out.push(("checkpoint", "policy".into(), policy_text().into_bytes()));
    out.push(("checkpoint", "verifier-key".into(), log_signer().verifier_key().into_bytes()));
    out.push(("checkpoint", "witness-key".into(), cosigner().verifier_key().into_bytes()));
    for (i, n) in [(0, 1), (4, 8), (7, 8)] {
        out.push(("proof_bundle", format!("entry-{i}-of-{n}.tlog-proof"), bundle(i, n).to_text().into_bytes()));
    }
    let mut no_extra = bundle(2, 5);
    no_extra.extra = None;
    out.push(("proof_bundle", "entry-2-of-5-no-extra.tlog-proof".into(), no_extra.to_text().into_bytes()));
    let s = WITNESS_STATE_SIZE;
    out.push(("witness", "extend-3-to-8".into(), add_checkpoint_body(s, &consistency(s, 8), &cp8).into_bytes()));
    out.push((
        "witness",
        "extend-3-to-5".into(),
        add_checkpoint_body(s, &consistency(s, 5), &checkpoint(5)).into_bytes(),
    ));
    out.push(("witness", "same-size".into(), add_checkpoint_body(s, &[], &checkpoint(s)).into_bytes()));
    out.push(("witness", "stale-old-0".into(), add_checkpoint_body(0, &[], &cosigned).into_bytes()));
    for (i, p) in WEB_PATHS.iter().enumerate() {
        out.push(("web", format!("path-{i:02}"), p.as_bytes().to_vec()));
    }
    out.into_iter().map(|(t, name, bytes)| (t, format!("seed-{name}"), bytes)).collect()
}
