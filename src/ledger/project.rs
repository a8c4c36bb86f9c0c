//! The projector thread (issue 14): after each group's COMMIT the sequencer hands the group's subject
//! projection rows here, and this thread writes them to the projections' file (`store::projection`)
//! while the sequencer integrates the next group. Reads wait for it to reach the published checkpoint.
use super::{Shared, WriteState};
use crate::error::Error;
use crate::store::{Progress, ProjectionRow, Projector};

/// A committed group's projection rows, for the projector: with them the projections' file covers the
/// tree of `size` entries with root `root`.
pub(super) struct Projection {
    pub size: u64,
    pub root: [u8; 32],
    pub rows: Vec<ProjectionRow>,
}

/// How long after its last commit the projector gathers small groups into one transaction. A read right
/// after a reply waits at most about this much longer for the projections, and only under a stream of
/// writes (an isolated write is projected at once).
const COALESCE: std::time::Duration = std::time::Duration::from_millis(2);
/// Rows from which the projector commits without waiting for more.
const COALESCE_ROWS: usize = 4096;

/// The projector thread: writes each committed group's projection rows in order (several groups in one
/// transaction when they queue up, which is how it catches up when it lags), then advances the progress
/// that reads wait for. A failure stops the write path (the groups already committed are still answered:
/// they are durable in the log), and the next open replays the projections from the log.
pub(super) fn project(
    batches: std::sync::mpsc::Receiver<Projection>,
    mut projector: Projector,
    progress: &Progress,
    shared: &Shared,
) {
    let mut last_commit: Option<std::time::Instant> = None;
    while let Ok(first) = batches.recv() {
        let Projection { mut size, mut root, mut rows } = first;
        // Under a stream of small groups (unary Submits), one transaction per group cost more than the
        // rows: within COALESCE of the last commit the groups that arrive join this one.
        let deadline = last_commit.and_then(|t| t.checked_add(COALESCE));
        loop {
            let more = match deadline.and_then(|d| d.checked_duration_since(std::time::Instant::now())) {
                Some(left) if rows.len() < COALESCE_ROWS => match batches.recv_timeout(left) {
                    Ok(more) => more,
                    Err(_) => break,
                },
                _ => match batches.try_recv() {
                    Ok(more) => more,
                    Err(_) => break,
                },
            };
            rows.extend(more.rows);
            size = more.size;
            root = more.root;
        }
        if let Err(e) = projector.write(&rows, size, &root) {
            let e = Error::from(e);
            tracing::error!(error = %e, size, "writing the projections failed; the write path stops");
            let why = format!("writing the projections failed ({})", e.message);
            shared.set_write_state(WriteState::Stopped(why.clone()));
            progress.fail(why);
            // Keep the queue open until the sequencer stops, so that it never blocks on a send.
            while batches.recv().is_ok() {}
            return;
        }
        progress.advance(size);
        last_commit = Some(std::time::Instant::now());
    }
    if let Err(e) = projector.checkpoint_truncate() {
        tracing::warn!(error = %e, "final wal checkpoint of the projections failed");
    }
}
