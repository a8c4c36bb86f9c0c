//! The map function of the verifiable index (docs/INDEX.md §1): for every statement kind, the exact keys it
//! files under, and the key encoding's injectivity. Each test lists the whole expected key set, so a key
//! added or dropped for a kind fails it.
use accord_domain::codes::*;
use accord_domain::date::Day;
use accord_domain::ids::*;
use accord_domain::index::{keys, named_keys, plan_anchor, IndexKey, KIND_NAMES};
use accord_domain::money::Amount;
use accord_domain::statement::*;
use rust_decimal::Decimal;

fn day(s: &str) -> Day {
    Day::parse("test", s).unwrap()
}
fn usd(v: &str) -> Amount {
    Amount { value: v.parse().unwrap(), currency: "USD".parse().unwrap(), value_date: day("2026-03-01").days() }
}
fn p(s: &str) -> PartyId {
    PartyId::parse("t", s).unwrap()
}
fn plan() -> PlanId {
    PlanId::parse("t", "P1").unwrap()
}
fn st(body: Body) -> Statement {
    Statement {
        ledger: "accord.test/index".into(),
        statement_id: StatementId::parse("t", "s1").unwrap(),
        issued_at: Timestamp { seconds: 1_780_000_000, nanos: 0 },
        effective_date: day("2026-03-01"),
        body,
    }
}

/// The keys of `body` signed by `signers`, with the anchor's plan resolved to `anchor_plan`, as encodings.
fn enc(body: Body, signers: &[&str], anchor_plan: Option<&str>) -> Vec<String> {
    let signers: Vec<PartyId> = signers.iter().map(|s| p(s)).collect();
    let s = st(body);
    let ks = keys(&s, &signers, |_, _| anchor_plan.map(|x| PlanId::parse("t", x).unwrap()));
    let mut sorted = ks.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ks, sorted, "keys are sorted and deduplicated");
    for k in &ks {
        // Also checks that every kind's name is in KIND_NAMES.
        assert_eq!(IndexKey::parse(&k.encode()).as_ref(), Some(k), "{k} parses back");
    }
    let mut out: Vec<String> = ks.iter().map(IndexKey::encode).collect();
    out.sort();
    out
}

