//! Operator commands: consistent backups of a live ledger, and restoring one after auditing it.
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use crate::ledger::{DB_FILE, KEY_FILE, PROJECTIONS_FILE};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Data directory of the ledger (it may be serving).
    #[arg(long, env = "ACCORD_DATA_DIR", default_value = "./accord-data")]
    data_dir: PathBuf,
    /// New directory for the backup (ledger.db, log.key with mode 0600, BACKUP.json).
    #[arg(long)]
    out: PathBuf,
}

/// Manifest written beside a backup.
fn manifest(db: &std::path::Path) -> Result<serde_json::Value> {
    // Storage errors as the API error, so that the exit code follows their class.
    let r = crate::store::open_read_only(db).map_err(crate::error::Error::from)?;
    let meta = r.meta().map_err(crate::error::Error::from)?;
    let cp = r.latest_checkpoint().map_err(crate::error::Error::from)?.context("the backup holds no checkpoint")?;
    Ok(json!({
        "origin": meta.origin,
        "verifier_key": meta.verifier_key,
        "tree_size": cp.size,
        "root_hash": hex::encode(cp.root),
        "checkpoint": cp.note,
        "schema_version": meta.schema_version,
    }))
}

pub fn backup(a: BackupArgs, json: bool) -> Result<()> {
    let src = a.data_dir.join(DB_FILE);
    if !src.exists() {
        bail!("no ledger database at {}", src.display());
    }
    if a.out.exists() {
        bail!("{} already exists; a backup goes to a new directory", a.out.display());
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let started = std::time::Instant::now();
    let tty = !json && std::io::stderr().is_terminal();
    crate::store::backup(&src, &a.out.join(DB_FILE), |done, total| {
        if tty {
            eprint!("\rcopying {done}/{total} pages");
        }
    })
    .map_err(crate::error::Error::from)?;
    if tty {
        eprintln!();
    }
    let key = std::fs::read_to_string(a.data_dir.join(KEY_FILE)).with_context(|| format!("reading {KEY_FILE}"))?;
    crate::ledger::write_private(&a.out.join(KEY_FILE), key.trim_end())?;
    let m = manifest(&a.out.join(DB_FILE))?;
    std::fs::write(a.out.join("BACKUP.json"), serde_json::to_string_pretty(&m)?)?;
    if json {
        let mut m = m;
        if let Some(o) = m.as_object_mut() {
            o.insert("ok".into(), true.into());
            o.insert("millis".into(), (started.elapsed().as_millis() as u64).into());
        }
        println!("{m}");
    } else {
        println!(
            "backup of {} at tree size {} written to {} ({:.1} s); keep log.key secret",
            m.get("origin").and_then(|v| v.as_str()).unwrap_or_default(),
            m.get("tree_size").cloned().unwrap_or_default(),
            a.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory written by `accord backup`.
    #[arg(long)]
    from: PathBuf,
    /// The new data directory (must not hold a ledger).
    #[arg(long)]
    data_dir: PathBuf,
    /// The trusted log verifier key; the copy must be this log's (default: the key in the backup).
    #[arg(long, env = "ACCORD_LOG_KEY")]
    log_key: Option<String>,
}

/// Audit a backup (every signature, rule, hash and checkpoint), then install it as a new data directory.
pub fn restore(a: RestoreArgs, json: bool) -> Result<()> {
    let db = a.from.join(DB_FILE);
    if !db.exists() || !a.from.join(KEY_FILE).exists() {
        bail!("{} is not a backup (it needs {DB_FILE} and {KEY_FILE})", a.from.display());
    }
    if a.data_dir.join(DB_FILE).exists() || a.data_dir.join(KEY_FILE).exists() {
        bail!("{} already holds a ledger; restore into a new directory", a.data_dir.display());
    }
    let key = a.log_key.as_deref().map(super::keys::read_log_key).transpose()?;
    let tty = !json && std::io::stderr().is_terminal();
    let summary = crate::audit::audit_database(&db, key.as_deref(), &[], &[], |n| {
        if tty && n % 10_000 == 0 {
            eprint!("\rauditing: replayed {n} entries");
        }
    })?;
    if tty {
        eprintln!();
    }
    if !summary.ok {
        if json {
            println!("{}", serde_json::to_value(&summary)?);
        } else {
            eprintln!("the backup fails its audit; nothing restored:");
            for f in &summary.findings {
                eprintln!("  [{}] {}", f.check, f.message);
            }
        }
        return Err(super::Reported(1).into());
    }
    // The key must be the one that signed the checkpoints.
    let text = std::fs::read_to_string(a.from.join(KEY_FILE))?;
    let (name, k) = crate::crypto::parse_private_key(&text)?;
    let signer = crate::crypto::LogSigner::new(&name, k)?;
    let meta = crate::store::open_read_only(&db).and_then(|r| r.meta()).map_err(crate::error::Error::from)?;
    if signer.verifier_key() != meta.verifier_key {
        bail!("{KEY_FILE} in the backup does not belong to the ledger in {DB_FILE}");
    }
    std::fs::create_dir_all(&a.data_dir).with_context(|| format!("creating {}", a.data_dir.display()))?;
    // The projections (parties, keys, subjects, history) are derived data: the copy's own are never
    // trusted, they are rebuilt from its audited log before it is installed.
    let staging = a.data_dir.join(".restoring");
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let tmp = staging.join(DB_FILE);
    std::fs::copy(&db, &tmp).with_context(|| format!("copying {}", db.display()))?;
    crate::ledger::rebuild(&staging, |_, _| {})?;
    // Closing the rebuild's connections checkpointed their WALs into the files; a WAL left over would be lost.
    for f in [DB_FILE, PROJECTIONS_FILE] {
        if std::fs::metadata(staging.join(format!("{f}-wal"))).is_ok_and(|m| m.len() > 0) {
            bail!("the rebuilt {f} in {} still has a WAL; nothing restored", staging.display());
        }
    }
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::File::open(staging.join(PROJECTIONS_FILE))?.sync_all()?;
    crate::ledger::write_private(&a.data_dir.join(KEY_FILE), text.trim_end())?;
    // The data directory's own projections (of the ledger being replaced) go; the copy's rebuilt ones come.
    for f in ["", "-wal", "-shm"] {
        let old = a.data_dir.join(format!("{PROJECTIONS_FILE}{f}"));
        if old.exists() {
            std::fs::remove_file(&old).with_context(|| format!("removing {}", old.display()))?;
        }
    }
    std::fs::rename(staging.join(PROJECTIONS_FILE), a.data_dir.join(PROJECTIONS_FILE))?;
    std::fs::rename(&tmp, a.data_dir.join(DB_FILE))?;
    std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    crate::ledger::highwater::sync_dir(&a.data_dir)?;
    if json {
        println!(
            "{}",
            json!({"ok": true, "entries": summary.entries, "root_hash": summary.root_hash, "data_dir": a.data_dir})
        );
    } else {
        println!(
            "restored {} entries (root {}) into {} after a full audit",
            summary.entries,
            summary.root_hash,
            a.data_dir.display()
        );
    }
    Ok(())
}
