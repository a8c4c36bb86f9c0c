//! The wire ⇄ domain boundary: a decoded protobuf [`crate::pb::Statement`] becomes a typed
//! [`accord_domain::statement::Statement`] here, once ("parse, don't validate"). Every stateless rule of a
//! statement's shape (formats, code lists, sums that need no state) is applied on the way, and a refusal
//! names the field as the wire spells it. Above this module, the rules and reports read typed values.
mod compiled;
mod leaf;
mod money;
mod statement;

pub use compiled::{compiled, parse_compiled};
pub use leaf::{check_statement, compiled_body, kind_name, signed_statement_of_leaf, statement_of_leaf};

pub use money::{parse_money, parse_money_or_zero};
pub use statement::{
    introduced_keys, parse_body, parse_statement, parse_statement_as, parse_stored_statement, FromWire,
};
