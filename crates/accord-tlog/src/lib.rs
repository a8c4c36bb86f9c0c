//! Accord's transparency-log layer, pure: RFC 6962 Merkle hashing and proofs, C2SP signed notes and
//! checkpoints, witness cosignatures and trust policies, and the C2SP `tlog-proof` bundle.
//!
//! No protobuf, SQL, async runtime, clock or file system: Cargo enforces it, as none is a dependency. What
//! this crate publishes is checked against the transparency-dev/merkle and C2SP vectors in `tests/`, and
//! (from the `accord` crate's tests) against Go's `sumdb/note` and `sumdb/tlog`.
//!
//! - [`merkle`]: hashes, tree heads, inclusion and consistency proofs, in-memory and caching hash readers,
//!   the `tlog-proof` bundle.
//! - [`note`]: Ed25519 signed-note keys, the strict verifier, the log's checkpoint signer, opening a
//!   checkpoint.
//! - [`cosign`]: `cosignature/v1` witness cosignatures and C2SP tlog-policy quorums.
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.
//! - [`vmap`]: the verifiable map of the index: key hash → log indices, sparse Merkle proofs (issue 17).
//! - [`mapcheckpoint`]: the map checkpoint, a signed note committing the map root at a log size and root.
//! - [`error`]: why an input was refused, with the field and the rule.
#![deny(missing_docs, unreachable_pub, missing_debug_implementations)]
#![warn(clippy::too_many_lines)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod cosign;
pub mod error;
pub mod mapcheckpoint;
pub mod merkle;
pub mod note;
pub mod tiles;
pub mod vmap;

pub use error::{Error, Result};
