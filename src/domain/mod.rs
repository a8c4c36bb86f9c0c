//! The domain as the rest of the crate names it: the pure rules and types of `accord-domain` (governance,
//! the coalition's book, the in-memory book), re-exported, plus the wire-specific helpers the readers use
//! ([`money::parse_money`]). Nothing here does I/O: the rules are in the crate, where Cargo keeps protobuf,
//! SQL and async out.
pub mod money;

pub use accord_domain::book;
pub use accord_domain::date;
pub use accord_domain::memory;
pub use accord_domain::state::{Effect, Governance, KeyRecord, PartyRecord, StateView};
pub use accord_domain::statement::{MAX_KEYS_PER_PARTY, MAX_PARTIES};
pub use accord_domain::text::{is_forbidden_in_text, is_id_char, MAX_ID_LEN, MAX_TEXT_LEN};
pub use accord_domain::{codes, ids, introduced_keys, statement};

use crate::error::Result;

/// [`accord_domain::text::check_id`] with this crate's error (the rules: 1..=128 characters from
/// `A–Z a–z 0–9 . _ - : @ + ~`, starting with a letter or digit).
pub fn check_id(field: &str, s: &str) -> Result<()> {
    Ok(accord_domain::text::check_id(field, s)?)
}
