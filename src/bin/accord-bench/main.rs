//! `accord-bench`: the load generator, a binary of its own beside the product's `accord` (it is not an
//! `accord` command). It drives a real `accord serve` child process over gRPC.
//!
//! It starts the server (the `accord` binary next to this one, or `--accord PATH`) in a fresh data directory, signs a charter, pre-signs
//! 300-byte statements, then measures: SubmitBatch throughput, unary Submit throughput at a given
//! concurrency, unary latency at a fixed offered rate, GetInclusionProof throughput, start-up time,
//! server RSS and bytes on disk per entry. The baseline, measured in the same run, is the machine's raw
//! `verify_strict` rate on 2 threads: signature checking is the physical bound of the write path.
//!
//! This file holds the options and the measurement run; `child.rs` the server process, `load.rs` the
//! load and its statements, `soak.rs` the soak.
#![allow(
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    reason = "the load generator indexes and counts its own clients, samples and timings, never input"
)]
mod child;
mod load;
mod soak;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Parser};
use serde_json::json;

use accord::crypto;
use accord::pb::{self, ledger_service_client::LedgerServiceClient};

use child::{accord_exe, dir_bytes, rss_kib, start_server, stop, CpuMeter, Server};
use load::{batch_load, percentile, random_proofs, raw_verify_rate, statements, unary_run, Clients};

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

