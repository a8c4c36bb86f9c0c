//! Transport: the gRPC server with health and reflection, bound to a listener the caller gives, stopped by
//! a cancellation token the caller holds ([`shutdown_token`]: ctrl-c/SIGTERM, once for the whole process;
//! a channel in tests). No business logic here.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpIncoming};

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

/// Largest HTTP/2 header list accepted (gRPC requests carry a few hundred bytes of headers).
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// HTTP/2 keepalive: a PING after this much silence on a connection ...
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// ... and the connection is closed when the PING is not answered within this.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Request bytes buffered at once across all requests while their bodies arrive (see [`Admission`]); beyond
/// it new bodies get RESOURCE_EXHAUSTED until buffered ones are handled.
pub const BODY_BUFFER_BYTES: usize = 512 * 1024 * 1024;

/// Bytes of the HTTP/2 client preface: a new connection must send them within the header-read timeout.
const PREFACE_BYTES: usize = 24;

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
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown => cancel.cancel(),
            _ = cancel.cancelled() => {}
        }
    });
    let served = serve_grpc(listener, ledger.clone(), settings, token.clone()).await;
    token.cancel();
    close(ledger).await?;
    served
}

/// The last step of the drain order: every listener has stopped, so the sequencer is drained, the final
/// checkpoint signed and the store closed.
pub async fn close(ledger: Arc<Ledger>) -> anyhow::Result<()> {
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || l.close()).await?;
    tracing::info!(size = ledger.latest().size, "server stopped");
    Ok(())
}

/// The process's one shutdown token: cancelled on the first ctrl-c or SIGTERM. Every listener and
/// background task holds a child of it, so one signal stops them all, in the drain order the caller
/// writes: stop accepting and finish in-flight requests, then [`close`] the ledger.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let signal = shutdown_signal();
    tokio::spawn(async move {
        tokio::select! {
            _ = signal => cancel.cancel(),
            _ = cancel.cancelled() => {}
        }
    });
    token
}

/// Serve gRPC on `listener` until `shutdown` is cancelled, then finish the requests in flight. The ledger
/// stays open: the caller closes it (with [`close`]) once every other listener has stopped too.
pub async fn serve_grpc(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    init_method_labels();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<LedgerServiceServer<LedgerApi>>().await;
    health_reporter.set_serving::<CoalitionServiceServer<CoalitionApi>>().await;
    health_reporter.set_serving::<ReportServiceServer<ReportApi>>().await;
    health_reporter.set_serving::<AuditServiceServer<crate::api::audit::AuditApi>>().await;
    let health_task = shutdown.child_token();
    let (reporter, state) = (health_reporter.clone(), ledger.write_state());
    tokio::spawn(async move {
        tokio::select! {
            _ = report_write_state(reporter, state) => {}
            _ = health_task.cancelled() => {}
        }
    });
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
    let conns = Arc::new(Semaphore::new(settings.max_connections));
    let preface_deadline = settings.request_body_timeout;
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
        .filter_map(move |r| {
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
        });
    let admission = Admission {
        inner: (),
        slots: Arc::new(Semaphore::new(settings.max_concurrent_requests)),
        buffer: Arc::new(Semaphore::new(BODY_BUFFER_BYTES / 1024)),
        body_timeout: settings.request_body_timeout,
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = &settings.tls {
        let mut cfg = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(&t.cert_pem, &t.key_pem))
            .timeout(settings.header_read_timeout);
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
        .max_concurrent_streams(Some(settings.max_streams_per_connection))
        .http2_max_header_list_size(Some(MAX_HEADER_LIST_BYTES))
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .timeout(settings.request_timeout)
        .layer(tower::layer::layer_fn(Observe))
        .layer(tower::layer::layer_fn(move |inner| admission.wrap(inner)))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(api)
        .add_service(coalition)
        .add_service(reports)
        .add_service(audit)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
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
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // The handlers are installed here, before the caller goes on (for `serve`, before it prints that it is
    // listening), not on the future's first poll: a SIGTERM that arrives in between would otherwise take
    // the default action and kill the process without a clean stop.
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = wait(int) => {}, _ = wait(term) => {} }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested");
    }
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
        let method = method_label(req.uri().path());
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
            m.request(method, &code, secs);
            if code != "Ok" {
                if method.ends_with("/Submit") || method.ends_with("/SubmitBatch") {
                    m.rejected(method, &code);
                }
                tracing::info!(parent: &span, "request refused");
            } else {
                tracing::debug!(parent: &span, "request");
            }
            res
        })
    }
}

