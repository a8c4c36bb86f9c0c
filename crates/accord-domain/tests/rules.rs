//! The governance and book rules, tested in-process against the in-memory book
//! ([`accord_domain::memory::MemoryState`]): typed statements, no wire, server, database or signatures
//! (the signers are the keyids that would have verified). Each test states a rule and checks both sides of
//! it: the statement that breaks it is refused with the kind, the field and the rule, and changes nothing;
//! the one that keeps it is accepted. Shape rules (formats, code lists) are the boundary's and are tested
//! where the wire is parsed (`tests/rules.rs` of the `accord` package).
use std::sync::Arc;

use accord_domain::book::{self, Compiled, Subject};
use accord_domain::codes::*;
use accord_domain::date::Day;
use accord_domain::ids::*;
use accord_domain::memory::{Entry, MemoryState};
use accord_domain::money::Amount;
use accord_domain::statement::*;
use accord_domain::{Effect, Error, RefusalKind, StateView};
use rust_decimal::Decimal;

const ORIGIN: &str = "accord.test/rules";
const PLAN: &str = "CA-2026-2029";
/// 2027-02-01T00:00:00Z: after every dated event below.
const CLOCK_MS: i64 = 1_801_440_000_000;

/// The parties: id, roles; the founders sign the charter, the others are admitted by the secretariat.
const PARTIES: &[(&str, &[&str])] = &[
    ("S", &["secretariat"]),
    ("DA", &["funder"]),
    ("DB", &["funder"]),
    ("GT", &["partner_government"]),
    ("X", &["assessor"]),
];
const FOUNDERS: &[&str] = &["S", "DA", "DB"];

fn day(s: &str) -> Day {
    Day::parse("test", s).unwrap()
}
fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn usd(v: &str, on: &str) -> Amount {
    Amount { value: dec(v), currency: "USD".parse().unwrap(), value_date: day(on).days() }
}
fn party_id(s: &str) -> PartyId {
    PartyId::parse("test", s).unwrap()
}
fn plan_id() -> PlanId {
    PlanId::parse("test", PLAN).unwrap()
}
fn pledge_id(s: &str) -> PledgeId {
    PledgeId::parse("test", s).unwrap()
}
fn commitment_id(s: &str) -> CommitmentId {
    CommitmentId::parse("test", s).unwrap()
}
fn txn_id(s: &str) -> TxnId {
    TxnId::parse("test", s).unwrap()
}
fn tranche_id(s: &str) -> TrancheId {
    TrancheId::parse("test", s).unwrap()
}
fn condition_id(s: &str) -> ConditionId {
    ConditionId::parse("test", s).unwrap()
}
/// A stand-in public key per party (the in-memory book never verifies signatures).
fn key_of(party: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    for (slot, b) in k.iter_mut().zip(party.bytes()) {
        *slot = b;
    }
    k
}

/// A coalition in memory, chartered and admitted, with its plan and goal G1.
struct Book {
    state: MemoryState,
    next: u64,
}

impl Book {
    fn new() -> Self {
        let mut b = Self { state: MemoryState::default(), next: 0 };
        let founders = FOUNDERS.iter().map(|id| party(id)).collect();
        let charter = Charter { name: "Rules".into(), founders, admission_k: 1, purpose: String::new() };
        b.apply(FOUNDERS, "2026-01-05", Body::Charter(charter)).expect("charter");
        for (id, _) in PARTIES.iter().filter(|(id, _)| !FOUNDERS.contains(id)) {
            b.apply(&[id, "S"], "2026-01-06", Body::PartyAdmitted(PartyAdmitted { party: party(id) })).expect("admit");
        }
        b.apply(&["S"], "2026-01-10", plan()).expect("plan");
        let goal = GoalDefined {
            goal_id: GoalId::parse("test", "G1").unwrap(),
            plan_id: plan_id(),
            title: "A goal".into(),
            classifications: vec![],
            description: String::new(),
        };
        b.apply(&["S"], "2026-01-10", Body::GoalDefined(goal)).expect("goal");
        b
    }

