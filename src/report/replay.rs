//! In-memory replay of a downloaded log, for `report verify`: the same domain rules as the sequencer,
//! applied to projections held in memory instead of SQLite. Signatures are checked in parallel first
//! (against every key the log ever registers); whether each key was valid at its entry's position is then
//! decided in order by the same governance rules the sequencer uses.
use std::collections::HashMap;

use prost::Message;
use rayon::prelude::*;

use super::{History, Source};
use crate::crypto;
use crate::domain::book::{Subject, SubjectKind};
use crate::domain::memory::{Entry, MemoryState};
use crate::domain::{Governance, StateView};
use crate::error::{Error, Result};
use crate::ledger::{prepare_with, Limits};
use crate::pb;
use crate::store::EntryRow;
use accord_domain::statement as ds;

/// Projections of a replayed log, in memory: the domain's [`MemoryState`] (the same rules and effects as
/// the sequencer) and the entries themselves.
#[derive(Debug, Default)]
pub struct MemoryBook {
    state: MemoryState,
    entries: Vec<EntryRow>,
}

impl MemoryBook {
    /// Replay `entries` (indexes 0..n in order); `progress(done)` is called as entries are applied.
    pub fn replay(origin: &str, entries: Vec<EntryRow>, progress: impl FnMut(u64)) -> Result<Self> {
        for (i, e) in entries.iter().enumerate() {
            if e.index != i as u64 {
                return Err(Error::invalid("entries", format!("expected entry {i}, got {}", e.index)));
            }
        }
        Self::replay_part(origin, entries, &[], progress)
    }

