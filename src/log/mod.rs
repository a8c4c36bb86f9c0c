//! The log: opening a ledger, the verification stage, the sequencer and the read side.
//!
//! Pipeline (DESIGN.md §1): [`Ledger::prepare`] parses and verifies an envelope statelessly against a
//! snapshot of the registered keys; [`Ledger::submit`] hands prepared envelopes to the sequencer thread,
//! which applies the domain rules, integrates, signs a checkpoint and commits before replying. Reads use
//! the read-only pool and the latest published checkpoint; they never wait for the writer.
//! This module knows no SQL text and no tonic.
pub mod highwater;
mod sequencer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use prost::Message;
use tokio::sync::{oneshot, watch};

use crate::crypto::{self, LogSigner};
use crate::domain::{self, Effect};
use crate::error::{Error, Kind, Result};
use crate::merkle;
use crate::pb::{Envelope, Signature, Statement};
use crate::storage::{self, CheckpointRow, Checkpointer, EntryRow, Readers, Writer};
use crate::PAYLOAD_TYPE;

pub use sequencer::MAX_GROUP;

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
        Self { max_payload_bytes: 64 * 1024, max_signatures: 32, max_batch: 1024, queue_depth: 1024 }
    }
}

/// How to open a ledger.
#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    /// Origin for a new ledger; an existing ledger's origin must match when given.
    pub origin: Option<String>,
    /// `synchronous=FULL` (default) or NORMAL.
    pub synchronous_full: bool,
    pub readers: usize,
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
    pub size: u64,
    pub root: [u8; 32],
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

/// An envelope that passed the stateless stage.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The canonical envelope (signatures sorted by keyid, unknown fields dropped).
    pub envelope: Envelope,
    pub identity: [u8; 32],
    pub statement: Statement,
    /// The statement parsed into its typed form at the wire boundary ([`crate::proto`]).
    pub parsed: accord_domain::statement::Statement,
    /// The compiled body ([`crate::proto::compiled_body`]) that subjects the statement creates keep.
    pub compiled: Vec<u8>,
    pub kind: &'static str,
    /// keyids whose signatures verified.
    pub signers: Vec<String>,
    /// Positions of signatures whose keys were unknown to the snapshot; the sequencer checks them.
    pub unverified: Vec<usize>,
}

impl Prepared {
    pub fn statement_id(&self) -> &str {
        &self.statement.statement_id
    }
}

/// A committed (or already present) entry with the checkpoint that covers it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub entry: Arc<EntryRow>,
    pub latest: Latest,
    pub duplicate: bool,
}

/// The canonical encoding of an envelope: signatures sorted by keyid, unknown fields dropped.
pub fn canonical_envelope(env: &Envelope) -> Envelope {
    let mut sigs: Vec<Signature> =
        env.signatures.iter().map(|s| Signature { sig: s.sig.clone(), keyid: s.keyid.clone() }).collect();
    sigs.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    Envelope { payload: env.payload.clone(), payload_type: env.payload_type.clone(), signatures: sigs }
}

/// `identity = SHA-256(canonical envelope bytes)`.
pub fn identity(canonical: &Envelope) -> [u8; 32] {
    crypto::envelope_identity(canonical)
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
    shared: Arc<Shared>,
    size_rx: watch::Receiver<u64>,
    /// Held (an exclusive lock on `DATA_DIR/LOCK`) while the ledger is open: one process per data directory.
    _lock: std::fs::File,
    /// Witness cosignature lines collected per tree size (recent sizes only), and when each witness last
    /// cosigned (Unix ms).
    cosignatures: Mutex<std::collections::BTreeMap<u64, std::collections::BTreeMap<String, String>>>,
    witness_seen: Mutex<std::collections::BTreeMap<String, i64>>,
    /// The integration clock (the sequencer's): every time the ledger states is read from it.
    clock: Clock,
}

