//! Governance kinds: the charter, admissions, key rotation and revocation (DOMAIN.md §2).
use crate::codes::Role;
use crate::ids::PartyId;

/// An Ed25519 public key, checked to be a valid curve point at the boundary.
pub type PublicKey = [u8; 32];

/// A party as a charter founds it or an admission admits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Its id.
    pub party_id: PartyId,
    /// Its name.
    pub name: String,
    /// Its roles, none twice, at least one.
    pub roles: Vec<Role>,
    /// Its signing keys, none twice, 1..=16.
    pub public_keys: Vec<PublicKey>,
    /// IATI OrganisationType code, free.
    pub organisation_type: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
}

impl Party {
    /// Whether the party holds a role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The coalition's founding statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charter {
    /// The coalition's name.
    pub name: String,
    /// Its founders: unique ids and keys.
    pub founders: Vec<Party>,
    /// How many members must sign an admission (k of n), 1..=founders.
    pub admission_k: u32,
    /// Its purpose, free text.
    pub purpose: String,
}

/// A new member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyAdmitted {
    /// The party admitted.
    pub party: Party,
}

/// A member replaces one of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotated {
    /// The member.
    pub party_id: PartyId,
    /// The key replaced (64 lowercase hex characters).
    pub old_keyid: String,
    /// The new key.
    pub new_public_key: PublicKey,
}

/// A member's key is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevoked {
    /// The member.
    pub party_id: PartyId,
    /// The key revoked (64 lowercase hex characters).
    pub keyid: String,
    /// Why.
    pub reason: String,
}
