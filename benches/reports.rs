//! Report benchmark (issue 4): a generated ledger of ~100,000 signed statements — 43 parties, 5 plans, pledges,
//! conditions, 2,000 commitments with gated tranches, ~98,000 disbursements in EUR and USD, FX rates for
//! every day, progress reports — served by the real server. Measures the full plan report (GetReport) and
//! `report verify` (download + root check + replay + recompute), each as a ratio against a baseline
//! measured in the same run: streaming every entry once (the floor of any verification).
//!
//! `cargo bench --bench reports` (set ACCORD_BENCH_STATEMENTS to change the size).
use std::sync::Arc;
use std::time::Instant;

use accord::client::Client;
use accord::crypto::{self, PrivateKey};
use accord::ledger::{Clock, Ledger, Options};
use accord::pb::{self, statement::Body, Statement};

const ORIGIN: &str = "bench.example/reports";
const PLAN: &str = "BIG";

struct Party {
    id: String,
    key: PrivateKey,
    roles: Vec<&'static str>,
}

fn money(v: u64, cur: &str, day: &str) -> Option<pb::Money> {
    Some(pb::Money { value: v.to_string(), currency: cur.into(), value_date: day.into() })
}

fn day(n: u32) -> String {
    accord::domain::date::format_date(accord::domain::date::parse_date("2026-01-01").unwrap() + i64::from(n % 365))
}

struct Gen {
    n: u64,
    envs: Vec<pb::Envelope>,
}

impl Gen {
    fn add(&mut self, signers: &[&PrivateKey], date: &str, body: Body) {
        self.n += 1;
        let st = Statement {
            ledger: ORIGIN.into(),
            statement_id: format!("s{:07}", self.n),
            issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
            effective_date: date.into(),
            body: Some(body),
        };
        self.envs.push(crypto::seal(&st, signers));
    }
}

fn party_pb(p: &Party) -> pb::Party {
    pb::Party {
        party_id: p.id.clone(),
        name: format!("Party {}", p.id),
        roles: p.roles.iter().map(|r| r.to_string()).collect(),
        public_keys: vec![p.key.verifying_key().as_bytes().to_vec()],
        organisation_type: "10".into(),
        country: String::new(),
    }
}

/// The parties of the generated coalition: a secretariat, 10 funders, 20 governments, an assessor, an
/// auditor and a rate publisher.
struct Cast {
    s: Party,
    funders: Vec<Party>,
    govs: Vec<Party>,
    x: Party,
    y: Party,
    r: Party,
}

impl Cast {
    fn new() -> Self {
        let mk = |id: String, roles: Vec<&'static str>| Party { id, key: crypto::generate_key(), roles };
        let s = mk("S".into(), vec!["secretariat"]);
        let funders: Vec<Party> = (0..10).map(|i| mk(format!("F{i:02}"), vec!["funder"])).collect();
        let govs: Vec<Party> = (0..20).map(|i| mk(format!("G{i:02}"), vec!["partner_government"])).collect();
        let (x, y, r) =
            (mk("X".into(), vec!["assessor"]), mk("Y".into(), vec!["auditor"]), mk("R".into(), vec!["rate_publisher"]));
        Cast { s, funders, govs, x, y, r }
    }
}

/// Funders' pledges and conditions in EUR for even funders, USD for odd ones.
fn cur(f: usize) -> &'static str {
    if f.is_multiple_of(2) {
        "EUR"
    } else {
        "USD"
    }
}

