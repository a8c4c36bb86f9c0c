//! Why the domain refused a value or a statement: the kind of refusal, the field path and the rule
//! ([`Refusal`]); the typed path of the field ([`FieldPath`]); and the rules' error ([`Error`]): a refusal,
//! or a failure to read the state they were applied against.
use std::fmt;

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
    /// Path of the offending field as the wire names it (`pledge.amount.value`); empty when none.
    pub field: FieldPath,
    /// The rule that was broken, in words.
    pub rule: String,
}

/// `Result` with a [`Refusal`].
pub type Result<T, E = Refusal> = std::result::Result<T, E>;

impl Refusal {
    /// A refusal of a kind.
    pub fn new(kind: RefusalKind, field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self { kind, field: field.into(), rule: rule.into() }
    }
    /// A malformed value.
    pub fn invalid(field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::new(RefusalKind::Invalid, field, rule)
    }
    /// A value the state does not allow now.
    pub fn precondition(field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::new(RefusalKind::Precondition, field, rule)
    }
    /// [`FieldPath::within`] on the refused field.
    pub fn within(mut self, parent: impl Into<FieldPath>) -> Self {
        self.field = self.field.within(parent);
        self
    }
}

/// One step of a [`FieldPath`]: a field by its wire name, or an element of a repeated field by position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// A message field, named as the wire (protobuf) names it: `amount`, `pledge_ids`.
    Field(String),
    /// The n-th element (from 0) of the repeated field before it.
    Index(usize),
}

/// The path from a request's root to the field a refusal concerns: `statement.pledge.amount.value`,
/// `goals[2].goal_id`. Written as text, fields are joined by `.` and indexes are `[n]`; the empty path names
/// no field. Built from that text (`"goals[2].id".into()`) or step by step ([`FieldPath::field`],
/// [`FieldPath::index`]); a layer that checks a nested message names fields relative to it and the layer
/// above prefixes its own part once ([`FieldPath::within`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct FieldPath(Vec<Step>);

impl FieldPath {
    /// The empty path (no field).
    pub fn none() -> Self {
        Self::default()
    }
    /// Parse the written form. Text that is not a path (an unclosed or non-numeric `[…]`) is kept as one
    /// field name, so nothing a caller wrote is lost.
    pub fn parse(text: &str) -> Self {
        let mut steps = Vec::new();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
            if !name.is_empty() {
                steps.push(Step::Field(name.to_string()));
            }
            while !rest.is_empty() {
                let Some((n, after)) = rest.split_once(']') else { return Self(vec![Step::Field(text.into())]) };
                let Ok(i) = n.parse() else { return Self(vec![Step::Field(text.into())]) };
                steps.push(Step::Index(i));
                rest = after.strip_prefix('[').unwrap_or(after);
                if !after.is_empty() && !after.starts_with('[') {
                    return Self(vec![Step::Field(text.into())]);
                }
            }
        }
        Self(steps)
    }
    /// This path, then a field.
    pub fn field(mut self, name: &str) -> Self {
        self.0.push(Step::Field(name.to_string()));
        self
    }
    /// This path, then the `i`-th element of it.
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Step::Index(i));
        self
    }
    /// Its steps, from the root.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }
    /// The path with every field named as the protobuf JSON mapping names it (lowerCamelCase), as a user
    /// writes it in a statement's JSON or a JSON API request: `statement.pledge_announced.goals[0].goal_id` →
    /// `statement.pledgeAnnounced.goals[0].goalId`. Indexes and names without `_` are unchanged.
    pub fn json(&self) -> Self {
        Self(
            self.0
                .iter()
                .map(|step| match step {
                    Step::Field(name) => Step::Field(lower_camel(name)),
                    Step::Index(i) => Step::Index(*i),
                })
                .collect(),
        )
    }
    /// Whether it names no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Whether it is rooted at one of a submission's two roots (`envelope…` or `statement…`): such a path
    /// is complete and is not scoped again. Rules name fields relative to the statement body they check,
    /// signer rules name `envelope.signatures`; each layer scopes once.
    pub fn is_rooted(&self) -> bool {
        matches!(self.0.first(), Some(Step::Field(f)) if f == "envelope" || f == "statement")
    }
    /// `parent` followed by this path: `statement` + `ledger` → `statement.ledger`, `goals` + `[2].id` →
    /// `goals[2].id`, `pledge` + `` → `pledge`.
    pub fn under(self, parent: impl Into<FieldPath>) -> Self {
        let mut steps = parent.into().0;
        steps.extend(self.0);
        Self(steps)
    }
    /// [`FieldPath::under`] `parent`, unless the path is rooted already ([`FieldPath::is_rooted`]).
    pub fn within(self, parent: impl Into<FieldPath>) -> Self {
        if self.is_rooted() {
            self
        } else {
            self.under(parent)
        }
    }
}

