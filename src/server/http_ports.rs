//! The HTTP ports (public page, metrics): HTTP/1.1, optionally over TLS, with a connection cap and a
//! header-read deadline.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Settings;

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
