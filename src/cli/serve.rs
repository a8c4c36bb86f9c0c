//! `accord serve` (the ledger's gRPC, public-page and metrics ports, one shutdown for all) and `accord health`.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::*;

/// Every setting: flag, then environment variable, then the --config file (same key names, TOML), then the
/// default. See docs/OPERATIONS.md.
#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// TOML config file (keys as the flags, with underscores; party_rates as a table).
    #[arg(long, env = "ACCORD_CONFIG")]
    config: Option<PathBuf>,
    /// Print the resolved configuration (JSON) and exit.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    settings: crate::config::Overrides,
    /// Start a new ledger although DATA_DIR holds a log key without its database (the key then signs a
    /// second, unrelated history: only for a key that never published anything).
    #[arg(long)]
    new_ledger_with_existing_key: bool,
}

#[derive(Debug, Args)]
pub(super) struct HealthArgs {
    /// gRPC endpoint of the server.
    #[arg(long, env = "ACCORD_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Service to ask about ("" = the whole server).
    #[arg(long, default_value = "")]
    service: String,
}

// TODO(issue 12): over 80 lines; split where this file is being reworked (src/server, witness), then drop this.
#[allow(clippy::too_many_lines)]
pub(super) async fn serve(a: ServeArgs, json: bool) -> Result<()> {
    let file = match &a.config {
        Some(p) => crate::config::read_file(p)?,
        None => Default::default(),
    };
    let cfg = crate::config::resolve(&a.settings, &file)?;
    if a.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    let new_ledger_with_existing_key = a.new_ledger_with_existing_key;
    let a = cfg;
    let mut opts = Options::new(&a.data_dir);
    opts.high_water = a.high_water.clone();
    opts.new_ledger_with_existing_key = new_ledger_with_existing_key;
    opts.origin = Some(a.origin.clone());
    opts.synchronous_full = a.sync == "full";
    opts.readers = a.readers;
    opts.limits = crate::log::Limits {
        max_payload_bytes: a.max_payload_bytes,
        max_signatures: a.max_signatures,
        max_batch: a.max_batch,
        queue_depth: a.queue_depth,
    };
    let existing = a.data_dir.join(crate::log::KEY_FILE).exists();
    if existing {
        opts.origin = None; // an existing ledger keeps its own origin
    }
    let ledger = Arc::new(tokio::task::spawn_blocking(move || Ledger::open(opts)).await??);
    let witness_targets = a
        .witnesses
        .iter()
        .map(|w| crate::witness::WitnessTarget::parse(w))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    crate::witness::check_views(&ledger, &witness_targets).await?;
    let listener = tokio::net::TcpListener::bind(&a.listen).await.with_context(|| format!("binding {}", a.listen))?;
    let addr = listener.local_addr()?;
    let latest = ledger.latest();
    let tls_files = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some((
            std::fs::read(c).with_context(|| format!("reading {}", c.display()))?,
            std::fs::read(k).with_context(|| format!("reading {}", k.display()))?,
        )),
        _ => None,
    };
    // The public page and metrics share the gRPC port's certificate when TLS is on.
    let http_tls = match &tls_files {
        Some((c, k)) => Some(crate::server::http_tls_config(c, k)?),
        None => None,
    };
    let http_limits = crate::server::HttpLimits {
        max_connections: a.max_connections,
        header_read_timeout: std::time::Duration::from_millis(a.header_read_timeout_ms),
    };
    // One shutdown for the whole process; every listener and task below holds a child token.
    let shutdown = crate::server::shutdown_token();
    let mut listeners = Vec::new();
    let spawn_http = |l: tokio::net::TcpListener, router: axum::Router| {
        let (tls, limits, stop) = (http_tls.clone(), http_limits.clone(), shutdown.child_token());
        tokio::spawn(async move {
            let r = crate::server::serve_http(l, router, tls, limits, stop.cancelled_owned()).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "HTTP listener stopped");
            }
        })
    };
    let http = match &a.http {
        Some(h) => {
            let l = tokio::net::TcpListener::bind(h).await.with_context(|| format!("binding --http {h}"))?;
            let http_addr = l.local_addr()?;
            listeners.push(spawn_http(l, crate::web::router(ledger.clone())));
            Some(http_addr.to_string())
        }
        None => None,
    };
    let metrics_addr = match &a.metrics {
        Some(m) => {
            let l = tokio::net::TcpListener::bind(m).await.with_context(|| format!("binding --metrics {m}"))?;
            let addr = l.local_addr()?.to_string();
            listeners.push(spawn_http(l, crate::web::metrics_router(ledger.clone())));
            Some(addr)
        }
        None => None,
    };
    if json {
        println!(
            "{}",
            json!({"listening": addr.to_string(), "http": http, "metrics": metrics_addr, "origin": ledger.origin(), "verifier_key": ledger.verifier_key(), "tree_size": latest.size})
        );
    } else {
        if let Some(h) = &http {
            println!("accord: public transparency page on http://{h}/");
        }
        if let Some(m) = &metrics_addr {
            println!("accord: metrics on http://{m}/metrics");
        }
        println!("accord: serving {} on {addr}", ledger.origin());
        println!("accord: log verifier key: {}", ledger.verifier_key());
        println!("accord: tree size {}", latest.size);
    }
    for target in witness_targets {
        let (ledger, stop) = (ledger.clone(), shutdown.child_token());
        tokio::spawn(async move {
            tokio::select! {
                _ = crate::witness::run_sender(ledger, target) => {}
                _ = stop.cancelled() => {}
            }
        });
    }
    let settings = crate::server::Settings {
        max_concurrent_requests: a.max_concurrent_requests,
        request_timeout: std::time::Duration::from_millis(a.request_timeout_ms),
        rates: crate::api::limits::RateSettings {
            per_key: a.rate_per_key,
            burst: a.rate_burst,
            parties: a.party_rates.clone(),
            per_client: a.rate_per_client,
            max_buckets: crate::api::limits::DEFAULT_MAX_BUCKETS,
        },
        max_connections: a.max_connections,
        max_streams_per_connection: a.max_streams_per_connection,
        request_body_timeout: std::time::Duration::from_millis(a.request_body_timeout_ms),
        header_read_timeout: std::time::Duration::from_millis(a.header_read_timeout_ms),
        tls: match (&a.tls_cert, &a.tls_key) {
            (Some(c), Some(k)) => Some(crate::server::TlsSettings {
                cert_pem: std::fs::read(c).with_context(|| format!("reading {}", c.display()))?,
                key_pem: std::fs::read(k).with_context(|| format!("reading {}", k.display()))?,
                client_ca_pem: a
                    .tls_client_ca
                    .as_ref()
                    .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                    .transpose()?,
                require_client_cert: a.require_client_cert,
            }),
            _ => None,
        },
    };
    // The drain order: stop accepting and finish in-flight requests on every port, then drain the
    // sequencer, sign the final checkpoint and close the store.
    let served = crate::server::serve_grpc(listener, ledger.clone(), settings, shutdown.clone()).await;
    shutdown.cancel();
    for l in listeners {
        let _ = l.await;
    }
    crate::server::close(ledger).await?;
    served
}

pub(super) async fn health(a: HealthArgs, json: bool) -> Result<()> {
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let channel = client::channel(&a.server).await?;
    let resp = HealthClient::new(channel)
        .check(HealthCheckRequest { service: a.service.clone() })
        .await
        .map_err(|s| Error::new(Kind::Unavailable, "server", format!("health check failed: {}", s.message())))?;
    let st = resp.into_inner().status;
    let serving = st == tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    if json {
        println!("{}", json!({"ok": serving, "status": st}));
    } else {
        println!("{}", if serving { "SERVING" } else { "NOT_SERVING" });
    }
    if !serving {
        return Err(Reported(3).into());
    }
    Ok(())
}
