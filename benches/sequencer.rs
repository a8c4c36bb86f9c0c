//! The sequencer alone (issue 14): per-entry time of `Ledger::submit` for batches of 256 envelopes
//! prepared beforehand (decoding, field rules and verify_strict done before the clock starts), on a
//! ledger of ~100k entries and of ~1M, for the `plan` workload (independent `plan.created` statements)
//! and the `mixed` one (the coalition of `accord::workload::generate`: at these sizes its timed batches
//! are the ledger's steady state, disbursements against gated tranches and the odd progress report).
//! In process, no gRPC; synchronous=FULL. Beside criterion's time, each run prints the CPU the
//! `accord-sequencer` thread used per entry (from /proc/self/task), the metric, and the CPU of the
//! `accord-project` thread that writes the subject projections beside it.
//!
//! The ledger is filled to each size untimed first; the timed batches then grow it (by a few tens of
//! thousands of entries: the printout gives the range). Sizes and time:
//! `ACCORD_BENCH_SEQ_SMALL` (default 100000), `ACCORD_BENCH_SEQ_LARGE` (default 1000000; 0 skips it),
//! `ACCORD_BENCH_SEQ_RESERVE` (mixed statements generated beyond the large size for the timed batches,
//! default 150000), `ACCORD_BENCH_SEQ_WORKLOADS` (default `plan,mixed`). Criterion's options apply:
//! `cargo bench --bench sequencer -- --measurement-time 2 --warm-up-time 0.5`.
//!
//! The verifiable index (issue 17) is measured beside it: after filling, the index catches up (its
//! rebuild rate), and after the timed batches it files those same entries, timed on the bench thread, as
//! a ratio to the sequencer's CPU per entry; for the mixed workload, a complete answer for the pledges of
//! the party that owns the most: bytes and check time against reading and decoding the whole log.
//! Without `--bench` (criterion's test mode) the sizes shrink to 1000 and 2000.
use std::time::{Duration, Instant};

use accord::crypto::PrivateKey;
use accord::ledger::{Clock, Ledger, Options, Prepared};
use accord::{pb, workload};
use criterion::{BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

/// The server's allocator (src/main.rs), so that the sequencer's allocations cost here what they cost there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORIGIN: &str = "bench.example/sequencer";
const BATCH: usize = 256;

/// Where the statements come from.
enum Source {
    /// `plan.created` statements, as many as asked for.
    Plan { key: PrivateKey, next: u64 },
    /// The mixed workload's statements in dependency order.
    Mixed { rest: std::vec::IntoIter<pb::Envelope> },
}

impl Source {
    fn take(&mut self, n: usize) -> Vec<pb::Envelope> {
        match self {
            Source::Plan { key, next } => {
                let from = *next;
                *next += n as u64;
                (from..*next).into_par_iter().map(|i| workload::plan_statement(ORIGIN, "p", i, 300, key)).collect()
            }
            Source::Mixed { rest } => rest.by_ref().take(n).collect(),
        }
    }
}

/// A ledger in a temporary directory, the runtime to await its submissions, the statements to come.
struct Bed {
    rt: tokio::runtime::Runtime,
    ledger: Ledger,
    source: Source,
    _dir: tempfile::TempDir,
}

impl Bed {
    fn open(kind: &str, statements: u64) -> Bed {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options::new(dir.path());
        opts.origin = Some(ORIGIN.into());
        opts.clock = Clock::starting_at(1_811_808_000_000); // 2027-06-01: after every statement's date
        let ledger = Ledger::open(opts).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut bed = match kind {
            "plan" => {
                let key = accord::crypto::generate_key();
                let charter = workload::plan_charter(ORIGIN, &key);
                let bed = Bed { rt, ledger, source: Source::Plan { key, next: 0 }, _dir: dir };
                bed.submit(bed.prepare(&[charter]));
                bed
            }
            _ => {
                let t = Instant::now();
                let w = workload::generate(ORIGIN, statements as usize, 2026);
                eprintln!(
                    "sequencer: mixed workload of {} statements signed in {:.1} s",
                    w.len(),
                    t.elapsed().as_secs_f64()
                );
                let rest: Vec<pb::Envelope> = w.groups.into_iter().flat_map(|g| g.envelopes).collect();
                Bed { rt, ledger, source: Source::Mixed { rest: rest.into_iter() }, _dir: dir }
            }
        };
        bed.fill_to(1);
        bed
    }

    /// The stateless stage, in parallel; keys registered by committed statements are verified here.
    fn prepare(&self, envs: &[pb::Envelope]) -> Vec<Prepared> {
        envs.par_iter().map(|e| self.ledger.prepare(e).unwrap()).collect()
    }

    fn submit(&self, batch: Vec<Prepared>) {
        let done = self.rt.block_on(self.ledger.submit(batch)).unwrap();
        assert!(done.iter().all(|c| !c.duplicate), "a duplicate: the sequencer did no work for it");
    }

    fn size(&self) -> u64 {
        self.ledger.latest().size
    }

    /// Submit statements untimed, 1,024 at a time, until the ledger holds `size` entries.
    fn fill_to(&mut self, size: u64) {
        let t = Instant::now();
        while self.size() < size {
            let n = (size - self.size()).min(1024) as usize;
            let envs = self.source.take(n);
            assert!(!envs.is_empty(), "the mixed workload ran out: raise ACCORD_BENCH_SEQ_RESERVE");
            self.submit(self.prepare(&envs));
        }
        if size > 1 {
            eprintln!("sequencer: filled to {} entries in {:.1} s", self.size(), t.elapsed().as_secs_f64());
        }
    }
}

/// CPU ticks (1/100 s) of this process's `accord-sequencer` thread.
fn sequencer_ticks() -> Option<u64> {
    thread_ticks("accord-sequencer")
}

/// CPU ticks (1/100 s) of this process's thread named `name` (the projector: `accord-project`).
fn thread_ticks(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        // The kernel keeps 15 bytes of a thread's name.
        if comm.trim() == name.get(..15).unwrap_or(name) {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let f: Vec<u64> = stat.rsplit_once(')')?.1.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
            return Some(f.get(11)? + f.get(12)?);
        }
    }
    None
}

