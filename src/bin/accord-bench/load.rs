//! The load itself, through the lean client: SubmitBatch and unary Submit runs of requests encoded
//! beforehand, inclusion proofs, the no-op RPC, the verify_strict baseline and latency percentiles.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;

use accord::crypto;
use accord::pb;

use crate::lean::{encode, Clients};

/// The `p` quantile of sorted latencies, in milliseconds.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Raw verify_strict rate on 2 threads for about `secs` (the write path's physical bound): each thread
/// verifies its half of `envs` over and over until the time is up.
pub(crate) fn raw_verify_rate(envs: &[pb::Envelope], key: &crypto::PublicKey, secs: f64) -> f64 {
    let t = Instant::now();
    let until = t + Duration::from_secs_f64(secs);
    let done: u64 = std::thread::scope(|s| {
        let threads: Vec<_> = envs
            .chunks(envs.len().div_ceil(2).max(1))
            .map(|half| {
                s.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < until {
                        for e in half {
                            assert!(crypto::verify_pae(key, &e.payload_type, &e.payload, &e.signatures[0].sig));
                        }
                        n += half.len() as u64;
                    }
                    n
                })
            })
            .collect();
        threads.into_iter().map(|h| h.join().expect("verifier thread")).sum()
    });
    done as f64 / t.elapsed().as_secs_f64()
}

/// SubmitBatchRequests of `batch` envelopes each, encoded; the envelopes are moved, not cloned.
pub(crate) fn batch_requests(envs: Vec<pb::Envelope>, batch: usize) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(envs.len().div_ceil(batch.max(1)));
    let mut it = envs.into_iter();
    loop {
        let envelopes: Vec<pb::Envelope> = it.by_ref().take(batch.max(1)).collect();
        if envelopes.is_empty() {
            return out;
        }
        out.push(encode(&pb::SubmitBatchRequest { envelopes }));
    }
}

/// One SubmitRequest per envelope, encoded.
pub(crate) fn submit_requests(envs: Vec<pb::Envelope>) -> Vec<Bytes> {
    envs.into_iter().map(|e| encode(&pb::SubmitRequest { envelope: Some(e) })).collect()
}

/// What a SubmitBatch load did: calls, receipts, and receipts the server marked duplicate (work it did
/// not do; a sound run has none).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Batches {
    pub(crate) calls: u64,
    pub(crate) receipts: u64,
    pub(crate) duplicates: u64,
}

/// SubmitBatch of every request, `in_flight` calls at a time, spread over the connections.
pub(crate) async fn batch_load(clients: &Clients, reqs: Vec<Bytes>, in_flight: usize) -> Result<Batches> {
    let queue = Arc::new(std::sync::Mutex::new(reqs.into_iter()));
    let mut tasks = Vec::new();
    for t in 0..in_flight.max(1) {
        let mut c = clients[t % clients.len()].clone();
        let q = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = Batches::default();
            loop {
                let next = accord::sync::lock(&q).next();
                let Some(req) = next else { return Ok::<_, tonic::Status>(done) };
                let reply = c.submit_batch(req).await?;
                done.calls += 1;
                done.receipts += reply.receipts.len() as u64;
                done.duplicates += reply.receipts.iter().filter(|r| r.duplicate).count() as u64;
            }
        }));
    }
    let mut all = Batches::default();
    for task in tasks {
        let d = task.await??;
        all.calls += d.calls;
        all.receipts += d.receipts;
        all.duplicates += d.duplicates;
    }
    Ok(all)
}

/// How long a read load runs: a number of calls per task, or until an instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound {
    Calls(u64),
    Until(Instant),
}

impl Bound {
    fn more(&self, done: u64) -> bool {
        match self {
            Bound::Calls(n) => done < *n,
            Bound::Until(t) => Instant::now() < *t,
        }
    }
}

/// `in_flight` tasks fetch inclusion proofs of pseudo-random leaves in the tree of `size` (requests
/// encoded beforehand, 1,024 per task, cycled) until `bound`; returns the calls made.
pub(crate) async fn proof_load(clients: &Clients, size: u64, in_flight: u64, bound: Bound) -> Result<u64> {
    let mut tasks = Vec::new();
    for w in 0..in_flight {
        let mut c = clients[w as usize % clients.len()].clone();
        let mut x = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let reqs: Vec<Bytes> = (0..1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                encode(&pb::GetInclusionProofRequest {
                    leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(x % size.max(1))),
                    tree_size: size,
                })
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while bound.more(done) {
                c.get_inclusion_proof(reqs[done as usize % reqs.len()].clone()).await?;
                done += 1;
            }
            Ok::<_, tonic::Status>(done)
        }));
    }
    let mut calls = 0;
    for task in tasks {
        calls += task.await??;
    }
    Ok(calls)
}

/// The no-op RPC (GetLogInfo: no storage), `in_flight` tasks until `until`; returns the calls made.
pub(crate) async fn info_load(clients: &Clients, in_flight: usize, until: Instant) -> Result<u64> {
    let mut tasks = Vec::new();
    for w in 0..in_flight {
        let mut c = clients[w % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                c.get_log_info().await?;
                done += 1;
            }
            Ok::<_, tonic::Status>(done)
        }));
    }
    let mut calls = 0;
    for task in tasks {
        calls += task.await??;
    }
    Ok(calls)
}

/// Unary Submit of every request, `concurrency` calls in flight, paced at `rate` per second when given;
/// returns the achieved rate, the sorted latencies and the receipts marked duplicate.
pub(crate) async fn unary_run(
    clients: &Clients,
    reqs: Vec<Bytes>,
    concurrency: usize,
    rate: Option<u64>,
) -> Result<(f64, Vec<Duration>, u64)> {
    if reqs.is_empty() {
        bail!("no envelopes");
    }
    let n = reqs.len();
    let queue = Arc::new(std::sync::Mutex::new(reqs.into_iter().enumerate()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency.max(1) {
        let mut c = clients[t % clients.len()].clone();
        let q = queue.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut dups) = (Vec::new(), 0u64);
            loop {
                let next = accord::sync::lock(&q).next();
                let Some((i, req)) = next else { return Ok::<_, tonic::Status>((lat, dups)) };
                if let Some(r) = rate {
                    let due = start + Duration::from_secs_f64(i as f64 / r as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let t = Instant::now();
                let reply = c.submit(req).await?;
                lat.push(t.elapsed());
                dups += u64::from(reply.receipt.is_some_and(|r| r.duplicate));
            }
        }));
    }
    let (mut all, mut dups) = (Vec::with_capacity(n), 0);
    for t in tasks {
        let (lat, d) = t.await??;
        all.extend(lat);
        dups += d;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    all.sort();
    Ok((rate, all, dups))
}