/// The measurement run, phase by phase, and its JSON report (or the soak, with --soak).
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
    let (clients, founder) = connect_and_charter(&server, a.connections, origin).await?;
    if let Some(secs) = a.soak {
        return soak::soak(&a, &clients, &founder, origin, server, secs, json_out).await;
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

    let server_pid = server.child.id().unwrap_or(0);
    let [submit_batch, submit_unary, submit_paced] =
        submit_phases(&a, &clients, server_pid, [batch_envs, unary_envs, rate_envs], baseline).await?;
    let (size, inclusion_proofs) = read_phase(&a, &clients, server_pid).await?;
    let pid = server.child.id().unwrap_or(0);
    let rss_loaded = rss_kib(pid).unwrap_or(0);
    drop(clients);
    stop(pid, server.child).await;
    let disk = dir_bytes(&dir);

    // 5. Start-up time and RSS of a fresh server on the loaded ledger.
    let (server2, startup) = start_server(&exe, &dir, &a.sync).await?;
    let pid2 = server2.child.id().unwrap_or(0);
    let rss_start = rss_kib(pid2).unwrap_or(0);
    stop(pid2, server2.child).await;

    let report = json!({
        "statement_payload_bytes": payload_len,
        "synchronous": a.sync,
        "connections": a.connections,
        "baseline_verify_strict_per_s_2_threads": baseline.round(),
        "submit_batch": submit_batch,
        "submit_unary": submit_unary,
        "submit_paced": submit_paced,
        "inclusion_proofs": inclusion_proofs,
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

/// Phases 1 to 3, each reported as it ends: SubmitBatch with several calls in flight, unary Submit at
/// fixed concurrency, unary latency at a fixed offered rate. Returns their JSON figures.
async fn submit_phases(
    a: &BenchArgs,
    clients: &Clients,
    server_pid: u32,
    [batch_envs, unary_envs, rate_envs]: [Vec<pb::Envelope>; 3],
    baseline: f64,
) -> Result<[serde_json::Value; 3]> {
    // 1. SubmitBatch, several calls in flight so the sequencer always has work.
    let meter = CpuMeter::start(server_pid);
    let t = Instant::now();
    let total = batch_load(clients, batch_envs, a.batch, a.batch_in_flight).await?;
    let batch_secs = t.elapsed().as_secs_f64();
    let batch_cpu = meter.per_op(a.entries);
    let batch_rate = a.entries as f64 / batch_secs;
    eprintln!(
        "bench: SubmitBatch({}) {} entries in {batch_secs:.1}s = {batch_rate:.0}/s ({total} calls)",
        a.batch, a.entries
    );

    // 2. Unary Submit at fixed concurrency.
    let meter = CpuMeter::start(server_pid);
    let (unary_rate, unary_lat) = unary_run(clients, unary_envs, a.concurrency, None).await?;
    let unary_cpu = meter.per_op(a.unary);
    eprintln!(
        "bench: unary Submit x{} in flight: {unary_rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        a.concurrency,
        percentile(&unary_lat, 0.5),
        percentile(&unary_lat, 0.99)
    );

    // 3. Unary latency at a fixed offered rate.
    let (paced_rate, paced_lat) = unary_run(clients, rate_envs, 256, Some(a.rate)).await?;
    eprintln!(
        "bench: unary at {} /s offered: achieved {paced_rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        a.rate,
        percentile(&paced_lat, 0.5),
        percentile(&paced_lat, 0.99)
    );

    Ok([
        json!({"batch": a.batch, "in_flight": a.batch_in_flight, "entries": a.entries, "per_s": batch_rate.round(), "ratio_to_baseline": (batch_rate / baseline * 1000.0).round() / 1000.0, "cpu": batch_cpu}),
        json!({"in_flight": a.concurrency, "per_s": unary_rate.round(), "p50_ms": percentile(&unary_lat, 0.5), "p99_ms": percentile(&unary_lat, 0.99), "cpu": unary_cpu}),
        json!({"offered_per_s": a.rate, "achieved_per_s": paced_rate.round(), "p50_ms": percentile(&paced_lat, 0.5), "p99_ms": percentile(&paced_lat, 0.99)}),
    ])
}

/// Phase 4: the transport baseline, then inclusion proofs at 64 in flight on the loaded ledger. Returns the
/// tree size and the JSON figures.
async fn read_phase(a: &BenchArgs, clients: &Clients, server_pid: u32) -> Result<(u64, serde_json::Value)> {
    let mut client = clients[0].clone();
    // 4. Transport baseline: the cheapest RPC (GetLogInfo, no storage) at 64 in flight, then inclusion
    //    proofs at 64 in flight on the loaded ledger.
    let meter = CpuMeter::start(server_pid);
    let per_info = (a.proofs / 64).max(1);
    let info_rate = get_log_info_load(clients, per_info).await?;
    let info_cpu = meter.per_op(per_info * 64);
    eprintln!("bench: transport baseline GetLogInfo x64 in flight: {info_rate:.0}/s");
    let size = client.get_log_info(pb::GetLogInfoRequest {}).await?.into_inner().tree_size;
    let meter = CpuMeter::start(server_pid);
    let t = Instant::now();
    let per = a.proofs / 64;
    random_proofs(clients, size, 64, per).await?;
    let proof_rate = (per * 64) as f64 / t.elapsed().as_secs_f64();
    let proof_cpu = meter.per_op(per * 64);
    eprintln!("bench: GetInclusionProof x64 in flight on {size} entries: {proof_rate:.0}/s");

    let figures = json!({"tree_size": size, "in_flight": 64, "per_s": proof_rate.round(),
                         "transport_baseline_get_log_info_per_s": info_rate.round(),
                         "ratio_to_transport_baseline": (proof_rate / info_rate * 1000.0).round() / 1000.0,
                         "cpu": proof_cpu, "transport_baseline_cpu": info_cpu});
    Ok((size, figures))
}

/// One gRPC client per connection to `server`, and the founder's key of the charter signed and submitted
/// to the fresh ledger.
async fn connect_and_charter(
    server: &Server,
    connections: usize,
    origin: &str,
) -> Result<(Vec<LedgerServiceClient<tonic::transport::Channel>>, crypto::PrivateKey)> {
    let mut clients = Vec::new();
    for _ in 0..connections.max(1) {
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
    Ok((clients, founder))
}

/// Transport baseline: the cheapest RPC (GetLogInfo, no storage), `per` calls by each of 64 tasks in
/// flight; returns the rate.
async fn get_log_info_load(clients: &Clients, per: u64) -> Result<f64> {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..64usize {
        let mut c = clients[w % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per {
                c.get_log_info(pb::GetLogInfoRequest {}).await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((per * 64) as f64 / t.elapsed().as_secs_f64())
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
