//! The soak: sustained paced load, window by window: throughput, latency, errors, and the server's RSS.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use bytes::Bytes;

use accord::crypto;
use accord::pb::{self, ledger_service_client::LedgerServiceClient};
use accord::workload::{plan_statement, plan_statements};

use crate::child::{rss_kib, stop, Server};
use crate::lean::{encode, Clients};
use crate::load::{batch_load, batch_requests, percentile, proof_load, Bound};
use crate::BenchArgs;

/// Sustained paced load, window by window: throughput, latency, errors, and the server's RSS.
pub(crate) async fn soak(
    a: &BenchArgs,
    clients: &Clients,
    key: &crypto::PrivateKey,
    origin: &str,
    server: Server,
    secs: u64,
    json_out: bool,
) -> Result<()> {
    let pid = server.child.id().unwrap_or(0);
    preload(a, clients, key, origin).await?;
    // Warm-up before the baseline: 64 proof readers at once open every pooled read connection and fill
    // its page cache. Writes flush those caches on every commit, so without this they would fill (and RSS
    // would step up) whenever the load pauses, which is cache warm-up, not growth.
    let mut info = LedgerServiceClient::connect(server.addr.clone()).await?;
    let size = info.get_log_info(pb::GetLogInfoRequest {}).await?.into_inner().tree_size;
    proof_load(clients, size, 64, Bound::Calls(500)).await?;
    eprintln!("soak: warm-up: 32000 inclusion proofs read");
    let window = a.soak_window.max(1);
    let rss_start = rss_kib(pid).unwrap_or(0);
    let mut windows = Vec::new();
    let mut errors_total = 0u64;
    eprintln!("soak: {} submissions/s for {secs} s in {window} s windows", a.rate);
    let windows_n = secs.div_ceil(window);
    let sign = |w: u64| sign_window(a, key, origin, w, window, secs);
    let mut next = Some(sign(0));
    for w in 0..windows_n {
        let envs = next.take().expect("signed window").await?;
        if w + 1 < windows_n {
            next = Some(sign(w + 1));
        }
        let (lat, achieved, e) = paced_window(clients, envs, a.rate).await?;
        errors_total += e;
        let rss = rss_kib(pid).unwrap_or(0);
        let row = json!({"window": w, "achieved_per_s": achieved.round(), "p50_ms": percentile(&lat, 0.5),
                         "p99_ms": percentile(&lat, 0.99), "errors": e, "rss_mib": rss / 1024});
        eprintln!("soak: {row}");
        windows.push(row);
    }
    let rss_end = rss_kib(pid).unwrap_or(0);
    // Growth after the first window (warm caches), which is what a leak would show.
    let rss_warm = windows.first().and_then(|w| w["rss_mib"].as_u64()).unwrap_or(rss_start / 1024).max(1);
    let p99s: Vec<f64> = windows.iter().filter_map(|w| w["p99_ms"].as_f64()).collect();
    let report = json!({
        "soak_seconds": secs, "offered_per_s": a.rate, "errors": errors_total, "preloaded_entries": a.entries,
        "rss_mib_start": rss_start / 1024, "rss_mib_after_first_window": rss_warm, "rss_mib_end": rss_end / 1024,
        "rss_growth_after_first_window_pct": ((rss_end / 1024) as f64 / rss_warm as f64 - 1.0) * 100.0,
        "p99_ms_first_window": p99s.first(), "p99_ms_last_window": p99s.last(),
        "p99_ms_max": p99s.iter().cloned().fold(0.0, f64::max),
        "windows": windows,
    });
    let _ = stop(pid, server.child).await;
    if json_out {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// The ledger the soak runs on: --entries loaded first, signed and sent in slices to bound memory.
async fn preload(a: &BenchArgs, clients: &Clients, key: &crypto::PrivateKey, origin: &str) -> Result<()> {
    let t = Instant::now();
    let mut loaded = 0u64;
    while loaded < a.entries {
        let n = (a.entries - loaded).min(100_000);
        let (origin, key, size, prefix) = (origin.to_string(), key.clone(), a.statement_bytes, format!("pre{loaded}"));
        let batch = a.batch;
        let reqs = tokio::task::spawn_blocking(move || {
            batch_requests(plan_statements(&origin, &prefix, n, size, &key), batch)
        })
        .await?;
        batch_load(clients, reqs, a.batch_in_flight).await?;
        loaded += n;
        eprintln!("soak: pre-loaded {loaded}/{} entries ({:.0} s)", a.entries, t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Window `w`'s envelopes, signed in the background while the previous window runs, on one thread and
/// spread over half the window: signing them in one burst on both cores would stall the server under test
/// and show up as its latency.
fn sign_window(
    a: &BenchArgs,
    key: &crypto::PrivateKey,
    origin: &str,
    w: u64,
    window: u64,
    secs: u64,
) -> tokio::task::JoinHandle<Vec<Bytes>> {
    let (origin, key, size) = (origin.to_string(), key.clone(), a.statement_bytes);
    let n = a.rate * window.min(secs - w * window);
    let spread = Duration::from_secs(window) / 2;
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let slices = 100u64;
        let mut envs = Vec::with_capacity(n as usize);
        for k in 0..slices {
            let (from, to) = (n * k / slices, n * (k + 1) / slices);
            envs.extend((from..to).map(|i| {
                encode(&pb::SubmitRequest {
                    envelope: Some(plan_statement(&origin, &format!("soak{w}"), i, size, &key)),
                })
            }));
            if let Some(wait) = (spread * (k + 1) as u32 / slices as u32).checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        envs
    })
}

/// One window: `envs` submitted unary at `rate` per second by 256 tasks; returns the sorted latencies of
/// the accepted submissions, the achieved rate and the number of errors.
async fn paced_window(clients: &Clients, envs: Vec<Bytes>, rate: u64) -> Result<(Vec<Duration>, f64, u64)> {
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let queue = Arc::new(std::sync::Mutex::new(envs.into_iter().enumerate()));
    let mut tasks = Vec::new();
    for t in 0..256 {
        let mut c = clients[t % clients.len()].clone();
        let (q, errors) = (queue.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = accord::sync::lock(&q).next();
                let Some((i, env)) = next else { return lat };
                tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / rate as f64)).into()).await;
                let t = Instant::now();
                match c.submit(env).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    lat.sort();
    let achieved = lat.len() as f64 / start.elapsed().as_secs_f64();
    Ok((lat, achieved, errors.load(std::sync::atomic::Ordering::Relaxed)))
}
