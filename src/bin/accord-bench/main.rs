//! `accord-bench`: the load generator, a binary of its own beside the product's `accord` (it is not an
//! `accord` command). It drives a real `accord serve` child process over gRPC.
//!
//! It starts the server (the `accord` binary next to this one, or `--accord PATH`) in a fresh data
//! directory and pre-signs the load: the `plan` workload (a charter, then `plan.created` statements of
//! ~300 bytes) or the `mixed` one (the statement mix of a real coalition, `accord::workload::generate`).
//! Then, phase by phase: SubmitBatch throughput, unary Submit throughput at a given concurrency, unary
//! latency at a fixed offered rate, GetInclusionProof throughput on the loaded ledger; then it stops the
//! server (disk per entry after its WAL checkpoint), restarts it (start-up time, RSS) and measures
//! GetInclusionProof in the first 10 s after the restart.
//!
//! Measured honestly (issue 14): the load goes through a lean client (`lean.rs`: plain tonic channels,
//! requests encoded before the clock starts, replies decoded only as far as the count needs); every
//! phase is bracketed by two baselines, the 2-thread verify_strict rate and the no-op RPC (GetLogInfo)
//! rate through the same client, and reported as a ratio to their mean; beside each figure stand the
//! server's CPU per operation, the client's, and the cores kept busy by everything else on the machine.
//!
//! This file holds the options and the run; `child.rs` the server process and the CPU meters, `lean.rs`
//! the client, `load.rs` the load, `phase.rs` a measured phase and the table, `soak.rs` the soak.
#![allow(
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    reason = "the load generator indexes and counts its own clients, samples and timings, never input"
)]
mod child;
mod lean;
mod load;
mod phase;
mod soak;
mod tile_reads;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;
use clap::{Args, Parser, ValueEnum};
use serde_json::{json, Value};

use accord::pb::{self, ledger_service_client::LedgerServiceClient};
use accord::{crypto, workload};

use child::{accord_exe, disk_json, rss_kib, start_server, start_server_with, stop};
use lean::Clients;
use load::{batch_load, batch_requests, percentile, proof_load, submit_requests, unary_run, Batches, Bound};
use phase::{Against, Ctx, Figure};

/// The ledger's origin (the server is started with it).
const ORIGIN: &str = "bench.accord.localhost/ledger";

/// The year the mixed workload is dated in: well before today, as the server integrates at the real clock
/// and refuses a statement dated after it.
const MIXED_YEAR: u32 = 2024;

/// Load generator: drives a real `accord serve` with pre-signed envelopes through a lean gRPC client and
/// reports throughput, latency, start-up time, memory and disk per entry. Every figure stands beside
/// baselines measured right before and right after it (2-thread verify_strict, the no-op GetLogInfo
/// through the same client), the server's and the client's CPU per operation, and the CPU used by
/// everything else on the machine (a figure taken while other work ran is marked "!").
#[derive(Debug, Parser)]
#[command(name = "accord-bench", version)]
struct Cli {
    /// One JSON line on stdout instead of pretty JSON followed by the table (the table then goes to
    /// stderr; progress always does).
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    args: BenchArgs,
}