    /// Apply one statement signed by `signers` (party ids), as the sequencer would at the test clock.
    fn apply(&mut self, signers: &[&str], on: &str, body: Body) -> Result<Vec<Effect>, Error> {
        let statement = Statement {
            ledger: ORIGIN.into(),
            statement_id: StatementId::parse("test", &format!("st-{}", self.next)).unwrap(),
            issued_at: Timestamp { seconds: 1_780_000_000, nanos: 0 },
            effective_date: day(on),
            body,
        };
        let compiled = Arc::new(Compiled { body: statement.body.compiled(), wire: Vec::new() });
        let signers: Vec<String> = signers.iter().map(|p| keyid_of_bytes(&key_of(p))).collect();
        let identity = self.next.to_be_bytes();
        let entry = Entry {
            statement: &statement,
            compiled: &compiled,
            signers: &signers,
            index: self.next,
            identity: &identity,
            integrated_ms: CLOCK_MS,
        };
        let effects = self.state.apply(entry)?;
        self.next += 1;
        Ok(effects)
    }

    fn subject(&self, kind: book::SubjectKind, id: &str) -> Subject {
        self.state.subject(kind, id).expect("read").unwrap_or_else(|| panic!("{kind} {id} exists"))
    }

    /// Apply a statement that must be refused with `kind` on `field`; the state must not change.
    fn refused(&mut self, signers: &[&str], on: &str, body: Body, kind: RefusalKind, field: &str, rule: &str) {
        let before = format!("{:?}", self.state);
        let e = self.apply(signers, on, body).expect_err("refused");
        let r = e.refusal().unwrap_or_else(|| panic!("a refusal, not {e}"));
        assert_eq!((r.kind, r.field.to_string().as_str()), (kind, field), "{e}");
        assert!(r.rule.contains(rule), "{e}");
        assert_eq!(format!("{:?}", self.state), before, "a refused statement changes nothing");
    }
}

fn party(id: &str) -> Party {
    let roles = PARTIES.iter().find(|(p, _)| *p == id).map(|(_, r)| *r).unwrap_or_default();
    Party {
        party_id: party_id(id),
        name: format!("Party {id}"),
        roles: roles.iter().map(|r| Role::parse("test", r).unwrap()).collect(),
        public_keys: vec![key_of(id)],
        organisation_type: "10".into(),
        country: None,
    }
}

fn plan() -> Body {
    Body::PlanCreated(PlanCreated {
        plan_id: plan_id(),
        title: "Plan".into(),
        period: Period { start: day("2026-01-01"), end: day("2029-12-31") },
        reporting_currency: "USD".parse().unwrap(),
        signatories: vec![Signatory { party_id: party_id("S"), role: Some(Role::Secretariat) }],
        report_schedule: None,
        requirement: None,
        description: String::new(),
        boundary_party_ids: vec![],
        expected_reporters: vec![],
    })
}

fn pledge(id: &str, pledger: &str, amount: &str) -> PledgeAnnounced {
    PledgeAnnounced {
        pledge_id: pledge_id(id),
        plan_id: plan_id(),
        pledger_id: party_id(pledger),
        pledge_kind: PledgeKind::Money,
        amount: Some(usd(amount, "2026-01-20")),
        goals: vec![GoalShare { goal_id: GoalId::parse("test", "G1").unwrap(), share: dec("100") }],
        recipient_ids: vec![party_id("GT")],
        usage_period: Some(Period { start: day("2026-01-01"), end: day("2027-12-31") }),
        finance_type: Some("110".into()),
        funding_source: FundingSource::External,
        new_money: true,
        restates: vec![],
        announced: None,
        expires_on: None,
        items: vec![],
        milestones: vec![],
        description: String::new(),
    }
}