fn set(xs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = xs.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn party(id: &str) -> Party {
    Party {
        party_id: p(id),
        name: id.into(),
        roles: vec![Role::Funder],
        public_keys: vec![[1; 32]],
        organisation_type: "10".into(),
        country: None,
    }
}

fn plan_created() -> PlanCreated {
    PlanCreated {
        plan_id: plan(),
        title: "Plan".into(),
        period: Period { start: day("2026-01-01"), end: day("2029-12-31") },
        reporting_currency: "USD".parse().unwrap(),
        signatories: vec![Signatory { party_id: p("S"), role: Some(Role::Secretariat) }],
        report_schedule: None,
        requirement: None,
        description: String::new(),
        boundary_party_ids: vec![p("GT")],
        expected_reporters: vec![ExpectedReporter { party_id: p("NGO"), schedule: None }],
    }
}

fn pledge() -> PledgeAnnounced {
    PledgeAnnounced {
        pledge_id: PledgeId::parse("t", "PL1").unwrap(),
        plan_id: plan(),
        pledger_id: p("DA"),
        pledge_kind: PledgeKind::Money,
        amount: Some(usd("100")),
        goals: vec![GoalShare { goal_id: GoalId::parse("t", "G1").unwrap(), share: Decimal::from(100) }],
        recipient_ids: vec![p("GT")],
        usage_period: None,
        finance_type: None,
        funding_source: FundingSource::External,
        new_money: true,
        restates: vec![Restatement { pledge_id: PledgeId::parse("t", "PL0").unwrap(), amount: usd("10") }],
        announced: None,
        expires_on: None,
        items: vec![],
        milestones: vec![],
        description: String::new(),
    }
}

fn condition() -> ConditionDefined {
    ConditionDefined {
        condition_id: ConditionId::parse("t", "C1").unwrap(),
        plan_id: plan(),
        party_id: p("GT"),
        condition_type: ConditionType::Policy,
        text: "law".into(),
        assessor_id: Some(p("X")),
        pledge_ids: vec![PledgeId::parse("t", "PL1").unwrap()],
        amount_at_stake: None,
        co_financing: None,
    }
}

fn commitment() -> CommitmentSigned {
    CommitmentSigned {
        commitment_id: CommitmentId::parse("t", "CM1").unwrap(),
        plan_id: plan(),
        provider_id: p("DA"),
        recipient_id: p("GT"),
        allocations: vec![PledgeAllocation { pledge_id: PledgeId::parse("t", "PL1").unwrap(), amount: usd("100") }],
        amount: usd("100"),
        signed_date: day("2026-03-01"),
        finance_type: None,
        usage_years: vec![],
        tranches: vec![Tranche {
            tranche_id: TrancheId::parse("t", "T1").unwrap(),
            value: Decimal::from(100),
            condition_ids: vec![ConditionId::parse("t", "C1").unwrap()],
        }],
        agreement_sha256: None,
    }
}

fn indicator() -> IndicatorDefined {
    IndicatorDefined {
        indicator_id: IndicatorId::parse("t", "I1").unwrap(),
        goal_id: GoalId::parse("t", "G1").unwrap(),
        title: "i".into(),
        measure: Measure::Unit,
        ascending: true,
        unit: String::new(),
        baseline: None,
        targets: vec![],
    }
}

fn transaction(commitment: bool) -> TransactionRecorded {
    TransactionRecorded {
        txn_id: TxnId::parse("t", "TX2").unwrap(),
        commitment_id: commitment.then(|| CommitmentId::parse("t", "CM1").unwrap()),
        transaction_type: if commitment { TransactionType::Disbursement } else { TransactionType::Expenditure },
        date: day("2026-03-02"),
        amount: usd("10"),
        provider_id: p("DA"),
        receiver_id: commitment.then(|| p("GT")),
        tranche_id: commitment.then(|| TrancheId::parse("t", "T1").unwrap()),
        boundary: None,
        evidence_sha256: None,
        description: String::new(),
        corrects: Some(TxnId::parse("t", "TX1").unwrap()),
    }
}

#[test]
fn governance_kinds_file_under_their_parties_and_kind() {
    let charter = Body::Charter(Charter {
        name: "c".into(),
        founders: vec![party("S"), party("DA")],
        admission_k: 1,
        purpose: String::new(),
    });
    assert_eq!(enc(charter, &["S"], None), set(&["kind:charter", "party:DA", "party:S"]));
    let admitted = Body::PartyAdmitted(PartyAdmitted { party: party("DB") });
    assert_eq!(enc(admitted, &["S"], None), set(&["kind:party.admitted", "party:DB", "party:S"]));
    let rotated =
        Body::KeyRotated(KeyRotated { party_id: p("DA"), old_keyid: "ab".repeat(32), new_public_key: [2; 32] });
    assert_eq!(enc(rotated, &["DA"], None), set(&["kind:key.rotated", "party:DA"]));
    let revoked = Body::KeyRevoked(KeyRevoked { party_id: p("DB"), keyid: "ab".repeat(32), reason: "lost".into() });
    assert_eq!(enc(revoked, &["S"], None), set(&["kind:key.revoked", "party:DB", "party:S"]));
}

#[test]
fn plans_goals_and_indicators() {
    let b = Body::PlanCreated(plan_created());
    assert_eq!(
        enc(b, &["S"], None),
        set(&["kind:plan.created", "party:GT", "party:NGO", "party:S", "plan:P1", "subject:plan:P1"])
    );
    let goal = GoalDefined {
        goal_id: GoalId::parse("t", "G1").unwrap(),
        plan_id: plan(),
        title: "g".into(),
        classifications: vec![],
        description: String::new(),
    };
    assert_eq!(
        enc(Body::GoalDefined(goal), &["S"], None),
        set(&["kind:goal.defined", "party:S", "plan:P1", "subject:goal:G1"])
    );
    // An indicator names its goal, not its plan: the plan key is the goal's plan, through the resolver.
    let b = Body::IndicatorDefined(indicator());
    assert_eq!(plan_anchor(&b), Some((SubjectKind::Goal, "G1")));
    let want = ["kind:indicator.defined", "party:S", "subject:goal:G1", "subject:indicator:I1"];
    assert_eq!(enc(b.clone(), &["S"], None), set(&want));
    let mut with_plan = want.to_vec();
    with_plan.push("plan:P1");
    assert_eq!(enc(b, &["S"], Some("P1")), set(&with_plan));
}

#[test]
fn pledges_conditions_and_commitments_name_their_plan_parties_and_references() {
    let b = Body::PledgeAnnounced(pledge());
    assert_eq!(plan_anchor(&b), None);
    assert_eq!(
        enc(b, &["DA"], Some("OTHER")),
        set(&[
            "kind:pledge.announced",
            "party:DA",
            "party:GT",
            "plan:P1",
            "subject:goal:G1",
            "subject:pledge:PL0",
            "subject:pledge:PL1"
        ]),
        "a kind that names its plan never asks the resolver"
    );
    let mut c = condition();
    c.co_financing = Some(CoFinancingRule {
        ratio: Decimal::from(1),
        party_ids: vec![p("CF")],
        finance_types: vec![],
        period: None,
    });
    assert_eq!(
        enc(Body::ConditionDefined(c), &["DA", "GT"], None),
        set(&[
            "kind:condition.defined",
            "party:CF",
            "party:DA",
            "party:GT",
            "party:X",
            "plan:P1",
            "subject:condition:C1",
            "subject:pledge:PL1"
        ])
    );
    assert_eq!(
        enc(Body::CommitmentSigned(commitment()), &["DA", "GT"], None),
        set(&[
            "kind:commitment.signed",
            "party:DA",
            "party:GT",
            "plan:P1",
            "subject:commitment:CM1",
            "subject:condition:C1",
            "subject:pledge:PL1",
            "subject:tranche:T1"
        ])
    );
}

#[test]
fn flows_inherit_their_plan_from_the_subject_they_act_on() {
    let b = Body::TransactionRecorded(transaction(true));
    assert_eq!(plan_anchor(&b), Some((SubjectKind::Commitment, "CM1")));
    assert_eq!(
        enc(b, &["DA"], Some("P1")),
        set(&[
            "kind:transaction.recorded",
            "party:DA",
            "party:GT",
            "plan:P1",
            "subject:commitment:CM1",
            "subject:tranche:T1",
            "subject:transaction:TX1",
            "subject:transaction:TX2"
        ])
    );
    // Without a commitment a transaction belongs to no plan (the book's plan_id is empty).
    let b = Body::TransactionRecorded(transaction(false));
    assert_eq!(plan_anchor(&b), None);
    assert_eq!(
        enc(b, &["DA"], Some("P1")),
        set(&["kind:transaction.recorded", "party:DA", "subject:transaction:TX1", "subject:transaction:TX2"])
    );
    let b = Body::TransactionReversed(TransactionReversed {
        txn_id: TxnId::parse("t", "TX2").unwrap(),
        rationale: "dup".into(),
        amount: None,
    });
    assert_eq!(plan_anchor(&b), Some((SubjectKind::Transaction, "TX2")));
    assert_eq!(
        enc(b, &["DA"], Some("P1")),
        set(&["kind:transaction.reversed", "party:DA", "plan:P1", "subject:transaction:TX2"])
    );
}

#[test]
fn deliveries_milestones_and_assessments() {
    let delivered = Body::InkindDelivered(InkindDelivered {
        delivery_id: DeliveryId::parse("t", "D1").unwrap(),
        pledge_id: PledgeId::parse("t", "PL1").unwrap(),
        date: day("2026-03-03"),
        item_id: Some(ItemId::parse("t", "it").unwrap()),
        quantity: None,
        value: usd("5"),
        receiver_id: p("GT"),
    });
    assert_eq!(plan_anchor(&delivered), Some((SubjectKind::Pledge, "PL1")));
    assert_eq!(
        enc(delivered, &["DA"], Some("P1")),
        set(&["kind:inkind.delivered", "party:DA", "party:GT", "plan:P1", "subject:delivery:D1", "subject:pledge:PL1"])
    );
    let confirmed = Body::DeliveryConfirmed(DeliveryConfirmed {
        delivery_id: DeliveryId::parse("t", "D1").unwrap(),
        date: day("2026-03-04"),
        note: String::new(),
    });
    assert_eq!(
        enc(confirmed, &["GT"], Some("P1")),
        set(&["kind:delivery.confirmed", "party:GT", "plan:P1", "subject:delivery:D1"])
    );
    let milestone = Body::MilestoneUpdated(MilestoneUpdated {
        pledge_id: PledgeId::parse("t", "PL1").unwrap(),
        milestone_id: MilestoneId::parse("t", "M1").unwrap(),
        status: MilestoneStatus::Met,
        date: day("2026-03-04"),
        quantity_done: None,
        note: String::new(),
    });
    assert_eq!(
        enc(milestone, &["DA"], Some("P1")),
        set(&["kind:milestone.updated", "party:DA", "plan:P1", "subject:pledge:PL1"])
    );
    let assessed = Body::ConditionAssessed(ConditionAssessed {
        condition_id: ConditionId::parse("t", "C1").unwrap(),
        tranche_id: Some(TrancheId::parse("t", "T1").unwrap()),
        outcome: Outcome::Met,
        date: day("2026-03-05"),
        evidence_sha256: None,
        rationale: "ok".into(),
    });
    assert_eq!(plan_anchor(&assessed), Some((SubjectKind::Condition, "C1")));
    assert_eq!(
        enc(assessed, &["X"], Some("P1")),
        set(&["kind:condition.assessed", "party:X", "plan:P1", "subject:condition:C1", "subject:tranche:T1"])
    );
}

#[test]
fn reports_attestations_and_rates() {
    let report = Body::ProgressReported(ProgressReported {
        report_id: ReportId::parse("t", "R1").unwrap(),
        reporter_id: p("NGO"),
        plan_id: plan(),
        period: Period { start: day("2026-01-01"), end: day("2026-03-31") },
        indicator_values: vec![IndicatorValue {
            indicator_id: IndicatorId::parse("t", "I1").unwrap(),
            value: Decimal::from(3),
        }],
        co_financing_realised: None,
        narrative_sha256: None,
    });
    assert_eq!(
        enc(report, &["NGO"], None),
        set(&["kind:progress.reported", "party:NGO", "plan:P1", "subject:indicator:I1", "subject:report:R1"])
    );
    let attestation = Body::AttestationIssued(AttestationIssued {
        attestation_id: AttestationId::parse("t", "A1").unwrap(),
        auditor_id: p("AUD"),
        scope: "all".into(),
        covered_entries: vec![[3; 32]],
        opinion: Opinion::Verified,
        adjustments: vec![],
    });
    assert_eq!(plan_anchor(&attestation), None);
    assert_eq!(
        enc(attestation, &["AUD"], Some("P1")),
        set(&["kind:attestation.issued", "party:AUD", "subject:attestation:A1"])
    );
    let fx = Body::FxRateRecorded(FxRateRecorded {
        from_currency: "EUR".parse().unwrap(),
        to_currency: "USD".parse().unwrap(),
        rate: Decimal::from(1),
        rate_date: day("2026-03-01"),
        source: "ECB".into(),
        method: "ref".into(),
    });
    assert_eq!(enc(fx, &["S"], None), set(&["kind:fx_rate.recorded", "party:S", "subject:fx_rate:EUR/USD/2026-03-01"]));
}

#[test]
fn amendments_file_under_the_new_versions_keys_and_withdrawals_under_their_subject() {
    let mut v = pledge();
    v.recipient_ids = vec![p("GT2")];
    let amended = Body::Amended(Amended {
        subject_id: SubjectId::parse("t", "PL1").unwrap(),
        rationale: "more".into(),
        version: Version::Pledge(v),
    });
    assert_eq!(
        enc(amended, &["DA"], Some("OTHER")),
        set(&[
            "kind:amended",
            "party:DA",
            "party:GT2",
            "plan:P1",
            "subject:goal:G1",
            "subject:pledge:PL0",
            "subject:pledge:PL1"
        ])
    );
    let amended = Body::Amended(Amended {
        subject_id: SubjectId::parse("t", "I1").unwrap(),
        rationale: "unit".into(),
        version: Version::Indicator(indicator()),
    });
    assert_eq!(plan_anchor(&amended), Some((SubjectKind::Goal, "G1")));
    assert_eq!(
        enc(amended, &["S"], Some("P1")),
        set(&["kind:amended", "party:S", "plan:P1", "subject:goal:G1", "subject:indicator:I1"])
    );
    let withdrawn = Body::Withdrawn(Withdrawn {
        subject_kind: Withdrawable::Commitment,
        subject_id: SubjectId::parse("t", "CM1").unwrap(),
        rationale: "gone".into(),
    });
    assert_eq!(plan_anchor(&withdrawn), Some((SubjectKind::Commitment, "CM1")));
    assert_eq!(
        enc(withdrawn, &["DA", "GT"], Some("P1")),
        set(&["kind:withdrawn", "party:DA", "party:GT", "plan:P1", "subject:commitment:CM1"])
    );
}

#[test]
fn named_keys_are_keys_without_the_inherited_plan() {
    let s = st(Body::MilestoneUpdated(MilestoneUpdated {
        pledge_id: PledgeId::parse("t", "PL1").unwrap(),
        milestone_id: MilestoneId::parse("t", "M1").unwrap(),
        status: MilestoneStatus::Met,
        date: day("2026-03-04"),
        quantity_done: None,
        note: String::new(),
    }));
    let mut asked = Vec::new();
    let full = keys(&s, &[p("DA")], |k, id| {
        asked.push((k, id.to_string()));
        Some(plan())
    });
    assert_eq!(asked, vec![(SubjectKind::Pledge, "PL1".to_string())]);
    let named = named_keys(&s, &[p("DA")]);
    assert_eq!(full.len(), named.len() + 1);
    assert!(full.contains(&IndexKey::Plan(plan())) && !named.contains(&IndexKey::Plan(plan())));
}

#[test]
fn the_encoding_is_injective_and_parses_back() {
    let keys = [
        IndexKey::Party(p("a:b")),
        IndexKey::Plan(PlanId::parse("t", "a:b").unwrap()),
        IndexKey::Subject { kind: SubjectKind::Pledge, id: "a:b".into() },
        IndexKey::Subject { kind: SubjectKind::Plan, id: "a:b".into() },
        IndexKey::Subject { kind: SubjectKind::Pledge, id: "b".into() },
        IndexKey::Subject { kind: SubjectKind::FxRate, id: "EUR/USD/2026-01-01".into() },
        IndexKey::Kind("pledge.announced"),
    ];
    for (i, a) in keys.iter().enumerate() {
        assert_eq!(IndexKey::parse(&a.encode()).as_ref(), Some(a), "{a} parses back");
        for b in &keys[i + 1..] {
            assert_ne!(a.encode(), b.encode());
            assert_ne!(a.key_hash(), b.key_hash());
        }
    }
    // key_hash is SHA-256 of the UTF-8 encoding (docs/INDEX.md §2).
    assert_eq!(
        hex::encode(IndexKey::Party(p("DA")).key_hash()),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"party:DA"))
    );
    for bad in ["party:", "party:-x", "plan", "subject:pledge", "subject:nope:x", "subject:pledge:", "kind:nope", "x:y"]
    {
        assert_eq!(IndexKey::parse(bad), None, "{bad}");
    }
    for k in KIND_NAMES {
        assert_eq!(IndexKey::parse(&format!("kind:{k}")), Some(IndexKey::Kind(k)));
    }
}
