//! Governance rules (DOMAIN.md §2): who may sign what, the charter, admissions, key rotation and
//! revocation; book statements are handed to [`super::book::apply`] with the signing parties.
use std::collections::BTreeSet;

use std::sync::Arc;

use crate::book::{self, Compiled};
use crate::date;
use crate::error::Error;
use crate::ids::keyid_of_bytes;
use crate::state::{Effect, Governance, KeyRecord, PartyRecord, Result, StateView};
use crate::statement::{self as d, Body};

/// Public keys a statement introduces (so its own signatures by those keys can be checked before the keys
/// are registered).
pub fn introduced_keys(st: &d::Statement) -> Vec<[u8; 32]> {
    match &st.body {
        Body::Charter(c) => c.founders.iter().flat_map(|p| p.public_keys.iter().copied()).collect(),
        Body::PartyAdmitted(a) => a.party.public_keys.clone(),
        Body::KeyRotated(r) => vec![r.new_public_key],
        _ => Vec::new(),
    }
}

/// The statement being sequenced and how it was signed.
struct Signed<'a> {
    /// Keyids whose signatures verified.
    signers: &'a [String],
    /// Keyids of keys the statement introduces.
    introduced: BTreeSet<String>,
    /// Parties with at least one registered, active key among the signers.
    parties: BTreeSet<String>,
    index: u64,
}

impl Governance {
    /// Decide whether the statement at `index`, signed by the (already cryptographically verified) keys
    /// `signers`, is allowed by the rules as of this state, and return the effects to persist. Changes
    /// nothing on error. `integrated_ms` is the integration time the log will record; `compiled` is the
    /// statement's compiled body ([`Body::compiled`]), which subjects it creates keep.
    pub fn apply(
        &mut self,
        st: &d::Statement,
        compiled: &Arc<Compiled>,
        signers: &[String],
        index: u64,
        integrated_ms: i64,
        view: &dyn StateView,
    ) -> Result<Vec<Effect>> {
        let today = date::day_of_ms(integrated_ms);
        if st.effective_date.days() > today {
            return Err(Error::precondition(
                "statement.effective_date",
                format!("{} is after the integration date {}", st.effective_date, date::format_date(today)),
            ));
        }
        let introduced: BTreeSet<String> = introduced_keys(st).iter().map(|k| keyid_of_bytes(k)).collect();
        let parties = self.signer_parties(signers, &introduced)?;
        let s = Signed { signers, introduced, parties, index };
        if self.charter.is_none() && !matches!(st.body, Body::Charter(_)) {
            return Err(Error::precondition(
                "statement.body",
                "the ledger has no charter yet: entry 0 must be the charter",
            ));
        }
        let effects = match &st.body {
            Body::Charter(c) => self.charter(c, &s)?,
            Body::PartyAdmitted(a) => self.admission(&a.party, &s)?,
            Body::KeyRotated(r) => self.rotation(r, &s)?,
            Body::KeyRevoked(r) => self.revocation(r, &s)?,
            other => {
                let ctx = book::Ctx { gov: self, signers: &s.parties, index, today, view, body: compiled };
                book::apply(&ctx, other).map_err(|e| e.within("statement"))?
            }
        };
        for e in &effects {
            self.absorb(e);
        }
        Ok(effects)
    }

    /// The parties behind the signatures: every signature must be by an active registered key or a key
    /// the statement introduces.
    fn signer_parties(&self, signers: &[String], introduced: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let mut parties = BTreeSet::new();
        for (i, kid) in signers.iter().enumerate() {
            if introduced.contains(kid) {
                continue;
            }
            match self.keys.get(kid) {
                None => {
                    return Err(Error::denied(
                        format!("envelope.signatures[{i}].keyid"),
                        format!("key {kid} is not registered to any party"),
                    ))
                }
                Some(KeyRecord { revoked_at: Some(at), party_id, .. }) => {
                    return Err(Error::denied(
                        format!("envelope.signatures[{i}].keyid"),
                        format!("key {kid} of {party_id} was revoked at entry {at}"),
                    ))
                }
                Some(k) => {
                    parties.insert(k.party_id.clone());
                }
            }
        }
        Ok(parties)
    }

    fn charter(&self, c: &d::Charter, s: &Signed<'_>) -> Result<Vec<Effect>> {
        if self.charter.is_some() || s.index != 0 {
            return Err(Error::precondition("statement.charter", "the ledger already has a charter (entry 0)"));
        }
        let mut effects = vec![Effect::Charter { name: c.name.clone(), admission_k: c.admission_k }];
        let mut founder_keys = BTreeSet::new();
        for (i, f) in c.founders.iter().enumerate() {
            let kids: Vec<String> = f.public_keys.iter().map(|k| keyid_of_bytes(k)).collect();
            if !kids.iter().any(|k| s.signers.contains(k)) {
                return Err(Error::denied(
                    format!("statement.charter.founders[{i}]"),
                    format!(
                        "founder {} has not signed the charter (every founder must sign with their own key)",
                        f.party_id
                    ),
                ));
            }
            founder_keys.extend(kids);
            effects.extend(party_effects(f, s.index));
        }
        if let Some(i) = s.signers.iter().position(|k| !founder_keys.contains(k)) {
            return Err(Error::denied(
                format!("envelope.signatures[{i}].keyid"),
                "the charter may be signed only by founders' keys",
            ));
        }
        Ok(effects)
    }

