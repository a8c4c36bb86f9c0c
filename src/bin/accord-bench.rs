//! `accord-bench`: the load generator, a binary of its own beside the product's `accord` (it is not an
//! `accord` command). It drives a real `accord serve` child process over gRPC.
//!
//! It starts the server (the `accord` binary next to this one, or `--accord PATH`) in a fresh data directory, signs a charter, pre-signs
//! 300-byte statements, then measures: SubmitBatch throughput, unary Submit throughput at a given
//! concurrency, unary latency at a fixed offered rate, GetInclusionProof throughput, start-up time,
//! server RSS and bytes on disk per entry. The baseline, measured in the same run, is the machine's raw
//! `verify_strict` rate on 2 threads: signature checking is the physical bound of the write path.
#![allow(
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    reason = "the load generator indexes and counts its own clients, samples and timings, never input"
)]
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use accord::crypto;
use accord::pb::{self, ledger_service_client::LedgerServiceClient};

/// Load generator: drives a real `accord serve` with pre-signed envelopes and reports throughput, latency,
/// start-up time, memory and disk per entry, each beside a baseline measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "accord-bench", version)]
struct Cli {
    /// One JSON line on stdout instead of pretty JSON (progress always goes to stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    args: BenchArgs,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// The `accord` binary to start as the server under test (default: the one beside this binary).
    #[arg(long)]
    accord: Option<PathBuf>,
    /// Entries to load with SubmitBatch (the ledger size for the proof and start-up measurements; with
    /// --soak, the ledger is loaded to this size before the soak starts).
    #[arg(long, default_value_t = 100_000)]
    entries: u64,
    /// Envelopes per SubmitBatch call.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// SubmitBatch calls in flight (so verification of one overlaps the commit of another).
    #[arg(long, default_value_t = 4)]
    batch_in_flight: usize,
    /// Unary Submit calls for the throughput run.
    #[arg(long, default_value_t = 20_000)]
    unary: u64,
    /// Unary Submit calls in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Offered rate (submissions/s) for the latency run, and its duration in seconds.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    #[arg(long, default_value_t = 5)]
    rate_seconds: u64,
    /// GetInclusionProof calls.
    #[arg(long, default_value_t = 100_000)]
    proofs: u64,
    /// gRPC connections the load is spread over (an HTTP/2 connection is served by one task).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Statement payload size in bytes (approximate).
    #[arg(long, default_value_t = 300)]
    statement_bytes: usize,
    /// Data directory (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// SQLite synchronous mode of the server under test.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    sync: String,
    /// Soak test instead: offer --rate unary submissions/s for this many seconds (e.g. 600 at half the
    /// measured unary capacity) and report per-window throughput, p50/p99, errors and server RSS.
    #[arg(long)]
    soak: Option<u64>,
    /// Soak window length in seconds.
    #[arg(long, default_value_t = 60)]
    soak_window: u64,
}

struct Server {
    child: Child,
    addr: String,
}

