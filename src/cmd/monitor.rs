//! `accord monitor`: follow a log (over gRPC or through its tlog-tiles) and check every new checkpoint
//! against the last one it verified, with the evidence of a fork or rollback.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use super::{keys, Reported, ServerArgs};
use crate::client::Client;
use crate::crypto::StrictNoteVerifier;
use crate::pb;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// File holding the last verified checkpoint (created on first run; written atomically).
    #[arg(long)]
    state: PathBuf,
    /// Also download the new entries (each poll fetches only those not yet checked) and check that all the
    /// leaves hash to the new checkpoint's root.
    #[arg(long)]
    replay: bool,
    /// Seconds between polls (an unreachable server is reported and asked again after this long).
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Check once and exit (3 when the server cannot be reached).
    #[arg(long)]
    once: bool,
    /// Follow the log through its C2SP tlog-tiles instead of gRPC (the ledger's HTTP port, a mirror, a
    /// cache or a directory): consistency is proven from hash tiles, --replay reads entry bundles.
    #[arg(long)]
    tiles: Option<String>,
    /// With --replay over gRPC: also fetch the server's map checkpoint of the verifiable index at each poll
    /// and alert when it is not the map the monitor recomputes from the leaves it holds (docs/INDEX.md §10:
    /// the log is replayed and audited again at each poll, so this suits logs that a poll can replay).
    #[arg(long, requires = "replay", conflicts_with = "tiles")]
    check_index: bool,
}

/// What `--replay` holds: the tree of the leaves checked so far and, with `--check-index`, the leaves.
#[derive(Default)]
struct Replayed {
    tree: crate::merkle::MemoryHashes,
    leaves: Vec<Vec<u8>>,
}

/// Where a monitor reads the log: the gRPC API or tlog-tiles.
#[allow(clippy::large_enum_variant)] // one per monitor process
enum Feed {
    Grpc(Box<Client>),
    Tiles(crate::tiles::Source, StrictNoteVerifier),
}

impl Feed {
    async fn open(a: &MonitorArgs, key: &str) -> Result<Self> {
        Ok(match &a.tiles {
            Some(t) => Feed::Tiles(crate::tiles::Source::open(t)?, StrictNoteVerifier::from_verifier_key(key)?),
            None => Feed::Grpc(Box::new(Client::connect(&a.server.server, Some(key)).await?)),
        })
    }
    fn log(&self) -> &StrictNoteVerifier {
        match self {
            Feed::Grpc(c) => c.log_key(),
            Feed::Tiles(_, log) => log,
        }
    }
    async fn checkpoint(&mut self) -> crate::error::Result<crate::crypto::VerifiedCheckpoint> {
        match self {
            Feed::Grpc(c) => c.checkpoint(None).await,
            Feed::Tiles(s, log) => s.checkpoint(log).await,
        }
    }
    /// `new` extends `old`, proven by the server's consistency proof or from hash tiles.
    async fn check_consistency(
        &mut self,
        old: &crate::crypto::VerifiedCheckpoint,
        new: &crate::crypto::VerifiedCheckpoint,
    ) -> crate::error::Result<()> {
        match self {
            Feed::Grpc(c) => c.check_consistency(old, new).await.map(|_| ()),
            Feed::Tiles(s, _) => {
                let mut cache = accord_tlog::tiles::TileCache::default();
                match s.prove(&mut cache, |c| c.extends(new.size, &new.root, old.size, &old.root)).await? {
                    accord_tlog::tiles::Extends::Yes(_) => Ok(()),
                    accord_tlog::tiles::Extends::Forked { root_in_tiles } => Err(crate::error::Error::denied(
                        "checkpoint",
                        format!(
                            "the tree of size {} has root {} for its first {} entries, not the verified {}",
                            new.size,
                            hex::encode(root_in_tiles),
                            old.size,
                            hex::encode(old.root)
                        ),
                    )),
                }
            }
        }
    }
    /// The leaves `start..cp.size`.
    async fn leaves(
        &mut self,
        start: u64,
        cp: &crate::crypto::VerifiedCheckpoint,
    ) -> crate::error::Result<Vec<Vec<u8>>> {
        use crate::error::{Error, Kind};
        match self {
            Feed::Tiles(s, _) => s.leaves(start, cp.size, cp.size, |_| {}).await,
            Feed::Grpc(c) => {
                let status = |s: tonic::Status| {
                    let kind =
                        if s.code() == tonic::Code::Unavailable { Kind::Unavailable } else { Kind::PermissionDenied };
                    Error::new(kind, "entries", format!("server: {}", s.message()))
                };
                let mut out = Vec::new();
                if start < cp.size {
                    let req = pb::StreamEntriesRequest { start_index: start, end_index: cp.size, follow: false };
                    let mut stream = c.raw().stream_entries(req).await.map_err(status)?.into_inner();
                    while let Some(e) = stream.message().await.map_err(status)? {
                        let want = start.saturating_add(out.len() as u64);
                        if e.index != want {
                            return Err(Error::denied(
                                "entries",
                                format!("entry {} arrived where {want} belongs", e.index),
                            ));
                        }
                        out.push(e.leaf);
                    }
                }
                Ok(out)
            }
        }
    }
}

