//! WAL checkpoints off the writer's thread.
use rusqlite::Connection;

use super::{db_err, pragmas, Result, StoreError, Writer};

/// Copies committed WAL frames into the database file on its own thread and connection, so that the
/// sequencer's COMMIT rarely pays for a checkpoint (SQLite would otherwise run a whole one inside every
/// COMMIT that crosses `wal_autocheckpoint`). PASSIVE checkpoints never block the writer or readers.
///
/// Under steady load a checkpoint on another connection never catches up with the writer, and SQLite
/// starts the WAL over only when a write transaction begins with the WAL fully copied. So once the WAL is
/// long, [`Checkpointer::poke`] tells the writer to run one PASSIVE checkpoint itself between
/// transactions: it copies only the short tail the background ones left, and the next transaction starts
/// the WAL from its beginning.
#[derive(Debug)]
pub struct Checkpointer {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// WAL length in frames, as the last background checkpoint saw it.
    wal_frames: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Checkpointer {
    /// Shortest pause between two background checkpoints.
    const PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
    /// WAL length (frames of one page) from which the writer finishes a checkpoint itself: 16 MiB of 4 KiB
    /// pages.
    const RESTART_FRAMES: i64 = 4096;

    /// Start the checkpointer for `writer`'s database and turn off the writer's own automatic checkpoints.
    pub fn start(writer: &Writer, synchronous_full: bool) -> Result<Self> {
        let conn = Connection::open(&writer.path).map_err(db_err)?;
        pragmas(&conn, synchronous_full)?;
        conn.pragma_update(None, "cache_size", -2_000).map_err(db_err)?;
        writer.conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(db_err)?;
        let wal_frames = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let seen = wal_frames.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("accord-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    std::thread::sleep(Self::PAUSE);
                    while rx.try_recv().is_ok() {}
                    match wal_checkpoint(&conn) {
                        Ok((log, done)) => {
                            seen.store(log, std::sync::atomic::Ordering::Relaxed);
                            tracing::trace!(log, done, "wal checkpoint");
                        }
                        Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
                    }
                }
            })
            .map_err(StoreError::Spawn)?;
        Ok(Self { tx: Some(tx), thread: Some(thread), wal_frames })
    }

    /// A transaction committed: checkpoint soon (at most once per `PAUSE`, 100 ms). When the WAL has grown
    /// long, also finish a checkpoint on `writer` now, so that its next transaction starts the WAL over.
    pub fn poke(&self, writer: &Writer) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
        if self.wal_frames.load(std::sync::atomic::Ordering::Relaxed) >= Self::RESTART_FRAMES {
            self.wal_frames.store(0, std::sync::atomic::Ordering::Relaxed);
            match wal_checkpoint(&writer.conn) {
                Ok((log, done)) => tracing::debug!(log, done, "wal checkpoint by the writer"),
                Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
            }
        }
    }
}

/// One PASSIVE checkpoint of the connection's main database (the writer's attached projections are
/// read-only there: checkpointing every attached database failed with an I/O error): (frames in the WAL,
/// frames copied into the database).
pub(super) fn wal_checkpoint(c: &Connection) -> Result<(i64, i64)> {
    c.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
        .map_err(db_err)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