/// Why writes stop when the ledger is closed on purpose.
pub(crate) const SHUTTING_DOWN: &str = "the ledger is shutting down";

/// File names inside the data directory.
pub const DB_FILE: &str = "ledger.db";
pub const KEY_FILE: &str = "log.key";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Read the log key from the data directory, or create it (mode 0600) when the ledger is new.
fn load_or_create_key(dir: &Path, origin: Option<&str>, create: bool) -> Result<LogSigner> {
    let path = dir.join(KEY_FILE);
    if path.exists() {
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::internal(format!("reading {}: {e}", path.display())))?;
        let (name, key) = crypto::parse_private_key(&text).map_err(|e| e.scope(KEY_FILE))?;
        if let Some(o) = origin {
            if o != name {
                return Err(Error::precondition(
                    "origin",
                    format!("this data directory holds the ledger {name:?}, not {o:?}"),
                ));
            }
        }
        return Ok(LogSigner::new(&name, key)?);
    }
    if !create {
        return Err(Error::not_found("data_dir", format!("no log key at {}", path.display())));
    }
    let origin = origin.ok_or_else(|| Error::invalid("origin", "a new ledger needs an origin"))?;
    let key = crypto::generate_key();
    let signer = LogSigner::new(origin, key.clone())?;
    write_private(&path, &crypto::private_key_string(origin, &key))?;
    Ok(signer)
}

/// Take the exclusive lock of a data directory (`DATA_DIR/LOCK`), which also proves the directory is
/// writable. Refused when another process holds it.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("LOCK");
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| {
        Error::precondition(
            "data_dir",
            format!("{} is not writable ({e}); the ledger needs to write there", dir.display()),
        )
    })?;
    f.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => Error::precondition(
            "data_dir",
            format!(
                "another process has {} open (it holds {}); one server per data directory",
                dir.display(),
                path.display()
            ),
        ),
        std::fs::TryLockError::Error(e) => Error::internal(format!("locking {}: {e}", path.display())),
    })?;
    Ok(f)
}