/// A commitment of `provider` to GT against one pledge, with tranches `(id, value, conditions)`.
fn commitment(id: &str, provider: &str, pledge: &str, amount: &str, tranches: &[(&str, &str, &[&str])]) -> Body {
    Body::CommitmentSigned(CommitmentSigned {
        commitment_id: commitment_id(id),
        plan_id: plan_id(),
        provider_id: party_id(provider),
        recipient_id: party_id("GT"),
        allocations: vec![PledgeAllocation { pledge_id: pledge_id(pledge), amount: usd(amount, "2026-03-01") }],
        amount: usd(amount, "2026-03-01"),
        signed_date: day("2026-03-01"),
        finance_type: Some("110".into()),
        usage_years: vec![UsageYear { year: 2026, value: dec(amount) }],
        tranches: tranches
            .iter()
            .map(|(t, v, c)| Tranche {
                tranche_id: tranche_id(t),
                value: dec(v),
                condition_ids: c.iter().map(|x| condition_id(x)).collect(),
            })
            .collect(),
        agreement_sha256: Some([7; 32]),
    })
}

fn disbursement(id: &str, commitment: &str, tranche: Option<&str>, amount: &str, on: &str) -> TransactionRecorded {
    TransactionRecorded {
        txn_id: txn_id(id),
        commitment_id: Some(commitment_id(commitment)),
        transaction_type: TransactionType::parse("test", 3).unwrap(),
        date: day(on),
        amount: usd(amount, on),
        provider_id: party_id("DA"),
        receiver_id: Some(party_id("GT")),
        tranche_id: tranche.map(tranche_id),
        boundary: Some(Boundary::Incoming),
        evidence_sha256: None,
        description: String::new(),
        corrects: None,
    }
}

fn condition(id: &str, pledges: &[&str]) -> Body {
    Body::ConditionDefined(ConditionDefined {
        condition_id: condition_id(id),
        plan_id: plan_id(),
        party_id: party_id("DA"),
        condition_type: ConditionType::Policy,
        text: "Audit law passed".into(),
        assessor_id: Some(party_id("X")),
        pledge_ids: pledges.iter().map(|p| pledge_id(p)).collect(),
        amount_at_stake: None,
        co_financing: None,
    })
}

fn assessed(condition: &str, tranche: &str, on: &str) -> Body {
    Body::ConditionAssessed(ConditionAssessed {
        condition_id: condition_id(condition),
        tranche_id: Some(tranche_id(tranche)),
        outcome: Outcome::Met,
        date: day(on),
        evidence_sha256: Some([9; 32]),
        rationale: format!("assessment of {condition}"),
    })
}

#[test]
fn entry_zero_is_the_charter_and_a_party_acts_only_with_a_registered_key() {
    let mut b = Book { state: MemoryState::default(), next: 0 };
    // Signed by the key it introduces, an admission passes the signer check, and is still not entry 0's.
    let admission = Body::PartyAdmitted(PartyAdmitted { party: party("S") });
    b.refused(&["S"], "2026-01-05", admission, RefusalKind::Precondition, "statement.body", "must be the charter");
    let mut b = Book::new();
    assert_eq!(b.state.governance().parties.len(), PARTIES.len());
    // A stranger's key is no member's: the plan is not authorised by it.
    b.refused(
        &["Z"],
        "2026-01-11",
        plan(),
        RefusalKind::Denied,
        "envelope.signatures[0].keyid",
        "is not registered to any party",
    );
}

#[test]
fn a_pledge_is_signed_by_its_pledger_and_an_overlap_must_be_restated() {
    let mut b = Book::new();
    let p1 = || Body::PledgeAnnounced(pledge("P1", "DA", "100"));
    b.refused(
        &["DB"],
        "2026-01-20",
        p1(),
        RefusalKind::Denied,
        "statement.pledge_announced.pledger_id",
        "must be signed by DA",
    );
    b.apply(&["DA"], "2026-01-20", p1()).expect("pledge");
    // Same pledger, plan, kind and period: re-announcing must say what it restates.
    b.refused(
        &["DA"],
        "2026-02-01",
        Body::PledgeAnnounced(pledge("P2", "DA", "150")),
        RefusalKind::Precondition,
        "statement.pledge_announced.restates",
        "overlaps open pledge P1",
    );
    let mut p2 = pledge("P2", "DA", "150");
    p2.restates = vec![Restatement { pledge_id: pledge_id("P1"), amount: usd("100", "2026-01-20") }];
    b.apply(&["DA"], "2026-02-01", Body::PledgeAnnounced(p2)).expect("restating pledge");
    let p1 = b.subject(book::PLEDGE, "P1");
    assert_eq!((p1.status.as_str(), p1.tally.restated_by.as_slice()), ("superseded", &["P2".to_string()][..]));
    // P2 re-announces all 100 of P1: P1 cannot shrink below that (its effective amount would go negative).
    let amend = |amount: &str| {
        Body::Amended(Amended {
            subject_id: SubjectId::parse("test", "P1").unwrap(),
            rationale: "revised".into(),
            version: Version::Pledge(pledge("P1", "DA", amount)),
        })
    };
    b.refused(
        &["DA"],
        "2026-02-02",
        amend("50"),
        RefusalKind::Precondition,
        "statement.amended.pledge.amount.value",
        "below the 100 that later pledges restate (P2)",
    );
    b.apply(&["DA"], "2026-02-02", amend("120")).expect("an amendment above what is restated");
}

