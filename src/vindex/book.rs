//! A plan's whole book through the index (docs/INDEX.md §11): the keys whose lists hold every entry a
//! plan's report reads, found round by round from the entries fetched so far, so that `report verify
//! --complete` replays only those instead of the whole log and still knows none is missing.
use std::collections::BTreeSet;

use accord_domain::codes::SubjectKind;
use accord_domain::ids::PlanId;
use accord_domain::index::IndexKey;
use accord_domain::statement::{Body, PledgeAnnounced, Statement, Version};

/// The statement kinds a report reads besides its plans' entries: governance (parties, roles, keys), FX
/// rates (conversions) and attestations (auditors' opinions, which name no plan).
pub const CONTEXT_KINDS: &[&str] =
    &["charter", "party.admitted", "key.rotated", "key.revoked", "fx_rate.recorded", "attestation.issued"];

/// The keys that prove a plan's book, grown as entries arrive.
///
/// Every entry acting on a subject of plan `P` is filed under `plan:P`, with one exception the rules
/// allow: a pledge of another plan that restates one of `P`'s pledges (filed under its own plan and under
/// `subject:pledge:<restated>`). So the book of `P` is closed over pledges: the lists of every pledge
/// created or restated by an entry held, and the lists of every plan a held pledge statement names, until
/// no new key appears. The replay then holds every plan linked to `P` by restatements, whole.
#[derive(Debug, Clone)]
pub struct BookKeys {
    plans: BTreeSet<PlanId>,
    pledges: BTreeSet<String>,
}

impl BookKeys {
    /// The keys of plan `plan`'s book before any entry is known.
    pub fn new(plan: PlanId) -> Self {
        Self { plans: BTreeSet::from([plan]), pledges: BTreeSet::new() }
    }

    /// Every key to look up now: the context kinds, each plan, each pledge.
    pub fn keys(&self) -> Vec<IndexKey> {
        let kinds = CONTEXT_KINDS.iter().map(|k| IndexKey::Kind(k));
        let plans = self.plans.iter().cloned().map(IndexKey::Plan);
        let pledges = self.pledges.iter().map(|id| IndexKey::Subject { kind: SubjectKind::Pledge, id: id.clone() });
        kinds.chain(plans).chain(pledges).collect()
    }

    /// Take in statements held: the plans and pledges they announce, version or restate join the book.
    pub fn absorb<'a>(&mut self, statements: impl IntoIterator<Item = &'a Statement>) {
        for st in statements {
            if let Some(p) = pledge_of(&st.body) {
                self.plans.insert(p.plan_id.clone());
                self.pledges.insert(p.pledge_id.to_string());
                self.pledges.extend(p.restates.iter().map(|r| r.pledge_id.to_string()));
            }
        }
    }
}

/// The pledge a statement announces or versions.
fn pledge_of(body: &Body) -> Option<&PledgeAnnounced> {
    match body {
        Body::PledgeAnnounced(p) => Some(p),
        Body::Amended(a) => match &a.version {
            Version::Pledge(p) => Some(p),
            _ => None,
        },
        _ => None,
    }
}

/// The identities of entries that the attestations among `statements` cover (each must be found in the log
/// for the replay to accept the attestation, also when it lies outside the book).
pub fn covered<'a>(statements: impl IntoIterator<Item = &'a Statement>) -> BTreeSet<[u8; 32]> {
    let mut out = BTreeSet::new();
    for st in statements {
        if let Body::AttestationIssued(a) = &st.body {
            out.extend(a.covered_entries.iter().copied());
        }
    }
    out
}
