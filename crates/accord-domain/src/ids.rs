//! Validated identifiers, one type per thing they name, so a pledge id cannot be passed where a party id
//! is meant. Each is parsed once (the rules of [`crate::text::check_id`]) and is a plain string after.
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use crate::error::Result;
use crate::text::check_id;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parse an identifier, or refuse it naming `field` and the rule.
            pub fn parse(field: &str, s: &str) -> Result<Self> {
                check_id(field, s)?;
                Ok(Self(s.to_string()))
            }
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }
    )*};
}

id_type! {
    /// A statement's own id (unique per ledger).
    StatementId;
    /// A coalition member.
    PartyId;
    /// A plan (response plan, appeal, pledging conference).
    PlanId;
    /// A goal of a plan.
    GoalId;
    /// An indicator of a goal.
    IndicatorId;
    /// A pledge.
    PledgeId;
    /// A condition on pledges or tranches.
    ConditionId;
    /// A commitment (a signed agreement).
    CommitmentId;
    /// A tranche of a commitment.
    TrancheId;
    /// A transaction (disbursement, expenditure, incoming funds, reimbursement).
    TxnId;
    /// An in-kind delivery.
    DeliveryId;
    /// A progress report.
    ReportId;
    /// An audit attestation.
    AttestationId;
    /// An item of an in-kind pledge.
    ItemId;
    /// A milestone of a policy-action pledge.
    MilestoneId;
    /// The subject an amendment or a withdrawal names (any kind of subject).
    SubjectId;
    /// A code of a classification vocabulary (a DAC 5 sector, an SDG target, a plan's own code).
    Code;
}

/// The keyid of a public key: the lowercase hex SHA-256 of its raw bytes (DESIGN.md: DSSE `keyid`).
pub fn keyid_of_bytes(key: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_parsed_once_and_compare_as_text() {
        let p = PartyId::parse("pledger_id", "donor-a").unwrap();
        assert_eq!(p, "donor-a");
        assert_eq!(String::from("donor-a"), p);
        assert_eq!(p.to_string(), "donor-a");
        let e = PlanId::parse("plan_id", "-x").unwrap_err();
        assert_eq!(e.field, "plan_id");
    }
}
