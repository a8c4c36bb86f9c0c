//! The domain: governance state and signer rules, and the coalition's book. Pure functions over typed
//! statements (`accord_domain::statement`): no I/O, no async, no tonic, no SQL.
//!
//! Two stages, matching the pipeline in DESIGN.md §1:
//! - the stateless checks (shape, formats, origin) run before the sequencer, as the statement is parsed at
//!   the wire boundary ([`crate::proto::parse_statement`]);
//! - [`Governance::apply`] runs in the sequencer against the state as of the entry, decides whether the
//!   signatures authorise the statement, and returns the [`Effect`]s to persist.
pub mod book;
mod governance;
pub mod memory;
pub mod money;

pub use governance::introduced_keys;

pub use accord_domain::date;
pub use accord_domain::text::{is_forbidden_in_text, is_id_char, MAX_ID_LEN, MAX_TEXT_LEN};

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;

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

/// [`accord_domain::text::check_id`] with this crate's error (the rules: 1..=128 characters from
/// `A–Z a–z 0–9 . _ - : @ + ~`, starting with a letter or digit).
pub fn check_id(field: &str, s: &str) -> Result<()> {
    Ok(accord_domain::text::check_id(field, s)?)
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