/// The gRPC methods served, as `/package.Service/Method`: the only values the `method` metric label takes
/// (anything else is "other"), so request paths cannot grow the metrics without bound.
static METHODS: std::sync::OnceLock<std::collections::BTreeSet<String>> = std::sync::OnceLock::new();

fn init_method_labels() {
    METHODS.get_or_init(|| {
        use tonic::server::NamedService;
        let served = [
            <LedgerServiceServer<LedgerApi> as NamedService>::NAME,
            <CoalitionServiceServer<CoalitionApi> as NamedService>::NAME,
            <ReportServiceServer<ReportApi> as NamedService>::NAME,
            <AuditServiceServer<crate::api::audit::AuditApi> as NamedService>::NAME,
        ];
        let mut set: std::collections::BTreeSet<String> = [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET) {
            Ok(pool) => {
                for svc in pool.services().filter(|s| served.contains(&s.full_name())) {
                    for m in svc.methods() {
                        set.insert(format!("/{}/{}", svc.full_name(), m.name()));
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "file descriptor set"),
        }
        set
    });
}

/// The metric label of a request path: the method when it is one we serve, else "other".
pub fn method_label(path: &str) -> &'static str {
    METHODS.get().and_then(|m| m.get(path)).map_or("other", |s| s.as_str())
}

/// Paths answered outside the request-slot pool and without buffering: health checks (so that a flood of
/// slow requests cannot make the server look dead) and reflection (a bidirectional stream).
fn outside_pool(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// Admission of gRPC requests: a request's body is read completely first — within the body deadline, into a
/// bounded buffer budget — and only then does it wait for one of the `max_concurrent_requests` slots. A
/// stream that sends headers and stalls never holds a slot, and is dropped with DEADLINE_EXCEEDED.
#[derive(Debug, Clone)]
struct Admission<S> {
    inner: S,
    slots: Arc<Semaphore>,
    /// Buffered request bytes, in KiB permits.
    buffer: Arc<Semaphore>,
    body_timeout: Duration,
}

impl Admission<()> {
    fn wrap<S>(&self, inner: S) -> Admission<S> {
        Admission { inner, slots: self.slots.clone(), buffer: self.buffer.clone(), body_timeout: self.body_timeout }
    }
}

fn refuse(s: tonic::Status) -> http::Response<tonic::body::Body> {
    s.into_http()
}

/// Read a request body completely, within `timeout` and the buffer budget; the permits returned hold the
/// budget until the request is done.
async fn read_body(
    mut body: tonic::body::Body,
    timeout: Duration,
    budget: &Arc<Semaphore>,
) -> Result<(bytes::Bytes, Vec<OwnedSemaphorePermit>), tonic::Status> {
    use http_body_util::BodyExt;
    let deadline = tokio::time::Instant::now().checked_add(timeout).unwrap_or_else(tokio::time::Instant::now);
    let mut buf = bytes::BytesMut::new();
    let mut held: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut held_kib: usize = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(tonic::Status::deadline_exceeded(format!(
                    "request body not received within {} ms",
                    timeout.as_millis()
                )))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(tonic::Status::cancelled(format!("request body: {e}"))),
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else { continue };
        let total = buf.len().saturating_add(data.len());
        // The message plus its 5-byte gRPC frame header.
        if total > MAX_MESSAGE_BYTES.saturating_add(5) {
            return Err(tonic::Status::resource_exhausted(format!("request body is over {MAX_MESSAGE_BYTES} bytes")));
        }
        let need_kib = total.div_ceil(1024);
        if need_kib > held_kib {
            let extra = u32::try_from(need_kib.saturating_sub(held_kib)).unwrap_or(u32::MAX);
            match budget.clone().try_acquire_many_owned(extra) {
                Ok(p) => {
                    held.push(p);
                    held_kib = need_kib;
                }
                Err(_) => {
                    return Err(tonic::Status::resource_exhausted(
                        "the server is receiving too many request bytes at once; retry shortly",
                    ))
                }
            }
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), held))
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for Admission<S>
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if outside_pool(req.uri().path()) {
            return Box::pin(inner.call(req));
        }
        let (slots, budget, timeout) = (self.slots.clone(), self.buffer.clone(), self.body_timeout);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let (bytes, _budget) = match read_body(body, timeout, &budget).await {
                Ok(b) => b,
                Err(s) => return Ok(refuse(s)),
            };
            let Ok(_slot) = slots.acquire_owned().await else {
                return Ok(refuse(tonic::Status::unavailable("the server is shutting down")));
            };
            let req = http::Request::from_parts(parts, tonic::body::Body::new(http_body_util::Full::new(bytes)));
            inner.call(req).await
        })
    }
}

