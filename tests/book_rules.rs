//! One negative test per invariant of DOMAIN.md §3–§4 (and the positive paths of amendments, withdrawals,
//! restatements, reversals, deliveries and milestones), all through the real server. Every refusal must
//! carry the right status, name the field and the rule, and write nothing.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use accord::error::Kind;
use accord::pb::{self, statement::Body};
use common::scenario::{self as sc, money, refused, Coalition};

/// A coalition with rates, the plan, goals G1–G4, pledges P1 (DA, EUR 120 m) and P3 (BC, USD 300 m), and
/// condition C1 on P1.
async fn setup() -> Coalition {
    let mut c = Coalition::start().await;
    sc::plan_and_goals(&mut c).await;
    let p1 = sc::pledge("P1", "DA", "120000000", "EUR", &[("G1", "50"), ("G4", "50")], "110", "external", "2029-12-31");
    c.submit(&["DA"], "2026-01-20", p1).await.expect("P1");
    let p3 = sc::pledge("P3", "BC", "300000000", "USD", &[("G3", "100")], "421", "external", "2029-12-31");
    c.submit(&["BC"], "2026-01-20", p3).await.expect("P3");
    let c1 = sc::condition("C1", "DA", "Anti-corruption unit constituted", &["P1"], None);
    c.submit(&["DA"], "2026-01-20", c1).await.expect("C1");
    c
}

fn bc_commitment(id: &str, amount: &str) -> Body {
    sc::commitment(id, "BC", "GT", "P3", amount, "USD", "2026-04-10", "421", &[])
}