    /// Replay part of a log: `entries` in ascending index order, with gaps (a plan's book read through the
    /// index, docs/INDEX.md §11), and `known` (identity, index) of entries outside them that are in the log
    /// (those its attestations cover). The rules run as for the whole log; what they read must be among
    /// the entries given.
    pub fn replay_part(
        origin: &str,
        entries: Vec<EntryRow>,
        known: &[(Vec<u8>, u64)],
        mut progress: impl FnMut(u64),
    ) -> Result<Self> {
        if let Some(w) = entries.windows(2).find(|w| w.first().map(|e| e.index) >= w.get(1).map(|e| e.index)) {
            let at = w.get(1).map(|e| e.index).unwrap_or_default();
            return Err(Error::invalid("entries", format!("entry {at} is out of order or repeated")));
        }
        let decoded = decode_envelopes(&entries)?;
        let keys = every_key(&decoded);
        let limits = Limits { max_payload_bytes: usize::MAX, max_signatures: usize::MAX, ..Limits::default() };
        let mut book = MemoryBook::default();
        // An entry outside the part resolves only once the replay has passed its index, as an applied
        // entry does: an attestation may not cover an entry that comes after it.
        let mut known: Vec<(&[u8], u64)> = known.iter().map(|(id, i)| (id.as_slice(), *i)).collect();
        known.sort_unstable_by_key(|k| k.1);
        let mut known = known.into_iter().peekable();
        // Pipeline: a verifier thread checks the signatures of the next chunk (in parallel) while this
        // thread applies the rules to the current one in order.
        const CHUNK: usize = 2048;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<crate::ledger::Prepared>>>(2);
        let result: Result<()> = std::thread::scope(|scope| {
            let (decoded, entries, keys, limits) = (&decoded, &entries, &keys, &limits);
            scope.spawn(move || {
                for (envs, es) in decoded.chunks(CHUNK).zip(entries.chunks(CHUNK)) {
                    let batch: Vec<_> = envs
                        .par_iter()
                        .zip(es.par_iter())
                        .map(|(env, e)| {
                            prepare_with(env, origin, limits, |kid| keys.get(kid).copied()).map_err(|err| {
                                Error::new(err.kind, err.field.clone(), format!("entry {}: {}", e.index, err.message))
                            })
                        })
                        .collect();
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
            });
            let mut next = 0usize;
            for batch in rx {
                for p in batch {
                    let p = p?;
                    let Some(e) = entries.get(next) else {
                        return Err(Error::internal("more prepared entries than entries"));
                    };
                    next = next.saturating_add(1);
                    if let Some(&i) = p.unverified.first() {
                        return Err(Error::denied(
                            format!("envelope.signatures[{i}].keyid"),
                            format!(
                                "entry {}: key {} is never registered in this log",
                                e.index,
                                p.envelope.signatures.get(i).map(|s| s.keyid.as_str()).unwrap_or_default()
                            ),
                        ));
                    }
                    while let Some((identity, index)) = known.next_if(|k| k.1 < e.index) {
                        book.state.know_entry(identity, index);
                    }
                    let entry = Entry {
                        statement: &p.parsed,
                        compiled: &p.compiled,
                        signers: &p.signers,
                        index: e.index,
                        identity: &e.identity,
                        integrated_ms: e.integrated_at_ms,
                    };
                    book.state.apply(entry).map_err(|err| {
                        let err = Error::from(err);
                        Error::new(err.kind, err.field, format!("replaying entry {}: {}", e.index, err.message))
                    })?;
                    progress(e.index.saturating_add(1));
                }
            }
            Ok(())
        });
        result?;
        book.entries = entries;
        Ok(book)
    }
}

/// The envelopes of `entries` (decoded in parallel).
fn decode_envelopes(entries: &[EntryRow]) -> Result<Vec<pb::Envelope>> {
    entries
        .par_iter()
        .map(|e| {
            pb::LogEntry::decode(e.leaf.as_slice())
                .ok()
                .and_then(|l| l.envelope)
                .ok_or_else(|| Error::invalid("leaf", format!("entry {} does not decode", e.index)))
        })
        .collect::<Result<_>>()
}

/// Every key the log ever introduces (validity in time is checked later, in order).
fn every_key(decoded: &[pb::Envelope]) -> HashMap<String, crypto::PublicKey> {
    let mut keys: HashMap<String, crypto::PublicKey> = HashMap::new();
    for env in decoded {
        let Ok(st) = pb::Statement::decode(env.payload.as_slice()) else { continue };
        for k in crate::proto::introduced_keys(&st) {
            if let Ok(pk) = crypto::public_key_from_bytes(&k) {
                keys.insert(crypto::keyid_of_bytes(&k), pk);
            }
        }
    }
    keys
}

impl StateView for MemoryBook {
    fn subject(&self, kind: SubjectKind, id: &str) -> accord_domain::state::Result<Option<Subject>> {
        self.state.subject(kind, id)
    }
    fn subjects(&self, kind: SubjectKind, plan_id: &str, party_id: &str) -> accord_domain::state::Result<Vec<Subject>> {
        self.state.subjects(kind, plan_id, party_id)
    }
    fn entry_index(&self, identity: &[u8]) -> accord_domain::state::Result<Option<u64>> {
        self.state.entry_index(identity)
    }
}

impl Source for MemoryBook {
    fn scan(&self, kind: SubjectKind, plan_id: &str) -> accord_views::Result<Vec<Subject>> {
        Ok(self.state.of_kind(kind).filter(|s| plan_id.is_empty() || s.plan_id == plan_id).cloned().collect())
    }
    fn integrated_ms(&self, index: u64) -> accord_views::Result<Option<i64>> {
        Ok(self.entry(index).map(|e| e.integrated_at_ms))
    }
    fn statement(&self, index: u64) -> accord_views::Result<Option<(ds::Statement, Vec<String>)>> {
        let signed = self.entry(index).map(|e| crate::proto::signed_statement_of_leaf(&e.leaf));
        signed.transpose().map_err(crate::error::state)
    }
    fn history(&self, kind: SubjectKind, id: &str) -> accord_views::Result<Vec<History>> {
        Ok(self.state.history(kind, id).into_iter().map(|(index, action)| History { index, action }).collect())
    }
    fn governance(&self) -> accord_views::Result<Governance> {
        Ok(self.state.governance().clone())
    }
}

impl MemoryBook {
    /// The entry at log index `index`, if replayed (entries are ascending, with gaps in a partial replay).
    fn entry(&self, index: u64) -> Option<&EntryRow> {
        self.entries.binary_search_by_key(&index, |e| e.index).ok().and_then(|i| self.entries.get(i))
    }
}

/// The index reads a replayed log (an audit recomputes the map from it).
impl crate::vindex::Log for MemoryBook {
    fn entries(&self, start: u64, end: u64, limit: usize) -> crate::error::Result<Vec<EntryRow>> {
        let from = self.entries.partition_point(|e| e.index < start);
        let to = self.entries.partition_point(|e| e.index < end);
        Ok(self.entries.get(from..to).unwrap_or_default().iter().take(limit).cloned().collect())
    }
    fn governance(&self) -> crate::error::Result<Governance> {
        Ok(self.state.governance().clone())
    }
    fn plan_of(&self, kind: SubjectKind, id: &str) -> crate::error::Result<Option<String>> {
        Ok(self.state.subject(kind, id).map_err(crate::error::Error::from)?.map(|s| s.plan_id))
    }
}
