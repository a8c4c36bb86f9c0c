//! Governance kinds: parties, the charter, key rotation and revocation.
use std::collections::BTreeSet;

use accord_domain::codes::*;
use accord_domain::ids::*;
use accord_domain::statement as d;

use accord_domain::statement::{MAX_KEYS_PER_PARTY, MAX_PARTIES};

use super::values::*;
use crate::crypto;
use crate::error::{Error, Result};
use crate::pb::{self};

pub(super) fn party(p: &pb::Party) -> Result<d::Party> {
    let party_id = id(PartyId::parse, "party_id", &p.party_id)?;
    let name = text("name", &p.name, true)?;
    if p.roles.is_empty() {
        return Err(Error::invalid("roles", "at least one role is required"));
    }
    let mut roles = Vec::new();
    for (i, r) in p.roles.iter().enumerate() {
        let role = Role::parse(&format!("roles[{i}]"), r)?;
        if roles.contains(&role) {
            return Err(Error::invalid(format!("roles[{i}]"), format!("role {r:?} is listed twice")));
        }
        roles.push(role);
    }
    if p.public_keys.is_empty() {
        return Err(Error::invalid("public_keys", "at least one Ed25519 public key is required"));
    }
    if p.public_keys.len() > MAX_KEYS_PER_PARTY {
        return Err(Error::invalid("public_keys", format!("at most {MAX_KEYS_PER_PARTY} keys")));
    }
    let country_ok =
        p.country.is_empty() || (p.country.len() == 2 && p.country.bytes().all(|b| b.is_ascii_uppercase()));
    if !country_ok {
        return Err(Error::invalid("country", "must be an ISO 3166-1 alpha-2 code"));
    }
    let mut public_keys: Vec<[u8; 32]> = Vec::new();
    for (i, k) in p.public_keys.iter().enumerate() {
        let key = crypto::public_key_from_bytes(k).map_err(|e| e.scope(&format!("public_keys[{i}]")))?;
        if public_keys.contains(key.as_bytes()) {
            return Err(Error::invalid(format!("public_keys[{i}]"), "key is listed twice"));
        }
        public_keys.push(*key.as_bytes());
    }
    Ok(d::Party {
        party_id,
        name,
        roles,
        public_keys,
        organisation_type: p.organisation_type.clone(),
        country: (!p.country.is_empty()).then(|| p.country.clone()),
    })
}

pub(super) fn charter(c: &pb::Charter) -> Result<d::Charter> {
    let name = text("name", &c.name, true).map_err(|e| e.scope("charter"))?;
    let purpose = text("purpose", &c.purpose, false).map_err(|e| e.scope("charter"))?;
    if c.founders.is_empty() {
        return Err(Error::invalid("charter.founders", "at least one founding party is required"));
    }
    if c.founders.len() > MAX_PARTIES {
        return Err(Error::invalid("charter.founders", format!("at most {MAX_PARTIES} founders")));
    }
    let mut ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut founders = Vec::new();
    for (i, f) in c.founders.iter().enumerate() {
        let scope = format!("charter.founders[{i}]");
        let p = party(f).map_err(|e| e.scope(&scope))?;
        for k in &p.public_keys {
            if !keys.insert(*k) {
                return Err(Error::invalid(format!("{scope}.public_keys"), "key is already used by another founder"));
            }
        }
        if !ids.insert(f.party_id.clone()) {
            return Err(Error::invalid(format!("{scope}.party_id"), format!("{:?} is listed twice", f.party_id)));
        }
        founders.push(p);
    }
    let k = c.admission.as_ref().map(|a| a.k).unwrap_or(0);
    if k == 0 || k as usize > c.founders.len() {
        return Err(Error::invalid(
            "charter.admission.k",
            format!("must be between 1 and the number of founders ({})", c.founders.len()),
        ));
    }
    Ok(d::Charter { name, founders, admission_k: k, purpose })
}

pub(super) fn key_rotated(r: &pb::KeyRotated) -> Result<d::KeyRotated> {
    let party_id = id(PartyId::parse, "key_rotated.party_id", &r.party_id)?;
    if !crypto::is_valid_keyid(&r.old_keyid) {
        return Err(Error::invalid("key_rotated.old_keyid", "must be 64 lowercase hex characters"));
    }
    let key = crypto::public_key_from_bytes(&r.new_public_key).map_err(|e| e.scope("key_rotated.new_public_key"))?;
    Ok(d::KeyRotated { party_id, old_keyid: r.old_keyid.clone(), new_public_key: *key.as_bytes() })
}

pub(super) fn key_revoked(r: &pb::KeyRevoked) -> Result<d::KeyRevoked> {
    let party_id = id(PartyId::parse, "key_revoked.party_id", &r.party_id)?;
    if !crypto::is_valid_keyid(&r.keyid) {
        return Err(Error::invalid("key_revoked.keyid", "must be 64 lowercase hex characters"));
    }
    let reason = text("key_revoked.reason", &r.reason, true)?;
    Ok(d::KeyRevoked { party_id, keyid: r.keyid.clone(), reason })
}
