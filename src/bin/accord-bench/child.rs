//! The server under test: an `accord serve` child process started in a data directory, stopped with
//! SIGTERM, and its CPU time, memory and disk use read from /proc and the file system.
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use accord::pb::{self, ledger_service_client::LedgerServiceClient};

use crate::BenchArgs;

/// A running `accord serve` and the address it listens on.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

/// The `accord` binary: `--accord`, else the one in this binary's directory (cargo builds both there).
pub(crate) fn accord_exe(a: &BenchArgs) -> Result<PathBuf> {
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

pub(crate) async fn start_server(
    exe: &std::path::Path,
    dir: &std::path::Path,
    sync: &str,
) -> Result<(Server, Duration)> {
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
pub(crate) struct CpuMeter {
    server: u32,
    start: (u64, u64),
}

impl CpuMeter {
    pub(crate) fn start(server: u32) -> Self {
        Self { server, start: (cpu_us(server), cpu_us(std::process::id())) }
    }
    pub(crate) fn per_op(&self, ops: u64) -> serde_json::Value {
        let s = cpu_us(self.server).saturating_sub(self.start.0) as f64 / ops.max(1) as f64;
        let c = cpu_us(std::process::id()).saturating_sub(self.start.1) as f64 / ops.max(1) as f64;
        json!({"server_cpu_us_per_op": s.round(), "loadgen_cpu_us_per_op": c.round()})
    }
}

/// Resident memory of a process in KiB, from /proc.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Bytes of the files directly in `dir`.
pub(crate) fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// Stop the server gracefully with SIGTERM (tokio's start_kill would send SIGKILL) and wait for it to exit,
/// at most 30 s.
pub(crate) async fn stop(pid: u32, mut child: Child) {
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
}
