//! Replaying the log: each stored entry re-verified against the key history so far and the domain rules
//! applied again; the governance replay at open and the rebuild of every projection.
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use prost::Message;

use super::{lock_data_dir, prepare_with, Limits, DB_FILE};
use crate::crypto;
use crate::domain::{self, Effect};
use crate::error::{Error, Result};
use crate::store::{EntryRow, Progress, Projector, Writer};

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// Entries replayed: the log's size.
    pub entries: u64,
    /// Domain effects written to the projections.
    pub effects: u64,
}

/// Replays stored entries in order against the state as of each position: re-verifies every signature
/// against the key history replayed so far and applies the domain rules. Shared by `rebuild`, report
/// verification and audits.
#[derive(Debug, Default)]
pub struct Replay {
    /// The governance state (charter, parties, keys) as of the last replayed entry.
    pub gov: domain::Governance,
    /// Every key registered so far, decompressed once.
    keys: HashMap<String, crypto::PublicKey>,
}

impl Replay {
    /// Replay one entry; returns its effects (not yet persisted).
    pub fn entry(&mut self, view: &dyn domain::StateView, origin: &str, row: &EntryRow) -> Result<Vec<Effect>> {
        let le = crate::pb::LogEntry::decode(row.leaf.as_slice())
            .map_err(|e| Error::invalid("leaf", format!("entry {} does not decode: {e}", row.index)))?;
        let env = le.envelope.ok_or_else(|| Error::invalid("leaf", format!("entry {} has no envelope", row.index)))?;
        let limits = Limits { max_payload_bytes: usize::MAX, max_signatures: usize::MAX, ..Limits::default() };
        let keys = &self.keys;
        let prepared = prepare_with(&env, origin, &limits, |kid| keys.get(kid).copied())?;
        if let Some(&i) = prepared.unverified.first() {
            return Err(Error::denied(
                format!("envelope.signatures[{i}].keyid"),
                format!(
                    "key {} was not registered when entry {} was integrated",
                    prepared.envelope.signatures.get(i).map(|s| s.keyid.as_str()).unwrap_or_default(),
                    row.index
                ),
            ));
        }
        let effects = self.gov.apply(
            &prepared.parsed,
            &prepared.compiled,
            &prepared.signers,
            row.index,
            le.integrated_at_ms,
            view,
        )?;
        for e in &effects {
            if let Effect::Key(k) = e {
                if let Ok(pk) = crypto::public_key_from_bytes(&k.public_key) {
                    self.keys.insert(k.keyid.clone(), pk);
                }
            }
        }
        Ok(effects)
    }
}

/// Statement kinds that change governance (charter, parties, keys); the store indexes their entries.
pub use crate::store::GOVERNANCE_KINDS;

/// Governance state replayed from the log's governance entries (each re-verified: signatures against the
/// key history so far, rules, and that the leaf really is of the stored kind), never read from the
/// projection tables, which an attacker with the database file could have edited.
pub fn replay_governance(writer: &Writer, origin: &str) -> Result<domain::Governance> {
    let mut replay = Replay::default();
    for row in writer.governance_entries()? {
        let st = crate::proto::statement_of_leaf(&row.leaf)?;
        let kind = st.body.as_ref().map(crate::proto::kind_name).unwrap_or_default();
        if kind != row.kind {
            return Err(Error::precondition(
                "data_dir",
                format!(
                    "entry {} is stored as {:?} but its leaf is a {kind:?} statement; run accord audit",
                    row.index, row.kind
                ),
            ));
        }
        replay
            .entry(writer, origin, &row)
            .map_err(|e| Error::precondition("data_dir", format!("replaying governance entry {}: {e}", row.index)))?;
    }
    Ok(replay.gov)
}

/// Entries replayed into the projections in one transaction of the writer and one of the projector.
const CATCH_UP_CHUNK: u64 = 4096;

