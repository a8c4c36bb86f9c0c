//! Accord: a verifiable, append-only ledger of signed multilateral commitments.
//!
//! # Layout
//! Dependencies point down; `main.rs` is wiring only.
//! - [`domain`]: statement validation, governance (charter, admission, keys), the coalition's book
//!   (pledges, commitments, flows ...), exact money and signer rules. Pure.
//! - [`crypto`]: keys, DSSE PAE, envelope verification, checkpoint signing and opening.
//! - [`merkle`]: RFC 6962 hashing and proof verification, and the C2SP `tlog-proof` bundle.
//! - [`storage`]: the SQLite schema, the writer connection and the read-only pool. The only module
//!   that names rusqlite.
//! - [`log`]: the sequencer (one writer thread, group commit, checkpoint per batch) and the read API.
//! - [`query`]: the coalition queries (compiled views, figures, history, proofs at one checkpoint).
//! - [`report`]: transparency reports (every view of DOMAIN.md §5) and their renderers.
//! - [`audit`]: whole-ledger audit with evidence.
//! - [`api`]: generated protobuf code, error→Status mapping, the gRPC service implementations.
//! - [`web`]: the public, read-only transparency page over HTTP.
//! - [`witness`]: the C2SP tlog-witness server and the ledger's witness client.
//! - [`server`]: transport, health, reflection, graceful shutdown.
//! - [`client`]: a typed client that re-verifies every proof and checkpoint it receives.
//! - [`cli`]: the `accord` commands.
#![warn(missing_debug_implementations)]
// No panic on a path input can reach (docs/SECURITY.md): no unwrap, expect, indexing or slicing outside
// tests; the few allows say why the value cannot be absent.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod api;
pub mod audit;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod json;
pub mod log;
pub mod merkle;
pub mod metrics;
pub mod pb;
pub mod query;
pub mod report;
pub mod server;
pub mod storage;
pub mod sync;
pub mod web;
pub mod witness;

/// DSSE payload type of an Accord statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.accord.statement.v1+protobuf";
