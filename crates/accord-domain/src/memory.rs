//! An in-memory book: the projections that the rules' effects build, held in memory instead of SQLite.
//! `report verify` replays a downloaded log into it, and the rules are tested against it in-process (no
//! server, no database, no signatures: the signers are given as keyids already verified).
use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use crate::book::{Compiled, Subject, SubjectKind};
use crate::codes::Action;
use crate::state::{Effect, Governance, Result, StateView};
use crate::statement::Statement;

/// Projections and governance of the entries applied so far.
#[derive(Debug, Default)]
pub struct MemoryState {
    subjects: BTreeMap<(SubjectKind, String), Subject>,
    /// Per subject, `(entry index, action)` in the order applied, without duplicates within an entry.
    history: HashMap<(SubjectKind, String), Vec<(u64, Action)>>,
    identities: HashMap<Vec<u8>, u64>,
    gov: Governance,
}

/// One entry to apply: the statement and how it was signed and sequenced.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The statement, parsed at the boundary.
    pub statement: &'a Statement,
    /// Its compiled body ([`crate::statement::Body::compiled`], with the wire encoding).
    pub compiled: &'a Arc<Compiled>,
    /// Keyids whose signatures verified.
    pub signers: &'a [String],
    /// Log index.
    pub index: u64,
    /// Identity hash of the envelope.
    pub identity: &'a [u8],
    /// Integration time, in milliseconds since the epoch.
    pub integrated_ms: i64,
}

impl MemoryState {
    /// Apply an entry with the sequencer's rules; on success its effects are absorbed and returned, on
    /// error nothing changes.
    pub fn apply(&mut self, e: Entry<'_>) -> Result<Vec<Effect>> {
        let mut gov = std::mem::take(&mut self.gov);
        let applied = gov.apply(e.statement, e.compiled, e.signers, e.index, e.integrated_ms, &*self);
        self.gov = gov;
        let effects = applied?;
        for eff in &effects {
            self.absorb(eff.clone());
        }
        self.identities.insert(e.identity.to_vec(), e.index);
        Ok(effects)
    }

    fn absorb(&mut self, e: Effect) {
        match e {
            Effect::Subject(s) => {
                self.subjects.insert((s.kind, s.id.clone()), *s);
            }
            Effect::History { kind, id, index, action } => {
                let rows = self.history.entry((kind, id)).or_default();
                // Indexes only grow: a duplicate can only be among the rows of this same entry.
                if !rows.iter().rev().take_while(|(i, _)| *i == index).any(|(_, a)| *a == action) {
                    rows.push((index, action));
                }
            }
            // Governance effects were absorbed by `Governance::apply`.
            Effect::Charter { .. } | Effect::Party(_) | Effect::Key(_) | Effect::KeyRevoked { .. } => {}
        }
    }

    /// Record an entry that is in the log at `index` but is not applied here (a replay of part of a log:
    /// an entry its attestations cover); its identity then resolves as an applied entry's does.
    pub fn know_entry(&mut self, identity: &[u8], index: u64) {
        self.identities.insert(identity.to_vec(), index);
    }

    /// The governance state (charter, parties, keys).
    pub fn governance(&self) -> &Governance {
        &self.gov
    }

    /// Subjects of a kind, in id order.
    pub fn of_kind(&self, kind: SubjectKind) -> impl Iterator<Item = &Subject> + '_ {
        self.subjects.range((kind, String::new())..).take_while(move |((k, _), _)| *k == kind).map(|(_, s)| s)
    }

    /// A subject's history: `(entry index, action)`, sorted.
    pub fn history(&self, kind: SubjectKind, id: &str) -> Vec<(u64, Action)> {
        let mut rows = self.history.get(&(kind, id.to_string())).cloned().unwrap_or_default();
        rows.sort();
        rows
    }
}

impl StateView for MemoryState {
    fn subject(&self, kind: SubjectKind, id: &str) -> Result<Option<Subject>> {
        Ok(self.subjects.get(&(kind, id.to_string())).cloned())
    }
    fn subjects(&self, kind: SubjectKind, plan_id: &str, party_id: &str) -> Result<Vec<Subject>> {
        Ok(self.of_kind(kind).filter(|s| s.plan_id == plan_id && s.party_id == party_id).cloned().collect())
    }
    fn entry_index(&self, identity: &[u8]) -> Result<Option<u64>> {
        Ok(self.identities.get(identity).copied())
    }
}
