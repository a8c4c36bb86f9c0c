//! The HTTP ports (public page, metrics): HTTP/1.1, optionally over TLS, with a connection cap and a
//! header-read deadline.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Settings;

/// Limits of the HTTP ports (public page, metrics).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections; more are closed at once.
    pub max_connections: usize,
    /// Request headers (and a TLS handshake) must arrive within this; idle keep-alive connections are
    /// closed after it too.
    pub header_read_timeout: Duration,
    /// At shutdown, requests in flight get this long to finish (the per-request deadline) before their
    /// connections are dropped.
    pub grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self::from(&Settings::default())
    }
}

impl From<&Settings> for HttpLimits {
    fn from(s: &Settings) -> Self {
        Self {
            max_connections: s.max_connections,
            header_read_timeout: s.header_read_timeout,
            grace: s.request_timeout,
        }
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
/// with a connection cap and a header-read deadline, so slow or idle clients cannot hold the port. At
/// shutdown the port stops accepting, every open connection finishes the request it is serving and
/// closes, and this returns once all have closed (at most [`HttpLimits::grace`] later).
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let conns = Arc::new(Semaphore::new(limits.max_connections));
    // The connections' own token: cancelled once the port stops accepting.
    let closing = CancellationToken::new();
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
            _ = &mut shutdown => break,
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            crate::metrics::metrics().connection_refused("http");
            tracing::warn!("HTTP connection refused: max_connections reached");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tls, router, builder, handshake, closing) =
            (tls.clone(), router.clone(), builder.clone(), limits.header_read_timeout, closing.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper_util::service::TowerToHyperService::new(router);
            match tls {
                Some(acceptor) => {
                    let accept = tokio::time::timeout(handshake, acceptor.accept(tcp));
                    let Some(Ok(Ok(stream))) = closing.run_until_cancelled(accept).await else { return };
                    serve_connection(&builder, stream, service, &closing).await;
                }
                None => serve_connection(&builder, tcp, service, &closing).await,
            }
        });
    }
    drop(listener);
    closing.cancel();
    // Every connection holds a permit until it has closed: having them all back means all are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.grace, conns.acquire_many(all)).await.is_err() {
        tracing::warn!(grace = ?limits.grace, "HTTP requests still in flight after the grace period are dropped");
    }
    Ok(())
}

/// Serve one connection; when `closing` is cancelled, finish the request in flight and close it.
async fn serve_connection<T>(
    builder: &hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    io: T,
    service: hyper_util::service::TowerToHyperService<axum::Router>,
    closing: &CancellationToken,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
