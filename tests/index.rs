//! The verifiable index (issue 17, docs/INDEX.md) through the real server: complete lists prove their items
//! and the absence of others; an answer with an entry, an item or an index left out, a list reordered, a
//! stale or foreign map checkpoint is refused by the client; the audit recomputes the map from the log and
//! refuses a map checkpoint whose root is not the log's map; an independent verifier written from
//! docs/INDEX.md alone accepts a real answer.
mod common;

use std::collections::BTreeSet;
use std::process::Command;

use accord::domain::book::SubjectKind;
use accord::error::Kind;
use accord::pb;
use accord::vindex::verify::verify_complete;
use common::scenario::{self, Coalition};

fn ids(items: &[pb::Item]) -> BTreeSet<String> {
    items.iter().map(|i| i.id.clone()).collect()
}

/// The plain (paged, unproven) list with the same filters.
async fn plain(c: &mut Coalition, kind: &str, plan: &str, party: &str) -> BTreeSet<String> {
    let req = pb::ListRequest { plan_id: plan.into(), party_id: party.into(), page_size: 1000, ..Default::default() };
    ids(&c.client.list(kind, req).await.expect("plain list").items)
}

fn complete_req(kind: &str, plan: &str, party: &str) -> pb::ListRequest {
    pb::ListRequest {
        kind: kind.into(),
        plan_id: plan.into(),
        party_id: party.into(),
        complete: true,
        with_proofs: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_lists_prove_their_items_and_that_there_are_no_others() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let plan = scenario::PLAN;
    let mut checked = 0;
    for kind in
        ["plan", "goal", "indicator", "pledge", "condition", "commitment", "transaction", "report", "attestation"]
    {
        for (plan_id, party) in [("", ""), (plan, ""), ("", "DA"), ("", "GT"), ("", "X"), ("", "NOBODY")] {
            let owned = accord_domain::index::owner_named(SubjectKind::parse("kind", kind).unwrap());
            let req = pb::ListRequest { plan_id: plan_id.into(), party_id: party.into(), ..Default::default() };
            let res = c.client.list_complete(kind, req).await;
            if !party.is_empty() && !owned {
                let e = res.expect_err("no owner to filter by");
                assert_eq!((e.kind, e.field.to_string().as_str()), (Kind::InvalidArgument, "partyId"), "{e}");
                continue;
            }
            let (resp, proven) = res.unwrap_or_else(|e| panic!("{kind} plan={plan_id:?} party={party:?}: {e}"));
            let want = plain(&mut c, kind, plan_id, party).await;
            assert_eq!(ids(&resp.items), want, "{kind} plan={plan_id:?} party={party:?}");
            assert_eq!(proven.items, want.len());
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked}");

    // Absence: Assessor X owns no pledge (its key lists only its own entries); "NOBODY" has no key at all.
    let (resp, proven) = c.client.list_complete("pledge", complete_req("", "", "X")).await.expect("X");
    assert!(resp.items.is_empty() && proven.items == 0);
    assert!(proven.lists[0].1 > 0, "X signed assessments: its list is present, and no pledge is in it");
    let (resp, proven) = c.client.list_complete("pledge", complete_req("", "", "NOBODY")).await.expect("nobody");
    assert!(resp.items.is_empty());
    assert_eq!(proven.lists[0], ("party:NOBODY".to_string(), 0), "an absent key, proven absent");

    // Filters a complete answer cannot prove are refused, naming the field.
    let req = pb::ListRequest { status: "announced".into(), ..Default::default() };
    let e = c.client.list_complete("pledge", req).await.expect_err("status");
    assert_eq!((e.kind, e.field.to_string().as_str()), (Kind::InvalidArgument, "status"), "{e}");
    let e = c.client.list_complete("tranche", pb::ListRequest::default()).await.expect_err("tranche");
    assert_eq!(e.kind, Kind::InvalidArgument, "{e}");
}

fn comp(r: &mut pb::ListResponse) -> &mut pb::Completeness {
    r.completeness.as_mut().expect("completeness")
}

/// A raw complete answer from the server, for tampering.
async fn raw(c: &mut Coalition, req: &pb::ListRequest) -> pb::ListResponse {
    c.client.coalition().list_subjects(req.clone()).await.expect("list").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_answer_is_refused() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let log = c.client.log_key().clone();
    let parties = c.client.key_parties().await.expect("parties");
    let key_party = |k: &str| parties.get(k).cloned();
    let req = complete_req("pledge", "", "DA");
    let check = |resp: &pb::ListResponse| verify_complete(&log, SubjectKind::Pledge, &req, resp, &key_party);
    let older = raw(&mut c, &req).await;
    let before = check(&older).expect("the honest answer verifies");
    // DA pledges again (restating none of P1): two pledges, so that one can be left out.
    let mut body = scenario::pledge("P-LATE", "DA", "1000", "EUR", &[("G1", "100")], "110", "external", "2029-12-31");
    if let pb::statement::Body::PledgeAnnounced(p) = &mut body {
        let amount = scenario::money("0", "EUR", "2026-01-20");
        p.restates = vec![pb::Restatement { pledge_id: "P1".into(), amount }];
    }
    c.submit(&["DA"], "2026-12-31", body).await.expect("late pledge");
    let honest = raw(&mut c, &req).await;
    let proven = check(&honest).expect("the honest answer verifies");
    assert_eq!(proven.items, before.items + 1);
    assert!(proven.items >= 2 && proven.entries >= proven.items, "{proven:?}");

    let mut lies: Vec<(&str, pb::ListResponse)> = Vec::new();
    let mut r = honest.clone();
    r.items.pop();
    lies.push(("an item omitted", r));
    let mut r = honest.clone();
    comp(&mut r).entries.pop();
    lies.push(("an entry omitted", r));
    let mut r = honest.clone();
    let last = r.items.pop().expect("an item");
    comp(&mut r).entries.retain(|e| e.index != last.index);
    comp(&mut r).lookups.iter_mut().for_each(|l| l.indices.retain(|&i| i != last.index));
    lies.push(("a pledge omitted with its entry and its indices", r));
    let mut r = honest.clone();
    comp(&mut r).lookups[0].indices.swap(0, 1);
    lies.push(("a list reordered", r));
    let mut r = honest.clone();
    comp(&mut r).lookups.reverse();
    lies.push(("the lookups swapped", r));
    let mut r = honest.clone();
    comp(&mut r).entries.reverse();
    lies.push(("the entries reordered", r));
    let mut r = honest.clone();
    let other = raw(&mut c, &complete_req("pledge", "", "DB")).await;
    comp(&mut r).lookups[0] = other.completeness.clone().expect("c").lookups[0].clone();
    lies.push(("another party's list", r));
    let mut r = honest.clone();
    r.completeness = None;
    lies.push(("no proof at all", r));
    // A stale map checkpoint: the map before the new pledge cannot prove the new answer.
    let mut r = honest.clone();
    comp(&mut r).map_checkpoint = older.completeness.clone().expect("c").map_checkpoint;
    lies.push(("a stale map checkpoint", r));
    // A map checkpoint signed by another key (a server that does not hold the log key).
    let mut r = honest.clone();
    let size = honest.read_at.as_ref().expect("at").tree_size;
    let root: [u8; 32] = honest.read_at.as_ref().expect("at").root_hash.clone().try_into().expect("32");
    let forger =
        accord_tlog::mapcheckpoint::MapSigner::new(common::ORIGIN, accord::crypto::generate_key()).expect("signer");
    comp(&mut r).map_checkpoint = forger.sign(size, &root, &[9; 32]);
    lies.push(("a map checkpoint signed by another key", r));

    for (what, lie) in &lies {
        let e = check(lie).expect_err(what);
        assert_eq!(e.kind, Kind::PermissionDenied, "{what}: {e}");
    }
    assert_eq!(lies.len(), 10);
}

fn accord_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_proves_a_complete_answer_and_the_audit_recomputes_the_map() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let url = c.server.url.clone();
    let key = c.client.log_key().verifier_key();
    let out = accord_bin()
        .args(["query", "pledges", "--party", "DA", "--complete", "--server", &url, "--log-key", &key])
        .output()
        .expect("accord");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("of party DA") && stdout.contains("proven complete"), "{stdout}");
    let out = accord_bin()
        .args(["--json", "query", "pledges", "--party", "DA", "--complete", "--server", &url, "--log-key", &key])
        .output()
        .expect("accord");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["proven"]["complete"], true, "{v}");
    let map_checkpoint = v["completeness"]["mapCheckpoint"].as_str().expect("map checkpoint").to_string();

    // The audit through the server: the map recomputed from the log equals the server's.
    let out = accord_bin().args(["--json", "audit", "--server", &url, "--log-key", &key]).output().expect("audit");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["ok"], true, "{s}");
    assert!(s["map_checkpoints_checked"].as_u64() >= Some(1), "{s}");
    assert_eq!(s["map_root"].as_str().map(str::len), Some(64), "{s}");

    // A map checkpoint signed with the log's own index key but over a wrong map (as a server that files
    // an entry under a wrong key would sign) fails the audit, with both roots as evidence.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(c.server.dir.join(accord::ledger::KEY_FILE)).expect("log key");
    let (origin, sk) = accord::crypto::parse_private_key(&text).expect("key");
    let signer = accord_tlog::mapcheckpoint::MapSigner::new(&origin, sk).expect("signer");
    let honest = accord_tlog::mapcheckpoint::open_map_checkpoint(
        map_checkpoint.as_bytes(),
        &accord_tlog::mapcheckpoint::map_verifier(c.client.log_key()),
    )
    .expect("honest map checkpoint");
    let mut wrong_root = honest.map_root;
    wrong_root[0] ^= 1;
    let forged = dir.path().join("wrong.map");
    std::fs::write(&forged, signer.sign(honest.log_size, &honest.log_root, &wrong_root)).unwrap();
    let good = dir.path().join("good.map");
    std::fs::write(&good, &map_checkpoint).unwrap();
    let evidence = dir.path().join("evidence.json");
    let run = |file: &std::path::Path| {
        accord_bin()
            .args(["--json", "audit", "--server", &url, "--log-key", &key, "--map-checkpoint"])
            .arg(file)
            .arg("--evidence")
            .arg(&evidence)
            .output()
            .expect("audit")
    };
    let out = run(&good);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["ok"], true, "{s}");
    let out = run(&forged);
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = s["findings"].as_array().expect("findings").iter().find(|f| f["check"] == "map_root").cloned();
    let f = f.unwrap_or_else(|| panic!("no map_root finding: {s}"));
    assert_eq!(f["expected"], hex::encode(honest.map_root), "{f}");
    assert_eq!(f["found"], hex::encode(wrong_root), "{f}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_verifier_accepts_a_real_answer() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let mut answers = Vec::new();
    let mut map_body = String::new();
    for party in ["DA", "NOBODY"] {
        let resp = raw(&mut c, &complete_req("pledge", "", party)).await;
        let comp = resp.completeness.expect("completeness");
        let verifier = accord_tlog::mapcheckpoint::map_verifier(c.client.log_key());
        map_body = accord_tlog::mapcheckpoint::open_map_checkpoint(comp.map_checkpoint.as_bytes(), &verifier)
            .expect("map checkpoint")
            .body();
        for l in comp.lookups {
            let list = if l.indices.is_empty() { serde_json::Value::Null } else { serde_json::json!(l.indices) };
            answers.push(serde_json::json!({"key": l.key, "list": list, "proof": hex::encode(&l.proof)}));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.json");
    let doc = serde_json::json!({"map_checkpoint": map_body, "answers": answers});
    std::fs::write(&file, doc.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/index_verify.py");
    let out = Command::new("python3").arg(script).arg(&file).output().expect("python3");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The same answers with one index dropped are refused by it.
    let mut lie = doc.clone();
    if let Some(list) = lie["answers"][0]["list"].as_array_mut() {
        list.pop();
    }
    std::fs::write(&file, lie.to_string()).unwrap();
    let out = Command::new("python3").arg(script).arg(&file).output().expect("python3");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_history_is_proven_complete() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    // Commitment DA-SV: signed, then disbursed against and assessed through its tranches.
    let (resp, proven) = c.client.subject_complete("commitment", "DA-SV").await.expect("complete history");
    let item = resp.item.clone().expect("item");
    assert_eq!((item.kind.as_str(), item.id.as_str()), ("commitment", "DA-SV"));
    assert!(proven.entries >= 2, "{proven:?}");
    assert_eq!(proven.lists, vec![("subject:commitment:DA-SV".to_string(), proven.entries)]);
    // The creating entry is among the proven ones.
    let given: BTreeSet<u64> = resp.completeness.iter().flat_map(|c| &c.entries).map(|e| e.index).collect();
    assert!(given.contains(&item.index), "the creating entry is listed");

    // Lies: an entry left out, the list cut, another subject's list.
    let log = c.client.log_key().clone();
    let parties = c.client.key_parties().await.expect("parties");
    let key_party = |k: &str| parties.get(k).cloned();
    let req = pb::GetSubjectRequest {
        kind: "commitment".into(),
        id: "DA-SV".into(),
        complete: true,
        with_proofs: true,
        ..Default::default()
    };
    let honest = c.client.coalition().get_subject(req.clone()).await.expect("get").into_inner();
    let check = |r: &pb::GetSubjectResponse| {
        accord::vindex::verify::verify_complete_history(&log, SubjectKind::Commitment, "DA-SV", r, &key_party)
    };
    check(&honest).expect("the honest answer verifies");
    let other = c
        .client
        .coalition()
        .get_subject(pb::GetSubjectRequest { id: "DA-GT".into(), ..req.clone() })
        .await
        .expect("get")
        .into_inner();
    let mut lies = Vec::new();
    let mut r = honest.clone();
    r.completeness.as_mut().expect("c").entries.pop();
    lies.push(("an entry left out", r));
    let mut r = honest.clone();
    let c0 = r.completeness.as_mut().expect("c");
    let dropped = c0.lookups[0].indices.pop().expect("an index");
    c0.entries.retain(|e| e.index != dropped);
    lies.push(("the list cut with its entry", r));
    let mut r = honest.clone();
    r.completeness = other.completeness.clone();
    lies.push(("another subject's list", r));
    for (what, lie) in &lies {
        let e = check(lie).expect_err(what);
        assert_eq!(e.kind, Kind::PermissionDenied, "{what}: {e}");
    }

    // The CLI.
    let key = c.client.log_key().verifier_key();
    let out = accord_bin()
        .args(["query", "history", "commitment", "DA-SV", "--complete", "--server", &c.server.url, "--log-key", &key])
        .output()
        .expect("accord");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("entries name commitment DA-SV") && stdout.contains("proven complete"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_checks_the_servers_map() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("monitor.state");
    let key = c.client.log_key().verifier_key();
    let url = c.server.url.clone();
    let monitor = |state: &std::path::Path| {
        accord_bin()
            .args(["monitor", "--once", "--replay", "--check-index", "--server", &url, "--log-key", &key, "--state"])
            .arg(state)
            .output()
            .expect("monitor")
    };
    let out = monitor(&state);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("json");
    assert_eq!(v["event"], "verified", "{v}");
    let size = v["tree_size"].as_u64().expect("size");
    assert!(v["index_checked_at"].as_u64().is_some_and(|n| n > 0 && n <= size), "{v}");
}

/// The map is built on first use, not at every start, and then followed: before any complete query the
/// index holds nothing; after one, a new entry is filed by the follower without another query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_is_built_on_first_use_then_followed() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    let index = c.server.ledger.index().clone();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(index.committed().is_none() && !index.wanted(), "nothing built before a reader asked");
    c.client.list_complete("plan", pb::ListRequest::default()).await.expect("complete");
    let built = index.committed().expect("built by the first complete query").size;
    let mut body = scenario::pledge("P-NEXT", "DB", "5", "USD", &[("G2", "100")], "110", "external", "2029-12-31");
    if let pb::statement::Body::PledgeAnnounced(p) = &mut body {
        p.restates =
            vec![pb::Restatement { pledge_id: "P2".into(), amount: scenario::money("0", "USD", "2026-01-20") }];
    }
    c.submit(&["DB"], "2026-12-31", body).await.expect("a new pledge");
    let size = c.server.ledger.latest().size;
    assert!(size > built);
    common::wait_until("the follower files the new entry", std::time::Duration::from_secs(10), async || {
        index.committed().filter(|m| m.size == size).map(drop)
    })
    .await;
}

/// `accord report verify --complete` (docs/INDEX.md §11): the report is recomputed from the plan's book
/// read through the index — its plan's entries, governance, FX rates and attestations, and the whole book
/// of a plan that restates one of its pledges — not from the whole log, and equals the report recomputed
/// from the whole log; a published report with one figure changed is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_verify_reads_only_the_plans_book_through_the_index() {
    let mut c = Coalition::start().await;
    scenario::run(&mut c).await;
    add_linked_plans(&mut c).await;
    let size = c.client.checkpoint(None).await.unwrap().size;

    let url = c.server.url.clone();
    let key = c.client.log_key().verifier_key();
    let verify = |plan: &str, extra: &[&str]| {
        let out = accord_bin()
            .args(["--json", "report", "verify", "--plan", plan, "--server", &url, "--log-key", &key])
            .args(extra)
            .output()
            .expect("accord");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code(), v)
    };
    let (code, whole) = verify(scenario::PLAN, &[]);
    assert_eq!((code, &whole["ok"]), (Some(0), &serde_json::json!(true)), "{whole}");
    let (code, part) = verify(scenario::PLAN, &["--complete"]);
    assert_eq!(
        (code, &part["ok"], &part["through_index"]),
        (Some(0), &serde_json::json!(true), &serde_json::json!(true)),
        "{part}"
    );
    let replayed = part["entries_replayed"].as_u64().expect("entries_replayed");
    assert!(replayed < size, "the book ({replayed}) is part of the log ({size})");
    assert_eq!(whole["entries_replayed"].as_u64(), Some(size), "{whole}");

    // The book of plan 1 holds PL2's (its pledge restates P2), not PL3's; PL3's holds neither.
    let cp = c.client.checkpoint(None).await.unwrap();
    let book = c.client.plan_book(scenario::PLAN, &cp, |_| {}).await.expect("plan 1's book");
    let keys: Vec<&str> = book.lists.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"plan:PL2") && !keys.contains(&"plan:PL3"), "{keys:?}");
    assert!(keys.contains(&"subject:pledge:P2") && keys.contains(&"kind:fx_rate.recorded"), "{keys:?}");
    let book3 = c.client.plan_book("PL3", &cp, |_| {}).await.expect("PL3's book");
    let keys3: Vec<&str> = book3.lists.iter().map(|(k, _)| k.as_str()).collect();
    assert!(!keys3.contains(&"plan:PL2") && !keys3.contains(&format!("plan:{}", scenario::PLAN).as_str()), "{keys3:?}");
    assert!(book3.entries.len() < book.entries.len(), "PL3's book is smaller than plan 1's");
    // Scenario A's attestations cover entries of plan 1 only; in PL3's book they lie outside, and are
    // proven by identity.
    assert!(!book3.known.is_empty(), "the attestations' covered entries outside PL3's book");
    // An entry outside the book resolves only once the replay has passed its index, as in the whole log's
    // replay: the same book with the covered entries placed after the attestations is refused.
    let at = pb::ReadAt {
        tree_size: cp.size,
        root_hash: cp.root.to_vec(),
        checkpoint: cp.note.clone(),
        ..Default::default()
    };
    let late: Vec<(Vec<u8>, u64)> = book3.known.iter().map(|(id, _)| (id.clone(), cp.size)).collect();
    let err = accord::report::recompute_part(
        common::ORIGIN,
        book3.entries.clone(),
        &late,
        book3.last_integrated_ms,
        "PL3",
        &at,
        |_| {},
    )
    .expect_err("an attestation covering a later entry");
    assert!(err.to_string().contains("covered_entries[0]"), "{err}");
    for plan in ["PL2", "PL3"] {
        let (code, v) = verify(plan, &["--complete"]);
        assert_eq!((code, &v["ok"]), (Some(0), &serde_json::json!(true)), "{plan}: {v}");
    }

    // A published report whose pledged total is changed by one is refused, through the index as through
    // the whole log, with the figure named.
    let (resp, _) = c
        .client
        .report(pb::GetReportRequest { plan_id: scenario::PLAN.into(), format: "json".into(), hxl: false })
        .await
        .expect("report");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("published.json");
    let pledged = serde_json::from_str::<serde_json::Value>(&resp.canonical_json).unwrap()["funding"]["total_external"]
        ["pledged"]
        .as_str()
        .expect("pledged")
        .to_string();
    let changed = (pledged.parse::<u128>().unwrap() + 1).to_string();
    std::fs::write(&file, resp.canonical_json.replacen(&format!("\"{pledged}\""), &format!("\"{changed}\""), 1))
        .unwrap();
    let (code, v) = verify(scenario::PLAN, &["--complete", "--report", file.to_str().unwrap()]);
    assert_eq!((code, &v["ok"]), (Some(1), &serde_json::json!(false)), "{v}");
    assert!(v["differences"].to_string().contains(&changed), "{v}");
}

