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
    let mut opts = a.ledger_options();
    opts.new_ledger_with_existing_key = new_ledger_with_existing_key;
    let existing = a.data_dir.join(crate::ledger::KEY_FILE).exists();
    if existing {
        opts.origin = None; // an existing ledger keeps its own origin
    }
    let ledger = Arc::new(tokio::task::spawn_blocking(move || Ledger::open(opts)).await??);
    let witness_ca = match &a.witness_ca {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("witness_ca: reading {}", p.display()))?),
        None => None,
    };
    let witness_targets = a
        .witnesses
        .iter()
        .map(|w| crate::server::witness::WitnessTarget::parse_trusting(w, witness_ca.as_deref()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    crate::server::witness::check_views(&ledger, &witness_targets).await?;
    let listener = crate::server::bind(&a.listen).await?;
    let addr = listener.local_addr()?;
    let latest = ledger.latest();
    let mut settings = a.server_settings();
    let http_tls = tls(&a, &mut settings)?;
    let http_limits = crate::server::HttpLimits::from(&settings);
    // The root of the token tree, its signal handlers installed before the listening line is printed;
    // every listener and task below holds a child of it, and `drain` stops them in the drain order.
    let shutdown = crate::server::shutdown_token();
    let mut listeners = Vec::new();
    let spawn_http = |name: &'static str, l: tokio::net::TcpListener, router: axum::Router| {
        let (tls, limits) = (http_tls.clone(), http_limits.clone());
        crate::server::spawn_listener(&shutdown, name, move |stop| async move {
            crate::server::serve_http(l, router, tls, limits, stop.cancelled_owned())
                .await
                .map_err(|source| crate::server::ServeError::Http { name, source })
        })
    };
    let http = match &a.http {
        Some(h) => {
            let l = crate::server::bind(h).await.context("--http")?;
            let http_addr = l.local_addr()?;
            listeners.push(spawn_http("http", l, crate::server::web::router(ledger.clone())));
            Some(http_addr.to_string())
        }
        None => None,
    };
    let metrics_addr = match &a.metrics {
        Some(m) => {
            let l = crate::server::bind(m).await.context("--metrics")?;
            let addr = l.local_addr()?.to_string();
            listeners.push(spawn_http("metrics", l, crate::server::web::metrics_router(ledger.clone())));
            Some(addr)
        }
        None => None,
    };
    announce(json, &addr.to_string(), http.as_deref(), metrics_addr.as_deref(), &ledger, latest.size);
    listeners.extend(background(&shutdown, &ledger, witness_targets, a.tiles_dir.as_deref())?);
    let grace = settings.request_timeout;
    let l = ledger.clone();
    listeners.push(crate::server::spawn_listener(&shutdown, "grpc", move |stop| {
        crate::server::serve_grpc(listener, l, settings, stop)
    }));
    Ok(crate::server::drain(&shutdown, listeners, ledger, grace).await?)
}

/// The ledger's background tasks: a sender per witness, and the static tiles directory when configured.
fn background(
    shutdown: &tokio_util::sync::CancellationToken,
    ledger: &Arc<Ledger>,
    witnesses: Vec<crate::server::witness::WitnessTarget>,
    tiles_dir: Option<&std::path::Path>,
) -> Result<Vec<crate::server::Listener>> {
    let mut tasks = Vec::new();
    for target in witnesses {
        let l = ledger.clone();
        tasks.push(crate::server::spawn_listener(shutdown, "witness sender", move |stop| async move {
            crate::server::witness::run_sender(l, target, stop).await;
            Ok(())
        }));
    }
    if let Some(dir) = tiles_dir {
        let dir = crate::tiles::TileDir::create(dir)?;
        let l = ledger.clone();
        tasks.push(crate::server::spawn_listener(shutdown, "tiles dir", move |stop| async move {
            crate::server::tiles::keep_dir(l, dir, stop).await;
            Ok(())
        }));
    }
    Ok(tasks)
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

/// The TLS files read once: the gRPC port's settings (with the client CA when given) go into `settings`;
/// the public page and metrics share the certificate (returned) when TLS is on.
fn tls(
    a: &crate::config::ServeConfig,
    settings: &mut crate::server::Settings,
) -> Result<Option<tokio_rustls::TlsAcceptor>> {
    let (Some(c), Some(k)) = (&a.tls_cert, &a.tls_key) else { return Ok(None) };
    let cert_pem = std::fs::read(c).with_context(|| format!("reading {}", c.display()))?;
    let key_pem = std::fs::read(k).with_context(|| format!("reading {}", k.display()))?;
    let http_tls = crate::server::http_tls_config(&cert_pem, &key_pem)?;
    let client_ca_pem = match &a.tls_client_ca {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let require_client_cert = a.require_client_cert;
    settings.tls = Some(crate::server::TlsSettings { cert_pem, key_pem, client_ca_pem, require_client_cert });
    Ok(Some(http_tls))
}

/// The listening lines (or one JSON object), printed once every port is bound and the signal handlers are
/// installed.
fn announce(json: bool, addr: &str, http: Option<&str>, metrics: Option<&str>, ledger: &Ledger, size: u64) {
    if json {
        println!(
            "{}",
            json!({"listening": addr, "http": http, "metrics": metrics, "origin": ledger.origin(), "verifier_key": ledger.verifier_key(), "tree_size": size})
        );
        return;
    }
    if let Some(h) = http {
        println!("accord: public transparency page on http://{h}/");
    }
    if let Some(m) = metrics {
        println!("accord: metrics on http://{m}/metrics");
    }
    println!("accord: serving {} on {addr}", ledger.origin());
    println!("accord: log verifier key: {}", ledger.verifier_key());
    println!("accord: tree size {size}");
}
