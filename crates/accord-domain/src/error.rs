//! Why the domain refused a value or a statement: the kind of refusal, the field path and the rule
//! ([`Refusal`]); and the rules' error ([`Error`]): a refusal, or a failure to read the state they were
//! applied against.

/// What the caller should do about a refusal; the server maps each kind to one gRPC status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Malformed: resending it unchanged will never work (INVALID_ARGUMENT).
    Invalid,
    /// The signatures do not authorise the statement (PERMISSION_DENIED).
    Denied,
    /// A key or party the statement names does not exist (NOT_FOUND).
    NotFound,
    /// Well formed, but the ledger's state does not allow it now (FAILED_PRECONDITION).
    Precondition,
    /// A broken invariant of the domain itself, or a projection that is not what its rules built
    /// (INTERNAL): never the caller's fault.
    Internal,
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
    /// A refusal of a kind.
    pub fn new(kind: RefusalKind, field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self { kind, field: field.into(), rule: rule.into() }
    }
    /// A malformed value.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::new(RefusalKind::Invalid, field, rule)
    }
    /// A value the state does not allow now.
    pub fn precondition(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::new(RefusalKind::Precondition, field, rule)
    }
    /// [`scope`] for a path relative to `parent`, unless the path is rooted already ([`is_rooted`]).
    pub fn within(mut self, parent: &str) -> Self {
        if !is_rooted(&self.field) {
            self.field = scope(parent, &self.field);
        }
        self
    }
}

/// Whether a field path is rooted at one of a submission's two roots (`envelope…` or `statement…`): such a
/// path is complete and is not scoped again. Rules name fields relative to the statement body they check,
/// signer rules name `envelope.signatures`; each layer scopes once.
pub fn is_rooted(field: &str) -> bool {
    let first = field.split(['.', '[']).next().unwrap_or_default();
    first == "envelope" || first == "statement"
}

/// Prefix a field path with a parent: `statement` + `ledger` → `statement.ledger`, `goals` + `[2].id` →
/// `goals[2].id`, `pledge` + `` → `pledge`.
pub fn scope(parent: &str, field: &str) -> String {
    if field.is_empty() {
        parent.to_string()
    } else if field.starts_with('[') {
        format!("{parent}{field}")
    } else {
        format!("{parent}.{field}")
    }
}

/// A failure of the state a rule reads ([`crate::StateView`]): storage's own error, kept whole so the
/// caller can recover it (the server downcasts it back to its error type).
pub type StateError = Box<dyn std::error::Error + Send + Sync>;

/// Why applying a statement failed: the rules refused it, or the state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rules refused the statement (field and rule named).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Reading the state the rules were applied against failed.
    #[error("reading the ledger state: {0}")]
    State(#[source] StateError),
}

impl Error {
    /// A refusal of `kind`.
    pub fn refused(kind: RefusalKind, field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Refused(Refusal::new(kind, field, rule))
    }
    /// Malformed (INVALID_ARGUMENT).
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Invalid, field, rule)
    }
    /// Not authorised by the signatures (PERMISSION_DENIED).
    pub fn denied(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Denied, field, rule)
    }
    /// Names something that does not exist (NOT_FOUND).
    pub fn not_found(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::NotFound, field, rule)
    }
    /// Not allowed by the state now (FAILED_PRECONDITION).
    pub fn precondition(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Precondition, field, rule)
    }
    /// A broken invariant (INTERNAL).
    pub fn internal(rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Internal, "", rule)
    }
    /// A failure of the state (storage) the rules read.
    pub fn state(e: impl Into<StateError>) -> Self {
        Self::State(e.into())
    }
    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused(r) => Some(r),
            Self::State(_) => None,
        }
    }
    /// [`Refusal::within`] for a refusal; a state failure names no field and is left as it is.
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::Refused(r) => Self::Refused(r.within(parent)),
            e @ Self::State(_) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_scopes_relative_paths_once() {
        let f = |field: &str| Refusal::invalid(field, "r");
        assert_eq!(f("amount.value").within("pledge").field, "pledge.amount.value");
        assert_eq!(f("").within("pledge").field, "pledge");
        assert_eq!(f("[2].id").within("goals").field, "goals[2].id");
        assert_eq!(f("envelope.signatures").within("pledge").field, "envelope.signatures");
        assert_eq!(f("statement.ledger").within("pledge").field, "statement.ledger");
        assert_eq!(f("statements").within("pledge").field, "pledge.statements");
    }
}
