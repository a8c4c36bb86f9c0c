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
use accord::ledger::{Clock, Ledger, Options};
use accord::pb;
use accord::workload::{self, PLAN};

const ORIGIN: &str = "bench.example/reports";

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
    let groups = workload::generate(ORIGIN, target, 2026).groups;
    let total: usize = groups.iter().map(|g| g.envelopes.len()).sum();
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
        for chunk in group.envelopes.chunks(1000) {
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
    let (index_build_s, through_index) = through_index(&mut client, &cp, stream_s).await;
    let out = serde_json::json!({
        "statements": size,
        "index_build_s": index_build_s,
        "report_verify_complete": through_index,
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

/// `report verify --complete` (docs/INDEX.md §11): only the plan's book, read through the index, for the
/// plan that holds nearly everything and for a small one. The index is built first (once per server start,
/// on the first complete query), and timed apart. Returns (build seconds, per plan figures).
async fn through_index(
    client: &mut Client,
    cp: &accord::crypto::VerifiedCheckpoint,
    stream_s: f64,
) -> (f64, serde_json::Map<String, serde_json::Value>) {
    let t = Instant::now();
    let charter = [accord_domain::index::IndexKey::Kind("charter")];
    client.index_lists(&charter, cp).await.expect("the index, built");
    let index_build_s = t.elapsed().as_secs_f64();
    let mut figures = serde_json::Map::new();
    for plan in [PLAN, "PL1"] {
        let (secs, entries) = verify_through_index(client, plan).await;
        figures.insert(
            plan.to_string(),
            serde_json::json!({"report_verify_s": secs, "entries_read": entries, "over_baseline": secs / stream_s}),
        );
    }
    (index_build_s, figures)
}

/// `report verify --complete` for `plan`: the report, the plan's book through the index, the replay and
/// the comparison; (seconds, entries read).
async fn verify_through_index(client: &mut Client, plan: &str) -> (f64, usize) {
    let t = Instant::now();
    let req = pb::GetReportRequest { plan_id: plan.into(), format: "json".into(), hxl: false };
    let (resp, cp) = client.report(req).await.unwrap();
    let book = client.plan_book(plan, &cp, |_| {}).await.expect("the plan's book");
    let n = book.entries.len();
    let at = resp.read_at.clone().unwrap();
    let plan_id = plan.to_string();
    let local = tokio::task::spawn_blocking(move || {
        accord::report::recompute_part(
            ORIGIN,
            book.entries,
            &book.known,
            book.last_integrated_ms,
            &plan_id,
            &at,
            |_| {},
        )
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(local.canonical_json(), resp.canonical_json, "{plan}: the report from its book differs");
    (t.elapsed().as_secs_f64(), n)
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
