//! `accord report`: a plan's transparency report in every format, and `accord report verify`, which
//! recomputes it from the downloaded log and compares byte for byte.
use std::io::IsTerminal;
use std::path::PathBuf;

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
    /// json (canonical), markdown, html, csv (one file per view) or iati (IATI 2.03 activity XML).
    #[arg(long, default_value = "markdown", value_parser = ["json", "markdown", "html", "csv", "iati"])]
    format: String,
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
    #[arg(long)]
    plan: String,
    /// Also compare against this saved canonical JSON (e.g. a published report) instead of the server's.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// `accord export iati`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The plan as an IATI 2.03 activity file (validated by CI against the official schema).
    Iati {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        plan: String,
        /// Output file (default: stdout).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

pub async fn export(c: ExportCommand, json: bool) -> Result<()> {
    let ExportCommand::Iati { server, plan, out } = c;
    let args = ShowArgs { server: Some(server), plan: Some(plan), format: "iati".into(), out, hxl: false };
    let _ = json;
    show(args, false).await
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
    let format = if json { "json".to_string() } else { a.format.clone() };
    let req = pb::GetReportRequest { plan_id: plan.clone(), format: format.clone(), hxl: a.hxl };
    let (resp, cp) = client.report(req).await?;
    match format.as_str() {
        "json" => {
            let text = resp.canonical_json.clone();
            match &a.out {
                Some(p) => std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?,
                None => println!("{text}"),
            }
        }
        "csv" => {
            let dir = a.out.clone().unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for f in &resp.files {
                let p = dir.join(&f.name);
                std::fs::write(&p, &f.content).with_context(|| format!("writing {}", p.display()))?;
            }
            eprintln!("{} CSV files written to {} (tree size {})", resp.files.len(), dir.display(), cp.size);
        }
        _ => {
            let f = resp.files.first().context("the server sent no file")?;
            match &a.out {
                Some(p) => {
                    std::fs::write(p, &f.content).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("{} written (plan {plan}, tree size {})", p.display(), cp.size);
                }
                None => println!("{}", String::from_utf8_lossy(&f.content)),
            }
        }
    }
    Ok(())
}

async fn verify(a: VerifyArgs, json: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let tty = !json && std::io::stderr().is_terminal();
    let mut client = connect(&a.server).await?;
    let req = pb::GetReportRequest { plan_id: a.plan.clone(), format: "json".into(), hxl: false };
    let (resp, cp) = client.report(req).await?;
    let served = match &a.report {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        None => resp.canonical_json.clone(),
    };
    let entries = client
        .download(&cp, |n| {
            if tty && (n % 5000 == 0 || n == cp.size) {
                eprint!("\rdownloaded {n}/{} entries", cp.size);
            }
        })
        .await?;
    if tty {
        eprintln!(" — leaves hash to the signed root");
    }
    let info =
        client.raw().get_log_info(pb::GetLogInfoRequest {}).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
    let origin = info.into_inner().origin;
    let at = resp.read_at.clone().unwrap_or_default();
    let plan = a.plan.clone();
    let total = cp.size;
    let local = tokio::task::spawn_blocking(move || {
        crate::report::recompute(&origin, entries, &plan, &at, |n| {
            if tty && (n % 5000 == 0 || n == total) {
                eprint!("\rreplayed {n}/{total} entries");
            }
        })
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
                   "differences": diffs, "millis": started.elapsed().as_millis() as u64})
        );
    } else if same {
        println!(
            "report for plan {} verified: {} entries checked against the signed checkpoint (size {}), recomputed byte for byte ({:.1} s)",
            a.plan,
            cp.size,
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