fn generate(target: usize) -> Vec<Vec<pb::Envelope>> {
    let c = Cast::new();
    let mut groups = Vec::new();
    let mut g = Gen { n: 0, envs: Vec::new() };
    let founders: Vec<&Party> = std::iter::once(&c.s).chain(c.funders.iter()).collect();
    let charter = Body::Charter(pb::Charter {
        name: "Benchmark coalition".into(),
        founders: founders.iter().map(|p| party_pb(p)).collect(),
        admission: Some(pb::AdmissionRule { k: 1 }),
        purpose: String::new(),
    });
    g.add(&founders.iter().map(|p| &p.key).collect::<Vec<_>>(), "2026-01-01", charter);
    groups.push(std::mem::take(&mut g.envs));
    for p in c.govs.iter().chain([&c.x, &c.y, &c.r]) {
        g.add(&[&p.key, &c.s.key], "2026-01-01", Body::PartyAdmitted(pb::PartyAdmitted { party: Some(party_pb(p)) }));
    }
    groups.push(std::mem::take(&mut g.envs));
    rates_plans_and_goals(&mut g, &c);
    pledges_and_conditions(&mut g, &c);
    groups.push(std::mem::take(&mut g.envs));
    let (commits, per_commit) = commitments(&mut g, &c, target);
    groups.push(std::mem::take(&mut g.envs));
    disbursements(&mut g, &c, &commits, per_commit, &mut groups);
    progress_reports(&mut g, &c);
    groups.push(std::mem::take(&mut g.envs));
    groups
}

/// A EUR→USD rate for every day of 2026, then 5 plans of 4 goals each.
fn rates_plans_and_goals(g: &mut Gen, c: &Cast) {
    for n in 0..365 {
        let fx = Body::FxRateRecorded(pb::FxRateRecorded {
            from_currency: "EUR".into(),
            to_currency: "USD".into(),
            rate: format!("1.{:03}", 50 + n % 100),
            rate_date: day(n),
            source: "bench".into(),
            method: "daily_reference".into(),
        });
        g.add(&[&c.r.key], &day(n), fx);
    }
    for p in 0..5 {
        let id = if p == 0 { PLAN.to_string() } else { format!("PL{p}") };
        g.add(
            &[&c.s.key],
            "2026-01-01",
            Body::PlanCreated(pb::PlanCreated {
                plan_id: id.clone(),
                title: format!("Plan {id}"),
                period: Some(pb::Period { start: "2026-01-01".into(), end: "2029-12-31".into() }),
                reporting_currency: "USD".into(),
                signatories: vec![],
                report_schedule: Some(pb::ReportSchedule { frequency: "quarterly".into(), days_after_period_end: 45 }),
                requirement: money(5_000_000_000, "USD", "2026-01-01"),
                description: String::new(),
                ..Default::default()
            }),
        );
        for k in 1..=4 {
            g.add(
                &[&c.s.key],
                "2026-01-01",
                Body::GoalDefined(pb::GoalDefined {
                    goal_id: format!("{id}-G{k}"),
                    plan_id: id.clone(),
                    title: format!("Goal {k}"),
                    classifications: vec![],
                    description: String::new(),
                }),
            );
        }
    }
}

