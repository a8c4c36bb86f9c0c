//! The benchmark workloads (`src/workload.rs`, used by `accord-bench --workload mixed`, the sequencer and the
//! report benchmarks) stay valid as the rules change: the smallest mixed coalition (~6,600 statements:
//! parties, rates, plans, goals, pledges, conditions, commitments with gated tranches, disbursements,
//! progress reports), submitted to the real server group by group, is accepted whole, with no duplicate;
//! and a plan workload's charter and statements too. A benchmark that loads a statement the ledger refuses
//! stops with an error instead of measuring (as `accord-bench` did when its server's real clock refused
//! the workload's late-2026 dates), so this is the check that the benchmarks still measure what they say.
mod common;

use accord::pb;
use accord::workload;
use common::{TestServer, ORIGIN};

async fn submit_all(s: &TestServer, envs: Vec<pb::Envelope>) -> usize {
    let mut raw = s.raw().await;
    let mut accepted = 0;
    for chunk in envs.chunks(1000) {
        let reply = raw
            .submit_batch(pb::SubmitBatchRequest { envelopes: chunk.to_vec() })
            .await
            .unwrap_or_else(|e| panic!("a workload statement was refused: {}", e.message()))
            .into_inner();
        assert!(reply.receipts.iter().all(|r| !r.duplicate), "a duplicate in the workload");
        accepted += reply.receipts.len();
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mixed_workload_is_accepted_whole() {
    // 2027-06-01: after the workload's last date (progress reports on 2027-01-15).
    let s = TestServer::start_at(1_811_808_000_000).await;
    let w = tokio::task::spawn_blocking(|| workload::generate(ORIGIN, 0, 2026)).await.unwrap();
    let total = w.len();
    assert!(total > 6_000, "{total} statements");
    let mut accepted = 0;
    for group in w.groups {
        accepted += submit_all(&s, group.envelopes).await;
    }
    assert_eq!(accepted, total);
    assert_eq!(s.ledger.latest().size, total as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_workload_is_accepted_whole() {
    let s = TestServer::start().await;
    let key = accord::crypto::generate_key();
    let mut envs = vec![workload::plan_charter(ORIGIN, &key)];
    envs.extend(workload::plan_statements(ORIGIN, "p", 500, 300, &key));
    assert_eq!(submit_all(&s, envs).await, 501);
}
