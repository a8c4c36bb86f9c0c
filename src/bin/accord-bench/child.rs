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
    /// The public HTTP port (page and tlog-tiles), when started with one.
    pub(crate) http: Option<String>,
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
    start_server_with(exe, dir, sync, &[]).await
}

/// [`start_server`] with more `serve` arguments (e.g. `--http 127.0.0.1:0`).
pub(crate) async fn start_server_with(
    exe: &std::path::Path,
    dir: &std::path::Path,
    sync: &str,
    extra: &[&str],
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
        .args(extra)
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
    let http = v["http"].as_str().map(|h| h.to_string());
    Ok((Server { child, addr, http }, t.elapsed()))
}

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const HZ: f64 = 100.0;

/// CPU ticks (user + system) of a process, from /proc (10 ms resolution).
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// Busy ticks of the whole machine (user, nice, system, irq, softirq, steal; guest time is inside user)
/// and its number of cores, from /proc/stat.
fn machine_busy_ticks() -> (u64, usize) {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else { return (0, 1) };
    let cores = s.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count().max(1);
    let f: Vec<u64> =
        s.lines().next().unwrap_or("").split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    (at(0) + at(1) + at(2) + at(5) + at(6) + at(7), cores)
}

/// Where the CPU went during one measurement: the server, this load generator, everything else.
pub(crate) struct Meter {
    server: u32,
    t: Instant,
    server0: u64,
    own0: u64,
    machine0: u64,
}

/// What a [`Meter`] saw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) secs: f64,
    /// CPU seconds of the server process.
    pub(crate) server_s: f64,
    /// CPU seconds of this process (the client).
    pub(crate) client_s: f64,
    /// Cores kept busy by everything else on the machine (its busy time minus the server's and ours).
    pub(crate) other_cores: f64,
    pub(crate) machine_cores: usize,
}

impl Meter {
    pub(crate) fn start(server: u32) -> Self {
        Self {
            server,
            t: Instant::now(),
            server0: cpu_ticks(server),
            own0: cpu_ticks(std::process::id()),
            machine0: machine_busy_ticks().0,
        }
    }

    pub(crate) fn stop(&self) -> Usage {
        let secs = self.t.elapsed().as_secs_f64();
        let server = cpu_ticks(self.server).saturating_sub(self.server0);
        let own = cpu_ticks(std::process::id()).saturating_sub(self.own0);
        let (machine, cores) = machine_busy_ticks();
        let other = machine.saturating_sub(self.machine0).saturating_sub(server + own);
        Usage {
            secs,
            server_s: server as f64 / HZ,
            client_s: own as f64 / HZ,
            other_cores: other as f64 / HZ / secs.max(1e-9),
            machine_cores: cores,
        }
    }
}

impl Usage {
    /// Everything else's share, and whether it is large enough to distort the figure (over 5 % of the
    /// machine).
    pub(crate) fn other_significant(&self) -> bool {
        self.other_cores > 0.05 * self.machine_cores as f64
    }

    /// The CPU figures per operation, as JSON.
    pub(crate) fn json(&self, ops: u64) -> serde_json::Value {
        let per = |s: f64| (s * 1e6 / ops.max(1) as f64 * 10.0).round() / 10.0;
        json!({
            "seconds": (self.secs * 1000.0).round() / 1000.0,
            "server_cpu_us_per_op": per(self.server_s),
            "client_cpu_us_per_op": per(self.client_s),
            "server_cores_busy": (self.server_s / self.secs * 100.0).round() / 100.0,
            "client_cores_busy": (self.client_s / self.secs * 100.0).round() / 100.0,
            "other_cores_busy": (self.other_cores * 100.0).round() / 100.0,
            "other_pct_of_machine": (self.other_cores / self.machine_cores as f64 * 1000.0).round() / 10.0,
            "other_cpu_significant": self.other_significant(),
            "machine_cores": self.machine_cores,
        })
    }
}

/// Resident memory of a process in KiB, from /proc.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// The ledger's bytes on disk after the server stopped (its close should have checkpointed the WAL): the
/// database and whatever WAL remains, each file named in the JSON with its size, the WAL's bytes and the
/// database alone per entry apart (a WAL left over shows), and the other files of the data directory
/// listed but not counted.
pub(crate) fn disk_json(dir: &std::path::Path, entries: u64) -> serde_json::Value {
    // The data directory's database files (accord::ledger::DB_FILE and PROJECTIONS_FILE; src/bin names only
    // the public API).
    const COUNTED: [&str; 4] = ["ledger.db", "ledger.db-wal", "projections.db", "projections.db-wal"];
    let mut counted = serde_json::Map::new();
    let mut other = serde_json::Map::new();
    let mut total = 0u64;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let (name, len) = (e.file_name().to_string_lossy().into_owned(), e.metadata().map(|m| m.len()).unwrap_or(0));
        if COUNTED.contains(&name.as_str()) {
            total += len;
            counted.insert(name, len.into());
        } else {
            other.insert(name, len.into());
        }
    }
    let wal = ["ledger.db-wal", "projections.db-wal"]
        .iter()
        .filter_map(|f| counted.get(*f).and_then(|v| v.as_u64()))
        .sum::<u64>();
    json!({"files_counted": counted, "files_not_counted": other, "bytes": total,
           "bytes_per_entry": total / entries.max(1), "wal_bytes_left": wal,
           "db_bytes_per_entry": total.saturating_sub(wal) / entries.max(1)})
}

/// Stop the server gracefully with SIGTERM (tokio's start_kill would send SIGKILL) and wait for it to exit,
/// at most 30 s.
///
/// Returns how it went, as JSON: milliseconds to exit and the exit status (null when it did not exit).
pub(crate) async fn stop(pid: u32, mut child: Child) -> serde_json::Value {
    let t = Instant::now();
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.ok().and_then(|r| r.ok());
    json!({"stop_ms": t.elapsed().as_millis(), "exit_code": status.and_then(|s| s.code())})
}