#[derive(Debug, Clone, Args)]
struct BenchArgs {
    /// The `accord` binary to start as the server under test (default: the one beside this binary).
    #[arg(long)]
    accord: Option<PathBuf>,
    /// Entries to load with SubmitBatch (the ledger size for the proof and start-up measurements; with
    /// --soak, the ledger is loaded to this size before the soak starts). The mixed workload comes out
    /// near this size (at least ~6,600).
    #[arg(long, default_value_t = 100_000)]
    entries: u64,
    /// What the SubmitBatch phase loads: `plan` (a charter, then independent `plan.created` statements,
    /// one effect each) or `mixed` (a real coalition's mix: parties admitted, plans, goals, pledges,
    /// conditions, commitments with tranches, disbursements, FX rates, progress reports; submitted group
    /// by group in dependency order). The unary phases submit `plan.created` statements either way.
    #[arg(long, value_enum, default_value_t = Workload::Plan)]
    workload: Workload,
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
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Seconds of each baseline measurement (verify_strict, then GetLogInfo), taken before and after
    /// every phase.
    #[arg(long, default_value_t = 1.0)]
    baseline_seconds: f64,
    /// Threads of the client's async runtime: 1 (default) runs the whole client on one thread, which
    /// costs the least CPU per call (no wake-ups across threads, no work stealing); more spread the
    /// client over cores it then takes from the server.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// GetInclusionProof is measured for this many seconds right after the restart.
    #[arg(long, default_value_t = 10)]
    restart_seconds: u64,
    /// Statement payload size in bytes (approximate).
    #[arg(long, default_value_t = 300)]
    statement_bytes: usize,
    /// Data directory (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// SQLite synchronous mode of the server under test.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    sync: String,
    /// Soak test instead (plan workload): offer --rate unary submissions/s for this many seconds (e.g. 600
    /// at half the measured unary capacity) and report per-window throughput, p50/p99, errors and server
    /// RSS.
    #[arg(long)]
    soak: Option<u64>,
    /// Soak window length in seconds.
    #[arg(long, default_value_t = 60)]
    soak_window: u64,
    /// Issue 16's tiles benchmarks instead (plan workload): load --entries, then GetInclusionProof, proof
    /// reads from the HTTP port's tiles, through a caching nginx and from a static directory served by
    /// nginx (when nginx is installed), and a mirror's catch-up, each between its baselines.
    #[arg(long)]
    tiles: bool,
    /// Seconds of each tiles measurement.
    #[arg(long, default_value_t = 5.0)]
    tiles_seconds: f64,
}

/// The workloads of the SubmitBatch phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// A charter, then independent `plan.created` statements.
    Plan,
    /// The statement mix of a real coalition (`accord::workload::generate`).
    Mixed,
}

/// The SubmitBatch load, encoded: groups in dependency order, each with its requests and whether they
/// must go one at a time, in order; the secretariat's key (it signs the unary phases' statements); the
/// payload size of a statement.
struct Load {
    groups: Vec<(Vec<Bytes>, bool)>,
    secretariat: crypto::PrivateKey,
    payload_len: usize,
}

/// Sign and encode the SubmitBatch load (on blocking threads: signing uses every core).
async fn build_load(a: &BenchArgs) -> Result<Load> {
    let (workload, entries, size, batch) = (a.workload, a.entries, a.statement_bytes, a.batch);
    Ok(tokio::task::spawn_blocking(move || match workload {
        Workload::Plan => {
            let key = crypto::generate_key();
            let envs = workload::plan_statements(ORIGIN, "b", entries, size, &key);
            let payload_len = envs.first().map(|e| e.payload.len()).unwrap_or(0);
            let charter = batch_requests(vec![workload::plan_charter(ORIGIN, &key)], 1);
            Load { groups: vec![(charter, true), (batch_requests(envs, batch), false)], secretariat: key, payload_len }
        }
        Workload::Mixed => {
            let w = workload::generate(ORIGIN, usize::try_from(entries).unwrap_or(usize::MAX), MIXED_YEAR);
            let n = w.len().max(1);
            let bytes: usize = w.groups.iter().flat_map(|g| &g.envelopes).map(|e| e.payload.len()).sum();
            let groups = w.groups.into_iter().map(|g| (batch_requests(g.envelopes, batch), g.ordered)).collect();
            Load { groups, secretariat: w.secretariat, payload_len: bytes / n }
        }
    })
    .await?)
}

/// The SubmitBatch phase: group after group (a group waits for the one before), an ordered group one call
/// at a time, the others `in_flight` calls at a time. Returns the entries committed and the JSON extras.
async fn batch_phase(clients: &Clients, groups: Vec<(Vec<Bytes>, bool)>, a: &BenchArgs) -> Result<(u64, Value)> {
    let mut all = Batches::default();
    for (reqs, ordered) in groups {
        let d = batch_load(clients, reqs, if ordered { 1 } else { a.batch_in_flight }).await?;
        all.calls += d.calls;
        all.receipts += d.receipts;
        all.duplicates += d.duplicates;
    }
    if all.duplicates > 0 {
        eprintln!("bench: WARNING: {} receipts were duplicates (no work done for them)", all.duplicates);
    }
    Ok((
        all.receipts,
        json!({"batch": a.batch, "in_flight": a.batch_in_flight, "calls": all.calls, "duplicates": all.duplicates}),
    ))
}

