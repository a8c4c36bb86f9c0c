//! Opening a ledger: the data directory's lock and log key, the database checked against the high-water
//! record and the governance entries, the first checkpoint, and the sequencer thread started.
use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use super::{
    highwater, reads, replay_governance, sequencer, Latest, Ledger, Options, Shared, WriteState, DB_FILE, KEY_FILE,
};
use crate::crypto::{self, LogSigner};
use crate::error::{Error, Result};
use crate::merkle;
use crate::store::{self, Checkpointer, Readers, Writer};

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
pub(super) fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
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
        let (mut writer, loaded) = open_database(&db, &opts, &signer)?;
        let hw_path = opts.high_water.clone().unwrap_or_else(|| opts.data_dir.join(highwater::FILE));
        let mut high_water = highwater::HighWater::open(&hw_path, true)?;
        if is_new && opts.new_ledger_with_existing_key && high_water.latest_note().is_some() {
            tracing::warn!(path = %hw_path.display(), "starting a new ledger with an existing key, as asked: the high-water record starts over");
        } else if let Some(hw) = high_water.latest(signer.verifier())? {
            check_against_high_water(&writer, loaded.size, &hw, &hw_path)?;
        }
        let latest = latest_checkpoint(&mut writer, &loaded, &signer, &opts)?;
        if high_water.latest_note() != Some(&*latest.note) {
            high_water.record(&latest.note)?;
        }
        let started = std::time::Instant::now();
        let loaded = check_governance(&writer, &signer, loaded)?;
        tracing::debug!(millis = started.elapsed().as_millis() as u64, "governance replayed");
        let (projector, progress) = open_projections(&db, &mut writer, &signer, loaded.size)?;
        let mem = writer.memory();
        let cosigned = writer.recent_cosignatures(reads::RECENT_COSIGNED_SIZES)?;
        let (shared, size_rx) = Shared::new(latest, &loaded.governance);
        let shared = Arc::new(shared);
        let (tx, rx) = sync_channel(opts.limits.queue_depth);
        let origin = signer.origin().to_string();
        let verifier_key = signer.verifier_key();
        let index = crate::vindex::Index::new(accord_tlog::mapcheckpoint::MapSigner::for_log(&signer)?);
        let seq = sequencer::Sequencer {
            checkpointer: Checkpointer::start(&writer, opts.synchronous_full)?,
            writer,
            signer,
            gov: loaded.governance,
            size: loaded.size,
            last_ms: loaded.last_integrated_ms,
            shared: shared.clone(),
            clock: opts.clock.clone(),
            publisher: None,
            projector: Some(projector),
            progress: progress.clone(),
            projecting: None,
        };
        let thread = std::thread::Builder::new()
            .name("accord-sequencer".into())
            .spawn(move || seq.run(rx, high_water))
            .map_err(|e| Error::internal(format!("spawning the sequencer: {e}")))?;
        tracing::info!(origin, size = loaded.size, "ledger open");
        Ok(Self {
            origin,
            verifier_key,
            data_dir: opts.data_dir.clone(),
            limits: opts.limits,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            readers: Readers::new(&db, opts.readers, mem.clone()),
            mem,
            shared,
            projected: progress,
            size_rx,
            witness_seen: Mutex::new(reads::last_seen(&cosigned)),
            cosignatures: Mutex::new(reads::CosignatureCache::loaded(cosigned)),
            clock: opts.clock.clone(),
            index: Arc::new(index),
            _lock: lock,
        })
    }
}

/// Open the projections' file and bring it up to the log (see [`super::replay::catch_up`]), logging the
/// progress of a long replay every few seconds.
fn open_projections(
    db: &Path,
    writer: &mut Writer,
    signer: &LogSigner,
    size: u64,
) -> Result<(store::Projector, Arc<store::Progress>)> {
    let mut projector = store::Projector::open(db)?;
    let mut reported = std::time::Instant::now();
    let (progress, _) = super::replay::catch_up(writer, &mut projector, signer.origin(), size, |done, total| {
        if reported.elapsed() >= std::time::Duration::from_secs(5) || done == total {
            reported = std::time::Instant::now();
            tracing::info!(done, total, "projections replayed");
        }
    })?;
    Ok((projector, progress))
}

