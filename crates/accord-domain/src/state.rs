//! The ledger state the rules apply to: governance (charter, parties, keys) held in memory, the
//! [`Effect`]s each applied statement produces for storage to persist, and [`StateView`], read access to
//! the projections as of the entry being sequenced.

use std::collections::{BTreeMap, HashMap};

use crate::book;
use crate::error::Error;

/// `Result` of reading the state or applying a rule.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A registered party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    /// The party's id.
    pub party_id: String,
    /// Its name.
    pub name: String,
    /// The roles it holds (DOMAIN.md §2), as the wire spells them.
    pub roles: Vec<crate::codes::Role>,
    /// IATI OrganisationType code.
    pub organisation_type: String,
    /// ISO 3166-1 alpha-2 country code (may be empty).
    pub country: String,
    /// Entry index that registered the party.
    pub admitted_at: u64,
}

/// A registered key and its validity: valid from `added_at` (inclusive) until `revoked_at` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Hex SHA-256 of the public key ([`crate::ids::keyid_of_bytes`]).
    pub keyid: String,
    /// The party that holds it.
    pub party_id: String,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// Entry that registered it.
    pub added_at: u64,
    /// Entry that revoked it, if any.
    pub revoked_at: Option<u64>,
}

/// A state change for storage to persist in the same transaction as the entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The charter (entry 0).
    Charter {
        /// The coalition's name.
        name: String,
        /// Members whose signatures admit a party.
        admission_k: u32,
    },
    /// A party admitted (or a founder).
    Party(PartyRecord),
    /// A key registered.
    Key(KeyRecord),
    /// A key revoked.
    KeyRevoked {
        /// The key.
        keyid: String,
        /// The revoking entry.
        at: u64,
    },
    /// Insert or replace a subject's projection.
    Subject(Box<book::Subject>),
    /// The entry `index` touched the subject (its history).
    History {
        /// Subject kind.
        kind: book::SubjectKind,
        /// Subject id.
        id: String,
        /// The entry.
        index: u64,
        /// What it did.
        action: crate::codes::Action,
    },
}

/// Governance state: the charter, parties and keys, as of some log size. Small, so it lives in memory;
/// larger domain state (plans and what hangs off them) is read through a [`StateView`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Governance {
    /// The charter's name and admission threshold, once entry 0 is applied.
    pub charter: Option<(String, u32)>,
    /// Members by party id.
    pub parties: BTreeMap<String, PartyRecord>,
    /// Every key ever registered, by keyid (revoked ones with `revoked_at`).
    pub keys: HashMap<String, KeyRecord>,
}

/// Read access to the projections as of the entry being sequenced (including entries integrated earlier
/// in the same transaction).
pub trait StateView {
    /// The projection of a subject, if it exists.
    fn subject(&self, kind: book::SubjectKind, id: &str) -> Result<Option<book::Subject>>;
    /// Subjects of a kind in a plan belonging to a party, in id order.
    fn subjects(&self, kind: book::SubjectKind, plan_id: &str, party_id: &str) -> Result<Vec<book::Subject>>;
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

    pub(crate) fn active_key(&self, keyid: &str) -> Option<&KeyRecord> {
        self.keys.get(keyid).filter(|k| k.revoked_at.is_none())
    }

    pub(crate) fn admission_k(&self) -> u32 {
        self.charter.as_ref().map(|c| c.1).unwrap_or(1)
    }
}
