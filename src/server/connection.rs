//! Accepted gRPC connections: each holds one of the `max_connections` permits, and must send the HTTP/2
//! preface within the body deadline.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tonic::transport::server::Connected;

/// Bytes of the HTTP/2 client preface: a new connection must send them within the header-read timeout.
const PREFACE_BYTES: usize = 24;

/// An accepted connection holding one of the `max_connections` permits until it closes. Until the first
/// [`PREFACE_BYTES`] have arrived a read deadline applies, so a connection that never speaks is cut.
pub(super) struct Capped<IO> {
    io: IO,
    _permit: OwnedSemaphorePermit,
    first_bytes: Option<(usize, Pin<Box<tokio::time::Sleep>>)>,
}

impl<IO> Capped<IO> {
    pub(super) fn new(io: IO, permit: OwnedSemaphorePermit, deadline: Duration) -> Self {
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
