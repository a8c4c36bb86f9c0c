//! The load itself: pre-signed statements, SubmitBatch and unary Submit runs, inclusion proofs, the
//! verify_strict baseline and latency percentiles.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use accord::crypto;
use accord::pb::{self, ledger_service_client::LedgerServiceClient};

/// The gRPC clients the load is spread over, one per connection.
pub(crate) type Clients = [LedgerServiceClient<tonic::transport::Channel>];

/// The `p` quantile of sorted latencies, in milliseconds.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Raw verify_strict rate on 2 threads (the baseline).
pub(crate) fn raw_verify_rate(envs: &[pb::Envelope], key: &crypto::PublicKey) -> f64 {
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

/// `n` statements of about `size` bytes, signed in parallel.
pub(crate) fn statements(
    origin: &str,
    prefix: &str,
    n: u64,
    size: usize,
    key: &crypto::PrivateKey,
) -> Vec<pb::Envelope> {
    use rayon::prelude::*;
    (0..n).into_par_iter().map(|i| seal_statement(origin, prefix, i, size, key)).collect()
}

/// Statement `i` of a run: a `plan.created` padded to about `size` bytes, signed by `key`.
pub(crate) fn seal_statement(
    origin: &str,
    prefix: &str,
    i: u64,
    size: usize,
    key: &crypto::PrivateKey,
) -> pb::Envelope {
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

/// Load `envs` with SubmitBatch calls of `batch`, `in_flight` calls at a time; returns the number of calls.
pub(crate) async fn batch_load(
    clients: &Clients,
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
pub(crate) async fn random_proofs(clients: &Clients, size: u64, in_flight: u64, per: u64) -> Result<()> {
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

/// Unary Submit of every envelope, `concurrency` calls in flight, paced at `rate` per second when given;
/// returns the achieved rate and the sorted latencies.
pub(crate) async fn unary_run(
    clients: &Clients,
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