#[test]
fn allocations_never_exceed_the_pledge_and_a_committed_pledge_is_not_withdrawn() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", Body::PledgeAnnounced(pledge("P1", "DA", "100"))).expect("pledge");
    b.refused(
        &["DA", "GT"],
        "2026-03-01",
        commitment("C1", "DA", "P1", "100.01", &[]),
        RefusalKind::Precondition,
        "statement.commitment_signed.allocations[0].amount.value",
        "Σ allocations ≤ the pledge",
    );
    b.refused(
        &["DA"],
        "2026-03-01",
        commitment("C1", "DA", "P1", "60", &[]),
        RefusalKind::Denied,
        "statement.commitment_signed.recipient_id",
        "must be signed by GT",
    );
    b.apply(&["DA", "GT"], "2026-03-01", commitment("C1", "DA", "P1", "60", &[])).expect("commitment");
    let p1 = b.subject(book::PLEDGE, "P1");
    assert_eq!((p1.tally.committed, p1.status.as_str()), (dec("60"), "partially_committed"));
    let withdraw = Body::Withdrawn(Withdrawn {
        subject_kind: Withdrawable::Pledge,
        subject_id: SubjectId::parse("test", "P1").unwrap(),
        rationale: "changed plans".into(),
    });
    b.refused(
        &["DA"],
        "2026-03-02",
        withdraw,
        RefusalKind::Precondition,
        "statement.withdrawn.subject_id",
        "amend it down instead",
    );
}

#[test]
fn a_gated_tranche_is_disbursed_only_once_its_condition_is_met() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", Body::PledgeAnnounced(pledge("P1", "DA", "100"))).expect("pledge");
    b.apply(&["DA"], "2026-01-25", condition("K1", &["P1"])).expect("condition");
    let c = commitment("C1", "DA", "P1", "100", &[("T1", "40", &[]), ("T2", "60", &["K1"])]);
    b.apply(&["DA", "GT"], "2026-03-01", c).expect("commitment");
    let d1 = disbursement("D1", "C1", Some("T1"), "40", "2026-03-10");
    b.apply(&["DA"], "2026-03-10", Body::TransactionRecorded(d1)).expect("T1");
    let gated = Body::TransactionRecorded(disbursement("D2", "C1", Some("T2"), "60", "2026-04-10"));
    b.refused(
        &["DA"],
        "2026-04-10",
        gated.clone(),
        RefusalKind::Precondition,
        "statement.transaction_recorded.tranche_id",
        "not yet assessed",
    );
    // Only the designated assessor assesses.
    b.refused(
        &["DA"],
        "2026-04-11",
        assessed("K1", "T2", "2026-04-11"),
        RefusalKind::Denied,
        "statement.condition_assessed.condition_id",
        "must be signed by X",
    );
    b.apply(&["X"], "2026-04-11", assessed("K1", "T2", "2026-04-11")).expect("assessment");
    b.apply(&["DA"], "2026-04-12", gated).expect("released tranche");
    let c1 = b.subject(book::COMMITMENT, "C1");
    assert_eq!((c1.tally.disbursed, c1.status.as_str()), (dec("100"), "disbursed"));
    // Σ disbursements ≤ the commitment.
    let more = Body::TransactionRecorded(disbursement("D3", "C1", Some("T1"), "1", "2026-04-13"));
    b.refused(
        &["DA"],
        "2026-04-13",
        more,
        RefusalKind::Precondition,
        "statement.transaction_recorded.amount.value",
        "Σ disbursements",
    );
}

