//! The book's rules tested in-process: statements are parsed at the wire boundary and applied with the
//! sequencer's rules to the domain's in-memory state ([`accord::domain::memory::MemoryState`]) — no server,
//! no database, no signatures (signers are the keyids that would have verified). Each test states a rule
//! and checks both sides of it: the statement that breaks it is refused with the field and the rule, and
//! changes nothing; the one that keeps it is accepted.
mod common;

use accord::domain::book::{self, Subject};
use accord::domain::memory::{Entry, MemoryState};
use accord::domain::{Effect, StateView};
use accord::error::{Kind, Result};
use accord::pb::{self, statement::Body, Statement};
use common::scenario::*;
use common::{Founder, ORIGIN};

/// A coalition in memory: scenario A's parties, chartered and admitted, with its plan and goals.
struct Book {
    state: MemoryState,
    parties: std::collections::BTreeMap<String, Founder>,
    next: u64,
}

impl Book {
    fn new() -> Self {
        let parties = PARTIES
            .iter()
            .map(|(id, name, roles)| {
                let mut f = Founder::new(id, roles);
                f.name = name.to_string();
                (id.to_string(), f)
            })
            .collect();
        let mut b = Self { state: MemoryState::default(), parties, next: 0 };
        let founders: Vec<pb::Party> = FOUNDERS.iter().map(|id| b.parties[*id].party()).collect();
        let charter = pb::Charter {
            name: "Scenario A".into(),
            founders,
            admission: Some(pb::AdmissionRule { k: 1 }),
            purpose: String::new(),
        };
        b.apply(FOUNDERS, "2026-01-05", Body::Charter(charter)).expect("charter");
        for (id, _, _) in PARTIES.iter().filter(|(id, _, _)| !FOUNDERS.contains(id)) {
            let party = Some(b.parties[*id].party());
            b.apply(&[id, "S"], "2026-01-06", Body::PartyAdmitted(pb::PartyAdmitted { party })).expect("admission");
        }
        b.apply(&["S"], "2026-01-10", plan_created()).expect("plan");
        for g in ["G1", "G2"] {
            b.apply(&["S"], "2026-01-10", goal(g, "A goal", &["15113"])).expect("goal");
        }
        b
    }

    /// Parse and apply one statement signed by `signers`, as the sequencer would at scenario A's clock.
    fn apply(&mut self, signers: &[&str], day: &str, body: Body) -> Result<Vec<Effect>> {
        let st = Statement {
            ledger: ORIGIN.into(),
            statement_id: format!("st-{}", self.next),
            issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
            effective_date: day.into(),
            body: Some(body),
        };
        let parsed = accord::proto::parse_statement(&st, ORIGIN).map_err(|e| e.scope("statement"))?;
        let compiled = accord::proto::compiled(&st, &parsed);
        let signers: Vec<String> = signers.iter().map(|p| self.parties[*p].keyid()).collect();
        let identity = st.statement_id.as_bytes().to_vec();
        let entry = Entry {
            statement: &parsed,
            compiled: &compiled,
            signers: &signers,
            index: self.next,
            identity: &identity,
            integrated_ms: CLOCK_START_MS,
        };
        let effects = self.state.apply(entry)?;
        self.next += 1;
        Ok(effects)
    }

    fn subject(&self, kind: &str, id: &str) -> Subject {
        self.state.subject(kind, id).expect("read").unwrap_or_else(|| panic!("{kind} {id} exists"))
    }

    /// Apply a statement that must be refused with `kind` on `field`; the state must not change.
    fn refused(&mut self, signers: &[&str], day: &str, body: Body, kind: Kind, field: &str, rule: &str) {
        let before = format!("{:?}", self.state);
        let e = self.apply(signers, day, body).expect_err("refused");
        assert_eq!((e.kind, e.field.as_str()), (kind, field), "{e}");
        assert!(e.message.contains(rule), "{e}");
        assert_eq!(format!("{:?}", self.state), before, "a refused statement changes nothing");
    }
}

fn plan_created() -> Body {
    Body::PlanCreated(pb::PlanCreated {
        plan_id: PLAN.into(),
        title: "Plan".into(),
        period: period("2026-01-01", "2029-12-31"),
        reporting_currency: "USD".into(),
        signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
        report_schedule: Some(pb::ReportSchedule { frequency: "annual".into(), days_after_period_end: 60 }),
        ..Default::default()
    })
}

fn usd_pledge(id: &str, pledger: &str, amount: &str) -> Body {
    pledge(id, pledger, amount, "USD", &[("G1", "100")], "110", "external", "2027-12-31")
}