fn write_atomic(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir }) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub async fn monitor(a: MonitorArgs) -> Result<()> {
    let Some(key) = a.server.log_key.as_deref().map(keys::read_log_key).transpose()? else {
        bail!("--log-key is required: a monitor trusts only the log key")
    };
    let mut client: Option<Feed> = None;
    // --replay: the leaves downloaded and checked so far; each poll fetches only the new ones.
    let mut replayed = Replayed::default();
    loop {
        match poll(&a, &key, &mut client, &mut replayed).await {
            Ok(()) => {}
            // An unreachable server is not evidence of anything: say so and ask again (with --once, exit 3).
            Err(e) if !a.once && unavailable(&e) => {
                println!(
                    "{}",
                    json!({"event": "unreachable", "server": a.tiles.as_ref().unwrap_or(&a.server.server), "error": format!("{e:#}"),
                           "retry_in_seconds": a.interval.max(1)})
                );
                client = None;
            }
            Err(e) => return Err(e),
        }
        if a.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(a.interval.max(1))).await;
    }
}

fn unavailable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::error::Error>().is_some_and(|e| e.kind == crate::error::Kind::Unavailable)
}

/// One look at the log: the served checkpoint must extend the last verified one (and, with --replay, the
/// new entries must hash to it). Transient failures return an Unavailable error; misbehaviour prints the
/// evidence and returns [`Reported`].
async fn poll(a: &MonitorArgs, key: &str, client: &mut Option<Feed>, replayed: &mut Replayed) -> Result<()> {
    let c = match client {
        Some(c) => c,
        None => client.insert(Feed::open(a, key).await?),
    };
    let new = c.checkpoint().await?;
    let old = match std::fs::read_to_string(&a.state) {
        Ok(text) => Some(crate::crypto::open_checkpoint(text.as_bytes(), c.log())?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", a.state.display())),
    };
    let mut verdict = match &old {
        Some(old) if new.size < old.size || (new.size == old.size && new.root != old.root) => Err(format!(
            "the log's checkpoint of size {} does not extend the verified one of size {}",
            new.size, old.size
        )),
        Some(old) if new.size > old.size => match c.check_consistency(old, &new).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == crate::error::Kind::Unavailable => return Err(e.into()),
            Err(e) => Err(e.to_string()),
        },
        _ => Ok(()),
    };
    let mut downloaded = 0;
    if verdict.is_ok() && a.replay {
        match replay_new(c, replayed, &new, a.check_index).await {
            Ok(n) => downloaded = n,
            Err(e) if e.kind == crate::error::Kind::Unavailable => return Err(e.into()),
            Err(e) => verdict = Err(e.to_string()),
        }
    }
    let mut index_checked = None;
    if verdict.is_ok() && a.check_index {
        match check_index(c, &replayed.leaves).await {
            Ok(size) => index_checked = size,
            Err(e) if e.kind == crate::error::Kind::Unavailable => return Err(e.into()),
            Err(e) => verdict = Err(e.to_string()),
        }
    }
    match verdict {
        Ok(()) => {
            // Persisted before it is reported: a reader of the line finds the state already updated.
            write_atomic(&a.state, &new.note)?;
            println!(
                "{}",
                json!({"ok": true, "event": "verified", "tree_size": new.size, "root_hash": hex::encode(new.root),
                       "previous_size": old.as_ref().map(|o| o.size), "entries_downloaded": a.replay.then_some(downloaded),
                       "index_checked_at": index_checked})
            );
            Ok(())
        }
        Err(why) => {
            println!(
                "{}",
                json!({"ok": false, "event": "inconsistent", "error": why,
                       "verified_checkpoint": old.as_ref().map(|o| o.note.clone()), "served_checkpoint": new.note})
            );
            Err(Reported(1).into())
        }
    }
}

