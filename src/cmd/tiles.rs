//! `accord tiles export` (a static C2SP tlog-tiles directory from a database) and `accord mirror` (follow a
//! log through its tiles, verify everything, re-serve it).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{keys, Reported};
use crate::crypto::cosign::Cosigner;
use crate::crypto::StrictNoteVerifier;
use crate::tiles::{Mirror, Source, Synced, TileDir};

#[derive(Debug, Subcommand)]
pub enum TilesCommand {
    /// Write (or bring up to date) a static C2SP tlog-tiles directory from a ledger's database: checkpoint,
    /// hash tiles and entry bundles, ready for any web server or object store to publish.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory to write (created when missing; tiles it already has are kept).
    dir: PathBuf,
    /// The ledger's data directory (or its ledger.db); read-only, also while the ledger serves.
    #[arg(long, env = "ACCORD_DATA_DIR", default_value = "./accord-data")]
    data_dir: PathBuf,
}

pub async fn run(c: TilesCommand, json: bool) -> Result<()> {
    let TilesCommand::Export(a) = c;
    let started = std::time::Instant::now();
    let db = if a.data_dir.is_dir() { a.data_dir.join(crate::ledger::DB_FILE) } else { a.data_dir.clone() };
    let dir = TileDir::create(&a.dir)?;
    let (from, size, written) = tokio::task::spawn_blocking(move || -> Result<(u64, u64, usize)> {
        let r = crate::store::open_read_only(&db).with_context(|| format!("opening {}", db.display()))?;
        let meta = r.meta()?;
        let log = StrictNoteVerifier::from_verifier_key(&meta.verifier_key)?;
        let Some(cp) = r.latest_checkpoint()? else { bail!("{} holds no checkpoint", db.display()) };
        let from = dir.size(&log)?;
        if from > cp.size {
            bail!("{} holds a tree of {from} entries; the database only {}", dir.path().display(), cp.size);
        }
        let hashes = crate::merkle::MemoryHashes(
            r.stored_hashes(crate::merkle::stored_hash_count(cp.size))?.into_iter().map(crate::merkle::Hash).collect(),
        );
        if crate::merkle::tree_hash(cp.size, &hashes)? != cp.root.as_slice() {
            bail!("the stored hashes of {} do not give its checkpoint's root; run accord audit", db.display());
        }
        // The checkpoint with the witness cosignatures stored for it, as the ledger serves it.
        let mut note = cp.note.clone();
        for c in r.cosignatures_between(cp.size, cp.size)? {
            note.push_str(&c.line);
            note.push('\n');
        }
        let written = dir.update(from, cp.size, &note, |t| match t {
            accord_tlog::tiles::TilePath::Hashes { .. } => Ok(accord_tlog::tiles::hash_tile(t, &hashes)?),
            accord_tlog::tiles::TilePath::Entries { .. } => {
                let span = t.span();
                let leaves = r.leaves(span.start, span.end)?;
                Ok(accord_tlog::tiles::entry_bundle(leaves.iter().map(Vec::as_slice))?)
            }
        })?;
        Ok((from, cp.size, written))
    })
    .await??;
    if json {
        println!(
            "{}",
            json!({"dir": a.dir, "from_size": from, "tree_size": size, "tiles_written": written, "millis": started.elapsed().as_millis() as u64})
        );
    } else {
        println!(
            "tiles: {} now holds the tree of {size} entries ({written} tiles written, from {from}) in {:.1} s",
            a.dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The tiles to follow: the ledger's HTTP port (http://HOST:PORT), another mirror, a cache, or a
    /// directory.
    #[arg(long)]
    from: String,
    /// The trusted log verifier key (or a file holding it): every checkpoint must be signed by it.
    #[arg(long, env = "ACCORD_LOG_KEY")]
    log_key: String,
    /// Where the mirror keeps the verified tiles (a static tlog-tiles directory).
    #[arg(long)]
    dir: PathBuf,
    /// Serve the tlog-tiles API (/checkpoint, /tile/...) from the directory on this address.
    #[arg(long)]
    listen: Option<String>,
    /// Seconds between polls of the source.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Catch up once and exit (exit 1 on a fork or a refused tile).
    #[arg(long)]
    once: bool,
    /// Also act as a witness: cosign every checkpoint the mirror verified with this key (signed-note
    /// private key, from `accord key generate --name WITNESS_NAME`), appended to the checkpoint it serves.
    #[arg(long)]
    witness_key: Option<PathBuf>,
}

pub async fn mirror(a: MirrorArgs, json: bool) -> Result<()> {
    let log = StrictNoteVerifier::from_verifier_key(&keys::read_log_key(&a.log_key)?)?;
    let cosigner = match &a.witness_key {
        Some(p) => {
            let (name, key) = keys::read_private(p)?;
            Some(Cosigner::new(&name, key))
        }
        None => None,
    };
    let witness = cosigner.as_ref().map(Cosigner::verifier_key);
    let dir = TileDir::create(&a.dir)?;
    let mut m = Mirror::open(Source::open(&a.from)?, log, dir, cosigner).await?;
    let shutdown = crate::server::shutdown_token();
    let mut server = None;
    if let Some(addr) = &a.listen {
        let listener = crate::server::bind(addr).await?;
        let local = listener.local_addr()?;
        let stop = shutdown.child_token().cancelled_owned();
        let router = crate::server::tiles::dir_router(a.dir.clone());
        server = Some(tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop).await }));
        if json {
            println!(
                "{}",
                json!({"listening": local.to_string(), "dir": a.dir, "size": m.size(), "witness_key": witness})
            );
        } else {
            println!("accord: mirror of {} serving tlog-tiles on http://{local}/ from {}", a.from, a.dir.display());
            if let Some(w) = &witness {
                println!("accord: mirror witness cosigner key: {w}");
            }
        }
    }
    let tty = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let started = std::time::Instant::now();
        let outcome = m
            .sync(now, |n| {
                if tty {
                    eprint!("\rverified {n} new entries");
                }
            })
            .await;
        if tty {
            eprint!("\r");
        }
        let refused = report(&outcome, json, started.elapsed());
        if a.once {
            if refused {
                return Err(Reported(1).into());
            }
            return outcome.map(|_| ()).map_err(Into::into);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(a.interval.max(1))) => {}
        }
    }
    if let Some(s) = server {
        s.await??;
    }
    Ok(())
}