/// CPU ticks (1/100 s) of this whole process: every thread, the checkpointers' too.
fn process_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f: Vec<u64> = stat.rsplit_once(')')?.1.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
    Some(f.get(11)? + f.get(12)?)
}

/// CPU ticks (1/100 s) of the calling thread.
fn own_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let f: Vec<u64> = stat.rsplit_once(')')?.1.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
    Some(f.get(11)? + f.get(12)?)
}

/// Bring the verifiable index to the ledger's size on this thread (issue 17: the map's maintenance, off
/// the sequencer's path); returns (entries filed, wall, CPU ticks of this thread).
fn index_catch_up(bed: &Bed) -> (u64, Duration, u64) {
    let before = bed.ledger.index().committed().map_or(0, |c| c.size);
    let ticks = own_ticks();
    let t = Instant::now();
    bed.ledger.index_to_latest().unwrap();
    let wall = t.elapsed();
    (bed.size() - before, wall, own_ticks().zip(ticks).map(|(b, a)| b - a).unwrap_or(0))
}

/// A complete answer for the pledges of the party that owns the most (issue 17): its bytes, the server's
/// time to build it and the client's to check it, against reading and decoding the whole log.
fn complete_query(bed: &Bed) {
    use accord::domain::book::SubjectKind;
    let mut owners = std::collections::BTreeMap::<String, u64>::new();
    bed.ledger
        .read(|v| {
            v.scan_subjects(SubjectKind::Pledge, "", |s| {
                *owners.entry(s.party_id).or_default() += 1;
                Ok(true)
            })
        })
        .unwrap();
    let Some((party, pledges)) = owners.into_iter().max_by_key(|(_, n)| *n) else { return };
    let req = pb::ListRequest {
        kind: "pledge".into(),
        party_id: party.clone(),
        complete: true,
        with_proofs: true,
        ..Default::default()
    };
    let t = Instant::now();
    let resp = loop {
        let answer = bed
            .ledger
            .snapshot(|v| accord::query::complete::list_complete(v, bed.ledger.index(), SubjectKind::Pledge, &req));
        if let Some(r) = answer.unwrap() {
            break r;
        }
    };
    let build = t.elapsed();
    let bytes = prost::Message::encoded_len(&resp);
    let gov = bed.ledger.read(|v| v.governance()).unwrap();
    let log = accord::crypto::StrictNoteVerifier::from_verifier_key(bed.ledger.verifier_key()).unwrap();
    let t = Instant::now();
    let at = resp.read_at.as_ref().unwrap();
    accord::client::verify_items(&log, at, &resp.items).unwrap();
    let proven = accord::vindex::verify::verify_complete(&log, SubjectKind::Pledge, &req, &resp, &|k| {
        gov.keys.get(k).map(|r| r.party_id.clone())
    })
    .unwrap();
    let check = t.elapsed();
    // The alternative: every leaf read and every statement decoded, to find the pledges by scanning.
    let t = Instant::now();
    let (mut log_bytes, mut next) = (0usize, 0u64);
    while next < bed.size() {
        let rows = bed.ledger.read(|v| v.entries(next, bed.size(), 10_000)).unwrap();
        for r in &rows {
            log_bytes += r.leaf.len();
            accord::proto::signed_statement_of_leaf(&r.leaf).unwrap();
        }
        next = rows.last().map_or(bed.size(), |r| r.index + 1);
    }
    let scan = t.elapsed();
    eprintln!(
        "index/complete: the {pledges} pledges of {party} at {} entries: {bytes} bytes ({} entries, lists {:?}), built in \
         {:.1} ms, checked in {:.1} ms; the whole log: {log_bytes} bytes of leaves, read and decoded in {:.1} ms: \
         {:.0}× less data, {:.1}× less client time",
        bed.size(),
        proven.entries,
        proven.lists,
        build.as_secs_f64() * 1e3,
        check.as_secs_f64() * 1e3,
        scan.as_secs_f64() * 1e3,
        log_bytes as f64 / bytes.max(1) as f64,
        scan.as_secs_f64() / check.as_secs_f64().max(1e-9),
    );
}