/// Pledges: 10 per funder (each with a condition on its first), a domestic pledge per government, and the
/// co-financing condition.
fn pledges_and_conditions(g: &mut Gen, c: &Cast) {
    for (fi, f) in c.funders.iter().enumerate() {
        for k in 0..10 {
            g.add(
                &[&f.key],
                "2026-01-20",
                Body::PledgeAnnounced(pb::PledgeAnnounced {
                    pledge_id: format!("P-{}-{k}", f.id),
                    plan_id: PLAN.into(),
                    pledger_id: f.id.clone(),
                    pledge_kind: "money".into(),
                    amount: money(1_000_000_000, cur(fi), "2026-01-20"),
                    goals: vec![
                        pb::GoalShare { goal_id: format!("{PLAN}-G{}", 1 + k % 4), share: "60".into() },
                        pb::GoalShare { goal_id: format!("{PLAN}-G{}", 1 + (k + 1) % 4), share: "40".into() },
                    ],
                    finance_type: if fi < 7 { "110".into() } else { "421".into() },
                    funding_source: "external".into(),
                    new_money: true,
                    // DOMAIN.md §7: each overlaps the funder's earlier pledges, so it restates them, by 0.
                    restates: (0..k)
                        .map(|j| pb::Restatement {
                            pledge_id: format!("P-{}-{j}", f.id),
                            amount: money(0, cur(fi), "2026-01-20"),
                        })
                        .collect(),
                    announced: Some(pb::Announcement { event: "conference".into(), date: "2026-01-20".into() }),
                    ..Default::default()
                }),
            );
        }
        g.add(
            &[&f.key],
            "2026-01-20",
            Body::ConditionDefined(pb::ConditionDefined {
                condition_id: format!("C-{}", f.id),
                plan_id: PLAN.into(),
                party_id: f.id.clone(),
                condition_type: "policy".into(),
                text: "reform".into(),
                assessor_id: "X".into(),
                pledge_ids: vec![format!("P-{}-0", f.id)],
                amount_at_stake: None,
                co_financing: None,
            }),
        );
    }
    for gv in &c.govs {
        g.add(
            &[&gv.key],
            "2026-01-20",
            Body::PledgeAnnounced(pb::PledgeAnnounced {
                pledge_id: format!("P-{}", gv.id),
                plan_id: PLAN.into(),
                pledger_id: gv.id.clone(),
                pledge_kind: "money".into(),
                amount: money(50_000_000, "USD", "2026-01-20"),
                funding_source: "domestic_own_resources".into(),
                new_money: true,
                ..Default::default()
            }),
        );
    }
    cofinancing_condition(g, c);
}

/// The secretariat's co-financing condition: governments' own resources at least a quarter of the
/// grants (finance type 110) each year.
fn cofinancing_condition(g: &mut Gen, c: &Cast) {
    g.add(
        &[&c.s.key],
        "2026-01-20",
        Body::ConditionDefined(pb::ConditionDefined {
            condition_id: "C-COFIN".into(),
            plan_id: PLAN.into(),
            party_id: "S".into(),
            condition_type: "co_financing".into(),
            text: "own resources".into(),
            assessor_id: "X".into(),
            pledge_ids: vec![],
            amount_at_stake: None,
            co_financing: Some(pb::CoFinancingRule {
                ratio: "0.25".into(),
                party_ids: c.govs.iter().map(|g| g.id.clone()).collect(),
                finance_types: vec!["110".into()],
                period: "year".into(),
            }),
        }),
    );
}

/// 2,000 commitments (funder → government) with two tranches each, the second gated by the funder's
/// condition, then every funder's condition assessed met. Returns each commitment (id, funder, government)
/// and the disbursements per commitment.
fn commitments(g: &mut Gen, cast: &Cast, target: usize) -> (Vec<(String, usize, usize)>, u64) {
    // Commitments with two tranches each, the second gated by the funder's condition.
    let per_commit = ((target.saturating_sub(1000)) / 2000).clamp(2, 1000) as u64;
    let mut commits = Vec::new();
    for c in 0..2000usize {
        let fi = c % 10;
        let (f, gv) = (&cast.funders[fi], &cast.govs[(c / 10) % 20]);
        let id = format!("K{c:05}");
        // Tranche U takes the even-numbered disbursements, tranche C the odd ones.
        let half = per_commit.div_ceil(2) * 10_000;
        let total = half + (per_commit / 2) * 10_000;
        let signed = day(30 + (c % 60) as u32);
        g.add(
            &[&f.key, &gv.key],
            &signed,
            Body::CommitmentSigned(pb::CommitmentSigned {
                commitment_id: id.clone(),
                plan_id: PLAN.into(),
                provider_id: f.id.clone(),
                recipient_id: gv.id.clone(),
                allocations: vec![pb::PledgeAllocation {
                    pledge_id: format!("P-{}-{}", f.id, c % 10),
                    amount: money(total, cur(fi), &signed),
                }],
                amount: money(total, cur(fi), &signed),
                signed_date: signed.clone(),
                finance_type: if fi < 7 { "110".into() } else { "421".into() },
                usage_years: vec![pb::UsageYear { year: 2026, value: total.to_string() }],
                tranches: vec![
                    pb::Tranche { tranche_id: format!("{id}-U"), value: half.to_string(), condition_ids: vec![] },
                    pb::Tranche {
                        tranche_id: format!("{id}-C"),
                        value: (total - half).to_string(),
                        condition_ids: vec![format!("C-{}", f.id)],
                    },
                ],
                agreement_sha256: vec![1; 32],
            }),
        );
        commits.push((id, fi, (c / 10) % 20));
    }
    for f in &cast.funders {
        g.add(
            &[&cast.x.key],
            "2026-03-31",
            Body::ConditionAssessed(pb::ConditionAssessed {
                condition_id: format!("C-{}", f.id),
                tranche_id: String::new(),
                outcome: "met".into(),
                date: "2026-03-31".into(),
                evidence_sha256: vec![],
                rationale: String::new(),
            }),
        );
    }
    (commits, per_commit)
}

