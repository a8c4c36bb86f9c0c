//! Scenario A end to end through the real server: every statement signed by the party that must sign it,
//! the withheld tranche refused, the compiled views and derived statuses as the scenario says, every
//! answer checked against the signed checkpoint, and `rebuild` giving identical answers.
// Scenario tests read top to bottom as one story (setup, statements, checks); split, they would scatter it (issue 12).
#![allow(clippy::too_many_lines)]
mod common;

use std::collections::BTreeMap;

use accord::error::Kind;
use accord::pb;
use common::scenario::{self, Coalition};

fn list_req(with_proofs: bool) -> pb::ListRequest {
    pb::ListRequest { with_proofs, page_size: 1000, ..Default::default() }
}

fn by_id(resp: &pb::ListResponse) -> BTreeMap<String, pb::Item> {
    resp.items.iter().map(|i| (i.id.clone(), i.clone())).collect()
}

fn fig(i: &pb::Item) -> pb::Figures {
    i.figures.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_end_to_end() {
    let mut c = Coalition::start().await;
    let outcome = scenario::run(&mut c).await;

    // The withheld tranche: refused with the rule and the field named.
    let e = &outcome.withheld_rejection;
    eprintln!("withheld: {e}");
    assert_eq!(e.kind, Kind::FailedPrecondition, "{e}");
    assert!(e.message.contains("statement.transactionRecorded.trancheId"), "{e}");
    assert!(e.message.contains("DA-SV-C1") && e.message.contains("not_met"), "{e}");
    assert!(e.message.contains("met or waived"), "{e}");

    // Pledges, converted to USD at their value date (2026-01-20), with derived status.
    let req = pb::ListRequest { currency: "USD".into(), ..list_req(true) };
    let pledges = c.client.list("pledge", req).await.expect("pledges verify against the checkpoint");
    let p = by_id(&pledges);
    assert_eq!(p.len(), 6);
    let usd: BTreeMap<&str, String> =
        p.iter().map(|(k, v)| (k.as_str(), fig(v).converted.unwrap_or_default().value)).collect();
    assert_eq!(usd["P1"], "130200000");
    assert_eq!(usd["P2"], "200000000");
    assert_eq!(usd["P3"], "300000000");
    assert_eq!(usd["P4"], "29900000");
    assert_eq!(usd["P5"], "30000000");
    assert_eq!(usd["P6"], "20000000");
    // Donor A in EUR (the pledge currency): P 120 m, C 30 m, D 27.5 m.
    let p1 = fig(&p["P1"]);
    assert_eq!((p1.amount.as_str(), p1.currency.as_str()), ("120000000", "EUR"));
    assert_eq!(p1.committed, "30000000");
    assert_eq!(p1.disbursed, "27500000");
    assert_eq!(p1.remaining, "90000000");
    assert_eq!(p["P1"].status, "partially_disbursed");
    assert_eq!((fig(&p["P2"]).committed.as_str(), fig(&p["P2"]).disbursed.as_str()), ("100000000", "100000000"));
    assert_eq!((fig(&p["P3"]).committed.as_str(), fig(&p["P3"]).disbursed.as_str()), ("120000000", "40000000"));
    for id in ["P4", "P5", "P6"] {
        assert_eq!(p[id].status, "announced", "{id}");
    }
    // Filters: by pledger, goal, status; an unknown filter is refused.
    let req = pb::ListRequest { goal_id: "G3".into(), ..list_req(false) };
    let g3: Vec<String> = c.client.list("pledge", req).await.unwrap().items.into_iter().map(|i| i.id).collect();
    assert_eq!(g3, ["P2", "P3"]);
    let req = pb::ListRequest { party_id: "DA".into(), ..list_req(false) };
    assert_eq!(c.client.list("pledge", req).await.unwrap().items.len(), 1);
    let req = pb::ListRequest { status: "announced".into(), ..list_req(false) };
    assert_eq!(c.client.list("pledge", req).await.unwrap().items.len(), 3);
    let req = pb::ListRequest { transaction_type: 3, ..list_req(false) };
    let err = c.client.list("pledge", req).await.unwrap_err();
    assert!(err.message.contains("transactionType: is not a filter of pledge queries"), "{err}");

    // Commitments with tranches and condition status.
    let commitments = c.client.list("commitment", list_req(true)).await.expect("commitments verify");
    let cm = by_id(&commitments);
    assert_eq!(cm.len(), 8);
    let tranche = |cid: &str, tid: &str| -> pb::TrancheView {
        cm[cid].tranches.iter().find(|t| t.tranche_id == tid).cloned().expect("tranche")
    };
    assert_eq!(tranche("DA-GT", "DA-GT-C1").status, "released");
    assert_eq!(tranche("DA-HN", "DA-HN-C1").status, "released");
    let sv = tranche("DA-SV", "DA-SV-C1");
    assert_eq!((sv.status.as_str(), sv.disbursed.as_str(), sv.value.as_str()), ("withheld", "", "2500000"));
    assert_eq!(sv.conditions[0].outcome, "not_met");
    assert_eq!(tranche("DA-SV", "DA-SV-U").status, "unconditional");
    assert_eq!(tranche("DB-HN", "DB-HN-C2").status, "released");
    assert_eq!(fig(&cm["DA-SV"]).disbursed, "7500000");
    assert_eq!(fig(&cm["DB-GT"]).disbursed, "40000000");
    assert_eq!(cm["DB-GT"].status, "disbursed");
    assert_eq!(cm["BC-GT"].status, "active");

    // Commitments and disbursements of Donor A in USD, each at its own value date: C 32.4 m, D 30.075 m.
    let req = pb::ListRequest { party_id: "DA".into(), currency: "USD".into(), ..list_req(false) };
    let sum = |items: &[pb::Item]| -> rust_decimal::Decimal {
        items.iter().map(|i| fig(i).converted.unwrap().value.parse::<rust_decimal::Decimal>().unwrap()).sum()
    };
    let da_c = c.client.list("commitment", req.clone()).await.unwrap();
    assert_eq!(sum(&da_c.items), rust_decimal::Decimal::from(32_400_000));
    let da_d = c.client.list("transaction", req).await.unwrap();
    assert_eq!(da_d.items.len(), 5);
    assert_eq!(sum(&da_d.items), rust_decimal::Decimal::from(30_075_000));

    // Conditions: C1 met for GT and HN, not_met for SV; C2 met; C3 not yet assessed.
    let conds = by_id(&c.client.list("condition", list_req(true)).await.unwrap());
    assert_eq!(conds["C1"].status, "partially_met");
    assert_eq!(conds["C2"].status, "met");
    assert_eq!(conds["C3"].status, "pending");
    assert_eq!(fig(&conds["C1"]).assessments.len(), 3);

    // One pledge with its history, every entry proven.
    let h = c.client.subject("pledge", "P1", true).await.expect("P1 history verifies");
    let actions: Vec<String> = h.history.iter().flat_map(|e| e.actions.clone()).collect();
    assert_eq!(actions.iter().filter(|a| *a == "committed").count(), 3, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "disbursed").count(), 5, "{actions:?}");
    assert_eq!(h.history[0].actions, ["created"]);
    assert_eq!(h.history[0].signer_parties, ["DA"]);
    let h = c.client.subject("commitment", "DA-GT", true).await.unwrap();
    let mut signers = h.history[0].signer_parties.clone();
    signers.sort();
    assert_eq!(signers, ["DA", "GT"]);

    // Reports, attestation, FX rates are queryable too.
    let reports = c.client.list("report", list_req(true)).await.unwrap();
    assert_eq!(reports.items.len(), 3);
    let att = c.client.list("attestation", list_req(true)).await.unwrap();
    assert_eq!(fig(&att.items[0]).covered_indexes, [outcome.reports["GT"], outcome.reports["HN"]]);
    assert_eq!(c.client.list("fx_rate", list_req(false)).await.unwrap().items.len(), 9);

    // Parties with key history.
    let parties = c.client.coalition().list_parties(pb::ListPartiesRequest::default()).await.unwrap().into_inner();
    assert_eq!(parties.parties.len(), 10);

    // An amount no recorded rate converts is left unconverted; it never fails the query (issue 11).
    let req = pb::ListRequest { currency: "JPY".into(), ..list_req(false) };
    let items = c.client.list("pledge", req).await.expect("a missing rate never fails a query").items;
    assert!(!items.is_empty() && items.iter().all(|i| i.figures.as_ref().is_some_and(|f| f.converted.is_none())));

    // A tampered answer fails client-side verification.
    let mut bad = c.client.list("pledge", list_req(true)).await.unwrap();
    if let Some(pb::statement::Body::PledgeAnnounced(p)) = bad.items[0].compiled.as_mut().and_then(|s| s.body.as_mut())
    {
        p.amount.as_mut().unwrap().value = "999".into();
    }
    let key = c.client.log_key().clone();
    let err = accord::client::verify_items(&key, bad.read_at.as_ref().unwrap(), &bad.items).unwrap_err();
    assert!(err.field.to_string().contains("compiled"), "{err}");

    // Rebuild: drop the projections, replay the log, every answer identical.
    let before = scenario::all_answers(&mut c.client).await;
    let (dir, tmp) = c.server.stop().await;
    let rebuilt = accord::ledger::rebuild(&dir, |_, _| {}).expect("rebuild");
    assert!(rebuilt.entries > 50);
    let server = common::TestServer::start_with(dir, Some(scenario::CLOCK_START_MS)).await;
    let mut client = server.client().await;
    let after = scenario::all_answers(&mut client).await;
    assert_eq!(before.len(), after.len());
    assert!(before == after, "answers differ after rebuild");
    drop(tmp);
}
