//! Prometheus metrics: a small registry of counters, gauges and histograms on atomics, rendered in the text
//! exposition format at `/metrics`. A series is found by formatting its labels and looking them up under the
//! registry's lock; the per-request series (every RPC records one) are kept by method and code after their
//! first use, so that a request costs a read lock, a hash lookup and two atomic additions.
//!
//! Label values come from fixed sets (served gRPC methods or "other", status codes, statement kinds), so the
//! registry cannot grow with what clients send; as a last guard each metric keeps at most [`MAX_SERIES`]
//! label sets and counts the rest under `overflow="true"`.
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

/// Histogram bucket upper bounds in seconds (latencies).
const SECONDS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Bucket upper bounds for batch sizes (entries per commit).
const SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// Most label sets per metric name.
pub const MAX_SERIES: usize = 1024;

/// The key of a series: a new label set of a metric already at [`MAX_SERIES`] becomes the overflow series.
fn series_key<V>(m: &BTreeMap<(&'static str, String), V>, name: &'static str, l: String) -> (&'static str, String) {
    let key = (name, l);
    if m.contains_key(&key) {
        return key;
    }
    let n = m.range((name, String::new())..).take_while(|((k, _), _)| *k == name).take(MAX_SERIES).count();
    if n >= MAX_SERIES {
        (name, "overflow=\"true\"".to_string())
    } else {
        key
    }
}

#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket: in the first bound at or above the value (none above the last bound);
    /// rendered cumulatively.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum in micro-units (µs for seconds, units × 1e6 for sizes), to stay integral.
    sum_micro: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micro: AtomicU64::new(0),
        }
    }
    fn observe(&self, v: f64) {
        if let Some((_, c)) = self.bounds.iter().zip(&self.buckets).find(|(b, _)| v <= **b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micro.fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Every family the registry renders, in order: name, type and help. Each rendered family has its `# HELP`
/// and `# TYPE` lines, also before its first sample; names carry their unit (`_seconds`, `_bytes`) and
/// counters end in `_total` (Prometheus naming).
const FAMILIES: &[(&str, &str, &str)] = &[
    ("accord_entries_total", "counter", "Log entries committed, by statement kind."),
    ("accord_requests_total", "counter", "gRPC requests answered, by method and canonical status code."),
    ("accord_rejections_total", "counter", "Submissions refused, by method and canonical gRPC status code."),
    (
        "accord_connections_refused_total",
        "counter",
        "Connections closed at accept because max_connections were open, by port.",
    ),
    (
        "accord_cosignature_store_failures_total",
        "counter",
        "Verified witness cosignatures that could not be stored (not served; asked for again).",
    ),
    (
        "accord_witness_failures_total",
        "counter",
        "Checkpoint (and map checkpoint: reason map) submissions to a witness that did not bring a cosignature, by witness URL and reason.",
    ),
    ("accord_request_seconds", "histogram", "gRPC request latency in seconds, by method."),
    ("accord_commit_batch_entries", "histogram", "Entries integrated per group commit."),
    ("accord_commit_seconds", "histogram", "Transaction time per group commit in seconds."),
];

/// Why a witness submission failed (the `reason` label of `accord_witness_failures_total`); `map` counts
/// every failed submission of a map checkpoint, whatever its cause (the log shows which).
pub const WITNESS_FAILURE_REASONS: &[&str] = &["unreachable", "refused", "larger_tree", "proof", "store", "map"];

/// Status codes a submission is refused with, pre-initialised per submit method.
const REJECTION_CODES: &[&str] = &[
    "INVALID_ARGUMENT",
    "PERMISSION_DENIED",
    "FAILED_PRECONDITION",
    "ALREADY_EXISTS",
    "RESOURCE_EXHAUSTED",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
];

/// The process-wide registry.
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), &'static AtomicU64>>,
    histograms: Mutex<BTreeMap<(&'static str, String), &'static Histogram>>,
    /// The request counter and latency histogram of each (method, code) seen, at most [`MAX_SERIES`].
    requests: RwLock<HashMap<(&'static str, &'static str), RequestSeries>>,
}

type RequestSeries = (&'static AtomicU64, &'static Histogram);

/// The registry (created on first use, its series that take no outside label values at 0).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::empty)
}

fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")))
        .collect::<Vec<_>>()
        .join(",")
}

impl Metrics {
    /// A registry with the series that take no label values from the outside at 0.
    fn empty() -> Self {
        let m = Self {
            counters: Mutex::new(BTreeMap::new()),
            histograms: Mutex::new(BTreeMap::new()),
            requests: RwLock::new(HashMap::new()),
        };
        m.counter("accord_cosignature_store_failures_total", &[]);
        for port in ["grpc", "http"] {
            m.counter("accord_connections_refused_total", &[("port", port)]);
        }
        m.histogram("accord_commit_batch_entries", &[], SIZES);
        m.histogram("accord_commit_seconds", &[], SECONDS);
        m
    }
    fn counter(&self, name: &'static str, l: &[(&str, &str)]) -> &'static AtomicU64 {
        let mut m = crate::sync::lock(&self.counters);
        let key = series_key(&m, name, labels(l));
        m.entry(key).or_insert_with(|| Box::leak(Box::new(AtomicU64::new(0))))
    }
    fn histogram(&self, name: &'static str, l: &[(&str, &str)], bounds: &'static [f64]) -> &'static Histogram {
        let mut m = crate::sync::lock(&self.histograms);
        let key = series_key(&m, name, labels(l));
        m.entry(key).or_insert_with(|| Box::leak(Box::new(Histogram::new(bounds))))
    }