#[test]
fn a_reversed_transaction_is_corrected_once_and_keeps_its_type() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", Body::PledgeAnnounced(pledge("P1", "DA", "100"))).expect("pledge");
    b.apply(&["DA", "GT"], "2026-03-01", commitment("C1", "DA", "P1", "100", &[])).expect("commitment");
    let d1 = disbursement("D1", "C1", None, "50", "2026-03-10");
    b.apply(&["DA"], "2026-03-10", Body::TransactionRecorded(d1)).expect("D1");
    let mut fix = disbursement("D2", "C1", None, "5", "2026-03-11");
    fix.corrects = Some(txn_id("D1"));
    b.refused(
        &["DA"],
        "2026-03-11",
        Body::TransactionRecorded(fix.clone()),
        RefusalKind::Precondition,
        "statement.transaction_recorded.corrects",
        "is not reversed",
    );
    let reversal = |amount: &str| {
        Body::TransactionReversed(TransactionReversed {
            txn_id: txn_id("D1"),
            rationale: "keying error".into(),
            amount: Some(usd(amount, "2026-03-10")),
        })
    };
    b.refused(
        &["DA"],
        "2026-03-11",
        reversal("49"),
        RefusalKind::Precondition,
        "statement.transaction_reversed.amount",
        "the whole amount",
    );
    b.apply(&["DA"], "2026-03-11", reversal("50")).expect("reversal");
    assert_eq!(b.subject(book::COMMITMENT, "C1").tally.disbursed, Decimal::ZERO);
    let wrong_type =
        TransactionRecorded { transaction_type: TransactionType::parse("test", 4).unwrap(), ..fix.clone() };
    b.refused(
        &["DA"],
        "2026-03-11",
        Body::TransactionRecorded(wrong_type),
        RefusalKind::Precondition,
        "statement.transaction_recorded.transaction_type",
        "keeps the type",
    );
    b.apply(&["DA"], "2026-03-11", Body::TransactionRecorded(fix)).expect("correction");
    assert_eq!(b.subject(book::TRANSACTION, "D1").tally.corrected_by, "D2");
    assert_eq!(b.subject(book::COMMITMENT, "C1").tally.disbursed, dec("5"));
    let mut again = disbursement("D3", "C1", None, "5", "2026-03-12");
    again.corrects = Some(txn_id("D1"));
    b.refused(
        &["DA"],
        "2026-03-12",
        Body::TransactionRecorded(again),
        RefusalKind::Precondition,
        "statement.transaction_recorded.corrects",
        "already corrected by D2",
    );
}

#[test]
fn a_subject_keeps_the_compiled_body_it_was_created_with() {
    let mut b = Book::new();
    b.apply(&["DA"], "2026-01-20", Body::PledgeAnnounced(pledge("P1", "DA", "100"))).expect("pledge");
    let p1 = b.subject(book::PLEDGE, "P1");
    let body: &PledgeAnnounced = p1.body_as().expect("a pledge body");
    assert_eq!(body.amount.as_ref().map(|a| a.value), Some(dec("100")));
    // Asking for another kind is a projection that is not what the rules built: INTERNAL, naming it.
    let e = p1.body_as::<CommitmentSigned>().expect_err("not a commitment");
    assert_eq!(e.refusal().map(|r| r.kind), Some(RefusalKind::Internal), "{e}");
    assert!(e.to_string().contains("pledge P1"), "{e}");
    // A tranche has no body of its own.
    b.apply(&["DA", "GT"], "2026-03-01", commitment("C1", "DA", "P1", "100", &[("T1", "100", &[])])).expect("c");
    assert!(b.subject(book::TRANCHE, "T1").body.is_none());
}
