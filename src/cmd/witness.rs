//! `accord witness serve`: a C2SP tlog-witness for one or more logs.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use super::keys;
use crate::crypto::cosign::Cosigner;
use crate::crypto::StrictNoteVerifier;

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Serve the tlog-witness HTTP API (POST /add-checkpoint, and POST /add-map-checkpoint for the logs'
    /// index); cosign consistent checkpoints.
    Serve(WitnessArgs),
}

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: String,
    /// The witness's private key (signed-note form, from `accord key generate --name WITNESS_NAME`).
    #[arg(long)]
    key: PathBuf,
    /// State file: the latest cosigned checkpoint (and map checkpoint) per log (written atomically).
    #[arg(long)]
    state: PathBuf,
    /// Verifier key of a log this witness cosigns for (repeat for several logs).
    #[arg(long = "log-key", required = true)]
    log_keys: Vec<String>,
}

pub async fn run(c: WitnessCommand, json: bool) -> Result<()> {
    let WitnessCommand::Serve(a) = c;
    let (name, key) = keys::read_private(&a.key)?;
    let logs = a
        .log_keys
        .iter()
        .map(|k| keys::read_log_key(k).and_then(|k| Ok(StrictNoteVerifier::from_verifier_key(&k)?)))
        .collect::<Result<Vec<_>>>()?;
    let w = Arc::new(crate::server::witness::Witness::open(Cosigner::new(&name, key), logs, &a.state)?);
    let listener = crate::server::bind(&a.listen).await?;
    let addr = listener.local_addr()?;
    // The root token, its handlers installed before the address is printed, so a SIGTERM right after it
    // stops cleanly; the endpoint holds a child of it.
    let root = crate::server::shutdown_token();
    let stop = root.child_token().cancelled_owned();
    if json {
        println!("{}", json!({"listening": addr.to_string(), "name": name, "verifier_key": w.verifier_key()}));
    } else {
        println!("accord: witness {name} on http://{addr}/add-checkpoint");
        println!("accord: witness cosigner key: {}", w.verifier_key());
    }
    axum::serve(listener, crate::server::witness::router(w)).with_graceful_shutdown(stop).await?;
    Ok(())
}
