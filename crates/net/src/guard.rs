//! A connection that must deliver its first request head in time, and that
//! holds one of the listener's connection permits while it lives.

use crate::listener::ListenStats;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

/// The end of an HTTP/1.1 request head; the HTTP/2 connection preface
/// (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) holds it too.
const HEAD_END: &[u8; 4] = b"\r\n\r\n";

/// `inner` with a deadline for its first request head and a connection permit.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    peer: SocketAddr,
    /// Until the first head arrived; `None` after.
    deadline: Option<Pin<Box<Sleep>>>,
    /// The last bytes read, to find a head end split across reads.
    tail: Vec<u8>,
    stats: Arc<ListenStats>,
    _permit: OwnedSemaphorePermit,
}

impl<S> Guarded<S> {
    pub(crate) fn new(
        inner: S,
        peer: SocketAddr,
        head_timeout: Duration,
        permit: OwnedSemaphorePermit,
        stats: Arc<ListenStats>,
    ) -> Self {
        Self {
            inner,
            peer,
            deadline: Some(Box::pin(tokio::time::sleep(head_timeout))),
            tail: Vec::with_capacity(8),
            stats,
            _permit: permit,
        }
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Looks for the end of the first head in what was just read.
    fn saw(&mut self, new: &[u8]) {
        self.tail.extend_from_slice(new);
        if self.tail.windows(4).any(|w| w == HEAD_END) {
            self.deadline = None;
            self.tail = Vec::new();
        } else {
            let keep = self.tail.len().saturating_sub(3);
            self.tail.drain(..keep);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.deadline = None;
            this.stats.head_timeouts.fetch_add(1, Relaxed);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete request head in time",
            )));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.deadline.is_some() && matches!(polled, Poll::Ready(Ok(()))) {
            let new = buf.filled()[before..].to_vec();
            this.saw(&new);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(feature = "tonic")]
impl<S> tonic::transport::server::Connected for Guarded<S> {
    type ConnectInfo = SocketAddr;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer
    }
}
