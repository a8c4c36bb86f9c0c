//! `accord report`: a plan's transparency report in every format, and `accord report verify`, which
//! recomputes it from the downloaded log and compares byte for byte.
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{connect, ServerArgs};
use crate::pb;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: Option<ReportCommand>,
    #[command(flatten)]
    show: ShowArgs,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Download the log up to the report's checkpoint, check it, recompute the report locally and compare
    /// it byte for byte with the server's (exit 0 only when identical; differences shown field by field).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct ShowArgs {
    #[command(flatten)]
    server: Option<ServerArgs>,
    /// The plan to report on.
    #[arg(long)]
    plan: Option<String>,
    /// json (canonical), markdown, html, csv (one file per view), iati (IATI 2.03 activity XML) or ocds
    /// (OCDS 1.1 release package).
    /// Default: markdown (json with --json). `--json` never changes the format asked for; with -o it only
    /// makes the result line a JSON object.
    #[arg(long, value_parser = ["json", "markdown", "html", "csv", "iati", "ocds"])]
    format: Option<String>,
    /// Output file (directory for csv). Default: stdout (csv: the current directory).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// csv: add an HXL hashtag row under each header.
    #[arg(long)]
    hxl: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The plan whose report is checked.
    #[arg(long)]
    plan: String,
    /// Also compare against this saved canonical JSON (e.g. a published report) instead of the server's.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Verify a published report (--report FILE, required) from the log's C2SP tlog-tiles alone, no gRPC:
    /// the report's checkpoint must be signed by --log-key and extended by the log served there; its
    /// entries come from entry bundles and must hash to that checkpoint's root.
    #[arg(long, requires = "report")]
    tiles: Option<String>,
    /// Read only the plan's book through the verifiable index (docs/INDEX.md §11) instead of the whole log:
    /// every list proven complete under a map checkpoint that extends the report's checkpoint, every entry
    /// proven in its tree, then replayed and the report recomputed.
    #[arg(long, conflicts_with = "tiles")]
    complete: bool,
    /// With --complete, a C2SP tlog-policy file: the map checkpoint must carry its quorum of witness
    /// cosignatures (docs/INDEX.md §7.1).
    #[arg(long, requires = "complete")]
    policy: Option<PathBuf>,
}

/// What a report is recomputed from: the whole log, or the plan's book read through the index.
enum Log {
    Whole(Vec<crate::store::EntryRow>),
    Book(crate::client::PlanBook),
}

/// The entries and checkpoint of a saved report, from tiles: (entries, read-at, log origin).
async fn from_tiles(
    a: &VerifyArgs,
    served: &str,
    tty: bool,
) -> Result<(Vec<crate::store::EntryRow>, pb::ReadAt, String)> {
    let Some(key) = a.server.log_key.as_deref().map(super::keys::read_log_key).transpose()? else {
        anyhow::bail!("--log-key is required with --tiles (the report's checkpoint must be signed by it)")
    };
    let log = crate::crypto::StrictNoteVerifier::from_verifier_key(&key)?;
    let v: serde_json::Value = serde_json::from_str(served).context("the report is not JSON")?;
    let note = ["readAt", "read_at"]
        .iter()
        .find_map(|k| v.get(k).and_then(|r| r.get("checkpoint")).and_then(|c| c.as_str()))
        .context("the report names no checkpoint (read_at.checkpoint)")?;
    let then = crate::crypto::open_checkpoint(note.as_bytes(), &log)?;
    let source = crate::tiles::Source::open(a.tiles.as_deref().unwrap_or_default())?;
    let now = source.checkpoint(&log).await?;
    if now.size < then.size {
        anyhow::bail!(
            "{} serves {} entries, fewer than the report's checkpoint ({})",
            source.location(),
            now.size,
            then.size
        );
    }
    let mut cache = accord_tlog::tiles::TileCache::default();
    if let accord_tlog::tiles::Extends::Forked { .. } =
        source.prove(&mut cache, |c| c.extends(now.size, &now.root, then.size, &then.root)).await?
    {
        return Err(crate::error::Error::denied(
            "checkpoint",
            format!(
                "FORK: the log served at {} does not extend the report's checkpoint of size {}",
                source.location(),
                then.size
            ),
        )
        .into());
    }
    let leaves = source
        .leaves(0, then.size, now.size, |n| {
            if tty {
                eprint!("\rdownloaded {n}/{} entries", then.size);
            }
        })
        .await?;
    let mut tree = crate::tiles::Verifier::default();
    tree.extend(leaves.iter().map(Vec::as_slice));
    if tree.root() != then.root {
        return Err(
            crate::error::Error::denied("tiles", "the entry bundles do not hash to the report's checkpoint").into()
        );
    }
    let entries = leaves.into_iter().enumerate().map(|(i, l)| crate::audit::entry_of_leaf(i as u64, l)).collect();
    let at = pb::ReadAt {
        tree_size: then.size,
        root_hash: then.root.to_vec(),
        checkpoint: then.note.clone(),
        as_of_date: String::new(),
    };
    Ok((entries, at, log.name().to_string()))
}