/// Refuse a database that is behind the high-water record, or whose tree at the record's size has another
/// root: either way, signing from it would fork the log.
fn check_against_high_water(writer: &Writer, size: u64, hw: &crypto::VerifiedCheckpoint, path: &Path) -> Result<()> {
    if hw.size > size {
        return Err(Error::precondition(
            "data_dir",
            format!(
                "the database holds {size} entries, but this log signed a checkpoint of size {} (high-water record \
                 {}): acknowledged entries are missing (a lost or truncated WAL, or an older copy of the database). \
                 Restore a backup holding at least {} entries; the server will not sign a shorter history",
                hw.size,
                path.display(),
                hw.size
            ),
        ));
    }
    let root = merkle::tree_hash(hw.size, &writer.hashes())?;
    if root != hw.root {
        return Err(Error::precondition(
            "data_dir",
            format!(
                "the database's tree of size {} has root {}, but the log signed root {} for that size (high-water \
                 record {}): this database holds another history. Restore the right database",
                hw.size,
                hex::encode(root),
                hex::encode(hw.root),
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Write a secret file readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))
}

impl Ledger {
    /// Open the ledger in `opts.data_dir`, creating key, database and the signed size-0 checkpoint when
    /// the directory holds no ledger yet. Refuses (FAILED_PRECONDITION, with what to do) a directory that
    /// another process holds, a log key without its database, a damaged database, and a database behind
    /// or beside the high-water record ([`highwater`]): the log never signs a second history.
    pub fn open(opts: Options) -> Result<Self> {
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(|e| Error::internal(format!("creating {}: {e}", opts.data_dir.display())))?;
        let lock = lock_data_dir(&opts.data_dir)?;
        let db = opts.data_dir.join(DB_FILE);
        let is_new = !db.exists();
        if is_new && opts.data_dir.join(KEY_FILE).exists() && !opts.new_ledger_with_existing_key {
            return Err(Error::precondition(
                "data_dir",
                format!(
                    "{} holds the log key {KEY_FILE} but no {DB_FILE}: this log's database is missing. Restore it \
                     (accord restore); starting over would sign a second history under the same key. To start a \
                     new ledger with this key anyway, pass --new-ledger-with-existing-key",
                    opts.data_dir.display()
                ),
            ));
        }
        let signer = load_or_create_key(&opts.data_dir, opts.origin.as_deref(), is_new)?;
        let damaged = |e: Error| {
            if storage::is_storage_failure(&e) {
                Error::precondition(
                    "data_dir",
                    format!(
                        "{} is damaged or unreadable ({}); restore it from a backup (accord restore)",
                        db.display(),
                        e.message
                    ),
                )
            } else {
                e
            }
        };
        let writer = Writer::open(&db, opts.synchronous_full, Some((signer.origin(), &signer.verifier_key())))
            .map_err(damaged)?;
        writer.quick_check().map_err(damaged)?;
        let loaded = writer.load().map_err(damaged)?;
        if loaded.meta.origin != signer.origin() || loaded.meta.verifier_key != signer.verifier_key() {
            return Err(Error::precondition(
                "data_dir",
                format!("{KEY_FILE} does not belong to the ledger {:?} in {DB_FILE}", loaded.meta.origin),
            ));
        }
        let hw_path = opts.high_water.clone().unwrap_or_else(|| opts.data_dir.join(highwater::FILE));
        let mut high_water = highwater::HighWater::open(&hw_path, true)?;
        if is_new && opts.new_ledger_with_existing_key && high_water.latest_note().is_some() {
            tracing::warn!(path = %hw_path.display(), "starting a new ledger with an existing key, as asked: the high-water record starts over");
        } else if let Some(hw) = high_water.latest(signer.verifier())? {
            check_against_high_water(&writer, loaded.size, &hw, &hw_path)?;
        }
        let latest = match &loaded.latest {
            Some(cp) if cp.size == loaded.size => {
                Latest { size: cp.size, root: cp.root, note: Arc::from(cp.note.as_str()), at_ms: opts.clock.now() }
            }
            Some(cp) => {
                return Err(Error::internal(format!(
                    "latest checkpoint has size {} but the log holds {} entries",
                    cp.size, loaded.size
                )))
            }
            None if loaded.size == 0 => {
                let root = merkle::empty_root();
                let note = signer.sign_checkpoint(0, &root);
                writer.begin()?;
                writer.insert_checkpoint(0, &root, &note, opts.clock.now())?;
                writer.commit()?;
                Latest { size: 0, root, note: Arc::from(note), at_ms: opts.clock.now() }
            }
            None => return Err(Error::internal("entries without any checkpoint")),
        };
        if high_water.latest_note() != Some(&*latest.note) {
            high_water.record(&latest.note)?;
        }
        let governance = replay_governance(&writer, signer.origin())?;
        if governance != loaded.governance {
            return Err(Error::precondition(
                "data_dir",
                format!(
                    "the charter, party or key tables of {DB_FILE} differ from what the log's governance entries say \
                     (edited outside accord?); run accord audit, then accord rebuild"
                ),
            ));
        }
        let loaded = storage::Loaded { governance, ..loaded };
        // Decompressed once here, not on every signature check.
        let keys = loaded
            .governance
            .keys
            .values()
            .filter_map(|k| Some((k.keyid.clone(), crypto::public_key_from_bytes(&k.public_key).ok()?)))
            .collect();
        let key_parties = loaded.governance.keys.values().map(|k| (k.keyid.clone(), k.party_id.clone())).collect();
        let (size_tx, size_rx) = watch::channel(latest.size);
        let shared = Arc::new(Shared {
            latest: RwLock::new(latest),
            keys: RwLock::new(keys),
            key_parties: RwLock::new(key_parties),
            size_tx,
            write_state: watch::channel(WriteState::Serving).0,
        });
        let (tx, rx) = sync_channel(opts.limits.queue_depth);
        let origin = signer.origin().to_string();
        let verifier_key = signer.verifier_key();
        let seq = sequencer::Sequencer {
            checkpointer: Checkpointer::start(&writer, opts.synchronous_full)?,
            writer,
            signer,
            gov: loaded.governance,
            size: loaded.size,
            last_ms: loaded.last_integrated_ms,
            shared: shared.clone(),
            clock: opts.clock.clone(),
            high_water,
        };
        let thread = std::thread::Builder::new()
            .name("accord-sequencer".into())
            .spawn(move || seq.run(rx))
            .map_err(|e| Error::internal(format!("spawning the sequencer: {e}")))?;
        tracing::info!(origin, size = loaded.size, "ledger open");
        Ok(Self {
            origin,
            verifier_key,
            data_dir: opts.data_dir.clone(),
            limits: opts.limits,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            readers: Readers::new(&db, opts.readers),
            shared,
            size_rx,
            cosignatures: Mutex::new(Default::default()),
            witness_seen: Mutex::new(Default::default()),
            clock: opts.clock.clone(),
            _lock: lock,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
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
    pub fn readers(&self) -> &Readers {
        &self.readers
    }
    /// Now on the ledger's integration clock (Unix ms): checkpoint ages and witness freshness are measured on
    /// the clock that dates the checkpoints.
    pub fn now_ms(&self) -> i64 {
        self.clock.now()
    }
    /// Keep a witness's cosignature line for the checkpoint of `size` (verified by the caller).
    pub fn add_cosignature(&self, size: u64, witness: &str, line: &str) {
        let mut c = crate::sync::lock(&self.cosignatures);
        c.entry(size).or_default().insert(witness.to_string(), line.trim_end().to_string());
        while c.len() > 64 {
            c.pop_first();
        }
        crate::sync::lock(&self.witness_seen).insert(witness.to_string(), self.clock.now());
    }
    /// The checkpoint note of `size` with the witness cosignatures collected for it appended.
    pub fn cosigned_note(&self, size: u64, note: &str) -> String {
        let c = crate::sync::lock(&self.cosignatures);
        let mut out = note.to_string();
        for line in c.get(&size).into_iter().flat_map(|m| m.values()) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
    /// When each witness last returned a cosignature (Unix ms).
    pub fn witness_seen(&self) -> Vec<(String, i64)> {
        crate::sync::lock(&self.witness_seen).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
    /// The party a registered key belongs to.
    pub fn party_of_key(&self, keyid: &str) -> Option<String> {
        crate::sync::read(&self.shared.key_parties).get(keyid).cloned()
    }

    /// Stateless stage: sizes, payload type, statement decoding and canonical form, field rules, and
    /// every signature whose key is known (or introduced by the statement) checked with verify_strict.
    /// CPU-bound: call from a blocking context.
    pub fn prepare(&self, env: &Envelope) -> Result<Prepared> {
        let keys = crate::sync::read(&self.shared.keys);
        prepare_with(env, &self.origin, &self.limits, |kid| keys.get(kid).copied())
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
            match tx.try_send(sequencer::Job { items, reply }) {
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

    /// Inclusion proof of leaf `index` in the tree of `size` leaves (blocking).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>> {
        Ok(self.inclusion_proofs(&[index], size)?.pop().unwrap_or_default())
    }

    /// Inclusion proofs of several leaves in the tree of `size` leaves, reading each stored hash once.
    pub fn inclusion_proofs(&self, indexes: &[u64], size: u64) -> Result<Vec<Vec<[u8; 32]>>> {
        let latest = self.latest().size;
        if size > latest {
            return Err(Error::not_found("tree_size", format!("the tree has only {latest} entries, not {size}")));
        }
        if let Some(index) = indexes.iter().find(|i| **i >= size) {
            return Err(Error::invalid("index", format!("{index} is not below tree_size {size}")));
        }
        self.readers.with(|r| {
            let cached = merkle::CachingReader::new(r.hashes());
            indexes
                .iter()
                .map(|&index| {
                    merkle::prove_record(size, index, &cached)
                        .map(|p| p.into_iter().map(|h| h.0).collect())
                        .map_err(|e| Error::internal(format!("inclusion proof: {e}")))
                })
                .collect()
        })
    }

    /// Consistency proof between two sizes (blocking).
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>> {
        let latest = self.latest().size;
        if to > latest {
            return Err(Error::not_found("to_size", format!("the tree has only {latest} entries, not {to}")));
        }
        if from > to {
            return Err(Error::invalid("from_size", format!("{from} is larger than to_size {to}")));
        }
        if from == 0 || from == to {
            return Ok(Vec::new());
        }
        self.readers.with(|r| {
            merkle::prove_tree(to, from, &r.hashes())
                .map(|p| p.into_iter().map(|h| h.0).collect())
                .map_err(|e| Error::internal(format!("consistency proof: {e}")))
        })
    }

    /// The stored checkpoint of exactly `size` (blocking).
    pub fn checkpoint(&self, size: u64) -> Result<CheckpointRow> {
        let latest = self.latest();
        if size == latest.size {
            return Ok(CheckpointRow { size, root: latest.root, note: latest.note.to_string() });
        }
        self.readers.with(|r| r.checkpoint(size))?.ok_or_else(|| {
            Error::not_found("tree_size", format!("no checkpoint of size {size} is stored (latest is {})", latest.size))
        })
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub entries: u64,
    pub effects: u64,
}

/// Replays stored entries in order against the state as of each position: re-verifies every signature
/// against the key history replayed so far and applies the domain rules. Shared by `rebuild`, report
/// verification and audits.
#[derive(Debug, Default)]
pub struct Replay {
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

/// Statement kinds that change governance (charter, parties, keys).
pub const GOVERNANCE_KINDS: &[&str] = &["charter", "party.admitted", "key.rotated", "key.revoked"];

/// Governance state replayed from the log's governance entries (each re-verified: signatures against the
/// key history so far, rules, and that the leaf really is of the stored kind), never read from the
/// projection tables, which an attacker with the database file could have edited.
pub fn replay_governance(writer: &Writer, origin: &str) -> Result<domain::Governance> {
    let mut replay = Replay::default();
    for row in writer.entries_of_kinds(GOVERNANCE_KINDS)? {
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

/// Drop every projection and rebuild it by replaying the log from entry 0, in one transaction. The ledger
/// must not be served meanwhile. `progress(done, total)` is called as entries are replayed.
pub fn rebuild(data_dir: &Path, mut progress: impl FnMut(u64, u64)) -> Result<Rebuilt> {
    let _lock = lock_data_dir(data_dir)?;
    let db = data_dir.join(DB_FILE);
    let writer = Writer::open(&db, true, None)?;
    let loaded = writer.load()?;
    let origin = loaded.meta.origin.clone();
    writer.begin()?;
    let run = (|| {
        writer.clear_projections()?;
        let mut replay = Replay::default();
        let mut effects = 0u64;
        for index in 0..loaded.size {
            let row = writer.entry(index)?.ok_or_else(|| Error::internal(format!("entry {index} is missing")))?;
            let eff = replay
                .entry(&writer, &origin, &row)
                .map_err(|e| Error::new(e.kind, e.field.clone(), format!("replaying entry {index}: {}", e.message)))?;
            let body = crate::proto::compiled_body(&crate::proto::statement_of_leaf(&row.leaf)?);
            for e in &eff {
                writer.apply_effect(e, (index, &body))?;
            }
            effects = effects.saturating_add(eff.len() as u64);
            progress(index.saturating_add(1), loaded.size);
        }
        Ok(Rebuilt { entries: loaded.size, effects })
    })();
    match run {
        Ok(r) => {
            writer.commit()?;
            Ok(r)
        }
        Err(e) => {
            writer.rollback();
            Err(e)
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}

/// The stateless stage with an explicit key lookup (shared by the server and offline verification).
pub fn prepare_with(
    env: &Envelope,
    origin: &str,
    limits: &Limits,
    lookup: impl Fn(&str) -> Option<crypto::PublicKey>,
) -> Result<Prepared> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(Error::invalid("envelope.payload_type", format!("must be {PAYLOAD_TYPE:?}")));
    }
    if env.payload.is_empty() {
        return Err(Error::invalid("envelope.payload", "is empty"));
    }
    if env.payload.len() > limits.max_payload_bytes {
        return Err(Error::invalid(
            "envelope.payload",
            format!("is {} bytes; the limit is {}", env.payload.len(), limits.max_payload_bytes),
        ));
    }
    if env.signatures.is_empty() {
        return Err(Error::invalid("envelope.signatures", "at least one signature is required"));
    }
    if env.signatures.len() > limits.max_signatures {
        return Err(Error::invalid("envelope.signatures", format!("at most {} signatures", limits.max_signatures)));
    }
    let statement = Statement::decode(env.payload.as_slice())
        .map_err(|e| Error::invalid("envelope.payload", format!("is not an accord.v1.Statement: {e}")))?;
    if statement.encode_to_vec() != env.payload {
        return Err(Error::invalid(
            "envelope.payload",
            "is not the canonical encoding of the statement (fields out of order, defaults or unknown fields)",
        ));
    }
    let parsed = crate::proto::parse_statement(&statement, origin).map_err(|e| e.scope("statement"))?;
    let kind = parsed.body.kind_name();
    let canonical = canonical_envelope(env);
    for w in canonical.signatures.windows(2) {
        if let [a, b] = w {
            if a.keyid == b.keyid {
                return Err(Error::invalid("envelope.signatures", format!("keyid {} signs twice", a.keyid)));
            }
        }
    }
    let introduced: HashMap<String, [u8; 32]> =
        domain::introduced_keys(&parsed).into_iter().map(|k| (crypto::keyid_of_bytes(&k), k)).collect();
    let mut signers = Vec::new();
    let mut unverified = Vec::new();
    for (i, s) in canonical.signatures.iter().enumerate() {
        let field = format!("envelope.signatures[{i}]");
        if !crypto::is_valid_keyid(&s.keyid) {
            return Err(Error::invalid(
                format!("{field}.keyid"),
                "must be 64 lowercase hex characters (SHA-256 of the public key)",
            ));
        }
        if s.sig.len() != 64 {
            return Err(Error::invalid(
                format!("{field}.sig"),
                format!("an Ed25519 signature is 64 bytes, got {}", s.sig.len()),
            ));
        }
        let key = match introduced.get(&s.keyid) {
            Some(pk) => crypto::public_key_from_bytes(pk).map_err(|e| e.scope(&format!("{field}.keyid")))?,
            None => match lookup(&s.keyid) {
                Some(key) => key,
                None => {
                    unverified.push(i);
                    continue;
                }
            },
        };
        if !crypto::verify_pae(&key, &canonical.payload_type, &canonical.payload, &s.sig) {
            return Err(Error::denied(
                format!("{field}.sig"),
                "signature does not verify (Ed25519 verify_strict over DSSE PAE)",
            ));
        }
        signers.push(s.keyid.clone());
    }
    // Keys unknown to the snapshot are left to the sequencer, which rejects unregistered ones.
    for &i in &unverified {
        signers.extend(canonical.signatures.get(i).map(|s| s.keyid.clone()));
    }
    let identity = identity(&canonical);
    let compiled = crate::proto::compiled_body(&statement);
    Ok(Prepared { envelope: canonical, identity, statement, parsed, compiled, kind, signers, unverified })
}
