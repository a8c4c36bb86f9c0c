//! Criterion benchmarks of the hot paths: envelope verification (the physical bound of the write path),
//! the stateless prepare stage, leaf hashing and tree growth, proof construction and verification, and
//! checkpoint signing and opening. Whole-server throughput is measured by `accord-bench` (a separate
//! load-generator process), not here.
use std::hint::black_box;

use accord::crypto::{self, LogSigner};
use accord::ledger::{prepare_with, Limits};
use accord::merkle::{self, MemoryHashes};
use accord::pb::{self, statement::Body};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ORIGIN: &str = "bench.example/ledger";

fn statement(i: u64) -> pb::Statement {
    pb::Statement {
        ledger: ORIGIN.into(),
        statement_id: format!("s-{i:010}"),
        issued_at: Some(prost_types::Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        effective_date: "2026-01-01".into(),
        body: Some(Body::PlanCreated(pb::PlanCreated {
            plan_id: format!("plan-{i}"),
            title: "Regional security and inclusive growth plan".into(),
            period: Some(pb::Period { start: "2026-01-01".into(), end: "2028-12-31".into() }),
            reporting_currency: "USD".into(),
            signatories: vec![],
            report_schedule: None,
            requirement: None,
            description: "x".repeat(150),
            ..Default::default()
        })),
    }
}

fn benches(c: &mut Criterion) {
    let key = crypto::generate_key();
    let pk = key.verifying_key();
    let kid = crypto::keyid(&pk);
    let env = crypto::seal(&statement(1), &[&key]);

    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_strict", |b| {
        b.iter(|| crypto::verify_pae(&pk, &env.payload_type, black_box(&env.payload), &env.signatures[0].sig))
    });
    g.bench_function("prepare (decode, canonical check, rules, verify)", |b| {
        let limits = Limits::default();
        b.iter(|| prepare_with(black_box(&env), ORIGIN, &limits, |k| (k == kid).then_some(pk)).unwrap())
    });
    g.bench_function("seal (sign)", |b| b.iter(|| crypto::seal(black_box(&statement(2)), &[&key])));
    g.finish();

    let mut g = c.benchmark_group("tree");
    let leaf = vec![7u8; 400];
    g.throughput(Throughput::Elements(1));
    g.bench_function("leaf_hash 400 B", |b| b.iter(|| merkle::leaf_hash(black_box(&leaf))));
    let mut t = MemoryHashes::default();
    for i in 0..100_000u64 {
        t.append(&i.to_be_bytes());
    }
    g.bench_function("append to 100k tree", |b| {
        b.iter_batched(|| t.clone(), |mut t| t.append(black_box(&leaf)), criterion::BatchSize::LargeInput)
    });
    let n = t.leaves();
    let root = t.root();
    g.bench_function("prove_record in 100k tree", |b| {
        b.iter(|| merkle::prove_record(n, black_box(54_321), &t).unwrap())
    });
    // The same proof as the ledger builds it (GetInclusionProof, receipts): one stored hash at a time.
    g.bench_function("inclusion_proof in 100k tree", |b| {
        b.iter(|| merkle::inclusion_proof(n, black_box(54_321), &t).unwrap())
    });
    // And with the tree's right edge, which the ledger computes once per published size.
    let edge = merkle::RightEdge::new(n, &t).unwrap();
    g.bench_function("inclusion_proof in 100k tree, right edge known", |b| {
        b.iter(|| merkle::inclusion_proof_with(n, black_box(54_321), &t, Some(&edge)).unwrap())
    });
    let proof: Vec<Vec<u8>> = merkle::prove_record(n, 54_321, &t).unwrap().iter().map(|h| h.0.to_vec()).collect();
    let lh = merkle::leaf_hash(&54_321u64.to_be_bytes());
    g.bench_function("verify_inclusion in 100k tree", |b| {
        b.iter(|| merkle::verify_inclusion(54_321, n, black_box(&lh), &proof, &root).unwrap())
    });
    g.bench_function("prove_tree 50k→100k", |b| b.iter(|| merkle::prove_tree(n, black_box(50_000), &t).unwrap()));
    g.finish();

    let mut g = c.benchmark_group("checkpoint");
    let signer = LogSigner::new(ORIGIN, crypto::generate_key()).unwrap();
    g.bench_function("sign", |b| b.iter(|| signer.sign_checkpoint(black_box(123_456), &root)));
    let note = signer.sign_checkpoint(123_456, &root);
    g.bench_function("open (parse + verify_strict)", |b| {
        b.iter(|| crypto::open_checkpoint(black_box(note.as_bytes()), signer.verifier()).unwrap())
    });
    g.finish();
}

criterion_group!(hot, benches);
criterion_main!(hot);