/// `accord export iati` and `accord export ocds`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The plan as an OCDS 1.1 release package (JSON; validated by CI against the official OCDS 1.1
    /// release-package and release schemas).
    Ocds(ExportArgs),
    /// The plan as an IATI 2.03 activity file (validated by CI against the official schema).
    Iati(ExportArgs),
}

/// What every export takes: the server, the plan and where to write.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long)]
    plan: String,
    /// Output file (default: stdout).
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub async fn export(c: ExportCommand, json: bool) -> Result<()> {
    let (a, format) = match c {
        ExportCommand::Iati(a) => (a, "iati"),
        ExportCommand::Ocds(a) => (a, "ocds"),
    };
    let args =
        ShowArgs { server: Some(a.server), plan: Some(a.plan), format: Some(format.into()), out: a.out, hxl: false };
    show(args, json).await
}

pub async fn run(a: ReportArgs, json: bool) -> Result<()> {
    match a.command {
        Some(ReportCommand::Verify(v)) => verify(v, json).await,
        None => show(a.show, json).await,
    }
}

async fn show(a: ShowArgs, json: bool) -> Result<()> {
    let Some(plan) = a.plan else { bail!("--plan is required (the plan to report on)") };
    let server = a.server.unwrap_or_else(|| ServerArgs { server: "http://127.0.0.1:50051".into(), log_key: None });
    let mut client = connect(&server).await?;
    let format = a.format.clone().unwrap_or_else(|| if json { "json".into() } else { "markdown".into() });
    let req = pb::GetReportRequest { plan_id: plan.clone(), format: format.clone(), hxl: a.hxl };
    let (resp, cp) = client.report(req).await?;
    match format.as_str() {
        "json" => {
            let text = resp.canonical_json.clone();
            match &a.out {
                Some(p) => {
                    std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
                    written(json, p, &format, &plan, cp.size)?;
                }
                None => super::print_stdout(&format!("{text}\n"))?,
            }
        }
        "csv" => {
            let dir = a.out.clone().unwrap_or_else(|| PathBuf::from("."));
            let files = write_files(&dir, &resp.files)?;
            if json {
                super::print_stdout(&format!(
                    "{}\n",
                    json!({"ok": true, "format": format, "plan": plan, "dir": dir, "files": files, "tree_size": cp.size})
                ))?;
            } else {
                eprintln!("{} CSV files written to {} (tree size {})", resp.files.len(), dir.display(), cp.size);
            }
        }
        _ => {
            let f = resp.files.first().context("the server sent no file")?;
            match &a.out {
                Some(p) => {
                    std::fs::write(p, &f.content).with_context(|| format!("writing {}", p.display()))?;
                    written(json, p, &format, &plan, cp.size)?;
                }
                None => super::print_stdout(&format!("{}\n", for_terminal(&String::from_utf8_lossy(&f.content))))?,
            }
        }
    }
    Ok(())
}

/// The result line of a report or export written to a file: a line on stdout, or a JSON object with `--json`.
fn written(json: bool, p: &Path, format: &str, plan: &str, size: u64) -> Result<()> {
    if json {
        super::print_stdout(&format!(
            "{}\n",
            json!({"ok": true, "file": p, "format": format, "plan": plan, "tree_size": size})
        ))
    } else {
        super::print_stdout(&format!("{} written ({format}, plan {plan}, tree size {size})\n", p.display()))
    }
}

/// A file name sent by the server, made safe to create inside the output directory: only
/// `A-Z a-z 0-9 . _ -` kept (anything else, path separators included, becomes `_`), no leading `.` (so
/// never `.`, `..` or a hidden file), at most 120 bytes, never empty.
pub(crate) fn safe_file_name(name: &str) -> String {
    let mut o: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .take(120)
        .collect();
    if o.starts_with('.') {
        o.replace_range(..1, "_");
    }
    if o.is_empty() {
        o.push_str("file");
    }
    o
}

/// Write the server's files into `dir` under sanitised names ([`safe_file_name`]); two files that would
/// land on one name are refused rather than overwritten.
pub(crate) fn write_files(dir: &Path, files: &[pb::ReportFile]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        let name = safe_file_name(&f.name);
        if !seen.insert(name.clone()) {
            bail!("the server sent two files named {name:?}");
        }
        let p = dir.join(&name);
        std::fs::write(&p, &f.content).with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

/// Text for the terminal: when stdout is one, control characters other than newline and tab are shown as
/// `\u{..}` instead of being sent, so served text cannot drive the terminal (escape sequences).
fn for_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !std::io::stdout().is_terminal() || !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        return s.into();
    }
    s.chars()
        .map(
            |c| {
                if c.is_control() && !matches!(c, '\n' | '\t') {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            },
        )
        .collect::<String>()
        .into()
}