/// The `accord` binary: `--accord`, else the one in this binary's directory (cargo builds both there).
fn accord_exe(a: &BenchArgs) -> Result<PathBuf> {
    if let Some(p) = &a.accord {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let exe = me.with_file_name(format!("accord{}", std::env::consts::EXE_SUFFIX));
    if !exe.exists() {
        bail!("no accord binary at {} (build it with cargo build --release, or pass --accord PATH)", exe.display());
    }
    Ok(exe)
}

async fn start_server(exe: &std::path::Path, dir: &std::path::Path, sync: &str) -> Result<(Server, Duration)> {
    // ACCORD_BENCH_SERVER_LOG sets the server's log filter (e.g. "accord=debug" for per-batch timings).
    let server_log = std::env::var("ACCORD_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
    let t = Instant::now();
    let mut child = Command::new(exe)
        .args([
            "--json",
            "--log",
            &server_log,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "bench.accord.localhost/ledger",
            "--sync",
            sync,
        ])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting accord serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await??.context("server exited")?;
    let v: serde_json::Value = serde_json::from_str(&line)?;
    let addr = format!("http://{}", v["listening"].as_str().context("no listening address")?);
    // Ready = answers GetLogInfo.
    let mut c = loop {
        if let Ok(c) = LedgerServiceClient::connect(addr.clone()).await {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    c.get_log_info(pb::GetLogInfoRequest {}).await?;
    Ok((Server { child, addr }, t.elapsed()))
}

/// CPU time (user + system) of a process in microseconds, from /proc (10 ms resolution).
fn cpu_us(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks * 10_000
}

/// CPU microseconds per operation spent by the server and by this load generator during one phase.
struct CpuMeter {
    server: u32,
    start: (u64, u64),
}

impl CpuMeter {
    fn start(server: u32) -> Self {
        Self { server, start: (cpu_us(server), cpu_us(std::process::id())) }
    }
    fn per_op(&self, ops: u64) -> serde_json::Value {
        let s = cpu_us(self.server).saturating_sub(self.start.0) as f64 / ops.max(1) as f64;
        let c = cpu_us(std::process::id()).saturating_sub(self.start.1) as f64 / ops.max(1) as f64;
        json!({"server_cpu_us_per_op": s.round(), "loadgen_cpu_us_per_op": c.round()})
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Raw verify_strict rate on 2 threads (the baseline).
fn raw_verify_rate(envs: &[pb::Envelope], key: &crypto::PublicKey) -> f64 {
    let n = envs.len().min(40_000);
    let t = Instant::now();
    std::thread::scope(|s| {
        for half in envs[..n].chunks(n.div_ceil(2)) {
            s.spawn(move || {
                for e in half {
                    assert!(crypto::verify_pae(key, &e.payload_type, &e.payload, &e.signatures[0].sig));
                }
            });
        }
    });
    n as f64 / t.elapsed().as_secs_f64()
}

fn statements(origin: &str, prefix: &str, n: u64, size: usize, key: &crypto::PrivateKey) -> Vec<pb::Envelope> {
    use rayon::prelude::*;
    (0..n).into_par_iter().map(|i| seal_statement(origin, prefix, i, size, key)).collect()
}

/// Statement `i` of a run: a `plan.created` padded to about `size` bytes, signed by `key`.
fn seal_statement(origin: &str, prefix: &str, i: u64, size: usize, key: &crypto::PrivateKey) -> pb::Envelope {
    let mut st = pb::Statement {
        ledger: origin.to_string(),
        statement_id: format!("{prefix}-{i:010}"),
        issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(pb::statement::Body::PlanCreated(pb::PlanCreated {
            plan_id: format!("{prefix}-plan-{i:010}"),
            title: "Regional security and inclusive growth plan".into(),
            period: Some(pb::Period { start: "2026-01-01".into(), end: "2028-12-31".into() }),
            reporting_currency: "USD".into(),
            signatories: vec![],
            report_schedule: Some(pb::ReportSchedule { frequency: "quarterly".into(), days_after_period_end: 45 }),
            requirement: Some(pb::Money {
                value: "125000000.00".into(),
                currency: "USD".into(),
                value_date: "2026-01-01".into(),
            }),
            description: String::new(),
            ..Default::default()
        })),
    };
    let len = prost::Message::encoded_len(&st);
    if let Some(pb::statement::Body::PlanCreated(p)) = &mut st.body {
        p.description = "x".repeat(size.saturating_sub(len + 3));
    }
    crypto::seal(&st, &[key])
}

async fn run(a: BenchArgs, json_out: bool) -> Result<()> {
    let exe = accord_exe(&a)?;
    let tmp;
    let dir = match &a.data_dir {
        Some(d) => d.clone(),
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    let origin = "bench.accord.localhost/ledger";
    let (server, _) = start_server(&exe, &dir, &a.sync).await?;
    let mut clients = Vec::new();
    for _ in 0..a.connections.max(1) {
        clients.push(
            LedgerServiceClient::new(accord::client::channel(&server.addr).await?)
                .max_decoding_message_size(usize::MAX),
        );
    }
    let mut client = clients[0].clone();
    let founder = crypto::generate_key();
    let charter = pb::Statement {
        ledger: origin.into(),
        statement_id: "charter".into(),
        issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(pb::statement::Body::Charter(pb::Charter {
            name: "Benchmark coalition".into(),
            founders: vec![pb::Party {
                party_id: "XM-BENCH-SEC".into(),
                name: "Bench secretariat".into(),
                roles: vec!["secretariat".into()],
                public_keys: vec![founder.verifying_key().as_bytes().to_vec()],
                organisation_type: String::new(),
                country: String::new(),
            }],
            admission: Some(pb::AdmissionRule { k: 1 }),
            purpose: String::new(),
        })),
    };
    client.submit(pb::SubmitRequest { envelope: Some(crypto::seal(&charter, &[&founder])) }).await?;
    if let Some(secs) = a.soak {
        return soak(&a, &clients, &founder, origin, server, secs, json_out).await;
    }

    eprintln!(
        "bench: pre-signing {} + {} + {} statements of ~{} bytes…",
        a.entries,
        a.unary,
        a.rate * a.rate_seconds,
        a.statement_bytes
    );
    let batch_envs = statements(origin, "b", a.entries, a.statement_bytes, &founder);
    let unary_envs = statements(origin, "u", a.unary, a.statement_bytes, &founder);
    let rate_envs = statements(origin, "r", a.rate * a.rate_seconds, a.statement_bytes, &founder);
    let payload_len = batch_envs.first().map(|e| e.payload.len()).unwrap_or(0);

    let baseline = raw_verify_rate(&batch_envs, &founder.verifying_key());
    eprintln!("bench: baseline raw verify_strict on 2 threads: {baseline:.0}/s");

    // 1. SubmitBatch, several calls in flight so the sequencer always has work.
    let server_pid = server.child.id().unwrap_or(0);
    let meter = CpuMeter::start(server_pid);
    let t = Instant::now();
    let total = batch_load(&clients, batch_envs, a.batch, a.batch_in_flight).await?;
    let batch_secs = t.elapsed().as_secs_f64();
    let batch_cpu = meter.per_op(a.entries);
    let batch_rate = a.entries as f64 / batch_secs;
    eprintln!(
        "bench: SubmitBatch({}) {} entries in {batch_secs:.1}s = {batch_rate:.0}/s ({total} calls)",
        a.batch, a.entries
    );

    // 2. Unary Submit at fixed concurrency.
    let meter = CpuMeter::start(server_pid);
    let (unary_rate, unary_lat) = unary_run(&clients, unary_envs, a.concurrency, None).await?;
    let unary_cpu = meter.per_op(a.unary);
    eprintln!(
        "bench: unary Submit x{} in flight: {unary_rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        a.concurrency,
        percentile(&unary_lat, 0.5),
        percentile(&unary_lat, 0.99)
    );

    // 3. Unary latency at a fixed offered rate.
    let (paced_rate, paced_lat) = unary_run(&clients, rate_envs, 256, Some(a.rate)).await?;
    eprintln!(
        "bench: unary at {} /s offered: achieved {paced_rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        a.rate,
        percentile(&paced_lat, 0.5),
        percentile(&paced_lat, 0.99)
    );

    // 4. Transport baseline: the cheapest RPC (GetLogInfo, no storage) at 64 in flight, then inclusion
    //    proofs at 64 in flight on the loaded ledger.
    let meter = CpuMeter::start(server_pid);
    let t = Instant::now();
    let mut tasks = Vec::new();
    let per_info = (a.proofs / 64).max(1);
    for w in 0..64usize {
        let mut c = clients[w % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_info {
                c.get_log_info(pb::GetLogInfoRequest {}).await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let info_rate = (per_info * 64) as f64 / t.elapsed().as_secs_f64();
    let info_cpu = meter.per_op(per_info * 64);
    eprintln!("bench: transport baseline GetLogInfo x64 in flight: {info_rate:.0}/s");
    let size = client.get_log_info(pb::GetLogInfoRequest {}).await?.into_inner().tree_size;
    let meter = CpuMeter::start(server_pid);
    let t = Instant::now();
    let per = a.proofs / 64;
    random_proofs(&clients, size, 64, per).await?;
    let proof_rate = (per * 64) as f64 / t.elapsed().as_secs_f64();
    let proof_cpu = meter.per_op(per * 64);
    eprintln!("bench: GetInclusionProof x64 in flight on {size} entries: {proof_rate:.0}/s");

    let pid = server.child.id().unwrap_or(0);
    let rss_loaded = rss_kib(pid).unwrap_or(0);
    drop(client);
    drop(clients);
    let mut child = server.child;
    // Stop gracefully with SIGTERM (tokio's start_kill would send SIGKILL).
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    let disk = dir_bytes(&dir);

    // 5. Start-up time and RSS of a fresh server on the loaded ledger.
    let (server2, startup) = start_server(&exe, &dir, &a.sync).await?;
    let pid2 = server2.child.id().unwrap_or(0);
    let rss_start = rss_kib(pid2).unwrap_or(0);
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid2.to_string()).status();
    let mut c2 = server2.child;
    let _ = tokio::time::timeout(Duration::from_secs(30), c2.wait()).await;

    let report = json!({
        "statement_payload_bytes": payload_len,
        "synchronous": a.sync,
        "connections": a.connections,
        "baseline_verify_strict_per_s_2_threads": baseline.round(),
        "submit_batch": {"batch": a.batch, "in_flight": a.batch_in_flight, "entries": a.entries, "per_s": batch_rate.round(), "ratio_to_baseline": (batch_rate / baseline * 1000.0).round() / 1000.0, "cpu": batch_cpu},
        "submit_unary": {"in_flight": a.concurrency, "per_s": unary_rate.round(), "p50_ms": percentile(&unary_lat, 0.5), "p99_ms": percentile(&unary_lat, 0.99), "cpu": unary_cpu},
        "submit_paced": {"offered_per_s": a.rate, "achieved_per_s": paced_rate.round(), "p50_ms": percentile(&paced_lat, 0.5), "p99_ms": percentile(&paced_lat, 0.99)},
        "inclusion_proofs": {"tree_size": size, "in_flight": 64, "per_s": proof_rate.round(),
                             "transport_baseline_get_log_info_per_s": info_rate.round(),
                             "ratio_to_transport_baseline": (proof_rate / info_rate * 1000.0).round() / 1000.0,
                             "cpu": proof_cpu, "transport_baseline_cpu": info_cpu},
        "ledger": {"entries": size, "startup_ms": startup.as_millis(), "rss_mib_after_load": rss_loaded / 1024, "rss_mib_after_restart": rss_start / 1024,
                   "disk_bytes": disk, "disk_bytes_per_entry": disk / size.max(1)},
    });
    // The report is JSON either way (progress went to stderr): one line with --json, pretty otherwise.
    if json_out {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// Sustained paced load, window by window: throughput, latency, errors, and the server's RSS.
/// Load `envs` with SubmitBatch calls of `batch`, `in_flight` calls at a time; returns the number of calls.
async fn batch_load(
    clients: &[LedgerServiceClient<tonic::transport::Channel>],
    envs: Vec<pb::Envelope>,
    batch: usize,
    in_flight: usize,
) -> Result<usize> {
    let chunks: Vec<Vec<pb::Envelope>> = envs.chunks(batch.max(1)).map(|c| c.to_vec()).collect();
    let total = chunks.len();
    let queue = Arc::new(std::sync::Mutex::new(chunks.into_iter()));
    let mut tasks = Vec::new();
    for t in 0..in_flight.max(1) {
        let mut c = clients[t % clients.len()].clone();
        let q = queue.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let next = accord::sync::lock(&q).next();
                let Some(chunk) = next else { return Ok::<_, tonic::Status>(()) };
                c.submit_batch(pb::SubmitBatchRequest { envelopes: chunk }).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(total)
}

/// `in_flight` tasks each fetch `per` inclusion proofs of pseudo-random leaves in the tree of `size`.
async fn random_proofs(
    clients: &[LedgerServiceClient<tonic::transport::Channel>],
    size: u64,
    in_flight: u64,
    per: u64,
) -> Result<()> {
    let mut tasks = Vec::new();
    for w in 0..in_flight {
        let mut c = clients[w as usize % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut x = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for _ in 0..per {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let idx = x % size.max(1);
                c.get_inclusion_proof(pb::GetInclusionProofRequest {
                    leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(idx)),
                    tree_size: size,
                })
                .await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn soak(
    a: &BenchArgs,
    clients: &[LedgerServiceClient<tonic::transport::Channel>],
    key: &crypto::PrivateKey,
    origin: &str,
    server: Server,
    secs: u64,
    json_out: bool,
) -> Result<()> {
    let pid = server.child.id().unwrap_or(0);
    // The ledger the soak runs on: --entries loaded first, signed and sent in slices to bound memory.
    let t = Instant::now();
    let mut loaded = 0u64;
    while loaded < a.entries {
        let n = (a.entries - loaded).min(100_000);
        let (origin, key, size, prefix) = (origin.to_string(), key.clone(), a.statement_bytes, format!("pre{loaded}"));
        let envs = tokio::task::spawn_blocking(move || statements(&origin, &prefix, n, size, &key)).await?;
        batch_load(clients, envs, a.batch, a.batch_in_flight).await?;
        loaded += n;
        eprintln!("soak: pre-loaded {loaded}/{} entries ({:.0} s)", a.entries, t.elapsed().as_secs_f64());
    }
    // Warm-up before the baseline: 64 proof readers at once open every pooled read connection and fill
    // its page cache. Writes flush those caches on every commit, so without this they would fill (and RSS
    // would step up) whenever the load pauses, which is cache warm-up, not growth.
    let mut info = clients[0].clone();
    let size = info.get_log_info(pb::GetLogInfoRequest {}).await?.into_inner().tree_size;
    random_proofs(clients, size, 64, 500).await?;
    eprintln!("soak: warm-up: 32000 inclusion proofs read");
    let window = a.soak_window.max(1);
    let rss_start = rss_kib(pid).unwrap_or(0);
    let mut windows = Vec::new();
    let mut errors_total = 0u64;
    eprintln!("soak: {} submissions/s for {secs} s in {window} s windows", a.rate);
    let windows_n = secs.div_ceil(window);
    // Each window's envelopes are signed in the background while the previous window runs, on one thread
    // and spread over half the window: signing them in one burst on both cores would stall the server
    // under test and show up as its latency.
    let sign = |w: u64| {
        let (origin, key, size) = (origin.to_string(), key.clone(), a.statement_bytes);
        let n = a.rate * window.min(secs - w * window);
        let spread = Duration::from_secs(window) / 2;
        tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let slices = 100u64;
            let mut envs = Vec::with_capacity(n as usize);
            for k in 0..slices {
                let (from, to) = (n * k / slices, n * (k + 1) / slices);
                envs.extend((from..to).map(|i| seal_statement(&origin, &format!("soak{w}"), i, size, &key)));
                if let Some(wait) = (spread * (k + 1) as u32 / slices as u32).checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            envs
        })
    };
    let mut next = Some(sign(0));
    for w in 0..windows_n {
        let envs = next.take().expect("signed window").await?;
        if w + 1 < windows_n {
            next = Some(sign(w + 1));
        }
        let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let start = Instant::now();
        let queue = Arc::new(std::sync::Mutex::new(envs.into_iter().enumerate()));
        let mut tasks = Vec::new();
        for t in 0..256 {
            let mut c = clients[t % clients.len()].clone();
            let (q, errors, rate) = (queue.clone(), errors.clone(), a.rate);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let next = accord::sync::lock(&q).next();
                    let Some((i, env)) = next else { return lat };
                    tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / rate as f64)).into()).await;
                    let t = Instant::now();
                    match c.submit(pb::SubmitRequest { envelope: Some(env) }).await {
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
        let e = errors.load(std::sync::atomic::Ordering::Relaxed);
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
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let mut child = server.child;
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    if json_out {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

async fn unary_run(
    clients: &[LedgerServiceClient<tonic::transport::Channel>],
    envs: Vec<pb::Envelope>,
    concurrency: usize,
    rate: Option<u64>,
) -> Result<(f64, Vec<Duration>)> {
    if envs.is_empty() {
        bail!("no envelopes");
    }
    let n = envs.len();
    let queue = Arc::new(std::sync::Mutex::new(envs.into_iter().enumerate()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let mut c = clients[t % clients.len()].clone();
        let q = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = accord::sync::lock(&q).next();
                let Some((i, env)) = next else { return Ok::<_, tonic::Status>(lat) };
                if let Some(r) = rate {
                    let due = start + Duration::from_secs_f64(i as f64 / r as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let t = Instant::now();
                c.submit(pb::SubmitRequest { envelope: Some(env) }).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    all.sort();
    Ok((rate, all))
}

/// A temporary directory removed on drop (no extra dependency outside tests).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "accord-bench-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli.args, cli.json).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
