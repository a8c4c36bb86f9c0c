//! Admission of gRPC requests: bodies read completely within a deadline and a buffer budget before a
//! request takes one of the concurrent-request slots.
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Settings, BODY_BUFFER_BYTES, MAX_MESSAGE_BYTES};

/// Paths answered outside the request-slot pool and without buffering: health checks (so that a flood of
/// slow requests cannot make the server look dead) and reflection (a bidirectional stream).
fn outside_pool(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// Admission of gRPC requests: a request's body is read completely first — within the body deadline, into a
/// bounded buffer budget — and only then does it wait for one of the `max_concurrent_requests` slots. A
/// stream that sends headers and stalls never holds a slot, and is dropped with DEADLINE_EXCEEDED.
#[derive(Debug, Clone)]
pub(super) struct Admission<S> {
    inner: S,
    slots: Arc<Semaphore>,
    /// Buffered request bytes, in KiB permits.
    buffer: Arc<Semaphore>,
    body_timeout: Duration,
}

impl Admission<()> {
    /// The shared slots and buffer budget of `settings`, to wrap each service with.
    pub(super) fn new(settings: &Settings) -> Self {
        Admission {
            inner: (),
            slots: Arc::new(Semaphore::new(settings.max_concurrent_requests)),
            buffer: Arc::new(Semaphore::new(BODY_BUFFER_BYTES / 1024)),
            body_timeout: settings.request_body_timeout,
        }
    }

    pub(super) fn wrap<S>(&self, inner: S) -> Admission<S> {
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