fn pledge_body(f: impl FnOnce(&mut pb::PledgeAnnounced)) -> Body {
    let Body::PledgeAnnounced(mut p) =
        sc::pledge("PX", "DB", "1000000", "USD", &[("G2", "100")], "110", "external", "2027-12-31")
    else {
        unreachable!()
    };
    f(&mut p);
    Body::PledgeAnnounced(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_ids_and_signers() {
    let mut c = setup().await;
    // References point to earlier entries of the right kind.
    let b = pledge_body(|p| p.plan_id = "NO-PLAN".into());
    refused(
        &mut c,
        &["DB"],
        "2026-01-20",
        b,
        Kind::FailedPrecondition,
        &["pledge_announced.plan_id", "no earlier plan"],
    )
    .await;
    let b = pledge_body(|p| p.goals = sc::shares(&[("P1", "100")]));
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::FailedPrecondition, &["goals[0].goal_id", "no earlier goal"]).await;
    // Ids are unique and immutable.
    let b = pledge_body(|p| p.pledge_id = "P1".into());
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::FailedPrecondition, &["pledge_id", "already exists"]).await;
    // A party acts only as itself: DB cannot pledge as DA.
    let b = pledge_body(|p| p.pledger_id = "DA".into());
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::PermissionDenied, &["pledger_id", "must be signed by DA"]).await;
    // Commitments need provider and recipient.
    refused(
        &mut c,
        &["BC"],
        "2026-04-10",
        bc_commitment("BC-1", "1000"),
        Kind::PermissionDenied,
        &["recipient_id", "signed by GT"],
    )
    .await;
    // A party commits only its own pledge.
    let b = sc::commitment("DB-1", "DB", "GT", "P1", "1000", "EUR", "2026-04-10", "110", &[]);
    refused(&mut c, &["DB", "GT"], "2026-04-10", b, Kind::FailedPrecondition, &["allocations[0].pledge_id", "DA's"])
        .await;
    // Assessments only by the designated assessor; rates only by a rate publisher; attestations by auditors.
    let b = sc::commitment("DA-GT", "DA", "GT", "P1", "100", "EUR", "2026-02-15", "110", &[("T1", "100", &["C1"])]);
    c.submit(&["DA", "GT"], "2026-02-15", b).await.expect("commitment with a gated tranche");
    refused(
        &mut c,
        &["DA"],
        "2026-05-31",
        sc::assessed("C1", "T1", "met", "2026-05-31"),
        Kind::PermissionDenied,
        &["designated assessor", "signed by X"],
    )
    .await;
    refused(
        &mut c,
        &["S"],
        "2026-05-31",
        sc::fx("EUR", "1.1", "2026-05-31"),
        Kind::PermissionDenied,
        &["rate_publisher"],
    )
    .await;
    let att = Body::AttestationIssued(pb::AttestationIssued {
        attestation_id: "A1".into(),
        auditor_id: "X".into(),
        scope: "s".into(),
        covered_entries: vec![vec![0; 32]],
        opinion: "verified".into(),
        adjustments: vec![],
    });
    refused(&mut c, &["X"], "2026-05-31", att, Kind::PermissionDenied, &["auditor_id", "auditor role"]).await;
    // A tranche assessed must be gated by that condition.
    let b = sc::commitment("DA-HN", "DA", "HN", "P1", "100", "EUR", "2026-02-15", "110", &[]);
    c.submit(&["DA", "HN"], "2026-02-15", b).await.unwrap();
    refused(
        &mut c,
        &["X"],
        "2026-05-31",
        sc::assessed("C1", "NOPE", "met", "2026-05-31"),
        Kind::FailedPrecondition,
        &["tranche_id"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_and_sums() {
    let mut c = setup().await;
    // Exact decimals, ISO 4217, value date required.
    let b = pledge_body(|p| p.amount = money("1e6", "USD", "2026-01-20"));
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::InvalidArgument, &["amount.value", "not a decimal"]).await;
    let b = pledge_body(|p| p.amount = money("100", "XYZ", "2026-01-20"));
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::InvalidArgument, &["amount.currency", "ISO 4217"]).await;
    let b = pledge_body(|p| p.amount = money("100", "USD", ""));
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::InvalidArgument, &["amount.value_date", "value date is required"])
        .await;
    // Goal shares sum to 100.
    let b = pledge_body(|p| p.goals = sc::shares(&[("G2", "60"), ("G3", "30")]));
    refused(&mut c, &["DB"], "2026-01-20", b, Kind::InvalidArgument, &["goals", "sum to 90, not 100"]).await;
    // Usage years sum to the commitment.
    let Body::CommitmentSigned(mut cm) = bc_commitment("BC-1", "1000") else { unreachable!() };
    cm.usage_years =
        vec![pb::UsageYear { year: 2026, value: "600".into() }, pb::UsageYear { year: 2027, value: "300".into() }];
    refused(
        &mut c,
        &["BC", "GT"],
        "2026-04-10",
        Body::CommitmentSigned(cm),
        Kind::InvalidArgument,
        &["usage_years", "usage years sum"],
    )
    .await;
    // Σ allocations ≤ the pledge.
    c.submit(&["BC", "GT"], "2026-04-10", bc_commitment("BC-1", "200000000")).await.unwrap();
    refused(
        &mut c,
        &["BC", "GT"],
        "2026-04-10",
        bc_commitment("BC-2", "100000001"),
        Kind::FailedPrecondition,
        &["allocations[0].amount.value", "Σ allocations ≤ the pledge"],
    )
    .await;
    // Allocations are in the pledge's currency.
    let Body::CommitmentSigned(mut cm) = bc_commitment("BC-3", "10") else { unreachable!() };
    cm.allocations[0].amount = money("10", "EUR", "2026-04-10");
    refused(
        &mut c,
        &["BC", "GT"],
        "2026-04-10",
        Body::CommitmentSigned(cm),
        Kind::InvalidArgument,
        &["allocations[0].amount.currency"],
    )
    .await;
    // Σ disbursements − reversals ≤ the commitment; a reversal frees room again.
    let d = |id: &str, v: &str| sc::disbursement(id, "BC-1", "", "BC", "GT", v, "USD", "2026-10-01");
    c.submit(&["BC"], "2026-10-01", d("T1", "150000000")).await.unwrap();
    refused(
        &mut c,
        &["BC"],
        "2026-10-01",
        d("T2", "50000001"),
        Kind::FailedPrecondition,
        &["Σ disbursements − reversals ≤ the commitment"],
    )
    .await;
    let rev = Body::TransactionReversed(pb::TransactionReversed {
        txn_id: "T1".into(),
        rationale: "wrong account".into(),
        ..Default::default()
    });
    refused(&mut c, &["GT"], "2026-10-02", rev.clone(), Kind::PermissionDenied, &["signed by BC"]).await;
    c.submit(&["BC"], "2026-10-02", rev.clone()).await.expect("reversal by the original signer");
    refused(&mut c, &["BC"], "2026-10-02", rev, Kind::FailedPrecondition, &["already reversed"]).await;
    c.submit(&["BC"], "2026-10-03", d("T3", "200000000")).await.expect("room again after the reversal");
    let p3 = c.client.subject("pledge", "P3", true).await.unwrap();
    let f = p3.item.unwrap().figures.unwrap();
    assert_eq!((f.committed.as_str(), f.disbursed.as_str()), ("200000000", "200000000"));
    // Effective dates are not after integration time (the clock is 2027-02-01).
    let b = pledge_body(|_| ());
    refused(
        &mut c,
        &["DB"],
        "2027-03-01",
        b,
        Kind::FailedPrecondition,
        &["effective_date", "after the integration date"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tranches_overlap_and_history() {
    let mut c = setup().await;
    // A gated tranche is disbursed only when its conditions are met or waived.
    let b = sc::commitment(
        "DA-GT",
        "DA",
        "GT",
        "P1",
        "100",
        "EUR",
        "2026-02-15",
        "110",
        &[("U", "60", &[]), ("T1", "40", &["C1"])],
    );
    c.submit(&["DA", "GT"], "2026-02-15", b).await.unwrap();
    let d =
        |id: &str, tranche: &str, v: &str| sc::disbursement(id, "DA-GT", tranche, "DA", "GT", v, "EUR", "2026-03-10");
    refused(
        &mut c,
        &["DA"],
        "2026-03-10",
        d("T-1", "T1", "40"),
        Kind::FailedPrecondition,
        &["tranche_id", "not yet assessed"],
    )
    .await;
    refused(&mut c, &["DA"], "2026-03-10", d("T-1", "", "40"), Kind::InvalidArgument, &["tranche_id", "has tranches"])
        .await;
    refused(&mut c, &["DA"], "2026-03-10", d("T-1", "U", "61"), Kind::FailedPrecondition, &["tranche U"]).await;
    c.submit(&["X"], "2026-03-11", sc::assessed("C1", "T1", "waived", "2026-03-11")).await.unwrap();
    c.submit(&["DA"], "2026-03-12", d("T-1", "T1", "40")).await.expect("waived tranche disburses");

    // Overlap: a second open pledge of the same pledger, plan and period must restate or be new money.
    let again = |id: &str, restates: Vec<pb::Restatement>, new_money: bool| {
        let Body::PledgeAnnounced(mut p) =
            sc::pledge(id, "BC", "300000000", "USD", &[("G3", "100")], "421", "external", "2029-12-31")
        else {
            unreachable!()
        };
        p.new_money = new_money;
        p.restates = restates;
        Body::PledgeAnnounced(p)
    };
    refused(
        &mut c,
        &["BC"],
        "2026-06-01",
        again("P3b", vec![], false),
        Kind::FailedPrecondition,
        &["restates", "overlaps open pledge P3"],
    )
    .await;
    let r = vec![pb::Restatement { pledge_id: "P3".into(), amount: money("300000000", "USD", "2026-01-20") }];
    c.submit(&["BC"], "2026-06-01", again("P3b", r, false)).await.expect("a restatement");
    let p3 = c.client.subject("pledge", "P3", false).await.unwrap().item.unwrap();
    assert_eq!(p3.status, "superseded");
    assert_eq!(p3.figures.unwrap().restated_by, ["P3b"]);

    // Amendment: the compiled view shows the new version; history keeps both; never below committed.
    let amended = |value: &str| {
        let Body::PledgeAnnounced(mut p) =
            sc::pledge("P1", "DA", value, "EUR", &[("G1", "50"), ("G4", "50")], "110", "external", "2029-12-31")
        else {
            unreachable!()
        };
        p.description = "revised".into();
        Body::Amended(pb::Amended {
            subject_id: "P1".into(),
            rationale: "budget revision".into(),
            version: Some(pb::amended::Version::Pledge(p)),
        })
    };
    refused(
        &mut c,
        &["DA"],
        "2026-07-01",
        amended("99"),
        Kind::FailedPrecondition,
        &["amended.pledge.amount.value", "already committed"],
    )
    .await;
    refused(&mut c, &["DB"], "2026-07-01", amended("150000000"), Kind::PermissionDenied, &["signed by DA"]).await;
    c.submit(&["DA"], "2026-07-01", amended("150000000")).await.expect("amendment");
    let h = c.client.subject("pledge", "P1", true).await.unwrap();
    let item = h.item.unwrap();
    assert_eq!(item.version, 2);
    assert_eq!(item.figures.as_ref().unwrap().amount, "150000000");
    let Some(Body::PledgeAnnounced(compiled)) = item.compiled.and_then(|s| s.body) else { panic!("compiled pledge") };
    assert_eq!(compiled.description, "revised");
    let kinds: Vec<&str> = h.history.iter().map(|e| e.statement_kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"pledge.announced"));
    assert!(kinds.contains(&"amended"), "{kinds:?}");

    // Withdrawal: refused while committed; an uncommitted pledge is withdrawn and cannot be committed.
    let w = |kind: &str, id: &str| {
        Body::Withdrawn(pb::Withdrawn {
            subject_kind: kind.into(),
            subject_id: id.into(),
            rationale: "no longer".into(),
        })
    };
    refused(&mut c, &["DA"], "2026-08-01", w("pledge", "P1"), Kind::FailedPrecondition, &["amend it down instead"])
        .await;
    c.submit(&["BC"], "2026-08-01", w("pledge", "P3b")).await.expect("withdrawal");
    let b = sc::commitment("BC-9", "BC", "GT", "P3b", "1", "USD", "2026-08-02", "421", &[]);
    refused(&mut c, &["BC", "GT"], "2026-08-02", b, Kind::FailedPrecondition, &["withdrawn"]).await;
    let p3b = c.client.subject("pledge", "P3b", false).await.unwrap().item.unwrap();
    assert_eq!(p3b.status, "withdrawn");

    // A subject's plan never changes: condition C1 amended to name a second plan is refused (the plan's
    // index key then holds the plan's whole book, docs/INDEX.md §1.3).
    let plan2 = pb::PlanCreated {
        plan_id: "PL2".into(),
        title: "Second plan".into(),
        period: sc::period("2026-01-01", "2029-12-31"),
        reporting_currency: "USD".into(),
        signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
        ..Default::default()
    };
    c.submit(&["S"], "2026-08-03", Body::PlanCreated(plan2)).await.expect("a second plan");
    let Body::ConditionDefined(mut moved) = sc::condition("C1", "DA", "Anti-corruption unit constituted", &[], None)
    else {
        unreachable!()
    };
    moved.plan_id = "PL2".into();
    let amend = Body::Amended(pb::Amended {
        subject_id: "C1".into(),
        rationale: "moved".into(),
        version: Some(pb::amended::Version::Condition(moved)),
    });
    refused(&mut c, &["DA"], "2026-08-03", amend, Kind::FailedPrecondition, &["plan_id", "cannot change"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_kind_and_policy_pledges() {
    let mut c = setup().await;
    let inkind = sc::inkind_pledge("K1", "500000");
    c.submit(&["DB"], "2026-01-20", inkind).await.unwrap();
    let delivery = |id: &str, v: &str| {
        Body::InkindDelivered(pb::InkindDelivered {
            delivery_id: id.into(),
            pledge_id: "K1".into(),
            date: "2026-05-01".into(),
            item_id: "vehicles".into(),
            quantity: "10".into(),
            value: money(v, "USD", "2026-05-01"),
            receiver_id: "HN".into(),
        })
    };
    refused(&mut c, &["HN"], "2026-05-01", delivery("D1", "250000"), Kind::PermissionDenied, &["signed by DB"]).await;
    c.submit(&["DB", "HN"], "2026-05-01", delivery("D1", "250000")).await.unwrap();
    let k1 = c.client.subject("pledge", "K1", false).await.unwrap().item.unwrap();
    assert_eq!((k1.status.as_str(), k1.figures.unwrap().delivered.as_str()), ("partially_disbursed", "250000"));
    let d1 = c.client.subject("delivery", "D1", false).await.unwrap().item.unwrap();
    assert_eq!(d1.status, "confirmed");

    let policy = Body::PledgeAnnounced(pb::PledgeAnnounced {
        pledge_id: "Y1".into(),
        plan_id: sc::PLAN.into(),
        pledger_id: "GT".into(),
        pledge_kind: "policy_action".into(),
        goals: sc::shares(&[("G1", "100")]),
        funding_source: "domestic_own_resources".into(),
        new_money: true,
        milestones: vec![
            pb::PolicyMilestone {
                milestone_id: "M1".into(),
                title: "Law passed".into(),
                due_date: "2026-03-31".into(),
                ..Default::default()
            },
            pb::PolicyMilestone {
                milestone_id: "M2".into(),
                title: "Unit staffed".into(),
                due_date: "2026-06-30".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    c.submit(&["GT"], "2026-01-20", policy).await.unwrap();
    let upd = |m: &str, status: &str, day: &str| {
        Body::MilestoneUpdated(pb::MilestoneUpdated {
            pledge_id: "Y1".into(),
            milestone_id: m.into(),
            status: status.into(),
            date: day.into(),
            ..Default::default()
        })
    };
    refused(
        &mut c,
        &["GT"],
        "2026-04-10",
        upd("M9", "met", "2026-04-10"),
        Kind::FailedPrecondition,
        &["milestone_id", "no milestone M9"],
    )
    .await;
    refused(&mut c, &["GT"], "2026-04-10", upd("M1", "done", "2026-04-10"), Kind::InvalidArgument, &["status"]).await;
    c.submit(&["GT"], "2026-04-10", upd("M1", "met", "2026-04-10")).await.unwrap();
    let y1 = c.client.subject("pledge", "Y1", false).await.unwrap().item.unwrap();
    let ms = y1.figures.unwrap().milestones;
    assert_eq!((ms[0].status.as_str(), ms[0].days_late), ("met", 10));
    assert_eq!(ms[1].status, "pending");
    c.submit(&["GT"], "2026-06-30", upd("M2", "met", "2026-06-30")).await.unwrap();
    let y1 = c.client.subject("pledge", "Y1", false).await.unwrap().item.unwrap();
    assert_eq!(y1.status, "fulfilled");

    // A pledge past its expiry with nothing committed has lapsed (as of the answer's checkpoint date).
    let b = pledge_body(|p| p.expires_on = "2026-06-30".into());
    c.submit(&["DB"], "2026-01-25", b).await.unwrap();
    let px = c.client.subject("pledge", "PX", false).await.unwrap();
    assert_eq!(px.item.unwrap().status, "lapsed", "as of {}", px.read_at.unwrap().as_of_date);
    let req = pb::ListRequest { status: "lapsed".into(), ..Default::default() };
    assert_eq!(c.client.list("pledge", req).await.unwrap().items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_limits_and_pages() {
    let mut c = setup().await;
    let req = pb::ListRequest { page_size: 1001, ..Default::default() };
    let e = c.client.list("pledge", req).await.unwrap_err();
    assert!(e.message.contains("pageSize") && e.message.contains("1000"), "{e}");
    let req = pb::ListRequest { page_token: "garbage".into(), ..Default::default() };
    let e = c.client.list("pledge", req).await.unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
    // An unknown status filter is refused naming the field and the statuses allowed (it matched nothing).
    let req = pb::ListRequest { status: "lapsd".into(), ..Default::default() };
    let e = c.client.list("pledge", req).await.unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
    assert!(e.message.contains("status") && e.message.contains("\"lapsd\" is not one of active, announced, "), "{e}");
    // So are a pledge kind and a transaction type that are not on their code lists.
    let req = pb::ListRequest { pledge_kind: "cash".into(), ..Default::default() };
    let e = c.client.list("pledge", req).await.unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
    assert!(e.message.contains("pledgeKind: \"cash\" is not one of money, in_kind"), "{e}");
    let req = pb::ListRequest { transaction_type: 99, ..Default::default() };
    let e = c.client.list("transaction", req).await.unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
    assert!(e.message.contains("transactionType: "), "{e}");
    let e = c.client.list("nonsense", pb::ListRequest::default()).await.unwrap_err();
    assert!(e.message.contains("kind"), "{e}");
    let e = c.client.subject("pledge", "NOPE", false).await.unwrap_err();
    assert_eq!(e.kind, Kind::NotFound, "{e}");
    // Pages of one: stable order, every goal exactly once.
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let req = pb::ListRequest { page_size: 1, page_token: token, with_proofs: true, ..Default::default() };
        let resp = c.client.list("goal", req).await.unwrap();
        ids.extend(resp.items.iter().map(|i| i.id.clone()));
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    assert_eq!(ids, ["G1", "G2", "G3", "G4"]);
}