/// Unary Submit of `reqs`, `concurrency` in flight (paced at `rate` when given): the count and the extras.
async fn unary_phase(
    clients: &Clients,
    reqs: Vec<Bytes>,
    concurrency: usize,
    rate: Option<u64>,
) -> Result<(u64, Value)> {
    let n = reqs.len() as u64;
    let (achieved, lat, dups) = unary_run(clients, reqs, concurrency, rate).await?;
    let p = |q| (percentile(&lat, q) * 1000.0).round() / 1000.0;
    Ok((
        n,
        json!({"in_flight": concurrency, "offered_per_s": rate, "achieved_per_s": achieved.round(),
               "p50_ms": p(0.5), "p99_ms": p(0.99), "duplicates": dups}),
    ))
}

/// The measurement run, phase by phase, its JSON report and its table (or the soak, with --soak).
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
    if a.tiles {
        return tiles_run(&a, &exe, &dir, json_out).await;
    }
    let (server, _) = start_server(&exe, &dir, &a.sync).await?;
    let clients = lean::connect(&server.addr, a.connections).await?;
    if let Some(secs) = a.soak {
        if a.workload != Workload::Plan {
            bail!("--soak runs the plan workload");
        }
        let key = crypto::generate_key();
        let charter = workload::plan_charter(ORIGIN, &key);
        LedgerServiceClient::connect(server.addr.clone())
            .await?
            .submit(pb::SubmitRequest { envelope: Some(charter) })
            .await?;
        return soak::soak(&a, &clients, &key, ORIGIN, server, secs, json_out).await;
    }
    eprintln!("bench: pre-signing the {:?} workload (~{} entries) and the unary statements…", a.workload, a.entries);
    let mut load = build_load(&a).await?;
    let key = load.secretariat.clone();
    let (unary, paced, verify) = tokio::task::spawn_blocking({
        let (n, r, size) = (a.unary, a.rate * a.rate_seconds, a.statement_bytes);
        move || {
            let sign = |p, n| workload::plan_statements(ORIGIN, p, n, size, &key);
            (submit_requests(sign("u", n)), submit_requests(sign("r", r)), sign("v", 2048))
        }
    })
    .await?;
    let ctx = Ctx {
        clients,
        server_pid: server.child.id().unwrap_or(0),
        verify_envs: Arc::new(verify),
        verify_key: load.secretariat.verifying_key(),
        baseline_secs: a.baseline_seconds,
    };
    eprintln!("{}", phase::header());
    let groups = std::mem::take(&mut load.groups);
    let mut figures = loaded_phases(&a, &ctx, groups, unary, paced).await?;
    let size = tree_size(&server.addr).await?;
    let proofs = async {
        let n = proof_load(&ctx.clients, size, 64, Bound::Calls(a.proofs / 64)).await?;
        Ok((n, json!({"tree_size": size, "in_flight": 64})))
    };
    let name = format!("GetInclusionProof x64 on {size}");
    figures.push(("inclusion_proofs", ctx.measured(name, Against::GetLogInfo, true, proofs).await?));
    let rss_loaded = rss_kib(ctx.server_pid).unwrap_or(0);
    drop(ctx.clients);
    let stopped = stop(ctx.server_pid, server.child).await;
    let mut disk = disk_json(&dir, size);
    disk["server_stop"] = stopped;
    let (restart, mut ledger) = restart_phase(&a, &exe, &dir, ctx.verify_envs, ctx.verify_key).await?;
    figures.push(("inclusion_proofs_after_restart", restart));
    ledger["entries"] = size.into();
    ledger["rss_mib_after_load"] = (rss_loaded / 1024).into();
    ledger["disk"] = disk;
    ledger["disk_note"] = "ledger.db and projections.db, with any WAL left after the server stopped, per entry".into();
    let report = json!({
        "workload": format!("{:?}", a.workload).to_lowercase(),
        "statement_payload_bytes_mean": load.payload_len,
        "synchronous": a.sync,
        "connections": a.connections,
        "baseline_seconds": a.baseline_seconds,
        "figures": figures.iter().map(|(k, f)| (k.to_string(), f.json())).collect::<serde_json::Map<_, _>>(),
        "ledger": ledger,
    });
    print_report(&report, &figures, json_out)
}

