//! The publisher thread: each committed group's checkpoint recorded in the high-water record (fsync) and
//! published, then the group's requests answered, while the sequencer integrates the next group.
use std::sync::Arc;

use super::sequencer::Reply;
use super::{highwater::HighWater, Committed, Latest, Shared, WriteState};
use crate::domain::Effect;
use crate::error::{Error, Kind, Result};
use crate::store::EntryRow;

/// A committed group handed to the publisher: its checkpoint (None when nothing was appended: the
/// answers then carry the checkpoint published when the publisher gets to them, which covers every entry
/// committed before), the effects to publish, and the answers.
pub(super) struct Ticket {
    pub latest: Option<Latest>,
    pub effects: Vec<Effect>,
    pub answers: Vec<(Reply, Result<Vec<Answer>>)>,
    pub new_entries: u64,
    pub started: std::time::Instant,
}

/// One envelope's answer before the checkpoint is attached.
pub(super) struct Answer {
    pub entry: Arc<EntryRow>,
    pub duplicate: bool,
}

/// The publisher thread: for each committed group in order, record its checkpoint in the high-water
/// record (fsync), publish it (readers, key snapshot, size watchers), then answer the group's requests.
/// While it waits on the record's fsync the sequencer already integrates the next group: the fsync is off
/// the sequencer's critical path, and no one is answered before both the COMMIT and the record are durable.
/// After a failed record nothing more is acknowledged.
pub(super) fn publish(tickets: std::sync::mpsc::Receiver<Ticket>, mut high_water: HighWater, shared: &Shared) {
    let mut failed: Option<Error> = None;
    while let Ok(first) = tickets.recv() {
        let mut batch = vec![first];
        batch.extend(tickets.try_iter());
        // One record for the whole batch: the last checkpoint covers every earlier one.
        if failed.is_none() {
            if let Some(last) = batch.iter().rev().find_map(|t| t.latest.as_ref()) {
                if let Err(e) = high_water.record(&last.note) {
                    shared.set_write_state(WriteState::Stopped(e.message.clone()));
                    failed =
                        Some(Error::new(e.kind, e.field, format!("recording the checkpoint failed ({})", e.message)));
                }
            }
        }
        for t in batch {
            if let Some(e) = &failed {
                for (reply, _) in t.answers {
                    let _ = reply.send(Err(Error::new(
                        Kind::Unavailable,
                        "",
                        format!("the ledger takes no writes: {}", e.message),
                    )));
                }
                continue;
            }
            let latest = match t.latest {
                Some(latest) => {
                    shared.publish(latest.clone(), &t.effects);
                    count_committed(&t.answers);
                    latest
                }
                None => shared.latest(),
            };
            for (reply, res) in t.answers {
                let res = res.map(|answers| {
                    answers
                        .into_iter()
                        .map(|a| Committed { entry: a.entry, latest: latest.clone(), duplicate: a.duplicate })
                        .collect()
                });
                let _ = reply.send(res);
            }
            if t.new_entries > 0 {
                crate::metrics::metrics().commit(t.new_entries as usize, t.started.elapsed().as_secs_f64());
                tracing::debug!(
                    entries = t.new_entries,
                    size = latest.size,
                    micros = t.started.elapsed().as_micros() as u64,
                    "committed"
                );
            }
        }
    }
}

/// Count the entries of a committed group in the metrics, only once committed (a job rolled back to its
/// savepoint added none): one counter update per kind, not per entry.
fn count_committed(results: &[(Reply, Result<Vec<Answer>>)]) {
    let mut per_kind: Vec<(&str, u64)> = Vec::new();
    for (_, res) in results {
        for a in res.iter().flatten().filter(|a| !a.duplicate) {
            match per_kind.iter_mut().find(|(k, _)| *k == a.entry.kind) {
                Some((_, n)) => *n = n.saturating_add(1),
                None => per_kind.push((&a.entry.kind, 1)),
            }
        }
    }
    let m = crate::metrics::metrics();
    for (kind, n) in per_kind {
        m.entries_committed(kind, n);
    }
}
