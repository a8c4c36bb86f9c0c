//! The error model shared by every layer below the API. Each error is classified by what the caller should
//! do about it; [`crate::server::api`] maps the class to a gRPC status in exactly one place.
use std::fmt;
use std::sync::Arc;

pub use accord_domain::FieldPath;

/// What went wrong, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed; resending it unchanged will never work.
    InvalidArgument,
    /// The signatures do not authorise the statement (unknown, revoked or missing signer, bad signature).
    PermissionDenied,
    /// The thing asked for does not exist (yet).
    NotFound,
    /// A different statement already uses this statement_id.
    AlreadyExists,
    /// The ledger's state does not allow this statement now.
    FailedPrecondition,
    /// A limit was reached; retry later.
    ResourceExhausted,
    /// The service cannot take the request now (shutting down, queue full); retry later.
    Unavailable,
    /// A broken invariant or I/O failure. Details are logged, never sent.
    Internal,
    /// Stored data is corrupt (a row that cannot be what it claims to be). The message names the table,
    /// the row and what is wrong with it; nothing is read past it as a default.
    DataLoss,
}

/// An error with the field it concerns and the rule that was broken, and the lower layer's error that
/// caused it, kept whole ([`std::error::Error::source`]) rather than flattened into the message.
#[derive(Debug, Clone)]
pub struct Error {
    /// What the caller should do about it; decides the gRPC status.
    pub kind: Kind,
    /// Path of the offending field, e.g. `envelope.signatures[1].keyid`; empty when none applies.
    pub field: FieldPath,
    /// The rule, in words.
    pub message: String,
    /// The cause, when a lower layer's error was classified into this one (a SQLite error, a hash read).
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// Two errors are the same answer when kind, field and message are; the cause is for logs, not callers.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.field, &self.message) == (other.kind, &other.field, &other.message)
    }
}

impl Eq for Error {}

/// The result of every layer below the API: [`Error`] unless another error is named.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error as an API answers it: the field path in the protobuf JSON mapping's names (what the user
    /// wrote in a statement's JSON or a JSON request: `statement.pledgeAnnounced.pledgeKind`), also where the
    /// message repeats the path. Every answer that names a field (gRPC status details, the dry run, the
    /// JSON API, `statement check`) goes through here, so they all spell it alike.
    pub fn in_json_names(mut self) -> Self {
        if self.field.is_empty() {
            return self;
        }
        let (wire, json) = (self.field.to_string(), self.field.json());
        self.message = self.message.replace(&wire, &json.to_string());
        self.field = json;
        self
    }

    /// The gRPC status code's canonical name for this error's kind (`INVALID_ARGUMENT`), as the JSON API,
    /// the dry run and metrics labels write it.
    pub fn code_name(&self) -> &'static str {
        match self.kind {
            Kind::InvalidArgument => "INVALID_ARGUMENT",
            Kind::PermissionDenied => "PERMISSION_DENIED",
            Kind::NotFound => "NOT_FOUND",
            Kind::AlreadyExists => "ALREADY_EXISTS",
            Kind::FailedPrecondition => "FAILED_PRECONDITION",
            Kind::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Kind::Unavailable => "UNAVAILABLE",
            Kind::Internal => "INTERNAL",
            Kind::DataLoss => "DATA_LOSS",
        }
    }

    /// An error of `kind` about `field` (empty when none applies), breaking the rule `message`.
    pub fn new(kind: Kind, field: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        Self { kind, field: field.into(), message: message.into(), source: None }
    }
    /// The same error, caused by `cause` (kept as its [`std::error::Error::source`]).
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }
    /// INVALID_ARGUMENT: `field` breaks the rule `message`; resending unchanged will never work.
    pub fn invalid(field: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        Self::new(Kind::InvalidArgument, field, message)
    }
    /// PERMISSION_DENIED: the signature or proof at `field` does not authorise or verify (`message`).
    pub fn denied(field: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        Self::new(Kind::PermissionDenied, field, message)
    }
    /// NOT_FOUND: the thing `field` names does not exist (yet).
    pub fn not_found(field: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, field, message)
    }
    /// FAILED_PRECONDITION: the ledger's state does not allow this now (`message` says why).
    pub fn precondition(field: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        Self::new(Kind::FailedPrecondition, field, message)
    }
    /// INTERNAL: a broken invariant or I/O failure; the message is logged, never sent to the caller.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, FieldPath::none(), message)
    }
    /// Corrupt stored data: `table` row `row` is not what it must be (`what`).
    pub fn corrupt(table: &str, row: impl fmt::Display, what: impl fmt::Display) -> Self {
        Self::new(Kind::DataLoss, FieldPath::none(), format!("stored data is corrupt: {table} row {row}: {what}"))
    }
    /// [`FieldPath::within`]: the field path relative to `parent`, unless it is rooted at the envelope or
    /// the statement already. Rules name fields relative to the statement body they check, signer rules
    /// name `envelope.signatures`; each layer scopes once with this.
    pub fn within(mut self, parent: impl Into<FieldPath>) -> Self {
        self.field = self.field.within(parent);
        self
    }

    /// Prefix the field path with a parent, e.g. `statement` + `ledger` → `statement.ledger`.
    pub fn scope(mut self, parent: impl Into<FieldPath>) -> Self {
        self.field = self.field.under(parent);
        self
    }
}