/// `--tiles`: load the ledger, then GetInclusionProof and the tiles figures ([`tile_reads::figures`]); the
/// report adds, per tiles figure, the ledger's CPU per proof read over its CPU per GetInclusionProof.
async fn tiles_run(a: &BenchArgs, exe: &std::path::Path, dir: &std::path::Path, json_out: bool) -> Result<()> {
    let (server, _) = start_server_with(exe, dir, &a.sync, &["--http", "127.0.0.1:0"]).await?;
    let http = server.http.clone().ok_or_else(|| anyhow::anyhow!("the server announced no HTTP port"))?;
    let clients = lean::connect(&server.addr, a.connections).await?;
    eprintln!("bench: pre-signing ~{} plan statements…", a.entries);
    let mut load = build_load(&BenchArgs { workload: Workload::Plan, ..a.clone() }).await?;
    let key = load.secretariat.clone();
    let size_bytes = a.statement_bytes;
    let verify =
        tokio::task::spawn_blocking(move || workload::plan_statements(ORIGIN, "v", 2048, size_bytes, &key)).await?;
    let pid = server.child.id().unwrap_or(0);
    let ctx = Ctx {
        clients,
        server_pid: pid,
        verify_envs: Arc::new(verify),
        verify_key: load.secretariat.verifying_key(),
        baseline_secs: a.baseline_seconds,
    };
    eprintln!("{}", phase::header());
    let groups = std::mem::take(&mut load.groups);
    let name = format!("SubmitBatch({}) plan", a.batch);
    let batch = ctx.measured(name, Against::VerifyStrict, true, batch_phase(&ctx.clients, groups, a)).await?;
    let size = tree_size(&server.addr).await?;
    let until = Instant::now() + Duration::from_secs_f64(a.tiles_seconds);
    let proofs = async {
        let n = proof_load(&ctx.clients, size, 64, Bound::Until(until)).await?;
        Ok((n, json!({"tree_size": size, "in_flight": 64})))
    };
    let proofs = ctx.measured(format!("GetInclusionProof x64 on {size}"), Against::GetLogInfo, true, proofs).await?;
    let work = dir.join("bench-tiles");
    std::fs::create_dir_all(&work)?;
    let (more, notes) = tile_reads::figures(&ctx, exe, dir, &http, size, &work, a.tiles_seconds).await?;
    drop(ctx.clients);
    stop(pid, server.child).await;
    let per = |f: &Figure| f.usage.server_s / f.ops.max(1) as f64;
    let rate = |f: &Figure| f.ops as f64 / f.usage.secs.max(1e-9);
    let proof_cpu = per(&proofs);
    let mut ratios = serde_json::Map::new();
    for (k, f) in &more {
        ratios.insert(
            k.to_string(),
            json!({"ledger_cpu_us_per_op": (per(f) * 1e7).round() / 10.0,
                   "ledger_cpu_ratio_to_get_inclusion_proof": (per(f) / proof_cpu.max(1e-12) * 1000.0).round() / 1000.0,
                   "rate_ratio_to_get_inclusion_proof": (rate(f) / rate(&proofs).max(1e-9) * 1000.0).round() / 1000.0}),
        );
    }
    let mut figures = vec![("submit_batch", batch), ("inclusion_proofs", proofs)];
    figures.extend(more);
    let report = json!({
        "mode": "tiles",
        "entries": size,
        "get_inclusion_proof_ledger_cpu_us": (proof_cpu * 1e7).round() / 10.0,
        "figures": figures.iter().map(|(k, f)| (k.to_string(), f.json())).collect::<serde_json::Map<_, _>>(),
        "ratios": ratios,
        "notes": notes,
    });
    let mut table = format!("{}\n", phase::header());
    for (_, f) in &figures {
        table.push_str(&f.row());
        table.push('\n');
    }
    table.push_str(&format!(
        "per proof read / mirror entry, against GetInclusionProof: {}",
        serde_json::to_string_pretty(&report["ratios"])?
    ));
    if json_out {
        println!("{report}");
        eprintln!("{table}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
        println!("{table}");
    }
    Ok(())
}

/// The ledger's size, asked with a plain typed client (outside any measurement).
async fn tree_size(addr: &str) -> Result<u64> {
    let mut c = LedgerServiceClient::connect(addr.to_string()).await?;
    Ok(c.get_log_info(pb::GetLogInfoRequest {}).await?.into_inner().tree_size)
}

/// Phases 1 to 3, each between its baselines: SubmitBatch of the workload, unary Submit at fixed
/// concurrency, unary Submit at a fixed offered rate.
async fn loaded_phases(
    a: &BenchArgs,
    ctx: &Ctx,
    groups: Vec<(Vec<Bytes>, bool)>,
    unary: Vec<Bytes>,
    paced: Vec<Bytes>,
) -> Result<Vec<(&'static str, Figure)>> {
    let wl = format!("{:?}", a.workload).to_lowercase();
    let name = format!("SubmitBatch({}) {wl}", a.batch);
    let batch = ctx.measured(name, Against::VerifyStrict, true, batch_phase(&ctx.clients, groups, a)).await?;
    let name = format!("Submit x{}", a.concurrency);
    let work = unary_phase(&ctx.clients, unary, a.concurrency, None);
    let unary = ctx.measured(name, Against::GetLogInfo, true, work).await?;
    let name = format!("Submit at {}/s offered", a.rate);
    let work = unary_phase(&ctx.clients, paced, 256, Some(a.rate));
    let paced = ctx.measured(name, Against::GetLogInfo, true, work).await?;
    Ok(vec![("submit_batch", batch), ("submit_unary", unary), ("submit_paced", paced)])
}

/// Restart the server on the loaded ledger: start-up time and RSS, then GetInclusionProof for the first
/// --restart-seconds after it answered (no baseline before: that would use up the window), baselines after.
async fn restart_phase(
    a: &BenchArgs,
    exe: &std::path::Path,
    dir: &std::path::Path,
    verify_envs: Arc<Vec<pb::Envelope>>,
    verify_key: crypto::PublicKey,
) -> Result<(Figure, Value)> {
    let (server, startup) = start_server(exe, dir, &a.sync).await?;
    let ready = Instant::now();
    let pid = server.child.id().unwrap_or(0);
    let rss_start = rss_kib(pid).unwrap_or(0);
    let clients = lean::connect(&server.addr, a.connections).await?;
    let size = tree_size(&server.addr).await?;
    let ctx = Ctx { clients, server_pid: pid, verify_envs, verify_key, baseline_secs: a.baseline_seconds };
    let until = ready + Duration::from_secs(a.restart_seconds);
    let work = async {
        let n = proof_load(&ctx.clients, size, 64, Bound::Until(until)).await?;
        Ok((n, json!({"tree_size": size, "in_flight": 64, "window_after_ready_s": a.restart_seconds})))
    };
    let name = format!("GetInclusionProof first {} s after restart", a.restart_seconds);
    let figure = ctx.measured(name, Against::GetLogInfo, false, work).await?;
    drop(ctx.clients);
    let stopped = stop(pid, server.child).await;
    let mut disk = disk_json(dir, size);
    disk["server_stop"] = stopped;
    let ledger = json!({"startup_ms": startup.as_millis(), "rss_mib_after_restart": rss_start / 1024,
                        "disk_after_restart_and_stop": disk});
    Ok((figure, ledger))
}

/// The report as JSON on stdout (one line with --json, pretty otherwise) and the table (on stderr with
/// --json, after the JSON on stdout otherwise).
fn print_report(report: &Value, figures: &[(&str, Figure)], json_out: bool) -> Result<()> {
    let l = &report["ledger"];
    let mut table = format!("{}\n", phase::header());
    for (_, f) in figures {
        table.push_str(&f.row());
        table.push('\n');
    }
    table.push_str(&format!(
        "ledger: {} entries, start-up {} ms, RSS {} MiB after load / {} MiB after restart, {} bytes per entry on disk ({}; WAL left: {} bytes; {} after the restart)\n\
         (ratio: the figure over the mean of its baselines before and after; other: cores busy with other work, ! over 5 % of the machine)",
        l["entries"], l["startup_ms"], l["rss_mib_after_load"], l["rss_mib_after_restart"], l["disk"]["bytes_per_entry"],
        l["disk"]["files_counted"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(" + ")).unwrap_or_default(),
        l["disk"]["wal_bytes_left"], l["disk_after_restart_and_stop"]["bytes_per_entry"],
    ));
    if json_out {
        println!("{report}");
        eprintln!("{table}");
    } else {
        println!("{}", serde_json::to_string_pretty(report)?);
        println!("{table}");
    }
    Ok(())
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let threads = cli.args.client_threads.max(1);
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let result = match rt {
        Ok(rt) => rt.block_on(run(cli.args, cli.json)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
