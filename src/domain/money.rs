//! Exact money: the pure rules live in `accord-domain` ([`accord_domain::money`], re-exported here), the
//! reading of a protobuf `Money` in [`crate::proto`].
pub use crate::proto::{parse_money, parse_money_or_zero};
pub use accord_domain::money::*;