/// Bring the projections' file up to the log's `size`: replay the entries it does not cover yet (from its
/// recorded position, or from entry 0 when it is new or belongs to another tree: a restored database, a
/// file from another ledger) against the governance as of each entry, re-verifying every signature, and
/// write their projections. Returns the progress to share with the sequencer (at `size`) and the number of
/// effects replayed. `progress(done, total)` as entries are replayed.
pub(super) fn catch_up(
    writer: &mut Writer,
    projector: &mut Projector,
    origin: &str,
    size: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<(Arc<Progress>, u64)> {
    let position = projector.position()?;
    let valid = match position {
        Some((p, root)) => p <= size && crate::merkle::tree_hash(p, &writer.hashes())? == root,
        None => false,
    };
    let from = match position {
        Some((p, _)) if valid => p,
        Some((p, _)) => {
            tracing::warn!(
                projected = p,
                size,
                "the projections belong to another tree; they are rebuilt from the log"
            );
            projector.clear()?;
            0
        }
        None => 0,
    };
    let shared = Arc::new(Progress::at(from));
    writer.use_progress(shared.clone());
    if from >= size {
        // Nothing to replay. A file without a position (a new ledger's) records it now, so that a read
        // names the checkpoint the projections cover from the start.
        if !valid {
            projector.write(&[], size, &crate::merkle::tree_hash(size, &writer.hashes())?)?;
        }
        return Ok((shared, 0));
    }
    tracing::info!(from, size, "replaying the log into the projections");
    let mut replay = Replay::default();
    for row in writer.governance_entries()?.into_iter().take_while(|r| r.index < from) {
        replay.entry(writer, origin, &row).map_err(|e| e.within(format!("governance entry {}", row.index)))?;
    }
    let mut effects = 0u64;
    let mut start = from;
    while start < size {
        let end = start.saturating_add(CATCH_UP_CHUNK).min(size);
        writer.begin()?;
        let run = (|| {
            for index in start..end {
                let row = writer.entry(index)?.ok_or_else(|| Error::internal(format!("entry {index} is missing")))?;
                let eff = replay.entry(writer, origin, &row).map_err(|e| {
                    Error::new(e.kind, e.field.clone(), format!("replaying entry {index}: {}", e.message))
                })?;
                let body = crate::proto::compiled_body(&crate::proto::statement_of_leaf(&row.leaf)?);
                for e in &eff {
                    writer.project_effect(e, (index, &body))?;
                }
                effects = effects.saturating_add(eff.len() as u64);
            }
            Ok(())
        })();
        if let Err(e) = run {
            writer.rollback();
            return Err(e);
        }
        writer.commit()?;
        let rows = writer.take_projection();
        let root = crate::merkle::tree_hash(end, &writer.hashes())?;
        projector.write(&rows, end, &root)?;
        shared.advance(end);
        progress(end, size);
        start = end;
    }
    writer.settle_projection(size)?;
    Ok((shared, effects))
}

/// Drop every projection and rebuild it by replaying the log from entry 0: the governance tables in one
/// transaction, then the subject projections ([`catch_up`] from 0). The ledger must not be served
/// meanwhile. `progress(done, total)` is called as entries are replayed.
pub fn rebuild(data_dir: &Path, progress: impl FnMut(u64, u64)) -> Result<Rebuilt> {
    let _lock = lock_data_dir(data_dir)?;
    let db = data_dir.join(DB_FILE);
    let mut writer = Writer::open(&db, true, None)?;
    let loaded = writer.load()?;
    // Attestations look the entries they cover up by identity: from memory, not by scanning the table.
    writer.load_memory(loaded.size)?;
    let origin = loaded.meta.origin.clone();
    writer.begin()?;
    let run = (|| {
        writer.clear_governance()?;
        let mut replay = Replay::default();
        for row in writer.governance_entries()? {
            let eff = replay.entry(&writer, &origin, &row).map_err(|e| {
                Error::new(e.kind, e.field.clone(), format!("replaying entry {}: {}", row.index, e.message))
            })?;
            let governance = eff.iter().filter(|e| !matches!(e, Effect::Subject(_) | Effect::History { .. }));
            for e in governance {
                writer.apply_effect(e, (row.index, &[]))?;
            }
        }
        Ok(())
    })();
    match run {
        Ok(()) => writer.commit()?,
        Err(e) => {
            writer.rollback();
            return Err(e);
        }
    }
    let mut projector = Projector::open(&db)?;
    projector.clear()?;
    let (_, effects) = catch_up(&mut writer, &mut projector, &origin, loaded.size, progress)?;
    // The file is whole without its WAL: the writer keeps it attached read-only, so closing the projector
    // would not checkpoint it.
    projector.checkpoint_truncate()?;
    Ok(Rebuilt { entries: loaded.size, effects })
}