/// Disbursements, spread over April–December, alternating tranches: one group per round.
fn disbursements(
    g: &mut Gen,
    c: &Cast,
    commits: &[(String, usize, usize)],
    per_commit: u64,
    groups: &mut Vec<Vec<pb::Envelope>>,
) {
    for k in 0..per_commit {
        for (id, fi, gi) in commits {
            let d = day(95 + ((k * 7 + *fi as u64) % 270) as u32);
            let tranche = if k % 2 == 0 { "U" } else { "C" };
            g.add(
                &[&c.funders[*fi].key],
                &d,
                Body::TransactionRecorded(pb::TransactionRecorded {
                    txn_id: format!("T-{id}-{k}"),
                    commitment_id: id.clone(),
                    transaction_type: 3,
                    date: d.clone(),
                    amount: money(10_000, cur(*fi), &d),
                    provider_id: c.funders[*fi].id.clone(),
                    receiver_id: c.govs[*gi].id.clone(),
                    tranche_id: format!("{id}-{tranche}"),
                    boundary: "incoming".into(),
                    evidence_sha256: vec![],
                    description: String::new(),
                    ..Default::default()
                }),
            );
        }
        groups.push(std::mem::take(&mut g.envs));
    }
}

/// Four quarterly progress reports per government.
fn progress_reports(g: &mut Gen, c: &Cast) {
    for (i, gv) in c.govs.iter().enumerate() {
        for q in 0..4u32 {
            let end = ["2026-03-31", "2026-06-30", "2026-09-30", "2026-12-31"][q as usize];
            g.add(
                &[&gv.key],
                "2027-01-15",
                Body::ProgressReported(pb::ProgressReported {
                    report_id: format!("R-{}-{q}", gv.id),
                    reporter_id: gv.id.clone(),
                    plan_id: PLAN.into(),
                    period: Some(pb::Period { start: format!("{}-01", &end[..7]), end: end.into() }),
                    indicator_values: vec![],
                    co_financing_realised: money(1_000_000 + i as u64 * 1000, "USD", end),
                    narrative_sha256: vec![],
                }),
            );
        }
    }
}

