//! The log: opening a ledger, the verification stage, the sequencer and the read side.
//!
//! Pipeline (DESIGN.md §1): [`Ledger::prepare`] parses and verifies an envelope statelessly against a
//! snapshot of the registered keys; [`Ledger::submit`] hands prepared envelopes to the sequencer thread,
//! which applies the domain rules, integrates, signs a checkpoint and commits before replying. Reads use
//! the read-only pool and the latest published checkpoint; they never wait for the writer.
//! This module knows no SQL text and no tonic.
//!
//! This file holds the ledger's types, its state and submission; `open.rs` opens a data directory,
//! `prepare.rs` is the stateless stage, `sequencer.rs` the writer thread, `reads.rs` proofs, checkpoints and
//! cosignatures, `view.rs` the read API of the edge ([`Ledger::read`], [`ReadView`]), `replay.rs` the
//! replay of stored entries (governance at open, rebuild), `highwater.rs` the high-water record.
mod check;
pub mod highwater;
mod indexing;
mod open;
mod prepare;
mod project;
mod publish;
mod reads;
mod replay;
mod sequencer;
mod view;
pub use indexing::follow_index;

/// A stored log entry and a stored checkpoint, as the ledger's reads return them. Re-exported from the store
/// rather than copied: they are plain data (no connection, no SQL), exactly the entries and checkpoints the
/// ledger integrates and signs, and copying every entry of a stream into a twin struct would buy nothing.
/// The edge names them here, never in `store`. `SCHEMA_VERSION` is the version `GetLogInfo` reports.
pub use crate::store::{CheckpointRow, EntryRow, SCHEMA_VERSION};
pub use check::Checked;
pub use open::write_private;
pub use prepare::{
    canonical_envelope, canonical_identity, identity, prepare_unsigned, prepare_with, Committed, Prepared,
};
pub use replay::{rebuild, replay_governance, Rebuilt, Replay, GOVERNANCE_KINDS};
pub use sequencer::MAX_GROUP;
pub use view::{ReadPool, ReadView};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use crate::crypto;
use crate::domain::Effect;
use crate::error::{Error, Kind, Result};
use crate::store::Readers;
use open::lock_data_dir;

/// Default and highest statement size: a statement with its signatures and log framing must fit one
/// C2SP tlog-tiles entry, whose length prefix is a `uint16` (65,535 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 60 * 1024;

/// Limits applied before anything is parsed or verified.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest envelope payload (statement bytes).
    pub max_payload_bytes: usize,
    /// Most signatures on one envelope.
    pub max_signatures: usize,
    /// Most envelopes in one SubmitBatch.
    pub max_batch: usize,
    /// Requests waiting for the sequencer before new ones get UNAVAILABLE.
    pub queue_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_payload_bytes: MAX_PAYLOAD_BYTES, max_signatures: 32, max_batch: 1024, queue_depth: 1024 }
    }
}

/// How to open a ledger.
#[derive(Debug, Clone)]
pub struct Options {
    /// The data directory: `ledger.db`, `log.key`, the lock file and (by default) the high-water record.
    pub data_dir: PathBuf,
    /// Origin for a new ledger; an existing ledger's origin must match when given.
    pub origin: Option<String>,
    /// `synchronous=FULL` (default) or NORMAL.
    pub synchronous_full: bool,
    /// Most read-only connections in the pool, opened as needed (0 counts as 1).
    pub readers: usize,
    /// Limits checked before anything is parsed or verified.
    pub limits: Limits,
    /// Integration clock (Unix ms). The real clock by default; tests and demos replaying a dated scenario
    /// set a fixed one.
    pub clock: Clock,
    /// Where the high-water record lives ([`highwater`]); `DATA_DIR/high-water` by default. Put it on
    /// another volume than the database to survive the loss of the database's volume.
    pub high_water: Option<PathBuf>,
    /// Start a new ledger even though the data directory holds a log key without a database (the
    /// operator's explicit decision: the key then signs a second, unrelated history).
    pub new_ledger_with_existing_key: bool,
}

