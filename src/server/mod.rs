//! Transport: the gRPC server with health and reflection, bound to a listener the caller gives, stopped by
//! a cancellation token the caller holds ([`shutdown_token`]: ctrl-c/SIGTERM, once for the whole process;
//! a channel in tests), in the one drain order of [`drain`]. No business logic here.
//!
//! This folder is the whole edge of the server: everything that speaks a network protocol. The
//! ledger is named through [`crate::ledger`] only; the store is never named here (tests/architecture.rs).
//!
//! This file holds the settings and the gRPC server; `admission.rs` the request slots and body budget,
//! `connection.rs` the connection cap, `observe.rs` spans and metrics, `health.rs` the health service,
//! `shutdown.rs` the shutdown token and the drain order, `http_ports.rs` the HTTP ports, `serve_error.rs`
//! [`ServeError`]. [`api`] holds the
//! gRPC services and the one error→Status mapping, [`web`] the public page and the metrics endpoint,
//! [`witness`] the C2SP tlog-witness server and the ledger's witness client.
mod admission;
pub mod api;
mod connection;
mod health;
mod http_ports;
mod observe;
pub mod rest;
mod serve_error;
mod shutdown;
pub mod tiles;
pub mod web;
pub mod witness;

pub use http_ports::{http_tls_config, serve_http, HttpLimits};
pub use observe::method_label;
pub use serve_error::ServeError;
pub use shutdown::{close, drain, shutdown_signal, shutdown_token, spawn_listener, Listener};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::ledger::Ledger;
use crate::pb::{
    audit_service_server::AuditServiceServer, coalition_service_server::CoalitionServiceServer,
    ledger_service_server::LedgerServiceServer, report_service_server::ReportServiceServer, FILE_DESCRIPTOR_SET,
};
use admission::Admission;
use api::{CoalitionApi, LedgerApi, ReportApi};
use connection::Capped;
use observe::Observe;

/// Largest gRPC message accepted (a full SubmitBatch of 1024 × 64 KiB envelopes is the design maximum).
pub const MAX_MESSAGE_BYTES: usize = 80 * 1024 * 1024;

/// HTTP/2 flow-control window per stream (the connection gets twice this).
pub const WINDOW_BYTES: u32 = 4 * 1024 * 1024;

/// Largest HTTP/2 header list accepted (gRPC requests carry a few hundred bytes of headers).
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// HTTP/2 keepalive: a PING after this much silence on a connection ...
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// ... and the connection is closed when the PING is not answered within this.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Request bytes buffered at once across all requests while their bodies arrive (see `Admission`); beyond
/// it new bodies get RESOURCE_EXHAUSTED until buffered ones are handled.
pub const BODY_BUFFER_BYTES: usize = 512 * 1024 * 1024;

/// Transport settings (see `accord serve --help` and docs/OPERATIONS.md).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests handled at once across all connections; more wait their turn. A request takes its slot
    /// only once its body has arrived; health checks take none.
    pub max_concurrent_requests: usize,
    /// Per-request deadline.
    pub request_timeout: std::time::Duration,
    /// Open connections on the gRPC port (and on each HTTP port); more are closed at once.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per gRPC connection.
    pub max_streams_per_connection: u32,
    /// A request body (or a new connection's HTTP/2 preface) must arrive completely within this.
    pub request_body_timeout: Duration,
    /// HTTP ports: request headers must arrive within this (also the TLS handshake deadline).
    pub header_read_timeout: Duration,
    /// Submission rate limits (per key, per party, per client).
    pub rates: api::limits::RateSettings,
    /// TLS (rustls) for the gRPC port; None = plain text.
    pub tls: Option<TlsSettings>,
}

/// Server certificate, and optionally the CA client certificates must chain to.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain the server presents.
    pub cert_pem: Vec<u8>,
    /// PEM private key of `cert_pem`.
    pub key_pem: Vec<u8>,
    /// PEM CA that client certificates must chain to (mutual TLS); None = no client certificates asked.
    pub client_ca_pem: Option<Vec<u8>>,
    /// Submissions need a verified client certificate; reads stay public.
    pub require_client_cert: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 512,
            request_timeout: std::time::Duration::from_secs(30),
            max_connections: 1024,
            max_streams_per_connection: 100,
            request_body_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            rates: Default::default(),
            tls: None,
        }
    }
}

/// Serve the ledger on `listener` until `shutdown` completes, with default settings.
pub async fn run(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    run_with(listener, ledger, Settings::default(), shutdown).await
}