/// An accepted connection holding one of the `max_connections` permits until it closes. Until the first
/// [`PREFACE_BYTES`] have arrived a read deadline applies, so a connection that never speaks is cut.
struct Capped<IO> {
    io: IO,
    _permit: OwnedSemaphorePermit,
    first_bytes: Option<(usize, Pin<Box<tokio::time::Sleep>>)>,
}

impl<IO> Capped<IO> {
    fn new(io: IO, permit: OwnedSemaphorePermit, deadline: Duration) -> Self {
        Self { io, _permit: permit, first_bytes: Some((0, Box::pin(tokio::time::sleep(deadline)))) }
    }
}

impl<IO: Connected> Connected for Capped<IO> {
    type ConnectInfo = IO::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Capped<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Some((seen, sleep)) = &mut this.first_bytes {
            match &r {
                Poll::Ready(Ok(())) => {
                    *seen = seen.saturating_add(buf.filled().len().saturating_sub(before));
                    if *seen >= PREFACE_BYTES {
                        this.first_bytes = None;
                    }
                }
                Poll::Pending => {
                    if sleep.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "connection sent no request in time",
                        )));
                    }
                }
                Poll::Ready(Err(_)) => {}
            }
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Capped<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Limits of the HTTP ports (public page, metrics).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections; more are closed at once.
    pub max_connections: usize,
    /// Request headers (and a TLS handshake) must arrive within this; idle keep-alive connections are
    /// closed after it too.
    pub header_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        let s = Settings::default();
        Self { max_connections: s.max_connections, header_read_timeout: s.header_read_timeout }
    }
}

impl From<&Settings> for HttpLimits {
    fn from(s: &Settings) -> Self {
        Self { max_connections: s.max_connections, header_read_timeout: s.header_read_timeout }
    }
}

/// The rustls configuration of the HTTP ports (HTTP/1.1 over TLS) from a PEM chain and key.
pub fn http_tls_config(cert_pem: &[u8], key_pem: &[u8]) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("tls_cert: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| bad(format!("tls_key: {e}")))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut cfg = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(format!("tls: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Serve an axum router over HTTP/1.1 (TLS when `tls` is given) on `listener` until `shutdown` completes,
/// with a connection cap and a header-read deadline, so slow or idle clients cannot hold the port.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let conns = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new()).http1_only();
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of stopping the port.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            crate::metrics::metrics().connection_refused("http");
            tracing::warn!("HTTP connection refused: max_connections reached");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tls, router, builder, handshake) =
            (tls.clone(), router.clone(), builder.clone(), limits.header_read_timeout);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper_util::service::TowerToHyperService::new(router);
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(handshake, acceptor.accept(tcp)).await else { return };
                    let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                }
                None => {
                    let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
                }
            }
        });
    }
}