/// A source of Unix time in milliseconds.
#[derive(Clone)]
pub struct Clock(pub Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(now_ms))
    }
    /// A clock that starts at `start_ms` and runs at real speed from now on.
    pub fn starting_at(start_ms: i64) -> Self {
        let offset = start_ms.saturating_sub(now_ms());
        Self(Arc::new(move || now_ms().saturating_add(offset)))
    }
    /// The current time, Unix ms.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Options {
    /// The defaults for a ledger in `data_dir`: synchronous FULL, 8 readers, default [`Limits`], the system
    /// clock, the high-water record inside the data directory, no origin.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            origin: None,
            synchronous_full: true,
            readers: 8,
            limits: Limits::default(),
            clock: Clock::system(),
            high_water: None,
            new_ledger_with_existing_key: false,
        }
    }
}

/// The latest committed tree and its signed checkpoint.
#[derive(Debug, Clone)]
pub struct Latest {
    /// Entries in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree (SHA-256).
    pub root: [u8; 32],
    /// The signed checkpoint of this tree, as a C2SP signed note.
    pub note: Arc<str>,
    /// When this process published it, or opened the ledger (Unix ms).
    pub at_ms: i64,
}

/// Whether the write path works: read by health checks, and by [`Ledger::submit`] to fail fast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteState {
    /// Taking submissions.
    Serving,
    /// The last commit failed because the disk is full; submissions get RESOURCE_EXHAUSTED until a commit
    /// succeeds again (nothing acknowledged is lost; writing resumes by itself when space returns).
    DiskFull,
    /// The sequencer stopped (a storage failure such as a failed fsync, or shutdown): writes get
    /// UNAVAILABLE at once; a restart is needed.
    Stopped(String),
}

/// State the sequencer publishes after each commit.
#[derive(Debug)]
pub(crate) struct Shared {
    latest: RwLock<Latest>,
    /// Every key ever registered (revoked ones included): keyid → public key. Validity is the sequencer's call.
    keys: RwLock<HashMap<String, crypto::PublicKey>>,
    /// keyid → party (for per-party policy such as rate limits).
    key_parties: RwLock<HashMap<String, String>>,
    size_tx: watch::Sender<u64>,
    write_state: watch::Sender<WriteState>,
}

impl Shared {
    /// Change the write state (no-op when unchanged; a stopped sequencer stays stopped).
    pub(crate) fn set_write_state(&self, new: WriteState) {
        self.write_state.send_if_modified(|s| {
            if *s == new || matches!(s, WriteState::Stopped(_)) {
                return false;
            }
            match &new {
                // A requested close is the normal end, not an error an operator must look into.
                WriteState::Stopped(why) if why == SHUTTING_DOWN => tracing::info!("the sequencer stopped (shutdown)"),
                WriteState::Stopped(why) => tracing::error!(reason = %why, "the sequencer stopped; writes are refused"),
                WriteState::DiskFull => tracing::error!("the disk is full; writes are refused until space returns"),
                WriteState::Serving => tracing::info!("writes resumed"),
            }
            *s = new;
            true
        });
    }
    fn latest(&self) -> Latest {
        crate::sync::read(&self.latest).clone()
    }
    fn publish(&self, latest: Latest, effects: &[Effect]) {
        let new_keys: Vec<_> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Key(k) => Some((k.keyid.clone(), crypto::public_key_from_bytes(&k.public_key).ok()?)),
                _ => None,
            })
            .collect();
        if !new_keys.is_empty() {
            crate::sync::write(&self.keys).extend(new_keys);
            let parties = effects.iter().filter_map(|e| match e {
                Effect::Key(k) => Some((k.keyid.clone(), k.party_id.clone())),
                _ => None,
            });
            crate::sync::write(&self.key_parties).extend(parties);
        }
        let size = latest.size;
        *crate::sync::write(&self.latest) = latest;
        self.size_tx.send_replace(size);
    }
}