/// Open the database with the log's origin and key, check it (a damaged or unreadable one is refused with
/// what to do), load it, and refuse a database that belongs to another log.
fn open_database(db: &Path, opts: &Options, signer: &LogSigner) -> Result<(Writer, store::Loaded)> {
    let damaged = |e: Error| {
        if store::is_storage_failure(&e) {
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
    let mut writer =
        Writer::open(db, opts.synchronous_full, Some((signer.origin(), &signer.verifier_key()))).map_err(damaged)?;
    let loaded = writer.load().map_err(damaged)?;
    if loaded.meta.origin != signer.origin() || loaded.meta.verifier_key != signer.verifier_key() {
        return Err(Error::precondition(
            "data_dir",
            format!("{KEY_FILE} does not belong to the ledger {:?} in {DB_FILE}", loaded.meta.origin),
        ));
    }
    // The two reads of the whole database at start-up run side by side, each on its own connection:
    // SQLite's quick_check, and loading the log into memory (nothing uses it unless the check passes).
    let started = std::time::Instant::now();
    let (checked, mem) = std::thread::scope(|scope| {
        let load = scope.spawn(|| store::load_memory(db, loaded.size));
        let checked = writer.quick_check();
        (checked, load.join())
    });
    checked.map_err(damaged)?;
    let mem =
        mem.map_err(|_| Error::internal("loading the log into memory panicked"))?.map_err(|e| damaged(e.into()))?;
    writer.use_memory(Arc::new(mem));
    tracing::debug!(
        size = loaded.size,
        millis = started.elapsed().as_millis() as u64,
        "checked and loaded into memory"
    );
    Ok((writer, loaded))
}

/// The latest checkpoint, which must cover every entry; a new ledger signs and stores the one of size 0.
fn latest_checkpoint(
    writer: &mut Writer,
    loaded: &store::Loaded,
    signer: &LogSigner,
    opts: &Options,
) -> Result<Latest> {
    Ok(match &loaded.latest {
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
    })
}

/// Replay the governance entries and refuse a database whose charter, party or key tables say otherwise;
/// the loaded state carries the replayed governance.
fn check_governance(writer: &Writer, signer: &LogSigner, loaded: store::Loaded) -> Result<store::Loaded> {
    let governance = replay_governance(writer, signer.origin())?;
    if governance != loaded.governance {
        return Err(Error::precondition(
            "data_dir",
            format!(
                "the charter, party or key tables of {DB_FILE} differ from what the log's governance entries say \
                 (edited outside accord?); run accord audit, then accord rebuild"
            ),
        ));
    }
    Ok(store::Loaded { governance, ..loaded })
}

impl Shared {
    /// The state published at open: the latest checkpoint, and every registered key decompressed once here,
    /// not on every signature check; and the receiver that follows the tree's size.
    fn new(latest: Latest, governance: &crate::domain::Governance) -> (Self, watch::Receiver<u64>) {
        let keys = governance
            .keys
            .values()
            .filter_map(|k| Some((k.keyid.clone(), crypto::public_key_from_bytes(&k.public_key).ok()?)))
            .collect();
        let key_parties = governance.keys.values().map(|k| (k.keyid.clone(), k.party_id.clone())).collect();
        let (size_tx, size_rx) = watch::channel(latest.size);
        let shared = Shared {
            latest: RwLock::new(latest),
            keys: RwLock::new(keys),
            key_parties: RwLock::new(key_parties),
            size_tx,
            write_state: watch::channel(WriteState::Serving).0,
        };
        (shared, size_rx)
    }
}
