//! Why a log artefact (proof, note, key, policy, bundle) was refused.

/// The error of every function in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed: resending it unchanged will never work.
    #[error("{}", with_field(field, rule))]
    Malformed {
        /// Dotted path of the offending field (`proof[3]`, `verifier_key`); empty when none applies.
        field: String,
        /// The rule that was broken, in words.
        rule: String,
    },
    /// The input is well formed but does not verify: a proof, signature or policy check failed.
    #[error("{}", with_field(field, rule))]
    Unverified {
        /// What did not verify (`inclusion_proof`, `checkpoint`).
        field: String,
        /// Why, in words.
        rule: String,
    },
    /// The stored hashes below could not be read.
    #[error("tree hash: {0}")]
    Hashes(#[source] tlog_tiles::Error),
}

fn with_field(field: &str, rule: &str) -> String {
    if field.is_empty() {
        rule.to_string()
    } else {
        format!("{field}: {rule}")
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Malformed { field: field.into(), rule: rule.into() }
    }
    pub(crate) fn denied(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Unverified { field: field.into(), rule: rule.into() }
    }
    /// Prefix the field path with a parent, e.g. `policy line 3` + `verifier_key`.
    pub fn scope(self, parent: &str) -> Self {
        let join = |field: String| {
            if field.is_empty() {
                parent.to_string()
            } else if field.starts_with('[') {
                format!("{parent}{field}")
            } else {
                format!("{parent}.{field}")
            }
        };
        match self {
            Self::Malformed { field, rule } => Self::Malformed { field: join(field), rule },
            Self::Unverified { field, rule } => Self::Unverified { field: join(field), rule },
            e @ Self::Hashes(_) => e,
        }
    }
    /// The field the error concerns; empty when none applies.
    pub fn field(&self) -> &str {
        match self {
            Self::Malformed { field, .. } | Self::Unverified { field, .. } => field,
            Self::Hashes(_) => "",
        }
    }
    /// The broken rule without the field, in words.
    pub fn rule(&self) -> String {
        match self {
            Self::Malformed { rule, .. } | Self::Unverified { rule, .. } => rule.clone(),
            Self::Hashes(_) => self.to_string(),
        }
    }
}
