//! Property (issue 17): for random ledgers, every key's list in the server's verifiable index equals a
//! brute-force scan of the log.
//!
//! Each case builds a random coalition ledger on a real server: scenario A (plans, goals, pledges with
//! goal shares and recipients, conditions with co-financing parties, commitments with gated tranches,
//! disbursements, assessments, progress reports, an attestation), a second plan, an in-kind and a policy
//! pledge, then a random sequence of pledges restating earlier ones (in either plan), commitments,
//! disbursements, incoming funds named by no commitment (no plan), reversals, assessments, amendments
//! (pledges, indicators, a condition named again under the other plan, then assessed: it keeps its
//! creation plan), withdrawals of pledges, commitments and conditions, indicators, progress reports with
//! indicator values, deliveries and their confirmations, milestone updates, FX rates, key rotations and
//! revocations (earlier entries keep their signer). Statements the rules refuse are simply not in the
//! log.
//!
//! The brute force downloads the whole log (checked against the signed checkpoint) and files each entry
//! by docs/INDEX.md §1 with a plain scan: the named keys by `accord_domain::index::named_keys`, the
//! inherited plan (§1.3) by a table subject → plan filled from the creating entries as the log is walked
//! in order (nothing from src/vindex, the book's projections or `plan_anchor`). Then:
//! 1. every party's, every plan's and every creating kind's list served in a complete answer (ListPledges
//!    by party, ListGoals by plan, each kind unfiltered), and absent keys, equal the brute-force lists, and
//!    the client's `verify_complete` accepts each answer;
//! 2. the map root of the server's map checkpoint equals the root of the brute-force lists computed here
//!    from §3–§4 alone, `VerifiableMap::from_lists` over them, and `vindex::roots_at` over a replay of the
//!    downloaded log; a root covers every key, so every subject key's list is checked too;
//! 3. `audit` with that map checkpoint passes;
//! 4. after a restart, the map the server rebuilds from the log has that root too.
//!
//! On a root mismatch the test names each entry whose server-side keys (`vindex::entry_keys`) differ from
//! the brute force's.
mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use accord::error::Kind;
use accord::pb::{self, statement::Body};
use accord_domain::ids::PartyId;
use accord_domain::statement::{self as ds, Amended, Version};
use common::scenario::{self as sc, money, Coalition};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const PLAN2: &str = "PL2";
const GOALS: [&str; 5] = ["G1", "G2", "G3", "G4", "H1"];
const DONORS: [&str; 3] = ["DA", "DB", "BC"];
const GOVS: [&str; 3] = ["GT", "HN", "SV"];

#[derive(Debug, Clone)]
enum Op {
    Pledge { who: usize, goal: usize, plan2: bool },
    Commit { pledge: usize, gated: bool },
    Disburse { commitment: usize, tranche: usize, loose: bool },
    Reverse { txn: usize },
    Assess { tranche: usize, moved: bool },
    AmendPledge { pledge: usize },
    Withdraw { kind: usize, n: usize },
    Indicator { goal: usize },
    AmendIndicator { indicator: usize },
    MoveCondition,
    Report { gov: usize, indicator: usize },
    Deliver,
    Confirm { delivery: usize },
    Milestone,
    Fx { day: u32 },
    Rotate { who: usize },
    Revoke { gov: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..5usize, any::<bool>()).prop_map(|(who, goal, plan2)| Op::Pledge { who, goal, plan2 }),
        3 => (0..64usize, any::<bool>()).prop_map(|(pledge, gated)| Op::Commit { pledge, gated }),
        4 => (0..64usize, 0..3usize, proptest::bool::weighted(0.2))
            .prop_map(|(commitment, tranche, loose)| Op::Disburse { commitment, tranche, loose }),
        1 => (0..64usize).prop_map(|txn| Op::Reverse { txn }),
        2 => (0..64usize, any::<bool>()).prop_map(|(tranche, moved)| Op::Assess { tranche, moved }),
        1 => (0..64usize).prop_map(|pledge| Op::AmendPledge { pledge }),
        1 => (0..3usize, 0..64usize).prop_map(|(kind, n)| Op::Withdraw { kind, n }),
        2 => (0..5usize).prop_map(|goal| Op::Indicator { goal }),
        1 => (0..64usize).prop_map(|indicator| Op::AmendIndicator { indicator }),
        1 => Just(Op::MoveCondition),
        2 => (0..3usize, 0..64usize).prop_map(|(gov, indicator)| Op::Report { gov, indicator }),
        1 => Just(Op::Deliver),
        1 => (0..64usize).prop_map(|delivery| Op::Confirm { delivery }),
        1 => Just(Op::Milestone),
        1 => (0..365u32).prop_map(|day| Op::Fx { day }),
        1 => (0..6usize).prop_map(|who| Op::Rotate { who }),
        1 => (0..3usize).prop_map(|gov| Op::Revoke { gov }),
    ]
}

