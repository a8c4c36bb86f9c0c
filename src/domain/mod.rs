//! The domain: statement validation, governance state and signer rules. Pure functions over plain values:
//! no I/O, no async, no tonic, no SQL.
//!
//! Two stages, matching the pipeline in DESIGN.md §1:
//! - [`check_statement`] is stateless (shape, formats, origin) and runs before the sequencer;
//! - [`Governance::apply`] runs in the sequencer against the state as of the entry, decides whether the
//!   signatures authorise the statement, and returns the [`Effect`]s to persist.
pub mod book;
pub mod money;

pub use accord_domain::date;
pub use accord_domain::text::{is_forbidden_in_text, is_id_char, MAX_ID_LEN, MAX_TEXT_LEN};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::crypto;
use crate::error::{Error, Result};
use crate::pb::{statement::Body, Party as PbParty, Statement};

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

/// Public keys a statement introduces (so its own signatures by those keys can be checked before the keys
/// are registered).
pub fn introduced_keys(st: &Statement) -> Vec<[u8; 32]> {
    let party_keys = |p: &PbParty| -> Vec<[u8; 32]> {
        p.public_keys.iter().filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok()).collect()
    };
    match &st.body {
        Some(Body::Charter(c)) => c.founders.iter().flat_map(party_keys).collect(),
        Some(Body::PartyAdmitted(a)) => a.party.as_ref().map(party_keys).unwrap_or_default(),
        Some(Body::KeyRotated(r)) => <[u8; 32]>::try_from(r.new_public_key.as_slice()).into_iter().collect(),
        _ => Vec::new(),
    }
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

    /// Decide whether the statement at `index`, signed by the (already cryptographically verified) keys
    /// `signers`, is allowed by the rules as of this state, and return the effects to persist. Changes
    /// nothing on error. `integrated_ms` is the integration time the log will record.
    pub fn apply(
        &mut self,
        st: &Statement,
        signers: &[String],
        index: u64,
        integrated_ms: i64,
        view: &dyn StateView,
    ) -> Result<Vec<Effect>> {
        let body =
            st.body.as_ref().ok_or_else(|| Error::invalid("statement.body", "one statement kind must be set"))?;
        if let Some(eff) = date::parse_date(&st.effective_date) {
            if eff > date::day_of_ms(integrated_ms) {
                return Err(Error::precondition(
                    "statement.effective_date",
                    format!(
                        "{} is after the integration date {}",
                        st.effective_date,
                        date::format_date(date::day_of_ms(integrated_ms))
                    ),
                ));
            }
        }
        let introduced: BTreeSet<String> = introduced_keys(st).iter().map(|k| crypto::keyid_of_bytes(k)).collect();
        // Every signature must be by an active registered key or a key this statement introduces.
        let mut signer_parties: BTreeSet<String> = BTreeSet::new();
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
                Some(k) if k.revoked_at.is_some() => {
                    return Err(Error::denied(
                        format!("envelope.signatures[{i}].keyid"),
                        format!(
                            "key {kid} of {} was revoked at entry {}",
                            k.party_id,
                            k.revoked_at.unwrap_or_default()
                        ),
                    ))
                }
                Some(k) => {
                    signer_parties.insert(k.party_id.clone());
                }
            }
        }
        if self.charter.is_none() && !matches!(body, Body::Charter(_)) {
            return Err(Error::precondition(
                "statement.body",
                "the ledger has no charter yet: entry 0 must be the charter",
            ));
        }
        let effects = match body {
            Body::Charter(c) => {
                if self.charter.is_some() || index != 0 {
                    return Err(Error::precondition("statement.charter", "the ledger already has a charter (entry 0)"));
                }
                let mut effects = vec![Effect::Charter {
                    name: c.name.clone(),
                    admission_k: c.admission.as_ref().map_or(1, |a| a.k),
                }];
                let mut founder_keys = BTreeSet::new();
                for (i, f) in c.founders.iter().enumerate() {
                    let kids: Vec<String> = f.public_keys.iter().map(|k| crypto::keyid_of_bytes(k)).collect();
                    if !kids.iter().any(|k| signers.contains(k)) {
                        return Err(Error::denied(
                            format!("statement.charter.founders[{i}]"),
                            format!(
                                "founder {} has not signed the charter (every founder must sign with their own key)",
                                f.party_id
                            ),
                        ));
                    }
                    founder_keys.extend(kids);
                    effects.extend(party_effects(f, index));
                }
                if let Some(i) = signers.iter().position(|s| !founder_keys.contains(s)) {
                    return Err(Error::denied(
                        format!("envelope.signatures[{i}].keyid"),
                        "the charter may be signed only by founders' keys",
                    ));
                }
                effects
            }
            Body::PartyAdmitted(a) => {
                let p =
                    a.party.as_ref().ok_or_else(|| Error::invalid("statement.party_admitted.party", "is required"))?;
                if self.parties.contains_key(&p.party_id) {
                    return Err(Error::precondition(
                        "statement.party_admitted.party.party_id",
                        format!("party {} is already a member", p.party_id),
                    ));
                }
                let kids: Vec<String> = p.public_keys.iter().map(|k| crypto::keyid_of_bytes(k)).collect();
                for (i, kid) in kids.iter().enumerate() {
                    if let Some(k) = self.keys.get(kid) {
                        return Err(Error::precondition(
                            format!("statement.party_admitted.party.public_keys[{i}]"),
                            format!("key is already registered to {}", k.party_id),
                        ));
                    }
                }
                if !kids.iter().any(|k| signers.contains(k)) {
                    return Err(Error::denied(
                        "envelope.signatures",
                        format!("the new party {} must sign its admission", p.party_id),
                    ));
                }
                if let Some(i) = signers.iter().position(|s| introduced.contains(s) && !kids.contains(s)) {
                    return Err(Error::denied(
                        format!("envelope.signatures[{i}].keyid"),
                        "not a key of the admitted party or a member",
                    ));
                }
                let k = self.admission_k() as usize;
                if signer_parties.len() < k {
                    return Err(Error::denied(
                        "envelope.signatures",
                        format!(
                            "admission needs {k} member(s) to sign (admission rule k = {k}); {} signed",
                            signer_parties.len()
                        ),
                    ));
                }
                party_effects(p, index)
            }
            Body::KeyRotated(r) => {
                let field = "statement.key_rotated";
                let party = self.parties.get(&r.party_id).ok_or_else(|| {
                    Error::not_found(format!("{field}.party_id"), format!("party {} is not a member", r.party_id))
                })?;
                let old = self.active_key(&r.old_keyid).filter(|k| k.party_id == party.party_id).ok_or_else(|| {
                    Error::precondition(format!("{field}.old_keyid"), format!("is not an active key of {}", r.party_id))
                })?;
                let new_kid = crypto::keyid_of_bytes(&r.new_public_key);
                if self.keys.contains_key(&new_kid) {
                    return Err(Error::precondition(format!("{field}.new_public_key"), "key is already registered"));
                }
                if !signers.contains(&old.keyid) || !signers.contains(&new_kid) {
                    return Err(Error::denied(
                        "envelope.signatures",
                        "a key rotation must be signed by both the old and the new key",
                    ));
                }
                if signers.len() != 2 {
                    return Err(Error::denied(
                        "envelope.signatures",
                        "a key rotation is signed by exactly the old and the new key",
                    ));
                }
                vec![
                    Effect::KeyRevoked { keyid: old.keyid.clone(), at: index },
                    Effect::Key(KeyRecord {
                        keyid: new_kid,
                        party_id: r.party_id.clone(),
                        public_key: r
                            .new_public_key
                            .as_slice()
                            .try_into()
                            .map_err(|_| Error::internal("key length"))?,
                        added_at: index,
                        revoked_at: None,
                    }),
                ]
            }
            Body::KeyRevoked(r) => {
                let field = "statement.key_revoked";
                if !self.parties.contains_key(&r.party_id) {
                    return Err(Error::not_found(
                        format!("{field}.party_id"),
                        format!("party {} is not a member", r.party_id),
                    ));
                }
                let key = self.active_key(&r.keyid).filter(|k| k.party_id == r.party_id).ok_or_else(|| {
                    Error::precondition(format!("{field}.keyid"), format!("is not an active key of {}", r.party_id))
                })?;
                let by_party = signer_parties.contains(&r.party_id);
                let others = signer_parties.iter().filter(|p| **p != r.party_id).count();
                let k = self.admission_k() as usize;
                if !by_party && others < k {
                    return Err(Error::denied(
                        "envelope.signatures",
                        format!(
                            "a revocation is signed by the party itself or by {k} other member(s); {others} signed"
                        ),
                    ));
                }
                vec![Effect::KeyRevoked { keyid: key.keyid.clone(), at: index }]
            }
            other => {
                let ctx = book::Ctx {
                    gov: self,
                    signers: &signer_parties,
                    index,
                    today: date::day_of_ms(integrated_ms),
                    view,
                };
                book::apply(&ctx, other).map_err(|e| e.within("statement"))?
            }
        };
        for e in &effects {
            self.absorb(e);
        }
        Ok(effects)
    }
}

fn party_effects(p: &PbParty, index: u64) -> Vec<Effect> {
    let mut v = vec![Effect::Party(PartyRecord {
        party_id: p.party_id.clone(),
        name: p.name.clone(),
        roles: p.roles.clone(),
        organisation_type: p.organisation_type.clone(),
        country: p.country.clone(),
        admitted_at: index,
    })];
    for k in &p.public_keys {
        if let Ok(pk) = <[u8; 32]>::try_from(k.as_slice()) {
            v.push(Effect::Key(KeyRecord {
                keyid: crypto::keyid_of_bytes(k),
                party_id: p.party_id.clone(),
                public_key: pk,
                added_at: index,
                revoked_at: None,
            }));
        }
    }
    v
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
