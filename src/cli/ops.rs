//! Operator commands: consistent backups of a live ledger, and restoring one after auditing it.
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use crate::log::{DB_FILE, KEY_FILE};

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
    let r = crate::storage::open_read_only(db)?;
    let meta = r.meta()?;
    let cp = r.latest_checkpoint()?.context("the backup holds no checkpoint")?;
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
    crate::storage::backup(&src, &a.out.join(DB_FILE), |done, total| {
        if tty {
            eprint!("\rcopying {done}/{total} pages");
        }
    })?;
    if tty {
        eprintln!();
    }
    let key = std::fs::read_to_string(a.data_dir.join(KEY_FILE)).with_context(|| format!("reading {KEY_FILE}"))?;
    crate::log::write_private(&a.out.join(KEY_FILE), key.trim_end())?;
    let m = manifest(&a.out.join(DB_FILE))?;
    std::fs::write(a.out.join("BACKUP.json"), serde_json::to_string_pretty(&m)?)?;
    if json {
        let mut m = m;
        m["ok"] = true.into();
        m["millis"] = (started.elapsed().as_millis() as u64).into();
        println!("{m}");
    } else {
        println!(
            "backup of {} at tree size {} written to {} ({:.1} s); keep log.key secret",
            m["origin"].as_str().unwrap_or_default(),
            m["tree_size"],
            a.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