/// Entries, sequencer and projector CPU ticks and wall time of the timed batches of one benchmark.
#[derive(Default)]
struct Spent {
    entries: u64,
    ticks: u64,
    projector: u64,
    process: u64,
    wall: Duration,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One benchmark: `bed` filled to `size`, then batches of 256 prepared beforehand and submitted timed.
fn bench_at(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    bed: &mut Bed,
    kind: &str,
    size: u64,
) {
    bed.fill_to(size);
    let (n, wall, ticks) = index_catch_up(bed);
    eprintln!(
        "index/{kind}/{size}: caught up {n} entries in {:.1} s ({:.1} µs wall, {:.1} µs CPU per entry)",
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / n.max(1) as f64,
        ticks as f64 * 1e4 / n.max(1) as f64
    );
    let from = bed.size();
    let mut spent = Spent::default();
    g.bench_function(BenchmarkId::new(kind, size), |b| {
        b.iter_custom(|iters| {
            let batches: Vec<Vec<Prepared>> = (0..iters)
                .map(|_| {
                    let envs = bed.source.take(BATCH);
                    assert_eq!(envs.len(), BATCH, "the mixed workload ran out: raise ACCORD_BENCH_SEQ_RESERVE");
                    bed.prepare(&envs)
                })
                .collect();
            let ticks = sequencer_ticks();
            let projector = thread_ticks("accord-project");
            let process = process_ticks();
            let t = Instant::now();
            for batch in batches {
                bed.submit(batch);
            }
            let wall = t.elapsed();
            // The CPU of the work these batches caused, the projections' too (a read waits for them).
            bed.ledger.read(|_| Ok(())).unwrap();
            spent.entries += iters * BATCH as u64;
            spent.ticks += sequencer_ticks().zip(ticks).map(|(b, a)| b - a).unwrap_or(0);
            spent.projector += thread_ticks("accord-project").zip(projector).map(|(b, a)| b - a).unwrap_or(0);
            spent.process += process_ticks().zip(process).map(|(b, a)| b - a).unwrap_or(0);
            spent.wall += wall;
            wall
        })
    });
    let per = |x: f64| x / spent.entries.max(1) as f64;
    eprintln!(
        "sequencer/{kind}/{size}: ledger {from} → {} entries; {:.1} µs wall, {:.1} µs sequencer-thread CPU, {:.1} µs \
         projector-thread CPU and {:.1} µs process CPU per entry over {} timed entries",
        bed.size(),
        per(spent.wall.as_secs_f64() * 1e6),
        per(spent.ticks as f64 * 1e4),
        per(spent.projector as f64 * 1e4),
        per(spent.process as f64 * 1e4),
        spent.entries,
    );
    // The map's maintenance for the same entries, done after them on this thread.
    let (n, wall, ticks) = index_catch_up(bed);
    let (idx_cpu, seq_cpu) = (ticks as f64 * 1e4 / n.max(1) as f64, per(spent.ticks as f64 * 1e4));
    eprintln!(
        "index/{kind}/{size}: the same {n} entries filed in the index: {:.1} µs wall, {idx_cpu:.1} µs CPU per entry = \
         {:.2} × the sequencer's CPU per entry",
        wall.as_secs_f64() * 1e6 / n.max(1) as f64,
        idx_cpu / seq_cpu.max(1e-9),
    );
    if kind == "mixed" {
        complete_query(bed);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("sequencer: bench");
        return;
    }
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let (small, large) = if bench_mode {
        (env("ACCORD_BENCH_SEQ_SMALL", 100_000), env("ACCORD_BENCH_SEQ_LARGE", 1_000_000))
    } else {
        (1_000, 2_000)
    };
    let reserve = if bench_mode { env("ACCORD_BENCH_SEQ_RESERVE", 150_000) } else { 10_000 };
    let workloads = std::env::var("ACCORD_BENCH_SEQ_WORKLOADS").unwrap_or_else(|_| "plan,mixed".into());
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut g = c.benchmark_group("sequencer");
    g.throughput(Throughput::Elements(BATCH as u64));
    for kind in workloads.split(',').map(str::trim).filter(|k| ["plan", "mixed"].contains(k)) {
        let mut bed = Bed::open(kind, small.max(large) + reserve);
        bench_at(&mut g, &mut bed, kind, small);
        if large > small {
            bench_at(&mut g, &mut bed, kind, large);
        }
    }
    g.finish();
    c.final_summary();
}