    /// Start the per-kind entry counters at 0, so that a rate over a kind never seen yet is 0, not absent.
    pub fn preinit_kinds<'a>(&self, kinds: impl Iterator<Item = &'a str>) {
        for kind in kinds {
            self.counter("accord_entries_total", &[("kind", kind)]);
        }
    }
    /// Start the request series of the served methods at 0 (`code="OK"` and the latency histogram), and the
    /// rejection series of the submit methods for the codes a submission is refused with.
    pub fn preinit_methods<'a>(&self, methods: impl Iterator<Item = &'a str>) {
        for method in methods {
            self.counter("accord_requests_total", &[("method", method), ("code", "OK")]);
            self.histogram("accord_request_seconds", &[("method", method)], SECONDS);
            if method.ends_with("/Submit") || method.ends_with("/SubmitBatch") {
                for code in REJECTION_CODES {
                    self.counter("accord_rejections_total", &[("method", method), ("code", code)]);
                }
            }
        }
    }
    /// Start the failure counters of a configured witness at 0, one per reason.
    pub fn preinit_witness(&self, witness: &str) {
        for reason in WITNESS_FAILURE_REASONS {
            self.counter("accord_witness_failures_total", &[("witness", witness), ("reason", reason)]);
        }
    }

    /// `n` committed log entries of one statement kind.
    pub fn entries_committed(&self, kind: &str, n: u64) {
        self.counter("accord_entries_total", &[("kind", kind)]).fetch_add(n, Ordering::Relaxed);
    }
    /// A refused submission, by canonical gRPC code (`INVALID_ARGUMENT`, ...).
    pub fn rejected(&self, method: &str, code: &str) {
        self.counter("accord_rejections_total", &[("method", method), ("code", code)]).fetch_add(1, Ordering::Relaxed);
    }
    /// A connection closed at accept because the port had `max_connections` open.
    pub fn connection_refused(&self, port: &str) {
        self.counter("accord_connections_refused_total", &[("port", port)]).fetch_add(1, Ordering::Relaxed);
    }
    /// A verified witness cosignature that could not be stored (so it is not served).
    pub fn cosignature_store_failed(&self) {
        self.counter("accord_cosignature_store_failures_total", &[]).fetch_add(1, Ordering::Relaxed);
    }
    /// A checkpoint submission to a witness that failed, with one of [`WITNESS_FAILURE_REASONS`].
    pub fn witness_failed(&self, witness: &str, reason: &str) {
        self.counter("accord_witness_failures_total", &[("witness", witness), ("reason", reason)])
            .fetch_add(1, Ordering::Relaxed);
    }
    /// One group commit: its size and how long the transaction took.
    pub fn commit(&self, entries: usize, seconds: f64) {
        self.histogram("accord_commit_batch_entries", &[], SIZES).observe(entries as f64);
        self.histogram("accord_commit_seconds", &[], SECONDS).observe(seconds);
    }
    /// One gRPC request: method (one of the served methods or "other"), canonical status code and latency.
    pub fn request(&self, method: &'static str, code: &'static str, seconds: f64) {
        let known = crate::sync::read(&self.requests).get(&(method, code)).copied();
        let (count, latency) = known.unwrap_or_else(|| {
            let series = (
                self.counter("accord_requests_total", &[("method", method), ("code", code)]),
                self.histogram("accord_request_seconds", &[("method", method)], SECONDS),
            );
            let mut requests = crate::sync::write(&self.requests);
            if requests.len() < MAX_SERIES {
                requests.insert((method, code), series);
            }
            series
        });
        count.fetch_add(1, Ordering::Relaxed);
        latency.observe(seconds);
    }

    /// The text exposition: the gauges given by the caller (name, help, value), `accord_build_info`, the
    /// process metrics, then every family of the registry, each with its HELP and TYPE.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP accord_build_info The running build: version and compiler; always 1.\n\
             # TYPE accord_build_info gauge\naccord_build_info{{{}}} 1",
            labels(&[
                ("version", env!("CARGO_PKG_VERSION")),
                ("rustc", option_env!("ACCORD_RUSTC_VERSION").unwrap_or("unknown")),
            ])
        );
        for (name, kind, help, v) in process::sample() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        let counters = crate::sync::lock(&self.counters);
        let hs = crate::sync::lock(&self.histograms);
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let family = |(n, _): &&(&str, String)| n == name;
            for ((_, l), c) in counters.range((*name, String::new())..).take_while(|(k, _)| family(k)) {
                let _ = writeln!(out, "{name}{} {}", braces(l), c.load(Ordering::Relaxed));
            }
            for ((_, l), h) in hs.range((*name, String::new())..).take_while(|(k, _)| family(k)) {
                let sep = if l.is_empty() { "" } else { "," };
                let mut cumulative = 0u64;
                for (b, c) in h.bounds.iter().zip(&h.buckets) {
                    cumulative = cumulative.saturating_add(c.load(Ordering::Relaxed));
                    let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{b}\"}} {cumulative}");
                }
                // Read after the buckets: an observation counted in a bucket but not yet in `count` still
                // renders a +Inf bucket no smaller than the last one.
                let count = h.count.load(Ordering::Relaxed).max(cumulative);
                let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {count}");
                let _ = writeln!(out, "{name}_sum{} {}", braces(l), h.sum_micro.load(Ordering::Relaxed) as f64 / 1e6);
                let _ = writeln!(out, "{name}_count{} {count}", braces(l));
            }
        }
        out
    }
}

/// `{labels}`, or nothing for a series without labels.
fn braces(l: &str) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("{{{l}}}")
    }
}

/// The standard process metrics of Prometheus client libraries, read from `/proc/self` (Linux; elsewhere
/// none are rendered).
mod process {
    /// Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on every Linux architecture).
    const TICKS: f64 = 100.0;

