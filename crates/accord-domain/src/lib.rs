//! Accord's domain layer, pure: the values every statement is made of, parsed once and checked exactly.
//!
//! No protobuf, SQL, async runtime, clock or file system: Cargo enforces it, as none is a dependency. The
//! wire types are converted at the boundary (`accord::proto`), and every refusal carries the field path
//! and the rule, which the server turns into a gRPC status in one place.
//!
//! - [`money`]: exact decimals (never floats), ISO 4217 currencies and their minor units, amounts with
//!   value dates, checked arithmetic, presentation rounding.
//! - [`date`]: calendar days (`YYYY-MM-DD`, proleptic Gregorian) in the plausible window 1900–2200.
//! - [`text`]: identifiers and free text: lengths, character sets, control and bidi characters.
//! - [`error`]: [`Refusal`], why a value was refused.
//! - [`ids`]: validated identifiers, one type per thing named; [`codes`]: the code lists as enums.
//! - [`statement`]: typed statements, one struct per kind, parsed once at the wire boundary.
//! - [`state`]: governance (charter, parties, keys), the [`Effect`]s a statement produces, and
//!   [`StateView`], the rules' read access to the projections.
//! - [`governance`] and [`book`]: the rules of DOMAIN.md §2–§4, applied in the sequencer against the state
//!   as of the entry: who may sign what, and the coalition's book (one file per group of statement kinds).
//! - [`index`]: the map function of the verifiable index: the keys a log entry files under (issue 17).
//! - [`memory`]: an in-memory book, for replay (`report verify`) and for testing the rules in-process.
#![deny(missing_docs, unreachable_pub, missing_debug_implementations)]
#![warn(clippy::too_many_lines)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod book;
pub mod codes;
pub mod date;
pub mod error;
pub mod governance;
pub mod ids;
pub mod index;
pub mod memory;
pub mod money;
pub mod state;
pub mod statement;
pub mod text;

pub use error::{Error, FieldPath, Refusal, RefusalKind, Result};
pub use governance::introduced_keys;
pub use state::{Effect, Governance, StateView};