/// `field: rule`, naming the field once: when the message names it already (`…field: …`, as an error relayed
/// from the server does: `client::from_status`), the message alone.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() || self.message.contains(&format!("{}: ", self.field)) {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The log layer's refusals keep their field and rule: malformed input is INVALID_ARGUMENT, a proof or
/// signature that does not verify is PERMISSION_DENIED, unreadable stored hashes are INTERNAL.
impl From<accord_tlog::Error> for Error {
    fn from(e: accord_tlog::Error) -> Self {
        match e {
            accord_tlog::Error::Malformed { field, rule } => Self::invalid(field, rule),
            accord_tlog::Error::Unverified { field, rule } => Self::denied(field, rule),
            e @ accord_tlog::Error::Hashes(_) => Self::internal(e.to_string()).caused_by(e),
        }
    }
}

/// The domain's refusals keep their field and rule.
impl From<accord_domain::Refusal> for Error {
    fn from(e: accord_domain::Refusal) -> Self {
        use accord_domain::RefusalKind as R;
        let kind = match e.kind {
            R::Invalid => Kind::InvalidArgument,
            R::Denied => Kind::PermissionDenied,
            R::NotFound => Kind::NotFound,
            R::Precondition => Kind::FailedPrecondition,
            R::Internal => Kind::Internal,
        };
        Self::new(kind, e.field, e.rule)
    }
}

/// A rule's refusal keeps its field and rule; a failure of the state it read is the storage error that the
/// [`accord_domain::StateView`] passed up, recovered whole (any other error is INTERNAL).
impl From<accord_domain::Error> for Error {
    fn from(e: accord_domain::Error) -> Self {
        match e {
            accord_domain::Error::Refused(r) => r.into(),
            accord_domain::Error::State(s) => match s.downcast::<Error>() {
                Ok(e) => *e,
                Err(other) => Self { source: Some(Arc::from(other)), ..Self::internal("reading the ledger state") },
            },
        }
    }
}

/// A failure of this crate's layers (storage, decoding a stored leaf) as the domain and the views receive it
/// from a [`accord_domain::StateView`] or a report source: [`accord_domain::Error::State`], recovered whole
/// by `From<accord_domain::Error>` above.
pub fn state(e: impl Into<Error>) -> accord_domain::Error {
    accord_domain::Error::state(e.into())
}

/// Storage failures reach the domain rules through [`accord_domain::StateView`] as [`accord_domain::Error::State`].
impl From<Error> for accord_domain::Error {
    fn from(e: Error) -> Self {
        accord_domain::Error::state(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_scopes_relative_paths_once() {
        let f = |field: &str| Error::invalid(field, "r");
        assert_eq!(f("amount.value").within("pledge").field, "pledge.amount.value");
        assert_eq!(f("").within("pledge").field, "pledge");
        assert_eq!(f("[2].id").within("goals").field, "goals[2].id");
        // Rooted at the envelope or the statement: complete already.
        assert_eq!(f("envelope.signatures[0].keyid").within("pledge").field, "envelope.signatures[0].keyid");
        assert_eq!(f("statement.pledge.amount").within("statement").field, "statement.pledge.amount");
        // A field that merely starts with a root's letters is relative.
        assert_eq!(f("statement_id").within("statement").field, "statement.statement_id");
        assert_eq!(f("envelopes[3]").within("batch").field, "batch.envelopes[3]");
    }

    #[test]
    fn display_names_the_field_once() {
        assert_eq!(Error::invalid("pledge.amount", "too large").to_string(), "pledge.amount: too large");
        assert_eq!(Error::invalid("", "too large").to_string(), "too large");
        // Relayed from the server: the field recovered from the status details, the message as the server
        // wrote it.
        let relayed = Error::invalid("pledge.amount", "server: pledge.amount: too large");
        assert_eq!(relayed.to_string(), "server: pledge.amount: too large");
        // A field that is only a prefix of the named one is still named.
        assert_eq!(
            Error::invalid("pledge", "server: pledge.amount: x").to_string(),
            "pledge: server: pledge.amount: x"
        );
    }
}