/// After scenario A: a second plan PL2 whose pledge Q1 restates 10 m of DB's P2 (plan 1's figures depend
/// on it), and a third plan PL3 linked to nothing.
async fn add_linked_plans(c: &mut Coalition) {
    use accord::pb::statement::Body;
    for plan in ["PL2", "PL3"] {
        let p = pb::PlanCreated {
            plan_id: plan.into(),
            title: format!("Plan {plan}"),
            period: scenario::period("2026-01-01", "2029-12-31"),
            reporting_currency: "USD".into(),
            signatories: vec![pb::Signatory { party_id: "S".into(), role: "secretariat".into() }],
            ..Default::default()
        };
        c.submit(&["S"], "2026-11-01", Body::PlanCreated(p)).await.expect("plan");
        let Body::GoalDefined(mut g) = scenario::goal(&format!("{plan}-G"), "Goal", &["15110"]) else { unreachable!() };
        g.plan_id = plan.into();
        c.submit(&["S"], "2026-11-01", Body::GoalDefined(g)).await.expect("goal");
    }
    let goal = [("PL2-G", "100")];
    let Body::PledgeAnnounced(mut q) =
        scenario::pledge("Q1", "DB", "10000000", "USD", &goal, "110", "external", "2029-12-31")
    else {
        unreachable!()
    };
    q.plan_id = "PL2".into();
    q.restates =
        vec![pb::Restatement { pledge_id: "P2".into(), amount: scenario::money("10000000", "USD", "2026-11-01") }];
    c.submit(&["DB"], "2026-11-01", Body::PledgeAnnounced(q)).await.expect("a restating pledge in PL2");
}