/// The baseline: seconds to stream every entry of the latest checkpoint once.
async fn stream_all_entries(client: &mut Client) -> f64 {
    let cp = client.checkpoint(None).await.unwrap();
    let t = Instant::now();
    let mut stream = client
        .raw()
        .stream_entries(pb::StreamEntriesRequest { start_index: 0, end_index: cp.size, follow: false })
        .await
        .unwrap()
        .into_inner();
    let mut n = 0u64;
    while let Some(_e) = stream.message().await.unwrap() {
        n += 1;
    }
    let stream_s = t.elapsed().as_secs_f64();
    assert_eq!(n, cp.size);
    stream_s
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("reports: bench");
        return;
    }
    let target: usize = std::env::var("ACCORD_BENCH_STATEMENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let tmp = std::env::temp_dir().join(format!("accord-bench-reports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let t0 = Instant::now();
    let groups = generate(target);
    let total: usize = groups.iter().map(Vec::len).sum();
    eprintln!("generated and signed {total} statements in {:.1} s", t0.elapsed().as_secs_f64());

    let mut opts = Options::new(&tmp);
    opts.origin = Some(ORIGIN.into());
    opts.synchronous_full = false;
    opts.clock = Clock::starting_at(1_811_808_000_000); // 2027-06-01
    let ledger = Arc::new(tokio::task::spawn_blocking(move || Ledger::open(opts)).await.unwrap().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(accord::server::run(listener, ledger.clone(), async move {
        let _ = stopped.await;
    }));
    let mut client = Client::connect(&url, Some(ledger.verifier_key())).await.unwrap();
    let t1 = Instant::now();
    for group in groups {
        for chunk in group.chunks(1000) {
            client.submit_batch(chunk.to_vec()).await.expect("batch accepted");
        }
    }
    let size = ledger.latest().size;
    eprintln!("loaded {size} entries in {:.1} s", t1.elapsed().as_secs_f64());

    // Baseline: stream every entry once.
    let stream_s = stream_all_entries(&mut client).await;

    // The full plan report (best of 3).
    let mut report_s = f64::MAX;
    let mut json = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (resp, _) = client
            .report(pb::GetReportRequest { plan_id: PLAN.into(), format: "json".into(), hxl: false })
            .await
            .unwrap();
        report_s = report_s.min(t.elapsed().as_secs_f64());
        json = resp.canonical_json;
    }
    // report verify: download, root check, replay, recompute, compare.
    let t = Instant::now();
    let (resp, cp) =
        client.report(pb::GetReportRequest { plan_id: PLAN.into(), format: "json".into(), hxl: false }).await.unwrap();
    let entries = client.download(&cp, |_| {}).await.unwrap();
    let download_s = t.elapsed().as_secs_f64();
    let at = resp.read_at.clone().unwrap();
    let local =
        tokio::task::spawn_blocking(move || accord::report::recompute(ORIGIN, entries, PLAN, &at, |_| {}).unwrap())
            .await
            .unwrap();
    let verify_s = t.elapsed().as_secs_f64();
    assert_eq!(local.canonical_json(), json, "recomputed report differs");
    let html_t = Instant::now();
    let _ = accord::report::render::html(&local, "");
    let html_s = html_t.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "statements": size,
        "report_json_bytes": json.len(),
        "baseline_stream_all_entries_s": stream_s,
        "plan_report_s": report_s,
        "plan_report_over_baseline": report_s / stream_s,
        "report_verify_s": verify_s,
        "report_verify_download_s": download_s,
        "report_verify_over_baseline": verify_s / stream_s,
        "html_render_s": html_s,
        "targets": {"plan_report_s": 2.0, "report_verify_s": 10.0},
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    let _ = stop.send(());
    let _ = server.await;
    drop(ledger);
    keep_or_remove(&tmp, &json);
}

/// ACCORD_BENCH_KEEP=DIR keeps the ledger (DIR/data) and its report (DIR/report.json), so that two builds
/// can be compared on the same ledger (issue 12: report JSON byte-identical across a restructuring);
/// otherwise the ledger is removed.
fn keep_or_remove(tmp: &std::path::Path, json: &str) {
    match std::env::var_os("ACCORD_BENCH_KEEP") {
        Some(keep) => {
            let keep = std::path::PathBuf::from(keep);
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::rename(tmp, keep.join("data")).unwrap();
            std::fs::write(keep.join("report.json"), json).unwrap();
        }
        None => {
            let _ = std::fs::remove_dir_all(tmp);
        }
    }
}