#[test]
fn a_pledge_is_signed_by_its_pledger_and_an_overlap_must_be_restated() {
    let mut b = Book::new();
    b.refused(
        &["DB"],
        "2026-01-20",
        usd_pledge("P1", "DA", "100"),
        Kind::PermissionDenied,
        "statement.pledge_announced.pledger_id",
        "must be signed by DA",
    );
    b.apply(&["DA"], "2026-01-20", usd_pledge("P1", "DA", "100")).expect("pledge");
    // Same pledger, plan, kind and period: re-announcing must say what it restates.
    b.refused(
        &["DA"],
        "2026-02-01",
        usd_pledge("P2", "DA", "150"),
        Kind::FailedPrecondition,
        "statement.pledge_announced.restates",
        "overlaps open pledge P1",
    );
    let Body::PledgeAnnounced(mut p2) = usd_pledge("P2", "DA", "150") else { unreachable!() };
    p2.restates = vec![pb::Restatement { pledge_id: "P1".into(), amount: money("100", "USD", "2026-01-20") }];
    b.apply(&["DA"], "2026-02-01", Body::PledgeAnnounced(p2)).expect("restating pledge");
    let p1 = b.subject(book::PLEDGE, "P1");
    assert_eq!((p1.status.as_str(), p1.tally.restated_by.as_slice()), ("superseded", &["P2".to_string()][..]));
}

#[test]
fn allocations_never_exceed_the_pledge_and_a_committed_pledge_is_not_withdrawn() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", usd_pledge("P1", "DA", "100")).expect("pledge");
    let over = commitment("C1", "DA", "GT", "P1", "100.01", "USD", "2026-03-01", "110", &[]);
    b.refused(
        &["DA", "GT"],
        "2026-03-01",
        over,
        Kind::FailedPrecondition,
        "statement.commitment_signed.allocations[0].amount.value",
        "Σ allocations ≤ the pledge",
    );
    let unsigned = commitment("C1", "DA", "GT", "P1", "60", "USD", "2026-03-01", "110", &[]);
    b.refused(
        &["DA"],
        "2026-03-01",
        unsigned,
        Kind::PermissionDenied,
        "statement.commitment_signed.recipient_id",
        "must be signed by GT",
    );
    b.apply(&["DA", "GT"], "2026-03-01", commitment("C1", "DA", "GT", "P1", "60", "USD", "2026-03-01", "110", &[]))
        .expect("commitment");
    let p1 = b.subject(book::PLEDGE, "P1");
    assert_eq!((p1.tally.committed.to_string().as_str(), p1.status.as_str()), ("60", "partially_committed"));
    let withdraw = Body::Withdrawn(pb::Withdrawn {
        subject_kind: "pledge".into(),
        subject_id: "P1".into(),
        rationale: "changed plans".into(),
    });
    b.refused(
        &["DA"],
        "2026-03-02",
        withdraw,
        Kind::FailedPrecondition,
        "statement.withdrawn.subject_id",
        "amend it down instead",
    );
}

#[test]
fn a_gated_tranche_is_disbursed_only_once_its_condition_is_met() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", usd_pledge("P1", "DA", "100")).expect("pledge");
    b.apply(&["DA"], "2026-01-25", condition("K1", "DA", "Audit law passed", &["P1"], None)).expect("condition");
    let c = commitment(
        "C1",
        "DA",
        "GT",
        "P1",
        "100",
        "USD",
        "2026-03-01",
        "110",
        &[("T1", "40", &[]), ("T2", "60", &["K1"])],
    );
    b.apply(&["DA", "GT"], "2026-03-01", c).expect("commitment");
    b.apply(&["DA"], "2026-03-10", disbursement("D1", "C1", "T1", "DA", "GT", "40", "USD", "2026-03-10")).expect("T1");
    let gated = disbursement("D2", "C1", "T2", "DA", "GT", "60", "USD", "2026-04-10");
    b.refused(
        &["DA"],
        "2026-04-10",
        gated.clone(),
        Kind::FailedPrecondition,
        "statement.transaction_recorded.tranche_id",
        "not yet assessed",
    );
    // Only the designated assessor assesses.
    b.refused(
        &["DA"],
        "2026-04-11",
        assessed("K1", "T2", "met", "2026-04-11"),
        Kind::PermissionDenied,
        "statement.condition_assessed.condition_id",
        "must be signed by X",
    );
    b.apply(&["X"], "2026-04-11", assessed("K1", "T2", "met", "2026-04-11")).expect("assessment");
    b.apply(&["DA"], "2026-04-12", gated).expect("released tranche");
    let c1 = b.subject(book::COMMITMENT, "C1");
    assert_eq!((c1.tally.disbursed.to_string().as_str(), c1.status.as_str()), ("100", "disbursed"));
    // Σ disbursements ≤ the commitment.
    let more = disbursement("D3", "C1", "T1", "DA", "GT", "1", "USD", "2026-04-13");
    b.refused(
        &["DA"],
        "2026-04-13",
        more,
        Kind::FailedPrecondition,
        "statement.transaction_recorded.amount.value",
        "Σ disbursements",
    );
}