/// What the ledger accepted so far (ids to refer to).
#[derive(Default)]
struct Model {
    /// (pledge id, pledger, currency, goal).
    pledges: Vec<(String, &'static str, &'static str, &'static str)>,
    /// (commitment id, provider, recipient, currency, tranches).
    commitments: Vec<(String, &'static str, &'static str, &'static str, Vec<String>)>,
    tranches: Vec<String>,
    /// (txn id, provider).
    txns: Vec<(String, &'static str)>,
    /// (indicator id, goal id).
    indicators: Vec<(String, &'static str)>,
    deliveries: Vec<String>,
    conditions: Vec<(String, &'static str)>,
    n: usize,
}

fn get<T>(v: &[T], i: usize) -> Option<&T> {
    v.get(i % v.len().max(1))
}

fn plan_of_goal(goal: &str) -> &'static str {
    if goal == "H1" {
        PLAN2
    } else {
        sc::PLAN
    }
}

fn indicator(id: &str, goal: &str) -> pb::IndicatorDefined {
    pb::IndicatorDefined {
        indicator_id: id.into(),
        goal_id: goal.into(),
        title: format!("indicator {id}"),
        measure: 1,
        ascending: true,
        unit: "people".into(),
        baseline: Some(pb::Baseline { value: "10".into(), year: 2025 }),
        targets: vec![pb::IndicatorTarget { period: sc::period("2026-01-01", "2026-12-31"), value: "100".into() }],
    }
}

/// The pledge `id` of `who` restating each of its earlier pledges by 0 (the overlap rule, DOMAIN.md §7).
fn pledge(m: &Model, id: &str, who: &'static str, goal: &str, plan: &str) -> pb::PledgeAnnounced {
    let Body::PledgeAnnounced(mut p) =
        sc::pledge(id, who, "1000", "USD", &[(goal, "100")], "110", "external", "2029-12-31")
    else {
        unreachable!()
    };
    p.plan_id = plan.into();
    p.restates = m
        .pledges
        .iter()
        .filter(|(_, w, _, _)| *w == who)
        .map(|(pid, _, cur, _)| pb::Restatement { pledge_id: pid.clone(), amount: money("0", cur, "2026-01-20") })
        .collect();
    p
}

/// What the model learns when the ledger accepts a statement.
type OnAccepted = Box<dyn FnOnce(&mut Model)>;

/// Sign and submit the statement of `op` (skipped when it refers to nothing yet); a refusal is fine, an
/// internal error is not.
#[allow(clippy::too_many_lines, reason = "one arm per operation: the generator reads as one table")]
async fn apply(c: &mut Coalition, m: &mut Model, op: &Op) {
    m.n += 1;
    let n = m.n;
    if let Op::Rotate { who } = op {
        // A new key, signed by the old and the new: earlier entries keep the old key's party as signer.
        let who = [DONORS, GOVS].concat()[*who];
        let new_key = accord::crypto::generate_key();
        let old = &c.parties[who];
        let body = Body::KeyRotated(pb::KeyRotated {
            party_id: who.into(),
            old_keyid: old.keyid(),
            new_public_key: new_key.verifying_key().as_bytes().to_vec(),
        });
        let st = c.statement("2026-07-01", body);
        let env = accord::crypto::seal(&st, &[&c.parties[who].key, &new_key]);
        match c.client.submit(env).await {
            Ok(_) => {
                c.parties.get_mut(who).expect("a party").key = new_key;
            }
            Err(e) => assert_ne!(e.kind, Kind::Internal, "{op:?}: {e}"),
        }
        return;
    }
    let (signers, body, on_ok): (Vec<&str>, Body, OnAccepted) = match op.clone() {
        Op::Rotate { .. } => return,
        Op::Revoke { gov } => {
            // The government's current key: its earlier entries keep it as their signer.
            let who = GOVS[gov];
            let keyid = c.parties[who].keyid();
            let body = Body::KeyRevoked(pb::KeyRevoked { party_id: who.into(), keyid, reason: "compromised".into() });
            (vec![who], body, Box::new(|_| {}))
        }
        Op::Pledge { who, goal, plan2 } => {
            let who = DONORS[who];
            let goal = if plan2 { "H1" } else { GOALS[goal % 4] };
            let id = format!("NP{n}");
            let p = pledge(m, &id, who, goal, plan_of_goal(goal));
            (vec![who], Body::PledgeAnnounced(p), Box::new(move |m| m.pledges.push((id, who, "USD", goal))))
        }
        Op::Commit { pledge, gated } => {
            let Some((pid, who, cur, goal)) = get(&m.pledges, pledge).cloned() else { return };
            let to = GOVS[n % 3];
            let id = format!("K{n}");
            let (a, b) = (format!("K{n}-a"), format!("K{n}-b"));
            let conds: &[&str] = if gated { &["C1"] } else { &[] };
            let tr: Vec<(&str, &str, &[&str])> = vec![(&a, "50", &[]), (&b, "50", conds)];
            let mut body = sc::commitment(&id, who, to, &pid, "100", cur, "2026-03-01", "110", &tr);
            if let Body::CommitmentSigned(k) = &mut body {
                k.plan_id = plan_of_goal(goal).into();
            }
            let tranches = vec![a, b];
            (
                vec![who, to],
                body,
                Box::new(move |m| {
                    m.tranches.extend(tranches.iter().cloned());
                    m.commitments.push((id, who, to, cur, tranches));
                }),
            )
        }
        Op::Disburse { commitment, tranche, loose } => {
            let Some((cid, who, to, cur, tranches)) = get(&m.commitments, commitment).cloned() else { return };
            let id = format!("T{n}");
            let tid = tranches.get(tranche).cloned().unwrap_or_default();
            // Loose: incoming funds (type 1) named by no commitment, so of no plan.
            let (cid, tid) = if loose { (String::new(), String::new()) } else { (cid, tid) };
            let mut body = sc::disbursement(&id, &cid, &tid, who, to, "1", cur, "2026-06-01");
            if let (true, Body::TransactionRecorded(t)) = (loose, &mut body) {
                t.transaction_type = 1;
            }
            (vec![who, to], body, Box::new(move |m| m.txns.push((id, who))))
        }
        Op::Reverse { txn } => {
            let Some((id, who)) = get(&m.txns, txn).cloned() else { return };
            let body = Body::TransactionReversed(pb::TransactionReversed {
                txn_id: id,
                rationale: "error".into(),
                ..Default::default()
            });
            (vec![who], body, Box::new(|_| {}))
        }
        Op::Assess { moved: true, .. } => {
            // C3, which MoveCondition tries to move to the second plan: still filed under its creation plan.
            (vec!["X"], sc::assessed("C3", "", "met", "2026-05-01"), Box::new(|_| {}))
        }
        Op::Assess { tranche, moved: false } => {
            let Some(t) = get(&m.tranches, tranche).cloned() else { return };
            (vec!["X"], sc::assessed("C1", &t, "met", "2026-05-01"), Box::new(|_| {}))
        }
        Op::AmendPledge { pledge: k } => {
            let Some((pid, who, _, goal)) = get(&m.pledges, k).cloned() else { return };
            let mut p = pledge(m, &pid, who, goal, plan_of_goal(goal));
            p.restates.retain(|r| r.pledge_id != pid);
            p.amount = money("900", "USD", "2026-01-20");
            let body = Body::Amended(pb::Amended {
                subject_id: pid,
                rationale: "revision".into(),
                version: Some(pb::amended::Version::Pledge(p)),
            });
            (vec![who], body, Box::new(|_| {}))
        }
        Op::Withdraw { kind, n: k } => {
            let (kind, id, signers) = match kind {
                0 => match get(&m.pledges, k) {
                    Some((id, who, ..)) => ("pledge", id.clone(), vec![*who]),
                    None => return,
                },
                1 => match get(&m.commitments, k) {
                    Some((id, who, to, ..)) => ("commitment", id.clone(), vec![*who, *to]),
                    None => return,
                },
                _ => match get(&m.conditions, k) {
                    Some((id, who)) => ("condition", id.clone(), vec![*who]),
                    None => return,
                },
            };
            let body = Body::Withdrawn(pb::Withdrawn {
                subject_kind: kind.into(),
                subject_id: id,
                rationale: "withdrawn".into(),
            });
            (signers, body, Box::new(|_| {}))
        }
        Op::Indicator { goal } => {
            let goal = GOALS[goal];
            let id = format!("I{n}");
            let body = Body::IndicatorDefined(indicator(&id, goal));
            (vec!["S"], body, Box::new(move |m| m.indicators.push((id, goal))))
        }
        Op::AmendIndicator { indicator: k } => {
            // Filed under the plan of its goal (§1.3), as its definition was.
            let Some((id, goal)) = get(&m.indicators, k).cloned() else { return };
            let mut version = indicator(&id, goal);
            version.title = format!("indicator {id}, amended");
            let body = Body::Amended(pb::Amended {
                subject_id: id.clone(),
                rationale: "retitled".into(),
                version: Some(pb::amended::Version::Indicator(version)),
            });
            (vec!["S"], body, Box::new(|_| {}))
        }
        Op::MoveCondition => {
            // The condition of DB, named again under the second plan: refused (a subject's plan never
            // changes, §1.3), so it stays filed under its creation plan.
            let Body::ConditionDefined(mut cd) = sc::condition("C3", "DB", "Governance criteria", &[], None) else {
                unreachable!()
            };
            cd.plan_id = PLAN2.into();
            cd.amount_at_stake = money("100000000", "USD", "2026-01-20");
            let body = Body::Amended(pb::Amended {
                subject_id: "C3".into(),
                rationale: "moved".into(),
                version: Some(pb::amended::Version::Condition(cd)),
            });
            (vec!["DB"], body, Box::new(|_| {}))
        }
        Op::Report { gov, indicator: k } => {
            let gov = GOVS[gov];
            let values = get(&m.indicators, k)
                .map(|(i, _)| vec![pb::IndicatorValue { indicator_id: i.clone(), value: "5".into() }])
                .unwrap_or_default();
            let plan = get(&m.indicators, k).map_or(sc::PLAN, |(_, g)| plan_of_goal(g));
            let body = Body::ProgressReported(pb::ProgressReported {
                report_id: format!("R{n}"),
                reporter_id: gov.into(),
                plan_id: plan.into(),
                period: sc::period("2026-01-01", "2026-06-30"),
                indicator_values: values,
                co_financing_realised: None,
                narrative_sha256: vec![1; 32],
            });
            (vec![gov], body, Box::new(|_| {}))
        }
        Op::Deliver => {
            let id = format!("D{n}");
            let body = Body::InkindDelivered(pb::InkindDelivered {
                delivery_id: id.clone(),
                pledge_id: "PK".into(),
                date: "2026-06-01".into(),
                item_id: "vehicles".into(),
                quantity: "1".into(),
                value: money("25000", "USD", "2026-06-01"),
                receiver_id: "HN".into(),
            });
            (vec!["DB"], body, Box::new(move |m| m.deliveries.push(id)))
        }
        Op::Confirm { delivery } => {
            let Some(id) = get(&m.deliveries, delivery).cloned() else { return };
            let body = Body::DeliveryConfirmed(pb::DeliveryConfirmed {
                delivery_id: id,
                date: "2026-06-30".into(),
                note: "received".into(),
            });
            (vec!["HN"], body, Box::new(|_| {}))
        }
        Op::Milestone => {
            let body = Body::MilestoneUpdated(pb::MilestoneUpdated {
                pledge_id: "PM".into(),
                milestone_id: "M1".into(),
                status: "partially_met".into(),
                date: "2026-06-30".into(),
                quantity_done: (n % 90).to_string(),
                note: String::new(),
            });
            (vec!["GT"], body, Box::new(|_| {}))
        }
        Op::Fx { day } => {
            let d = accord::domain::date::format_date(
                accord::domain::date::parse_date("2026-01-01").unwrap() + i64::from(day),
            );
            (vec!["R"], sc::fx("EUR", "1.1", &d), Box::new(|_| {}))
        }
    };
    match c.submit(&signers, "2026-07-01", body).await {
        Ok(_) => on_ok(m),
        Err(e) => assert_ne!(e.kind, Kind::Internal, "{op:?}: {e}"),
    }
}

/// Scenario A, a second plan with a goal, an in-kind pledge and a policy pledge with a milestone.
async fn setup(c: &mut Coalition, m: &mut Model) {
    sc::run(c).await;
    for (id, who, cur, goal) in [("P1", "DA", "EUR", "G1"), ("P2", "DB", "USD", "G2"), ("P3", "BC", "USD", "G3")] {
        m.pledges.push((id.into(), who, cur, goal));
    }
    m.txns = vec![("T-DA-GT-1".into(), "DA"), ("T-DB-GT-1".into(), "DB"), ("T-BC-GT-1".into(), "BC")];
    m.conditions = vec![("C1".into(), "DA"), ("C2".into(), "DB"), ("C3".into(), "DB"), ("C4".into(), "S")];
    let plan2 = pb::PlanCreated {
        plan_id: PLAN2.into(),
        title: "Second plan".into(),
        period: sc::period("2026-01-01", "2029-12-31"),
        reporting_currency: "USD".into(),
        signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
        report_schedule: Some(pb::ReportSchedule { frequency: "annual".into(), days_after_period_end: 60 }),
        boundary_party_ids: vec!["SV".into()],
        expected_reporters: vec![pb::ExpectedReporter { party_id: "HN".into(), schedule: None }],
        ..Default::default()
    };
    c.submit(&["S"], "2026-01-10", Body::PlanCreated(plan2)).await.expect("plan 2");
    let Body::GoalDefined(mut g) = sc::goal("H1", "Second plan goal", &["15110"]) else { unreachable!() };
    g.plan_id = PLAN2.into();
    c.submit(&["S"], "2026-01-10", Body::GoalDefined(g)).await.expect("goal H1");
    let Body::PledgeAnnounced(mut pk) = sc::inkind_pledge("PK", "500000") else { unreachable!() };
    pk.restates = vec![pb::Restatement { pledge_id: "P2".into(), amount: money("0", "USD", "2026-01-20") }];
    c.submit(&["DB"], "2026-01-20", Body::PledgeAnnounced(pk)).await.expect("in-kind pledge");
    m.pledges.push(("PK".into(), "DB", "USD", "G2"));
    let Body::PledgeAnnounced(pm) =
        sc::pledge("PM", "GT", "0", "USD", &[("G4", "100")], "", "domestic_own_resources", "2029-12-31")
    else {
        unreachable!()
    };
    let pm = pb::PledgeAnnounced {
        pledge_kind: "policy_action".into(),
        amount: None,
        finance_type: String::new(),
        milestones: vec![pb::PolicyMilestone {
            milestone_id: "M1".into(),
            title: "Judges trained".into(),
            due_date: "2026-12-31".into(),
            quantity_target: "100".into(),
            unit: "judges".into(),
        }],
        ..pm
    };
    c.submit(&["GT"], "2026-01-20", Body::PledgeAnnounced(pm)).await.expect("policy pledge");
}

/// The brute force's subject table key: (subject kind wire name, id).
type Subj = (String, String);

fn subj(kind: &str, id: &str) -> Subj {
    (kind.to_string(), id.to_string())
}

/// The subject whose plan an entry inherits (docs/INDEX.md §1.3), written from the table there.
fn anchor(body: &ds::Body) -> Option<Subj> {
    match body {
        ds::Body::IndicatorDefined(x) => Some(subj("goal", &x.goal_id)),
        ds::Body::Amended(Amended { version: Version::Indicator(x), .. }) => Some(subj("goal", &x.goal_id)),
        ds::Body::TransactionRecorded(t) => t.commitment_id.as_ref().map(|c| subj("commitment", c)),
        ds::Body::TransactionReversed(r) => Some(subj("transaction", &r.txn_id)),
        ds::Body::InkindDelivered(d) => Some(subj("pledge", &d.pledge_id)),
        ds::Body::MilestoneUpdated(d) => Some(subj("pledge", &d.pledge_id)),
        ds::Body::DeliveryConfirmed(d) => Some(subj("delivery", &d.delivery_id)),
        ds::Body::ConditionAssessed(a) => Some(subj("condition", &a.condition_id)),
        ds::Body::Withdrawn(w) => {
            Some(subj(&accord_domain::codes::SubjectKind::from(w.subject_kind).to_string(), &w.subject_id))
        }
        _ => None,
    }
}

/// The subjects an entry creates, each with its plan (named, or inherited through `plans`).
fn created(body: &ds::Body, plans: &HashMap<Subj, Option<String>>) -> Vec<(Subj, Option<String>)> {
    let named = |p: &str| Some(p.to_string());
    let of = |s: Subj| plans.get(&s).cloned().flatten();
    match body {
        ds::Body::PlanCreated(p) => vec![(subj("plan", &p.plan_id), named(&p.plan_id))],
        ds::Body::GoalDefined(g) => vec![(subj("goal", &g.goal_id), named(&g.plan_id))],
        ds::Body::IndicatorDefined(x) => vec![(subj("indicator", &x.indicator_id), of(subj("goal", &x.goal_id)))],
        ds::Body::PledgeAnnounced(p) => vec![(subj("pledge", &p.pledge_id), named(&p.plan_id))],
        ds::Body::ConditionDefined(x) => vec![(subj("condition", &x.condition_id), named(&x.plan_id))],
        ds::Body::CommitmentSigned(x) => std::iter::once(subj("commitment", &x.commitment_id))
            .chain(x.tranches.iter().map(|t| subj("tranche", &t.tranche_id)))
            .map(|s| (s, named(&x.plan_id)))
            .collect(),
        ds::Body::TransactionRecorded(t) => {
            let plan = t.commitment_id.as_ref().and_then(|c| of(subj("commitment", c)));
            vec![(subj("transaction", &t.txn_id), plan)]
        }
        ds::Body::InkindDelivered(d) => vec![(subj("delivery", &d.delivery_id), of(subj("pledge", &d.pledge_id)))],
        ds::Body::ProgressReported(r) => vec![(subj("report", &r.report_id), named(&r.plan_id))],
        _ => vec![],
    }
}

/// The brute force: each entry's keys (encoded) and each key's list.
struct Brute {
    /// Entries of each kind (amendments by the kind of their version), to show what a case covered.
    kinds: BTreeMap<String, usize>,
    per_entry: Vec<BTreeSet<String>>,
    lists: BTreeMap<String, Vec<u64>>,
}

/// A deliberately wrong brute force, to show the check can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    None,
    /// Reversals lose the plan they inherit from their transaction (a plan list differs).
    ReversalPlan,
    /// Reversals lose their subject key (no list a complete answer serves differs: only the root).
    ReversalSubject,
}

fn brute_force(entries: &[accord::store::EntryRow], parties: &BTreeMap<String, String>, mutate: Mutation) -> Brute {
    let mut plans: HashMap<Subj, Option<String>> = HashMap::new();
    let mut per_entry = Vec::new();
    let mut lists: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in entries {
        let (st, keyids) = accord::proto::signed_statement_of_leaf(&e.leaf).expect("a stored statement");
        let mut signers: Vec<PartyId> = keyids
            .iter()
            .filter_map(|k| parties.get(k))
            .map(|p| PartyId::parse("party_id", p).expect("a party id"))
            .collect();
        signers.sort();
        signers.dedup();
        let mut keys: BTreeSet<String> =
            accord_domain::index::named_keys(&st, &signers).iter().map(|k| k.encode()).collect();
        if let Some(Some(plan)) = anchor(&st.body).and_then(|a| plans.get(&a).cloned()) {
            if !(mutate == Mutation::ReversalPlan && matches!(st.body, ds::Body::TransactionReversed(_))) {
                keys.insert(format!("plan:{plan}"));
            }
        }
        if let (Mutation::ReversalSubject, ds::Body::TransactionReversed(r)) = (mutate, &st.body) {
            keys.remove(&format!("subject:transaction:{}", r.txn_id));
        }
        for (s, plan) in created(&st.body, &plans) {
            plans.entry(s).or_insert(plan);
        }
        for k in &keys {
            lists.entry(k.clone()).or_default().push(e.index);
        }
        per_entry.push(keys);
        let kind = match &st.body {
            ds::Body::Amended(a) => format!("amended {}", accord_domain::book::version_kind(&a.version)),
            b => b.kind_name().to_string(),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    Brute { kinds, per_entry, lists }
}

/// The map root of `lists` from docs/INDEX.md §3–§4 alone (no accord_tlog).
fn spec_root(lists: &BTreeMap<String, Vec<u64>>) -> [u8; 32] {
    fn h(parts: &[&[u8]]) -> [u8; 32] {
        let mut d = Sha256::new();
        parts.iter().for_each(|p| d.update(p));
        d.finalize().into()
    }
    fn bit(k: &[u8; 32], i: usize) -> bool {
        k[i / 8] >> (7 - i % 8) & 1 == 1
    }
    fn subtree(leaves: &[([u8; 32], [u8; 32])], depth: usize) -> [u8; 32] {
        match leaves {
            [] => [0; 32],
            [(k, v)] => h(&[&[0], k, v]),
            _ => {
                let split = leaves.partition_point(|(k, _)| !bit(k, depth));
                let (l, r) = leaves.split_at(split);
                h(&[&[1], &subtree(l, depth + 1), &subtree(r, depth + 1)])
            }
        }
    }
    let mut leaves: Vec<([u8; 32], [u8; 32])> = lists
        .iter()
        .map(|(key, list)| {
            let chain = list.iter().fold([0u8; 32], |c, x| h(&[&c, &x.to_be_bytes()]));
            (h(&[key.as_bytes()]), chain)
        })
        .collect();
    leaves.sort();
    subtree(&leaves, 0)
}

/// The list of `key` the brute force found (empty: absent).
fn want(b: &Brute, key: &str) -> Vec<u64> {
    b.lists.get(key).cloned().unwrap_or_default()
}

async fn complete(c: &mut Coalition, kind: &str, plan: &str, party: &str) -> pb::ListResponse {
    let req = pb::ListRequest { plan_id: plan.into(), party_id: party.into(), ..Default::default() };
    let (resp, proven) = c
        .client
        .list_complete(kind, req)
        .await
        .unwrap_or_else(|e| panic!("complete {kind} plan={plan:?} party={party:?} does not verify: {e}"));
    assert_eq!(proven.items, resp.items.len());
    resp
}

fn lookups(resp: &pb::ListResponse) -> Vec<(String, Vec<u64>)> {
    let comp = resp.completeness.as_ref().expect("completeness");
    comp.lookups.iter().map(|l| (l.key.clone(), l.indices.clone())).collect()
}

const CREATING: [(&str, &str); 10] = [
    ("plan", "plan.created"),
    ("goal", "goal.defined"),
    ("indicator", "indicator.defined"),
    ("pledge", "pledge.announced"),
    ("condition", "condition.defined"),
    ("commitment", "commitment.signed"),
    ("transaction", "transaction.recorded"),
    ("delivery", "inkind.delivered"),
    ("report", "progress.reported"),
    ("attestation", "attestation.issued"),
];

/// Each entry whose keys on the server's side (`vindex::entry_keys` over the replayed log) differ from the
/// brute force's, named with both differences.
fn filed_differently(
    book: &accord::report::replay::MemoryBook,
    entries: &[accord::store::EntryRow],
    b: &Brute,
) -> Vec<String> {
    use accord::vindex::Log;
    let gov = book.governance().expect("governance");
    let mut diffs = Vec::new();
    for (e, mine) in entries.iter().zip(&b.per_entry) {
        let server: BTreeSet<String> =
            accord::vindex::entry_keys(book, &gov, e).expect("keys").iter().map(|k| k.encode()).collect();
        if &server != mine {
            diffs.push(format!(
                "entry {} ({}): server only {:?}, brute force only {:?}",
                e.index,
                e.kind,
                server.difference(mine).collect::<Vec<_>>(),
                mine.difference(&server).collect::<Vec<_>>()
            ));
        }
    }
    diffs
}

/// Restart `server` on its directory and return the log size and map root of its first complete answer.
async fn root_after_restart(server: common::TestServer, log: &accord::crypto::StrictNoteVerifier) -> (u64, [u8; 32]) {
    let (dir, tmp) = server.stop().await;
    let server = common::TestServer::start_with(dir, Some(sc::CLOCK_START_MS)).await;
    let mut client = server.client().await;
    let (resp, _) = client.list_complete("pledge", pb::ListRequest::default()).await.expect("after a restart");
    let note = resp.completeness.expect("completeness").map_checkpoint;
    let map = accord_tlog::mapcheckpoint::open_map_checkpoint(
        note.as_bytes(),
        &accord_tlog::mapcheckpoint::map_verifier(log),
    )
    .expect("map checkpoint after a restart");
    server.stop().await;
    drop(tmp);
    (map.log_size, map.map_root)
}

async fn run(ops: Vec<Op>, mutate: Mutation) {
    let mut c = Coalition::start().await;
    let mut m = Model::default();
    setup(&mut c, &mut m).await;
    for op in &ops {
        apply(&mut c, &mut m, op).await;
    }
    let cp = c.client.checkpoint(None).await.expect("checkpoint");
    let entries = c.client.download(&cp, |_| {}).await.expect("the log, checked against its checkpoint");
    let parties = c.client.key_parties().await.expect("parties");
    let b = brute_force(&entries, &parties, mutate);
    eprintln!("{} entries, {} keys, kinds {:?}", entries.len(), b.lists.len(), b.kinds);
    if mutate == Mutation::None {
        assert!(entries.len() > 100, "the random statements were mostly refused: {:?}", b.kinds);
    }

    // 1. Lists served in complete answers (each verified by the client) against the brute force.
    let mut map_note = String::new();
    let key_list = |k: &str| b.lists.keys().filter(|x| x.starts_with(k)).cloned().collect::<Vec<_>>();
    let party_keys: Vec<String> = key_list("party:").into_iter().chain(["party:NOBODY".to_string()]).collect();
    for key in &party_keys {
        let party = key.trim_start_matches("party:");
        let resp = complete(&mut c, "pledge", "", party).await;
        let got = lookups(&resp);
        assert_eq!(got[0], (key.clone(), want(&b, key)), "the list of {key}");
        assert_eq!(got[1], ("kind:pledge.announced".into(), want(&b, "kind:pledge.announced")));
        map_note = resp.completeness.expect("completeness").map_checkpoint;
    }
    for key in key_list("plan:").into_iter().chain(["plan:NOPLAN".to_string()]) {
        let resp = complete(&mut c, "goal", key.trim_start_matches("plan:"), "").await;
        assert_eq!(lookups(&resp)[0], (key.clone(), want(&b, &key)), "the list of {key}");
    }
    for (kind, creating) in CREATING {
        let key = format!("kind:{creating}");
        let resp = complete(&mut c, kind, "", "").await;
        assert_eq!(lookups(&resp), vec![(key.clone(), want(&b, &key))], "the list of {key}");
        assert_eq!(resp.completeness.expect("completeness").map_checkpoint, map_note, "one map checkpoint");
    }

    // 2. The server's map root against the brute force's, computed three ways.
    let log = c.client.log_key().clone();
    let map = accord_tlog::mapcheckpoint::open_map_checkpoint(
        map_note.as_bytes(),
        &accord_tlog::mapcheckpoint::map_verifier(&log),
    )
    .expect("map checkpoint");
    assert_eq!((map.log_size, map.log_root), (cp.size, cp.root), "the map checkpoint is at the log checkpoint");
    let n = entries.len() as u64;
    let book = accord::report::replay::MemoryBook::replay(common::ORIGIN, entries.clone(), |_| {}).expect("replay");
    let replayed = accord::vindex::roots_at(&book, &BTreeSet::from([n])).expect("roots")[&n];
    let from_lists = accord_tlog::vmap::VerifiableMap::from_lists(
        b.lists.iter().map(|(k, l)| (<[u8; 32]>::from(Sha256::digest(k.as_bytes())), l.clone())),
    )
    .expect("lists")
    .root();
    let spec = spec_root(&b.lists);
    if map.map_root != spec {
        panic!(
            "the map root is not the brute force's; entries filed differently:\n{}",
            filed_differently(&book, &entries, &b).join("\n")
        );
    }
    assert_eq!(from_lists, spec, "VerifiableMap::from_lists and docs/INDEX.md §3 disagree");
    assert_eq!(replayed, spec, "vindex::roots_at over the replayed log");

    // 3. Every plan's report recomputed from its book read through the index (docs/INDEX.md §11) equals
    //    the report recomputed from the whole log: the book holds everything the report reads.
    for key in key_list("plan:") {
        book_gives_the_report(&mut c, &cp, &entries, key.trim_start_matches("plan:")).await;
    }

    // 4. The audit recomputes the same map and accepts the server's map checkpoint.
    let s = accord::audit::audit(&log, entries, &[], None, &[], &[map_note], |_| {});
    assert!(s.ok && s.map_checkpoints_checked == 1, "{:?}", s.findings);
    assert_eq!(s.map_root, hex::encode(spec));

    // 5. A restarted server rebuilds its map from the log (reading the final projections): the same root.
    assert_eq!(root_after_restart(c.server, &log).await, (n, spec), "the map rebuilt at start");
}

/// Plan `plan`'s report recomputed from its book read through the index equals the one recomputed from
/// the whole log, `entries`, at the checkpoint `cp`.
async fn book_gives_the_report(
    c: &mut Coalition,
    cp: &accord::crypto::VerifiedCheckpoint,
    entries: &[accord::store::EntryRow],
    plan: &str,
) {
    let at = pb::ReadAt {
        tree_size: cp.size,
        root_hash: cp.root.to_vec(),
        checkpoint: cp.note.clone(),
        ..Default::default()
    };
    let whole = accord::report::recompute(common::ORIGIN, entries.to_vec(), plan, &at, |_| {}).expect("whole log");
    let book = c.client.plan_book(plan, cp, |_| {}).await.unwrap_or_else(|e| panic!("{plan}'s book: {e}"));
    let part = accord::report::recompute_part(
        common::ORIGIN,
        book.entries,
        &book.known,
        book.last_integrated_ms,
        plan,
        &at,
        |_| {},
    )
    .unwrap_or_else(|e| panic!("{plan}'s report from its book: {e}"));
    assert_eq!(part.canonical_json(), whole.canonical_json(), "{plan}'s report from its book");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, max_shrink_iters: 16, ..ProptestConfig::default() })]
    #[test]
    fn every_keys_list_is_the_brute_force_scan(ops in proptest::collection::vec(op(), 150..300)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(ops, Mutation::None));
    }
}

/// The property can fail: the same check with a wrong brute force fails on a ledger with a reversal of
/// one of scenario A's disbursements, through a served list (a plan's) or through the map root alone (a
/// subject's list, which no complete answer serves), naming the entry.
#[test]
fn a_wrong_brute_force_fails_the_check() {
    for (mutation, expected) in [
        (Mutation::ReversalPlan, "the list of plan:CA-2026-2029"),
        (Mutation::ReversalSubject, "server only [\"subject:transaction:T-DA-GT-1\"]"),
    ] {
        let failed = std::panic::catch_unwind(|| {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(run(vec![Op::Reverse { txn: 0 }], mutation));
        });
        let payload = failed.expect_err("a wrong brute force was accepted");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(message.contains(expected), "{mutation:?} failed, but not as expected: {message}");
    }
}