/// The served report (or `--report FILE`), the log it is recomputed from (the whole log, or with
/// `--complete` the plan's book through the index), its checkpoint and the log's origin, from the server.
async fn from_server(a: &VerifyArgs, tty: bool) -> Result<(String, Log, pb::ReadAt, String)> {
    let mut client = super::entries::connect_with_policy(&a.server, a.policy.as_deref()).await?;
    let req = pb::GetReportRequest { plan_id: a.plan.clone(), format: "json".into(), hxl: false };
    let (resp, cp) = client.report(req).await?;
    let served = match &a.report {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        None => resp.canonical_json.clone(),
    };
    let log = if a.complete {
        let book = client
            .plan_book(&a.plan, &cp, |n| {
                if tty {
                    eprint!("\rread {n} entries of the plan's book through the index");
                }
            })
            .await?;
        Log::Book(book)
    } else {
        let progress = |n: u64| {
            if tty && (n.is_multiple_of(5000) || n == cp.size) {
                eprint!("\rdownloaded {n}/{} entries", cp.size);
            }
        };
        Log::Whole(client.download(&cp, progress).await?)
    };
    let info =
        client.raw().get_log_info(pb::GetLogInfoRequest {}).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
    Ok((served, log, resp.read_at.clone().unwrap_or_default(), info.into_inner().origin))
}

async fn verify(a: VerifyArgs, json: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let tty = !json && std::io::stderr().is_terminal();
    let (served, log, at, origin) = if a.tiles.is_some() {
        let p = a.report.as_ref().context("--tiles needs --report FILE")?;
        let served = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let (entries, at, origin) = from_tiles(&a, &served, tty).await?;
        (served, Log::Whole(entries), at, origin)
    } else {
        from_server(&a, tty).await?
    };
    if tty {
        match &log {
            Log::Whole(_) => eprintln!(" — leaves hash to the signed root"),
            Log::Book(_) => eprintln!(" — each proven in the signed tree, every list under the map checkpoint"),
        }
    }
    let cp = crate::crypto::VerifiedCheckpoint {
        origin: origin.clone(),
        size: at.tree_size,
        root: at.root_hash.as_slice().try_into().unwrap_or_default(),
        note: at.checkpoint.clone(),
    };
    let plan = a.plan.clone();
    let total = cp.size;
    let replayed = match &log {
        Log::Whole(e) => e.len(),
        Log::Book(b) => b.entries.len(),
    };
    let local = tokio::task::spawn_blocking(move || {
        // Counted, not read off the index: a book's entries have gaps.
        let mut done = 0u64;
        let progress = move |n: u64| {
            done = done.saturating_add(1);
            if tty && (done.is_multiple_of(5000) || done == replayed as u64) {
                eprint!("\rreplayed {done} of {replayed} entries (up to entry {n} of {total})");
            }
        };
        match log {
            Log::Whole(entries) => crate::report::recompute(&origin, entries, &plan, &at, progress),
            Log::Book(b) => {
                crate::report::recompute_part(&origin, b.entries, &b.known, b.last_integrated_ms, &plan, &at, progress)
            }
        }
    })
    .await??;
    if tty {
        eprintln!();
    }
    let mine = local.canonical_json();
    let diffs = crate::report::diff_json(&served, &mine);
    let same = mine == served;
    if json {
        println!(
            "{}",
            json!({"ok": same, "plan": a.plan, "tree_size": cp.size, "root_hash": hex::encode(cp.root),
                   "entries_replayed": replayed, "through_index": a.complete,
                   "differences": diffs, "millis": started.elapsed().as_millis() as u64})
        );
    } else if same {
        println!(
            "report for plan {} verified: {} entries{} checked against the signed checkpoint (size {}), recomputed byte for byte ({:.1} s)",
            a.plan,
            replayed,
            if a.complete { " of the plan's book, proven complete through the index," } else { "" },
            cp.size,
            started.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("report for plan {} does NOT match the log at tree size {}:", a.plan, cp.size);
        for d in diffs.iter().take(50) {
            eprintln!("  {d}   (served → recomputed)");
        }
    }
    if !same {
        return Err(super::Reported(1).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_file_names_stay_inside_the_output_directory() {
        for (sent, safe) in [
            ("funding_by_donor.csv", "funding_by_donor.csv"),
            ("../escape.csv", "_._escape.csv"),
            ("/etc/passwd", "_etc_passwd"),
            ("..", "_."),
            (".hidden", "_hidden"),
            ("a\\b\u{0}c.csv", "a_b_c.csv"),
            ("", "file"),
        ] {
            assert_eq!(safe_file_name(sent), safe, "{sent:?}");
        }
        assert_eq!(safe_file_name(&"x".repeat(500)).len(), 120);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let file = |name: &str| pb::ReportFile { name: name.into(), content: b"x".to_vec(), ..Default::default() };
        let written = write_files(&out, &[file("../escaped.csv"), file("/tmp/absolute.csv"), file("ok.csv")]).unwrap();
        assert_eq!(written.len(), 3);
        assert!(written.iter().all(|p| p.parent() == Some(out.as_path())), "{written:?}");
        assert!(!tmp.path().join("escaped.csv").exists());
        let names: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(write_files(&out, &[file("a/b"), file("a_b")]).is_err(), "two files on one name");
    }
}