/// A running ledger: the sequencer thread plus the read side.
#[derive(Debug)]
pub struct Ledger {
    origin: String,
    verifier_key: String,
    data_dir: PathBuf,
    limits: Limits,
    tx: Mutex<Option<SyncSender<sequencer::Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: Readers,
    /// The log in memory (tree hashes, identities, leaf hashes), shared with the readers and the writer.
    mem: Arc<crate::store::LogMemory>,
    shared: Arc<Shared>,
    /// How far the projector has got: reads wait for it to reach the published size.
    projected: Arc<crate::store::Progress>,
    size_rx: watch::Receiver<u64>,
    /// Held (an exclusive lock on `DATA_DIR/LOCK`) while the ledger is open: one process per data directory.
    _lock: std::fs::File,
    /// Witness cosignature lines of recent tree sizes (all are stored in the database), and when each witness
    /// last cosigned (Unix ms).
    cosignatures: Mutex<reads::CosignatureCache>,
    witness_seen: Mutex<std::collections::BTreeMap<String, i64>>,
    /// The integration clock (the sequencer's): every time the ledger states is read from it.
    clock: Clock,
    /// The verifiable index (docs/INDEX.md), derived from the log off the sequencer's path.
    index: Arc<crate::vindex::Index>,
}

/// Why writes stop when the ledger is closed on purpose.
pub(crate) const SHUTTING_DOWN: &str = "the ledger is shutting down";

/// The SQLite database inside the data directory.
pub const DB_FILE: &str = "ledger.db";
/// The subject projections, derived from the log and rebuilt from it when missing (see
/// [`crate::store::projection`]).
pub use crate::store::PROJECTIONS_FILE;
/// The log's private signing key (text, mode 0600), created with a new ledger.
pub const KEY_FILE: &str = "log.key";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Ledger {
    /// The log's origin: the first line of its checkpoints and the name of its key.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The log's verifier key (`name+hex8+base64`), for clients and witnesses to trust.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }
    /// The data directory this ledger was opened from.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    /// The verifiable index of this ledger's log.
    pub fn index(&self) -> &Arc<crate::vindex::Index> {
        &self.index
    }
    /// The limits checked before anything is parsed or verified.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The latest published tree and checkpoint, from memory: never waits for a commit.
    pub fn latest(&self) -> Latest {
        self.shared.latest()
    }
    /// The write path's state (health reports it).
    pub fn write_state(&self) -> watch::Receiver<WriteState> {
        self.shared.write_state.subscribe()
    }
    /// A receiver that changes whenever the tree grows.
    pub fn size_watch(&self) -> watch::Receiver<u64> {
        self.size_rx.clone()
    }
    /// Now on the ledger's integration clock (Unix ms): checkpoint ages and witness freshness are measured on
    /// the clock that dates the checkpoints.
    pub fn now_ms(&self) -> i64 {
        self.clock.now()
    }
    /// The party a registered key belongs to.
    pub fn party_of_key(&self, keyid: &str) -> Option<String> {
        crate::sync::read(&self.shared.key_parties).get(keyid).cloned()
    }

    /// Hand prepared envelopes to the sequencer as one atomic request and wait for the commit.
    pub async fn submit(&self, items: Vec<Prepared>) -> Result<Vec<Committed>> {
        match &*self.shared.write_state.borrow() {
            WriteState::Stopped(why) => {
                return Err(Error::new(Kind::Unavailable, "", format!("the ledger takes no writes: {why}")))
            }
            WriteState::Serving | WriteState::DiskFull => {}
        }
        let (reply, rx) = oneshot::channel();
        {
            let guard = crate::sync::lock(&self.tx);
            let tx = guard.as_ref().ok_or_else(|| Error::new(Kind::Unavailable, "", SHUTTING_DOWN))?;
            match tx.try_send(sequencer::Job { items, cosignatures: Vec::new(), reply, check: None }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    return Err(Error::new(Kind::Unavailable, "", "the sequencer queue is full; retry shortly"))
                }
                Err(TrySendError::Disconnected(_)) => return Err(Error::new(Kind::Unavailable, "", SHUTTING_DOWN)),
            }
        }
        rx.await.map_err(|_| Error::new(Kind::Unavailable, "", "the sequencer stopped before answering; retry"))?
    }

    /// Stop taking submissions, let the sequencer finish what it has, and wait for it.
    pub fn close(&self) {
        crate::sync::lock(&self.tx).take();
        if let Some(t) = crate::sync::lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}