    fn admission(&self, p: &d::Party, s: &Signed<'_>) -> Result<Vec<Effect>> {
        if self.parties.contains_key(p.party_id.as_str()) {
            return Err(Error::precondition(
                "statement.party_admitted.party.party_id",
                format!("party {} is already a member", p.party_id),
            ));
        }
        let kids: Vec<String> = p.public_keys.iter().map(|k| keyid_of_bytes(k)).collect();
        for (i, kid) in kids.iter().enumerate() {
            if let Some(k) = self.keys.get(kid) {
                return Err(Error::precondition(
                    format!("statement.party_admitted.party.public_keys[{i}]"),
                    format!("key is already registered to {}", k.party_id),
                ));
            }
        }
        if !kids.iter().any(|k| s.signers.contains(k)) {
            return Err(Error::denied(
                "envelope.signatures",
                format!("the new party {} must sign its admission", p.party_id),
            ));
        }
        if let Some(i) = s.signers.iter().position(|k| s.introduced.contains(k) && !kids.contains(k)) {
            return Err(Error::denied(
                format!("envelope.signatures[{i}].keyid"),
                "not a key of the admitted party or a member",
            ));
        }
        let k = self.admission_k() as usize;
        if s.parties.len() < k {
            return Err(Error::denied(
                "envelope.signatures",
                format!("admission needs {k} member(s) to sign (admission rule k = {k}); {} signed", s.parties.len()),
            ));
        }
        Ok(party_effects(p, s.index))
    }

    fn rotation(&self, r: &d::KeyRotated, s: &Signed<'_>) -> Result<Vec<Effect>> {
        let field = "statement.key_rotated";
        let party = self.parties.get(r.party_id.as_str()).ok_or_else(|| {
            Error::not_found(format!("{field}.party_id"), format!("party {} is not a member", r.party_id))
        })?;
        let old = self.active_key(&r.old_keyid).filter(|k| k.party_id == party.party_id).ok_or_else(|| {
            Error::precondition(format!("{field}.old_keyid"), format!("is not an active key of {}", r.party_id))
        })?;
        let new_kid = keyid_of_bytes(&r.new_public_key);
        if self.keys.contains_key(&new_kid) {
            return Err(Error::precondition(format!("{field}.new_public_key"), "key is already registered"));
        }
        if !s.signers.contains(&old.keyid) || !s.signers.contains(&new_kid) {
            return Err(Error::denied(
                "envelope.signatures",
                "a key rotation must be signed by both the old and the new key",
            ));
        }
        if s.signers.len() != 2 {
            return Err(Error::denied(
                "envelope.signatures",
                "a key rotation is signed by exactly the old and the new key",
            ));
        }
        Ok(vec![
            Effect::KeyRevoked { keyid: old.keyid.clone(), at: s.index },
            Effect::Key(KeyRecord {
                keyid: new_kid,
                party_id: r.party_id.to_string(),
                public_key: r.new_public_key,
                added_at: s.index,
                revoked_at: None,
            }),
        ])
    }

    fn revocation(&self, r: &d::KeyRevoked, s: &Signed<'_>) -> Result<Vec<Effect>> {
        let field = "statement.key_revoked";
        if !self.parties.contains_key(r.party_id.as_str()) {
            return Err(Error::not_found(format!("{field}.party_id"), format!("party {} is not a member", r.party_id)));
        }
        let key = self.active_key(&r.keyid).filter(|k| k.party_id == r.party_id).ok_or_else(|| {
            Error::precondition(format!("{field}.keyid"), format!("is not an active key of {}", r.party_id))
        })?;
        let by_party = s.parties.contains(r.party_id.as_str());
        let others = s.parties.iter().filter(|p| **p != r.party_id).count();
        let k = self.admission_k() as usize;
        if !by_party && others < k {
            return Err(Error::denied(
                "envelope.signatures",
                format!("a revocation is signed by the party itself or by {k} other member(s); {others} signed"),
            ));
        }
        Ok(vec![Effect::KeyRevoked { keyid: key.keyid.clone(), at: s.index }])
    }
}

fn party_effects(p: &d::Party, index: u64) -> Vec<Effect> {
    let mut v = vec![Effect::Party(PartyRecord {
        party_id: p.party_id.to_string(),
        name: p.name.clone(),
        roles: p.roles.clone(),
        organisation_type: p.organisation_type.clone(),
        country: p.country.clone().unwrap_or_default(),
        admitted_at: index,
    })];
    for k in &p.public_keys {
        v.push(Effect::Key(KeyRecord {
            keyid: keyid_of_bytes(k),
            party_id: p.party_id.to_string(),
            public_key: *k,
            added_at: index,
            revoked_at: None,
        }));
    }
    v
}