/// Serve the ledger on `listener` until `shutdown` completes, then [`drain`]: in-flight requests finish,
/// the sequencer drains and the database is closed.
pub async fn run_with(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let root = CancellationToken::new();
    let cancel = root.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown => cancel.cancel(),
            _ = cancel.cancelled() => {}
        }
    });
    let grace = settings.request_timeout;
    let l = ledger.clone();
    let grpc = spawn_listener(&root, "grpc", move |stop| serve_grpc(listener, l, settings, stop));
    drain(&root, vec![grpc], ledger, grace).await
}

/// How often at most the index follows new checkpoints in the background (complete queries catch up on
/// their own, so this only bounds how much work one of them may find waiting).
const INDEX_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Serve gRPC on `listener` until `shutdown` is cancelled, then finish the requests in flight. The health
/// task and followed entry streams hold children of `shutdown`. The ledger stays open: [`drain`] closes it
/// once every other listener has stopped too.
pub async fn serve_grpc(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    observe::init_method_labels();
    let follower = tokio::spawn(crate::ledger::follow_index(ledger.clone(), INDEX_EVERY, shutdown.child_token()));
    let health_service = health::health_service(&ledger, &shutdown).await;
    // Reflection in both versions: grpcurl and grpcui ask v1; stock Python grpcio-reflection, older
    // grpcurl and Evans still ask v1alpha only.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder().build_v1().map_err(ServeError::Reflection)?;
    let reflection_v1alpha = reflection_builder().build_v1alpha().map_err(ServeError::Reflection)?;
    let limiter = api::limits::RateLimiter::new(settings.rates.clone());
    let require_cert = settings.tls.as_ref().is_some_and(|t| t.require_client_cert);
    let api = LedgerServiceServer::new(
        LedgerApi::with_limits(ledger.clone(), limiter)
            .require_client_cert(require_cert)
            .with_shutdown(shutdown.child_token()),
    )
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let coalition =
        CoalitionServiceServer::new(CoalitionApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let reports = ReportServiceServer::new(ReportApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let audit =
        AuditServiceServer::new(api::AuditApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let incoming = capped_incoming(listener, &settings);
    let admission = Admission::new(&settings);
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = &settings.tls {
        builder = builder.tls_config(grpc_tls_config(t, settings.header_read_timeout)).map_err(ServeError::Tls)?;
    }
    builder
        // Batches and their receipts are hundreds of KiB: HTTP/2's default 64 KiB windows would stall them.
        .initial_stream_window_size(Some(WINDOW_BYTES))
        .initial_connection_window_size(Some(2 * WINDOW_BYTES))
        .max_concurrent_streams(Some(settings.max_streams_per_connection))
        .http2_max_header_list_size(Some(MAX_HEADER_LIST_BYTES))
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .timeout(settings.request_timeout)
        .layer(tower::layer::layer_fn(Observe))
        .layer(tower::layer::layer_fn(move |inner| admission.wrap(inner)))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(api)
        .add_service(coalition)
        .add_service(reports)
        .add_service(audit)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
        .map_err(ServeError::Transport)?;
    // The index follower stops with `shutdown`; wait for its step in flight, which holds the ledger.
    let _ = follower.await;
    Ok(())
}

/// Bind a listening address (`host:port`); the error names the address.
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr: addr.to_string(), source })
}

/// The connections accepted on `listener`, each holding one of the `max_connections` permits (more are
/// refused at once) and owing its HTTP/2 preface within the body deadline.
fn capped_incoming(
    listener: TcpListener,
    settings: &Settings,
) -> impl futures::Stream<Item = std::io::Result<Capped<tokio::net::TcpStream>>> {
    let conns = Arc::new(Semaphore::new(settings.max_connections));
    let preface_deadline = settings.request_body_timeout;
    TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(Some(Duration::from_secs(60))).filter_map(
        move |r| {
            futures::future::ready(match r {
                Ok(tcp) => match conns.clone().try_acquire_owned() {
                    Ok(permit) => Some(Ok(Capped::new(tcp, permit, preface_deadline))),
                    Err(_) => {
                        crate::metrics::metrics().connection_refused("grpc");
                        tracing::warn!("gRPC connection refused: max_connections reached");
                        None
                    }
                },
                Err(e) => Some(Err(e)),
            })
        },
    )
}

/// The rustls configuration of the gRPC port, the handshake bounded by `handshake`.
fn grpc_tls_config(t: &TlsSettings, handshake: Duration) -> tonic::transport::ServerTlsConfig {
    let mut cfg = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(&t.cert_pem, &t.key_pem))
        .timeout(handshake);
    if let Some(ca) = &t.client_ca_pem {
        // Optional at the TLS layer: reads stay public; submissions are checked in the handlers.
        cfg = cfg.client_ca_root(tonic::transport::Certificate::from_pem(ca)).client_auth_optional(true);
    }
    cfg
}
