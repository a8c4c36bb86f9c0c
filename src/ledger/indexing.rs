//! Keeping the verifiable index ([`crate::vindex`]) at the published log, off the sequencer's path.
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Ledger;
use crate::error::Result;

impl Ledger {
    /// File every entry up to the latest published checkpoint in the index and sign its map checkpoint
    /// (blocking). The index already there, or past it, is left as it is.
    pub fn index_to_latest(&self) -> Result<()> {
        let latest = self.latest();
        self.read(|v| self.index.advance(v, latest.size, &latest.root).map(drop))
    }
}

/// Keep the index of `ledger` at its latest published checkpoint until `stop`, once a reader has used it:
/// after each new checkpoint (at most once per `every`), on a blocking thread. A failure is logged and retried at the next
/// checkpoint; complete queries catch up on their own.
///
/// It holds the ledger only while it works (a weak reference between steps), so it never keeps a
/// stopped ledger, and its data directory's lock, alive.
pub async fn follow_index(ledger: Arc<Ledger>, every: Duration, stop: CancellationToken) {
    let mut sizes = ledger.size_watch();
    let ledger = Arc::downgrade(&ledger);
    loop {
        let Some(l) = ledger.upgrade() else { return };
        // Not before a reader has asked for the map (it is built on first use, not at every start).
        let step = if l.index().wanted() {
            tokio::task::spawn_blocking(move || l.index_to_latest()).await
        } else {
            Ok(Ok(()))
        };
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the index could not follow the log; retrying at the next checkpoint")
            }
            Err(e) => tracing::error!(error = %e, "the index task failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = sizes.changed() => if changed.is_err() { return },
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
