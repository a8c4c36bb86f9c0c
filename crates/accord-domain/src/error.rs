//! Why the domain refused a value or a statement: the kind of refusal, the field path and the rule.

/// What the caller should do about a refusal; the server maps each kind to one gRPC status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Malformed: resending it unchanged will never work (INVALID_ARGUMENT).
    Invalid,
    /// Well formed, but the ledger's state does not allow it now (FAILED_PRECONDITION).
    Precondition,
}

/// A refused value: which field, which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", if field.is_empty() { rule.clone() } else { format!("{field}: {rule}") })]
pub struct Refusal {
    /// What to do about it.
    pub kind: RefusalKind,
    /// Dotted path of the offending field as the wire names it (`pledge.amount.value`); empty when none.
    pub field: String,
    /// The rule that was broken, in words.
    pub rule: String,
}

/// `Result` with a [`Refusal`].
pub type Result<T, E = Refusal> = std::result::Result<T, E>;

impl Refusal {
    /// A malformed value.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Invalid, field: field.into(), rule: rule.into() }
    }
    /// A value the state does not allow now.
    pub fn precondition(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Precondition, field: field.into(), rule: rule.into() }
    }
}
