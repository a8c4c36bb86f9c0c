//! The boundary in front of the book's rules, tested in-process: protobuf statements are parsed at the
//! wire boundary (`accord::proto`) and applied with the sequencer's rules to the domain's in-memory state
//! ([`accord::domain::memory::MemoryState`]) — no server, no database, no signatures (signers are the
//! keyids that would have verified). The shape rules refuse here, with the wire's field path; the
//! stateful rules themselves are tested on typed statements in `crates/accord-domain/tests/rules.rs`.
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

    fn subject(&self, kind: book::SubjectKind, id: &str) -> Subject {
        self.state.subject(kind, id).expect("read").unwrap_or_else(|| panic!("{kind} {id} exists"))
    }

    /// Apply a statement that must be refused with `kind` on `field`; the state must not change.
    fn refused(&mut self, signers: &[&str], day: &str, body: Body, kind: Kind, field: &str, rule: &str) {
        let before = format!("{:?}", self.state);
        let e = self.apply(signers, day, body).expect_err("refused");
        assert_eq!((e.kind, e.field.to_string().as_str()), (kind, field), "{e}");
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
    // The statement that keeps the shape rules is accepted; the subject it creates keeps the compiled body
    // typed and encoded, and reading the encoding back (as storage does) gives the same typed body.
    b.apply(&["DA"], "2026-01-20", usd_pledge("P1", "DA", "100")).expect("pledge");
    let s = b.subject(book::PLEDGE, "P1");
    let compiled = s.body.clone().expect("a pledge has a body");
    let stored = accord::proto::parse_compiled(s.kind, &s.id, compiled.wire.clone()).unwrap().unwrap();
    assert_eq!(stored, compiled);
    let pledge: &accord::domain::statement::PledgeAnnounced = s.body_as().unwrap();
    assert_eq!(pledge.amount.as_ref().map(|a| a.value.to_string()), Some("100".into()));
}
