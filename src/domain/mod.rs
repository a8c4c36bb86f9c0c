//! The domain: statement validation, governance state and signer rules. Pure functions over plain values:
//! no I/O, no async, no tonic, no SQL.
//!
//! Two stages, matching the pipeline in DESIGN.md §1:
//! - [`check_statement`] is stateless (shape, formats, origin) and runs before the sequencer;
//! - [`Governance::apply`] runs in the sequencer against the state as of the entry, decides whether the
//!   signatures authorise the statement, and returns the [`Effect`]s to persist.
pub mod book;
mod governance;
pub mod money;

pub use governance::introduced_keys;

pub use accord_domain::date;
pub use accord_domain::text::{is_forbidden_in_text, is_id_char, MAX_ID_LEN, MAX_TEXT_LEN};

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::pb::{statement::Body, Statement};

/// Roles a party may hold (DOMAIN.md §2).
pub const ROLES: &[&str] = &[
    "funder",
    "partner_government",
    "implementer",
    "secretariat",
    "auditor",
    "assessor",
    "rate_publisher",
    "observer",
];

/// Most parties in a charter, keys per party.
pub use accord_domain::statement::{MAX_KEYS_PER_PARTY, MAX_PARTIES};

/// The statement kind's stable name, as stored and reported.
pub fn kind_name(body: &Body) -> &'static str {
    match body {
        Body::Charter(_) => "charter",
        Body::PartyAdmitted(_) => "party.admitted",
        Body::KeyRotated(_) => "key.rotated",
        Body::KeyRevoked(_) => "key.revoked",
        Body::PlanCreated(_) => "plan.created",
        Body::GoalDefined(_) => "goal.defined",
        Body::IndicatorDefined(_) => "indicator.defined",
        Body::PledgeAnnounced(_) => "pledge.announced",
        Body::ConditionDefined(_) => "condition.defined",
        Body::CommitmentSigned(_) => "commitment.signed",
        Body::TransactionRecorded(_) => "transaction.recorded",
        Body::TransactionReversed(_) => "transaction.reversed",
        Body::InkindDelivered(_) => "inkind.delivered",
        Body::MilestoneUpdated(_) => "milestone.updated",
        Body::ConditionAssessed(_) => "condition.assessed",
        Body::ProgressReported(_) => "progress.reported",
        Body::AttestationIssued(_) => "attestation.issued",
        Body::Amended(_) => "amended",
        Body::Withdrawn(_) => "withdrawn",
        Body::FxRateRecorded(_) => "fx_rate.recorded",
        Body::DeliveryConfirmed(_) => "delivery.confirmed",
    }
}

/// [`accord_domain::text::check_id`] with this crate's error (the rules: 1..=128 characters from
/// `A–Z a–z 0–9 . _ - : @ + ~`, starting with a letter or digit).
pub fn check_id(field: &str, s: &str) -> Result<()> {
    Ok(accord_domain::text::check_id(field, s)?)
}

/// Stateless checks of a decoded statement: ledger origin, ids, dates and each body's shape (the
/// parsing at the wire boundary, [`crate::proto::parse_statement`]). Returns the statement kind.
pub fn check_statement(st: &Statement, origin: &str) -> Result<&'static str> {
    Ok(crate::proto::parse_statement(st, origin)?.body.kind_name())
}

/// A registered party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    pub party_id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub organisation_type: String,
    pub country: String,
    /// Entry index that registered the party.
    pub admitted_at: u64,
}

/// A registered key and its validity: valid from `added_at` (inclusive) until `revoked_at` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub keyid: String,
    pub party_id: String,
    pub public_key: [u8; 32],
    pub added_at: u64,
    pub revoked_at: Option<u64>,
}

/// A state change for storage to persist in the same transaction as the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Charter {
        name: String,
        admission_k: u32,
    },
    Party(PartyRecord),
    Key(KeyRecord),
    KeyRevoked {
        keyid: String,
        at: u64,
    },
    /// Insert or replace a subject's projection.
    Subject(Box<book::Subject>),
    /// The entry `index` touched the subject (its history).
    History {
        kind: String,
        id: String,
        index: u64,
        action: String,
    },
}