    /// (name, type, help, value) of each process metric that could be read.
    pub(super) fn sample() -> Vec<(&'static str, &'static str, &'static str, f64)> {
        let mut out = Vec::new();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command name (which may hold spaces), from field 3 (state): utime is field 14,
        // stime 15, starttime 22 (proc(5)).
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        let field = |n: usize| fields.get(n.wrapping_sub(3)).and_then(|f| f.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (field(14), field(15)) {
            out.push((
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (u + s) / TICKS,
            ));
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map(|k| k * 1024.0)
        };
        if let Some(v) = kib("VmRSS:") {
            out.push(("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", v));
        }
        if let Some(v) = kib("VmSize:") {
            out.push(("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", v));
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            out.push(("process_open_fds", "gauge", "Number of open file descriptors.", dir.count() as f64));
        }
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let max_fds = limits
            .lines()
            .find_map(|l| l.strip_prefix("Max open files"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = max_fds {
            out.push(("process_max_fds", "gauge", "Maximum number of open file descriptors.", v));
        }
        let btime = std::fs::read_to_string("/proc/stat")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let (Some(boot), Some(start)) = (btime, field(22)) {
            out.push((
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                boot + start / TICKS,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_and_cumulative_buckets() {
        let m = Metrics::empty();
        m.entries_committed("pledge.announced", 1);
        m.entries_committed("pledge.announced", 1);
        m.commit(3, 0.002);
        let t = m.render(&[("accord_tree_size", "entries", 7.0)]);
        assert!(t.contains("accord_tree_size 7"));
        assert!(t.contains("accord_entries_total{kind=\"pledge.announced\"} 2"));
        assert!(t.contains("accord_commit_batch_entries_bucket{le=\"2\"} 0"));
        assert!(t.contains("accord_commit_batch_entries_bucket{le=\"4\"} 1"));
        assert!(t.contains("accord_commit_seconds_count 1"));
    }

    #[test]
    fn requests_count_once_each_after_their_series_are_kept() {
        let m = Metrics::empty();
        for secs in [0.0007, 0.003, 0.003, 20.0] {
            m.request("/accord.v1.LedgerService/Submit", "OK", secs);
        }
        m.request("/accord.v1.LedgerService/Submit", "NOT_FOUND", 0.0001);
        let t = m.render(&[]);
        let method = "method=\"/accord.v1.LedgerService/Submit\"";
        assert!(t.contains(&format!("accord_requests_total{{{method},code=\"OK\"}} 4")), "{t}");
        assert!(t.contains(&format!("accord_requests_total{{{method},code=\"NOT_FOUND\"}} 1")), "{t}");
        assert!(t.contains(&format!("accord_request_seconds_bucket{{{method},le=\"0.0005\"}} 1")), "{t}");
        assert!(t.contains(&format!("accord_request_seconds_bucket{{{method},le=\"0.001\"}} 2")), "{t}");
        assert!(t.contains(&format!("accord_request_seconds_bucket{{{method},le=\"0.005\"}} 4")), "{t}");
        assert!(t.contains(&format!("accord_request_seconds_bucket{{{method},le=\"10\"}} 4")), "{t}");
        assert!(t.contains(&format!("accord_request_seconds_bucket{{{method},le=\"+Inf\"}} 5")), "{t}");
        assert!(t.contains(&format!("accord_request_seconds_count{{{method}}} 5")), "{t}");
    }

    #[test]
    fn label_sets_per_metric_are_capped() {
        let m = Metrics::empty();
        m.entries_committed("charter", 1);
        for i in 0..5000 {
            m.request(Box::leak(format!("/x/{i}").into_boxed_str()), "UNIMPLEMENTED", 0.001);
        }
        let t = m.render(&[]);
        assert!(t.contains("accord_entries_total{kind=\"charter\"} 1"), "other metrics keep their series");
        assert!(t.contains("accord_requests_total{overflow=\"true\"}"), "{}", &t[..2000]);
        assert!(t.lines().filter(|l| l.starts_with("accord_requests_total")).count() <= MAX_SERIES + 1);
    }
}