/// `snake_case` → `snakeCase`, the protobuf JSON mapping's rule for a field name (each `_` dropped and the
/// letter after it upper-cased).
fn lower_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, step) in self.0.iter().enumerate() {
            match step {
                Step::Field(name) if n == 0 => f.write_str(name)?,
                Step::Field(name) => write!(f, ".{name}")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl From<&str> for FieldPath {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl From<String> for FieldPath {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

impl From<&String> for FieldPath {
    fn from(text: &String) -> Self {
        Self::parse(text)
    }
}

impl From<&FieldPath> for FieldPath {
    fn from(path: &FieldPath) -> Self {
        path.clone()
    }
}

/// A path equals its written form (`path == "goals[2].id"`).
impl PartialEq<str> for FieldPath {
    fn eq(&self, text: &str) -> bool {
        self.to_string().as_str() == text
    }
}

impl PartialEq<&str> for FieldPath {
    fn eq(&self, text: &&str) -> bool {
        self.to_string().as_str() == *text
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
    pub fn refused(kind: RefusalKind, field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::Refused(Refusal::new(kind, field, rule))
    }
    /// Malformed (INVALID_ARGUMENT).
    pub fn invalid(field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Invalid, field, rule)
    }
    /// Not authorised by the signatures (PERMISSION_DENIED).
    pub fn denied(field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Denied, field, rule)
    }
    /// Names something that does not exist (NOT_FOUND).
    pub fn not_found(field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::NotFound, field, rule)
    }
    /// Not allowed by the state now (FAILED_PRECONDITION).
    pub fn precondition(field: impl Into<FieldPath>, rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Precondition, field, rule)
    }
    /// A broken invariant (INTERNAL).
    pub fn internal(rule: impl Into<String>) -> Self {
        Self::refused(RefusalKind::Internal, FieldPath::none(), rule)
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
    pub fn within(self, parent: impl Into<FieldPath>) -> Self {
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
        assert_eq!(f("[1]").within("envelopes[3].statement").field, "envelopes[3].statement[1]");
    }

    #[test]
    fn paths_parse_into_steps_and_print_back() {
        let p = FieldPath::parse("statement.goals[2].targets[0][1].value");
        let f = |s: &str| Step::Field(s.into());
        assert_eq!(
            p.steps(),
            [f("statement"), f("goals"), Step::Index(2), f("targets"), Step::Index(0), Step::Index(1), f("value")]
        );
        assert_eq!(p.to_string(), "statement.goals[2].targets[0][1].value");
        assert_eq!(FieldPath::none().field("goals").index(2).field("id"), "goals[2].id");
        assert!(FieldPath::parse("").is_empty());
        // What is not a path is kept whole, never dropped.
        for odd in ["a[x]", "a[1", "a[1]b"] {
            assert_eq!(FieldPath::parse(odd).steps(), [f(odd)], "{odd}");
            assert_eq!(FieldPath::parse(odd).to_string(), odd);
        }
        assert!(FieldPath::parse("envelope.signatures[0]").is_rooted());
        assert!(!FieldPath::parse("envelopes[0]").is_rooted());
    }
}
