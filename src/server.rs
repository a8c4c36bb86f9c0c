//! Transport: the gRPC server with health and reflection, bound to a listener the caller gives, stopped by
//! a shutdown future the caller chooses (ctrl-c/SIGTERM in `main`, a channel in tests).
//! No business logic here.
use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::api::{CoalitionApi, LedgerApi, ReportApi};
use crate::log::Ledger;
use crate::pb::{
    audit_service_server::AuditServiceServer, coalition_service_server::CoalitionServiceServer,
    ledger_service_server::LedgerServiceServer, report_service_server::ReportServiceServer, FILE_DESCRIPTOR_SET,
};

/// Largest gRPC message accepted (a full SubmitBatch of 1024 × 64 KiB envelopes is the design maximum).
pub const MAX_MESSAGE_BYTES: usize = 80 * 1024 * 1024;

/// HTTP/2 flow-control window per stream (the connection gets twice this).
pub const WINDOW_BYTES: u32 = 4 * 1024 * 1024;

/// Transport settings (see `accord serve --help` and docs/OPERATIONS.md).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests handled at once across all connections; more wait their turn.
    pub max_concurrent_requests: usize,
    /// Per-request deadline.
    pub request_timeout: std::time::Duration,
    pub rates: crate::api::limits::RateSettings,
    /// TLS (rustls) for the gRPC port; None = plain text.
    pub tls: Option<TlsSettings>,
}

/// Server certificate, and optionally the CA client certificates must chain to.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub client_ca_pem: Option<Vec<u8>>,
    /// Submissions need a verified client certificate; reads stay public.
    pub require_client_cert: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 512,
            request_timeout: std::time::Duration::from_secs(30),
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
) -> anyhow::Result<()> {
    run_with(listener, ledger, Settings::default(), shutdown).await
}

/// Serve the ledger on `listener` until `shutdown` completes, then close the ledger: in-flight
/// submissions finish, the sequencer drains and the database is closed.
pub async fn run_with(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<LedgerServiceServer<LedgerApi>>().await;
    health_reporter.set_serving::<CoalitionServiceServer<CoalitionApi>>().await;
    health_reporter.set_serving::<ReportServiceServer<ReportApi>>().await;
    health_reporter.set_serving::<AuditServiceServer<crate::api::audit::AuditApi>>().await;
    tokio::spawn(report_write_state(health_reporter.clone(), ledger.write_state()));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let limiter = crate::api::limits::RateLimiter::new(settings.rates.clone());
    let require_cert = settings.tls.as_ref().is_some_and(|t| t.require_client_cert);
    let api =
        LedgerServiceServer::new(LedgerApi::with_limits(ledger.clone(), limiter).require_client_cert(require_cert))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let coalition =
        CoalitionServiceServer::new(CoalitionApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let reports = ReportServiceServer::new(ReportApi::new(ledger.clone())).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let audit = AuditServiceServer::new(crate::api::audit::AuditApi::new(ledger.clone()))
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = &settings.tls {
        let mut cfg = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(&t.cert_pem, &t.key_pem));
        if let Some(ca) = &t.client_ca_pem {
            // Optional at the TLS layer: reads stay public; submissions are checked in the handlers.
            cfg = cfg.client_ca_root(tonic::transport::Certificate::from_pem(ca)).client_auth_optional(true);
        }
        builder = builder.tls_config(cfg)?;
    }
    builder
        // Batches and their receipts are hundreds of KiB: HTTP/2's default 64 KiB windows would stall them.
        .initial_stream_window_size(Some(WINDOW_BYTES))
        .initial_connection_window_size(Some(2 * WINDOW_BYTES))
        .timeout(settings.request_timeout)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(settings.max_concurrent_requests))
        .layer(tower::layer::layer_fn(Observe))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(api)
        .add_service(coalition)
        .add_service(reports)
        .add_service(audit)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || l.close()).await?;
    tracing::info!(size = ledger.latest().size, "server stopped");
    Ok(())
}

/// Health follows the write path: a full disk makes LedgerService NOT_SERVING until writes succeed again
/// (reads go on); a stopped sequencer makes the whole server NOT_SERVING (`""`), so an orchestrator
/// restarts it.
async fn report_write_state(
    health: tonic_health::server::HealthReporter,
    mut state: tokio::sync::watch::Receiver<crate::log::WriteState>,
) {
    use crate::log::WriteState;
    loop {
        let now = state.borrow_and_update().clone();
        match now {
            WriteState::Serving => health.set_serving::<LedgerServiceServer<LedgerApi>>().await,
            WriteState::DiskFull => health.set_not_serving::<LedgerServiceServer<LedgerApi>>().await,
            WriteState::Stopped(_) => {
                health.set_not_serving::<LedgerServiceServer<LedgerApi>>().await;
                health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
            }
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested");
}

/// A span per request with method, status and latency, and the request metrics.
#[derive(Debug, Clone)]
struct Observe<S>(S);

impl<S, B, RB> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let method = req.uri().path().to_string();
        let started = std::time::Instant::now();
        let span = tracing::info_span!("grpc", method = %method, status = tracing::field::Empty, latency_ms = tracing::field::Empty);
        let clone = self.0.clone();
        let mut inner = std::mem::replace(&mut self.0, clone);
        let fut = inner.call(req);
        Box::pin(async move {
            let res = fut.instrument(span.clone()).await;
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("Ok".to_string(), |c| format!("{:?}", tonic::Code::from(c))),
                Err(_) => "TransportError".to_string(),
            };
            let secs = started.elapsed().as_secs_f64();
            span.record("status", code.as_str());
            span.record("latency_ms", secs * 1000.0);
            let m = crate::metrics::metrics();
            m.request(&method, &code, secs);
            if code != "Ok" {
                if method.ends_with("/Submit") || method.ends_with("/SubmitBatch") {
                    m.rejected(&method, &code);
                }
                tracing::info!(parent: &span, "request refused");
            } else {
                tracing::debug!(parent: &span, "request");
            }
            res
        })
    }
}
