//! `accord completions SHELL` and `accord man DIR`: shell completions (clap_complete) and roff manual pages
//! (clap_mangen) generated from the same clap definitions as `--help`, so they never drift from it.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use serde_json::json;

use super::Cli;

#[derive(Debug, Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for; the script goes to stdout (e.g. `accord completions bash >
    /// /usr/share/bash-completion/completions/accord`).
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(super) struct ManArgs {
    /// Directory to write the pages into (created if missing): accord.1 and one page per subcommand
    /// (accord-serve.1, accord-key-new.1, ...).
    dir: PathBuf,
}

/// Print the completion script for one shell.
pub(super) fn completions(a: CompletionsArgs) -> Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "accord", &mut std::io::stdout());
    Ok(())
}

/// Write accord.1 and a page per subcommand into `dir`; prints the files written.
pub(super) fn man(a: ManArgs, json: bool) -> Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    clap_mangen::generate_to(Cli::command(), &a.dir)
        .with_context(|| format!("writing pages into {}", a.dir.display()))?;
    let mut pages: Vec<String> = std::fs::read_dir(&a.dir)
        .with_context(|| format!("reading {}", a.dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("accord") && n.ends_with(".1"))
        .collect();
    pages.sort();
    if json {
        println!("{}", json!({"ok": true, "dir": a.dir.display().to_string(), "pages": pages}));
    } else {
        println!(
            "wrote {} manual pages into {} (read one with `man -l {}/accord.1`)",
            pages.len(),
            a.dir.display(),
            a.dir.display()
        );
    }
    Ok(())
}