/// Print one round's outcome; true when the mirror refused what it was offered.
fn report(outcome: &crate::error::Result<Synced>, json: bool, took: Duration) -> bool {
    let ms = took.as_millis() as u64;
    match outcome {
        Ok(Synced::UpToDate(size)) => {
            if json {
                println!("{}", json!({"event": "up_to_date", "size": size}));
            }
            false
        }
        Ok(Synced::Stale { offered, have }) => {
            if json {
                println!("{}", json!({"event": "stale_source", "offered": offered, "size": have}));
            } else {
                eprintln!(
                    "accord: the source serves an older checkpoint ({offered}) than verified ({have}); keeping {have}"
                );
            }
            false
        }
        Ok(Synced::Advanced { from, to, tiles }) => {
            let rate = to.saturating_sub(*from) as f64 / took.as_secs_f64().max(1e-6);
            if json {
                println!(
                    "{}",
                    json!({"event": "advanced", "from": from, "size": to, "tiles": tiles, "millis": ms, "entries_per_second": rate.round()})
                );
            } else {
                println!("mirror: verified entries {from}..{to} ({tiles} tiles) in {ms} ms ({rate:.0} entries/s)");
            }
            false
        }
        Ok(Synced::Forked(f)) => {
            if json {
                println!(
                    "{}",
                    json!({"event": "fork", "reason": f.reason, "trusted": f.trusted, "offered": f.offered})
                );
            } else {
                eprintln!("accord: FORK: {}; keeping the verified tree (evidence in fork-evidence.json)", f.reason);
                eprintln!("verified checkpoint:\n{}\noffered checkpoint:\n{}", f.trusted, f.offered);
            }
            true
        }
        Err(e) => {
            if json {
                println!("{}", json!({"event": "error", "error": e.to_string()}));
            } else {
                eprintln!("accord: mirror: {e}");
            }
            e.kind == crate::error::Kind::PermissionDenied
        }
    }
}
