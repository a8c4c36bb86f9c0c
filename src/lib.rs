//! Accord: a verifiable, append-only ledger of signed multilateral commitments.
//!
//! # Layout
//! Dependencies point down, floor by floor; `main.rs` is wiring only. `tests/architecture.rs` holds this
//! map as a table, reads the import graph of `src/` and fails on any other arrow.
//! - [`accord_tlog`] (the crate `crates/accord-tlog`, re-exported as [`merkle`] and through [`crypto`]):
//!   RFC 6962 hashing and proofs, the C2SP `tlog-proof` bundle, signed notes, checkpoints, cosignatures.
//!   Pure; Cargo keeps it so.
//! - [`accord_domain`] (`crates/accord-domain`, named through [`domain`]): typed statements, ids, codes,
//!   exact money and days; the governance and book rules over a `StateView`, and the in-memory book. Pure.
//! - [`accord_views`] (`crates/accord-views`, named through [`report`]): the transparency reports over a
//!   `Source`, their renderers and the IATI and OCDS exports. Pure.
//! - [`sync`], [`error`], [`pb`] (generated protobuf), [`metrics`]: the ground floor.
//! - [`crypto`]: keys, DSSE PAE, envelopes; re-exports the note and cosignature API of `accord-tlog`.
//! - [`json`]: the protobuf JSON mapping, statement templates.
//! - [`proto`]: the wire ⇄ domain boundary: a protobuf statement parsed once into the typed statement of
//!   `accord-domain`, with every stateless rule of its shape; compiled bodies typed and encoded.
//! - [`domain`]: the domain crate as the rest of `src/` names it.
//! - [`signing`]: who signs what, per statement kind (docs/SIGNING.md), and the signatures one statement
//!   needs.
//! - [`store`]: the SQLite schema, the writer connection, row readers, the hash cache and the read-only
//!   pool, one file each. The only module that names rusqlite.
//! - [`ledger`]: the sequencer (one writer thread, group commit, checkpoint per batch) and the read API
//!   ([`ledger::Ledger::read`] and [`ledger::Ledger::snapshot`] lend a [`ledger::ReadView`]; the read pool
//!   stays inside); opening a data directory, the stateless stage, proofs and replay each in their own file.
//! - [`query`]: the coalition queries' wire mapping: a request parsed into the read models of
//!   `accord_views::query` (filters, status, figures), answered with compiled statements, history and
//!   proofs at one checkpoint.
//! - [`report`]: the reports' edge: the views' `Source` for the SQLite reader and for a replayed log,
//!   `GetReport`, recomputing a report for `report verify`.
//! - [`audit`]: whole-ledger audit with evidence.
//! - [`server`]: the network edge, one folder: transport, health, reflection, graceful shutdown
//!   (admission, connections, observation, health, shutdown, the HTTP ports, one file each; listeners fail
//!   with [`server::ServeError`], which `cmd` reports: anyhow stays in `cmd`, `main.rs` and `src/bin`);
//!   [`server::api`], one file per gRPC service, the one error→Status mapping and the rate limits;
//!   [`server::web`], the public, read-only transparency page and the metrics endpoint;
//!   [`server::witness`], the C2SP tlog-witness server and the ledger's witness client. Each part has
//!   its own fence in `tests/architecture.rs`, and none names [`store`]: the edge reads through the ledger.
//! - [`config`]: the configuration file and its defaults.
//! - [`client`]: a typed client that re-verifies every proof and checkpoint it receives.
//! - [`cmd`]: the `accord` commands. The load generator is a binary of its own (`src/bin/accord-bench/`).
//! - `workload` (hidden, not part of the product): the benchmark statements shared by `accord-bench` and
//!   the benches, the `plan` and the `mixed` workloads.
#![warn(missing_debug_implementations)]
// Every public item documented (issue 12); the generated protobuf code is exempt in src/pb.rs.
#![deny(missing_docs)]
// No panic on a path input can reach (docs/SECURITY.md): no unwrap, expect, indexing or slicing outside
// tests; the few allows say why the value cannot be absent.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod audit;
pub mod client;
pub mod cmd;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod json;
pub mod ledger;
pub mod metrics;
pub mod pb;
pub mod proto;
pub mod query;
pub mod report;
pub mod server;
pub mod signing;
pub mod store;
pub mod sync;
pub mod tiles;
pub mod vindex;
#[doc(hidden)]
pub mod workload;

pub use accord_tlog::merkle;

/// DSSE payload type of an Accord statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.accord.statement.v1+protobuf";
