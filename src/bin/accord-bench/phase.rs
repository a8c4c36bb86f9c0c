//! A measured phase: baselines right before and right after it (the 2-thread verify_strict rate and the
//! no-op RPC rate through the same lean client), the CPU of the server, of this client and of
//! everything else on the machine during it, and its figure as a ratio to the mean of its baselines.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};

use accord::crypto;
use accord::pb;

use crate::child::{Meter, Usage};
use crate::lean::Lean;
use crate::load::{info_load, raw_verify_rate};

/// What a measurement needs: the clients, the server's pid, the baseline's envelopes and key.
pub(crate) struct Ctx {
    pub(crate) clients: Vec<Lean>,
    pub(crate) server_pid: u32,
    pub(crate) verify_envs: Arc<Vec<pb::Envelope>>,
    pub(crate) verify_key: crypto::PublicKey,
    /// Length of each of the two baseline measurements.
    pub(crate) baseline_secs: f64,
}

/// The two same-run baselines, taken together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Baseline {
    /// verify_strict per second on 2 threads (no server work).
    pub(crate) verify_per_s: f64,
    /// GetLogInfo per second, 64 in flight through the lean client.
    pub(crate) info_per_s: f64,
    /// The CPU during the GetLogInfo baseline (per call: the transport's cost on each side).
    info_usage: Usage,
    info_calls: u64,
    /// Cores busy with other work during the verify_strict baseline.
    verify_other_cores: f64,
}

impl Baseline {
    fn json(&self) -> Value {
        json!({
            "verify_strict_per_s_2_threads": self.verify_per_s.round(),
            "verify_strict_other_cores_busy": (self.verify_other_cores * 100.0).round() / 100.0,
            "get_log_info_per_s": self.info_per_s.round(),
            "get_log_info": self.info_usage.json(self.info_calls),
        })
    }
}

/// Which baseline a figure is a ratio to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Against {
    /// Writes: signature checking is the physical bound.
    VerifyStrict,
    /// Reads and unary calls: the transport is.
    GetLogInfo,
}

/// One measured figure with its baselines and CPU.
pub(crate) struct Figure {
    pub(crate) name: String,
    pub(crate) ops: u64,
    pub(crate) usage: Usage,
    pub(crate) before: Option<Baseline>,
    pub(crate) after: Baseline,
    pub(crate) against: Against,
    pub(crate) extra: Value,
}

impl Ctx {
    /// Both baselines, `baseline_secs` each: verify_strict on 2 threads, then GetLogInfo x64 in flight.
    pub(crate) async fn baseline(&self) -> Result<Baseline> {
        let (envs, key, secs) = (self.verify_envs.clone(), self.verify_key, self.baseline_secs);
        let m = Meter::start(self.server_pid);
        let verify_per_s = tokio::task::spawn_blocking(move || raw_verify_rate(&envs, &key, secs)).await?;
        let verify_other_cores = m.stop().other_cores;
        let m = Meter::start(self.server_pid);
        let info_calls = info_load(&self.clients, 64, Instant::now() + Duration::from_secs_f64(secs)).await?;
        let info_usage = m.stop();
        Ok(Baseline {
            verify_per_s,
            info_per_s: info_calls as f64 / info_usage.secs,
            info_usage,
            info_calls,
            verify_other_cores,
        })
    }

    /// Run `work` (which returns its operation count and extra JSON) between two baselines (only the
    /// one after when `before` is false), metering the CPU while it runs.
    pub(crate) async fn measured(
        &self,
        name: impl Into<String>,
        against: Against,
        before: bool,
        work: impl Future<Output = Result<(u64, Value)>>,
    ) -> Result<Figure> {
        let name = name.into();
        let before = if before { Some(self.baseline().await?) } else { None };
        let m = Meter::start(self.server_pid);
        let (ops, extra) = work.await?;
        let usage = m.stop();
        let after = self.baseline().await?;
        let f = Figure { name, ops, usage, before, after, against, extra };
        eprintln!("bench: {}", f.row());
        Ok(f)
    }
}

impl Figure {
    fn per_s(&self) -> f64 {
        self.ops as f64 / self.usage.secs.max(1e-9)
    }

    /// The mean of the baselines before and after (the after alone when there is none before).
    fn mean(&self, pick: fn(&Baseline) -> f64) -> f64 {
        match &self.before {
            Some(b) => (pick(b) + pick(&self.after)) / 2.0,
            None => pick(&self.after),
        }
    }

    fn ratio(&self, pick: fn(&Baseline) -> f64) -> f64 {
        (self.per_s() / self.mean(pick).max(1e-9) * 1000.0).round() / 1000.0
    }

    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "ops": self.ops,
            "per_s": self.per_s().round(),
            "ratio_to": match self.against { Against::VerifyStrict => "verify_strict", Against::GetLogInfo => "get_log_info" },
            "ratio_to_verify_strict": self.ratio(|b| b.verify_per_s),
            "ratio_to_get_log_info": self.ratio(|b| b.info_per_s),
            "cpu": self.usage.json(self.ops),
            "baseline_before": self.before.map(|b| b.json()),
            "baseline_after": self.after.json(),
        });
        if let (Value::Object(m), Value::Object(x)) = (&mut v, &self.extra) {
            m.extend(x.clone());
        }
        v
    }

    /// One line of the table: the figure, its baselines before/after, the ratio, CPU per op, other CPU.
    pub(crate) fn row(&self) -> String {
        let pair = |pick: fn(&Baseline) -> f64| match &self.before {
            Some(b) => format!("{:>6.0}/{:<6.0}", pick(b), pick(&self.after)),
            None => format!("{:>6}/{:<6.0}", "-", pick(&self.after)),
        };
        let (ratio, to) = match self.against {
            Against::VerifyStrict => (self.ratio(|b| b.verify_per_s), "verify"),
            Against::GetLogInfo => (self.ratio(|b| b.info_per_s), "info"),
        };
        let per = |s: f64| s * 1e6 / self.ops.max(1) as f64;
        format!(
            "{:<42} {:>8.0} {} {} {:>6.3}x {:<6} {:>7.1} {:>7.1} {:>6.2}{}",
            self.name,
            self.per_s(),
            pair(|b| b.verify_per_s),
            pair(|b| b.info_per_s),
            ratio,
            to,
            per(self.usage.server_s),
            per(self.usage.client_s),
            self.usage.other_cores,
            if self.usage.other_significant() { " !" } else { "" },
        )
    }
}

/// The table header matching [`Figure::row`].
pub(crate) fn header() -> String {
    format!(
        "{:<42} {:>8} {:>13} {:>13} {:>14} {:>7} {:>7} {:>6}\n{:<42} {:>8} {:>13} {:>13} {:>14} {:>7} {:>7} {:>6}",
        "figure",
        "per s",
        "verify_strict",
        "GetLogInfo",
        "ratio to mean",
        "server",
        "client",
        "other",
        "",
        "",
        "before/after",
        "before/after",
        "of baselines",
        "µs/op",
        "µs/op",
        "cores",
    )
}