#[test]
fn a_reversed_transaction_is_corrected_once_and_keeps_its_type() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", usd_pledge("P1", "DA", "100")).expect("pledge");
    b.apply(&["DA", "GT"], "2026-03-01", commitment("C1", "DA", "GT", "P1", "100", "USD", "2026-03-01", "110", &[]))
        .expect("commitment");
    b.apply(&["DA"], "2026-03-10", disbursement("D1", "C1", "", "DA", "GT", "50", "USD", "2026-03-10")).expect("D1");
    let Body::TransactionRecorded(mut fix) = disbursement("D2", "C1", "", "DA", "GT", "5", "USD", "2026-03-11") else {
        unreachable!()
    };
    fix.corrects = "D1".into();
    b.refused(
        &["DA"],
        "2026-03-11",
        Body::TransactionRecorded(fix.clone()),
        Kind::FailedPrecondition,
        "statement.transaction_recorded.corrects",
        "is not reversed",
    );
    let reversal = pb::TransactionReversed {
        txn_id: "D1".into(),
        rationale: "keying error".into(),
        amount: money("49", "USD", "2026-03-10"),
    };
    b.refused(
        &["DA"],
        "2026-03-11",
        Body::TransactionReversed(reversal.clone()),
        Kind::FailedPrecondition,
        "statement.transaction_reversed.amount",
        "the whole amount",
    );
    let reversal = pb::TransactionReversed { amount: money("50", "USD", "2026-03-10"), ..reversal };
    b.apply(&["DA"], "2026-03-11", Body::TransactionReversed(reversal)).expect("reversal");
    assert_eq!(b.subject(book::COMMITMENT, "C1").tally.disbursed.to_string(), "0");
    let wrong_type = pb::TransactionRecorded { transaction_type: 4, ..fix.clone() };
    b.refused(
        &["DA"],
        "2026-03-11",
        Body::TransactionRecorded(wrong_type),
        Kind::FailedPrecondition,
        "statement.transaction_recorded.transaction_type",
        "keeps the type",
    );
    b.apply(&["DA"], "2026-03-11", Body::TransactionRecorded(fix)).expect("correction");
    assert_eq!(b.subject(book::TRANSACTION, "D1").tally.corrected_by, "D2");
    assert_eq!(b.subject(book::COMMITMENT, "C1").tally.disbursed.to_string(), "5");
    let Body::TransactionRecorded(mut again) = disbursement("D3", "C1", "", "DA", "GT", "5", "USD", "2026-03-12")
    else {
        unreachable!()
    };
    again.corrects = "D1".into();
    b.refused(
        &["DA"],
        "2026-03-12",
        Body::TransactionRecorded(again),
        Kind::FailedPrecondition,
        "statement.transaction_recorded.corrects",
        "already corrected by D2",
    );
}

#[test]
fn shape_rules_refuse_at_the_boundary_with_the_wire_field_path() {
    let mut b = Book::new();
    let Body::PledgeAnnounced(mut p) = usd_pledge("P1", "DA", "100") else { unreachable!() };
    p.goals = shares(&[("G1", "60"), ("G2", "30")]);
    b.refused(
        &["DA"],
        "2026-01-20",
        Body::PledgeAnnounced(p.clone()),
        Kind::InvalidArgument,
        "statement.pledge_announced.goals",
        "shares sum to 90",
    );
    p.goals = shares(&[("G1", "100")]);
    p.amount = money("100.00001", "USD", "2026-01-20");
    b.refused(
        &["DA"],
        "2026-01-20",
        Body::PledgeAnnounced(p.clone()),
        Kind::InvalidArgument,
        "statement.pledge_announced.amount.value",
        "more than 4 decimal places",
    );
    p.amount = money("100", "USD", "2026-01-20");
    p.pledge_kind = "cash".into();
    b.refused(
        &["DA"],
        "2026-01-20",
        Body::PledgeAnnounced(p),
        Kind::InvalidArgument,
        "statement.pledge_announced.pledge_kind",
        "is not one of money, in_kind, policy_action",
    );
}
