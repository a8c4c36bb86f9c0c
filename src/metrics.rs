//! Prometheus metrics: a small registry of counters, gauges and histograms on atomics (no locks on the hot
//! path except the first use of a new label set), rendered in the text exposition format at `/metrics`.
//!
//! Label values come from fixed sets (served gRPC methods or "other", status codes, statement kinds), so the
//! registry cannot grow with what clients send; as a last guard each metric keeps at most [`MAX_SERIES`]
//! label sets and counts the rest under `overflow="true"`.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

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
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            if v <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micro.fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }
}

/// The process-wide registry.
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), &'static AtomicU64>>,
    histograms: Mutex<BTreeMap<(&'static str, String), &'static Histogram>>,
}

/// The registry (created on first use).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| Metrics { counters: Mutex::new(BTreeMap::new()), histograms: Mutex::new(BTreeMap::new()) })
}

fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(",")
}

impl Metrics {
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

    /// `n` committed log entries of one statement kind.
    pub fn entries_committed(&self, kind: &str, n: u64) {
        self.counter("accord_entries_total", &[("kind", kind)]).fetch_add(n, Ordering::Relaxed);
    }
    /// A refused submission, by gRPC code.
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
    /// One group commit: its size and how long the transaction took.
    pub fn commit(&self, entries: usize, seconds: f64) {
        self.histogram("accord_commit_batch_entries", &[], SIZES).observe(entries as f64);
        self.histogram("accord_commit_seconds", &[], SECONDS).observe(seconds);
    }
    /// One gRPC request: method, status code and latency.
    pub fn request(&self, method: &str, code: &str, seconds: f64) {
        self.counter("accord_requests_total", &[("method", method), ("code", code)]).fetch_add(1, Ordering::Relaxed);
        self.histogram("accord_request_seconds", &[("method", method)], SECONDS).observe(seconds);
    }

    /// The text exposition, with the gauges given by the caller (name, help, value).
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters = crate::sync::lock(&self.counters);
        let mut last = "";
        for ((name, l), c) in counters.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{l}}} {}", c.load(Ordering::Relaxed));
        }
        drop(counters);
        let hs = crate::sync::lock(&self.histograms);
        let mut last = "";
        for ((name, l), h) in hs.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} histogram");
                last = name;
            }
            let sep = if l.is_empty() { "" } else { "," };
            for (b, c) in h.bounds.iter().zip(&h.buckets) {
                let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{b}\"}} {}", c.load(Ordering::Relaxed));
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.sum_micro.load(Ordering::Relaxed) as f64 / 1e6);
            let _ = writeln!(out, "{name}_count{{{l}}} {count}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_and_cumulative_buckets() {
        let m = Metrics { counters: Mutex::new(BTreeMap::new()), histograms: Mutex::new(BTreeMap::new()) };
        m.entries_committed("pledge.announced", 1);
        m.entries_committed("pledge.announced", 1);
        m.commit(3, 0.002);
        let t = m.render(&[("accord_tree_size", "entries", 7.0)]);
        assert!(t.contains("accord_tree_size 7"));
        assert!(t.contains("accord_entries_total{kind=\"pledge.announced\"} 2"));
        assert!(t.contains("accord_commit_batch_entries_bucket{le=\"2\"} 0"));
        assert!(t.contains("accord_commit_batch_entries_bucket{le=\"4\"} 1"));
        assert!(t.contains("accord_commit_seconds_count{} 1"));
    }

    #[test]
    fn label_sets_per_metric_are_capped() {
        let m = Metrics { counters: Mutex::new(BTreeMap::new()), histograms: Mutex::new(BTreeMap::new()) };
        m.entries_committed("charter", 1);
        for i in 0..5000 {
            m.request(&format!("/x/{i}"), "Unimplemented", 0.001);
        }
        let t = m.render(&[]);
        assert!(t.contains("accord_entries_total{kind=\"charter\"} 1"), "other metrics keep their series");
        assert!(t.contains("accord_requests_total{overflow=\"true\"}"), "{}", &t[..2000]);
        assert!(t.lines().filter(|l| l.starts_with("accord_requests_total")).count() <= MAX_SERIES + 1);
    }
}