/// Governance state: the charter, parties and keys, as of some log size. Small, so it lives in memory;
/// larger domain state (plans and what hangs off them) is read through a [`StateView`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Governance {
    pub charter: Option<(String, u32)>,
    pub parties: BTreeMap<String, PartyRecord>,
    pub keys: HashMap<String, KeyRecord>,
}

/// Read access to the projections as of the entry being sequenced (including entries integrated earlier
/// in the same transaction).
pub trait StateView {
    /// The projection of a subject, if it exists.
    fn subject(&self, kind: &str, id: &str) -> Result<Option<book::Subject>>;
    /// Subjects of a kind in a plan belonging to a party, in id order.
    fn subjects(&self, kind: &str, plan_id: &str, party_id: &str) -> Result<Vec<book::Subject>>;
    /// Index of the entry with this identity hash.
    fn entry_index(&self, identity: &[u8]) -> Result<Option<u64>>;
}

impl Governance {
    /// Apply one effect (used by [`Governance::apply`] and when loading projections).
    pub fn absorb(&mut self, e: &Effect) {
        match e {
            Effect::Charter { name, admission_k } => self.charter = Some((name.clone(), *admission_k)),
            Effect::Party(p) => {
                self.parties.insert(p.party_id.clone(), p.clone());
            }
            Effect::Key(k) => {
                self.keys.insert(k.keyid.clone(), k.clone());
            }
            Effect::KeyRevoked { keyid, at } => {
                if let Some(k) = self.keys.get_mut(keyid) {
                    k.revoked_at = Some(*at);
                }
            }
            Effect::Subject(_) | Effect::History { .. } => {}
        }
    }

    /// Undo an effect applied by [`Governance::apply`] (the sequencer drops a failed request's effects).
    pub fn revert(&mut self, e: &Effect) {
        match e {
            Effect::Charter { .. } => self.charter = None,
            Effect::Party(p) => {
                self.parties.remove(&p.party_id);
            }
            Effect::Key(k) => {
                self.keys.remove(&k.keyid);
            }
            Effect::KeyRevoked { keyid, .. } => {
                if let Some(k) = self.keys.get_mut(keyid) {
                    k.revoked_at = None;
                }
            }
            Effect::Subject(_) | Effect::History { .. } => {}
        }
    }

    fn active_key(&self, keyid: &str) -> Option<&KeyRecord> {
        self.keys.get(keyid).filter(|k| k.revoked_at.is_none())
    }

    fn admission_k(&self) -> u32 {
        self.charter.as_ref().map(|c| c.1).unwrap_or(1)
    }
}

/// The statement inside a stored leaf (`LogEntry` → envelope → payload).
pub fn statement_of_leaf(leaf: &[u8]) -> Result<crate::pb::Statement> {
    use prost::Message as _;
    let le = crate::pb::LogEntry::decode(leaf).map_err(|e| Error::internal(format!("leaf does not decode: {e}")))?;
    let env = le.envelope.ok_or_else(|| Error::internal("leaf without envelope"))?;
    crate::pb::Statement::decode(env.payload.as_slice())
        .map_err(|e| Error::internal(format!("payload does not decode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// The JSON templates and kind names of `crate::json` agree with the domain's kinds.
    fn kind_names_match_the_domain() {
        for (kind, field) in crate::json::statement_kinds() {
            let st = crate::json::statement_from_json(
                &crate::json::statement_template(&kind, "o", "id", "2026-01-01").unwrap(),
            )
            .unwrap_or_else(|e| panic!("{kind}: template does not parse: {e}"));
            let body = st.body.unwrap_or_else(|| panic!("{kind}: no body"));
            assert_eq!(kind_name(&body), kind, "{field}");
            let t = crate::json::statement_template(&kind, "o", "id", "2026-01-01").unwrap();
            let lines: Vec<&str> = t.lines().map(str::trim).collect();
            for w in lines.windows(2) {
                if w[1].starts_with('"') && w[1].contains("\":") {
                    assert!(w[0].starts_with("//"), "{kind}: {} is not explained", w[1]);
                }
            }
        }
        assert!(crate::json::statement_template("nope", "o", "id", "2026-01-01")
            .unwrap_err()
            .message
            .contains("pledge.announced"));
    }
}