/// Download the entries the tree does not hold yet (up to `cp`) and check that all the leaves hash to its
/// signed root; returns how many were downloaded. On failure the tree is left as it was.
async fn replay_new(
    c: &mut Feed,
    replayed: &mut Replayed,
    cp: &crate::crypto::VerifiedCheckpoint,
    keep_leaves: bool,
) -> crate::error::Result<u64> {
    use crate::error::Error;
    let tree = &mut replayed.tree;
    let start = tree.leaves();
    let kept = crate::merkle::stored_hash_count(start) as usize;
    let mut new_leaves = Vec::new();
    let result = async {
        for leaf in c.leaves(start, cp).await? {
            tree.append(&leaf);
            if keep_leaves {
                new_leaves.push(leaf);
            }
        }
        if tree.leaves() < cp.size {
            return Err(Error::denied("entries", format!("the server sent {} of {} entries", tree.leaves(), cp.size)));
        }
        if crate::merkle::tree_hash(cp.size, &*tree)? != cp.root {
            return Err(Error::denied(
                "entries",
                format!("the leaves do not hash to the signed root of tree size {} (the log was altered)", cp.size),
            ));
        }
        Ok(cp.size.saturating_sub(start))
    }
    .await;
    match result {
        Ok(_) => replayed.leaves.append(&mut new_leaves),
        Err(_) => tree.0.truncate(kept),
    }
    result
}

/// The server's current map checkpoint must be the map of the log the monitor holds: the leaves are
/// audited again with it (signatures, rules, the map recomputed). Returns the log size it was checked at;
/// `None` when the map is ahead of the leaves held (it is checked at the next poll).
async fn check_index(c: &mut Feed, leaves: &[Vec<u8>]) -> crate::error::Result<Option<u64>> {
    use crate::error::{Error, Kind};
    let Feed::Grpc(client) = c else { return Ok(None) };
    let note = super::audit::current_map_checkpoint(client)
        .await
        .map_err(|e| Error::new(Kind::Unavailable, "map_checkpoint", format!("{e:#}")))?;
    let log = client.log_key().clone();
    let map = accord_tlog::mapcheckpoint::open_map_checkpoint(
        note.as_bytes(),
        &accord_tlog::mapcheckpoint::map_verifier(&log),
    )?;
    let Some(held) = usize::try_from(map.log_size).ok().and_then(|n| leaves.get(..n)) else { return Ok(None) };
    let entries: Vec<_> =
        held.iter().enumerate().map(|(i, l)| crate::audit::entry_of_leaf(i as u64, l.clone())).collect();
    let summary =
        tokio::task::spawn_blocking(move || crate::audit::audit(&log, entries, &[], None, &[], &[note], |_| {}))
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
    match summary.findings.first() {
        None => Ok(Some(map.log_size)),
        Some(f) => Err(Error::denied(
            "map_checkpoint",
            format!("the server's map checkpoint at size {} is not the log's map: {}", map.log_size, f.message),
        )),
    }
}
