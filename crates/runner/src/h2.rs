//! HTTP/2 on one connection that carries many requests at once: h2 over
//! TLS (ALPN `h2`) or, for `http://`, with prior knowledge (h2c). Used by
//! `run --http2` and by the gRPC export of the client spans.
//!
//! The h2 crate drives the connection in its own task (HTTP/2 interleaves
//! frames of many streams, so one request cannot own the socket as HTTP/1.1
//! does); the task that measures a request sends it and awaits its answer.

use crate::http1::WireError;
use crate::stream::{Opening, Target, open, tls_error};
use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use http::{HeaderMap, Request};
use std::time::Instant;

/// A response read off an HTTP/2 stream.
#[derive(Debug)]
pub struct H2Response {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// When the response headers arrived.
    pub first_byte: Instant,
    /// The whole body.
    pub body: Bytes,
    /// Trailers (gRPC's status lives there).
    pub trailers: Option<HeaderMap>,
}

/// One HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct H2Conn {
    send: h2::client::SendRequest<Bytes>,
    host: String,
    /// h2c (no TLS): nothing negotiated HTTP/2 before the first request.
    cleartext: bool,
    /// Which connection this is (clones share it): the pool retires by it.
    pub id: u64,
    /// How it was opened.
    pub opening: Opening,
    /// Requests on it now (clones share it).
    in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The server's stream limit as last read by [`H2Conn::has_room`].
    max_streams: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// An answer came back on it: the server's SETTINGS (sent first) are
    /// in, and its stream limit with them.
    settled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set when the connection's task ends (closed, GOAWAY done, failed):
    /// asking h2 instead takes its stream lock on every pick.
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Counts a request on its connection while it lives.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn wire(host: &str, e: h2::Error) -> WireError {
    if e.is_io() {
        match e.into_io() {
            Some(io) => tls_error(host, io),
            None => WireError::ClosedEarly,
        }
    } else if (e.is_go_away() && e.is_remote()) || e.reason() == Some(h2::Reason::REFUSED_STREAM) {
        // Above the GOAWAY's last stream id, or refused: never processed.
        WireError::NotProcessed
    } else if e.is_go_away() || e.is_reset() {
        WireError::ClosedEarly
    } else {
        WireError::Malformed(format!("HTTP/2: {e}"))
    }
}

/// `--http2` to an API that does not speak it: said so, with what to do.
pub fn no_http2(host: &str, how: &str) -> WireError {
    WireError::NoHttp2(
        format!("the API at {host} does not speak HTTP/2 {how}: drop --http2").into(),
    )
}

/// A TLS handshake the server ended because it offers no protocol we asked
/// for by ALPN (only `h2`): an API without HTTP/2.
fn refused_alpn(host: &str, e: WireError) -> WireError {
    match &e {
        WireError::Tls { error, .. }
            if matches!(
                **error,
                rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
            ) =>
        {
            no_http2(host, "over TLS (it refused h2 by ALPN)")
        }
        _ => e,
    }
}

impl H2Conn {
    /// Opens `target` and performs the HTTP/2 handshake. With TLS the server
    /// must have chosen `h2` by ALPN.
    pub async fn connect(target: &Target) -> Result<Self, WireError> {
        let (stream, opening) = open(target)
            .await
            .map_err(|e| refused_alpn(&target.host, e))?;
        if target.tls.is_some() && stream.alpn() != Some(b"h2".as_slice()) {
            let chose = stream.alpn().map_or("nothing".into(), |p| {
                String::from_utf8_lossy(p).into_owned()
            });
            return Err(no_http2(
                &target.host,
                &format!("over TLS (ALPN chose {chose})"),
            ));
        }
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 22)
            .handshake(stream)
            .await
            .map_err(|e| wire(&target.host, e))?;
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ended = closed.clone();
        tokio::spawn(async move {
            // Ends when the connection closes; its error surfaces on the streams.
            let _ = connection.await;
            ended.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Self {
            send,
            host: target.host.clone(),
            cleartext: target.tls.is_none(),
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            opening,
            in_flight: Default::default(),
            max_streams: Default::default(),
            settled: Default::default(),
            closed,
        })
    }

    /// Whether the connection still takes requests: its task runs, and no
    /// GOAWAY has been received (h2 then refuses new streams at once).
    pub fn is_open(&self) -> bool {
        !self.closed.load(std::sync::atomic::Ordering::Relaxed)
            && !matches!(self.send.clone().ready().now_or_never(), Some(Err(_)))
    }

    /// [`H2Conn::is_open`] without asking h2 (its stream lock): `false`
    /// once the connection's task ended; a GOAWAY still pending shows as a
    /// refused stream, which the retry rule sends again elsewhere.
    pub fn is_running(&self) -> bool {
        !self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether another request would get a stream at once: fewer requests
    /// on it than the server's SETTINGS_MAX_CONCURRENT_STREAMS (100 until
    /// its settings arrive).
    pub fn has_room(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let busy = self.in_flight.load(Relaxed);
        // The limit as last read: asking h2 takes its stream lock, so once
        // the server's SETTINGS are in (an answer came back) it is asked
        // again only when the connection looks full by it (a server that
        // raises its limit is seen then; one that lowers it mid-connection
        // has the extra requests wait in h2 for a stream).
        if self.settled.load(Relaxed) && busy < self.max_streams.load(Relaxed) {
            return true;
        }
        let now = self.send.current_max_send_streams();
        self.max_streams.store(now, Relaxed);
        busy < now
    }

    /// Sends `request` with `body` and reads the whole answer, trailers included.
    pub async fn exchange(
        &self,
        request: Request<()>,
        body: Bytes,
    ) -> Result<H2Response, WireError> {
        self.exchange_on(request, body)
            .await
            .map_err(|e| self.unless_no_http2(e))
    }

    /// Without TLS nothing negotiates HTTP/2: an HTTP/1.1 server answers
    /// the preface with an error and closes, so a connection that fails
    /// before any answer came back on it is one to an API without h2c.
    fn unless_no_http2(&self, e: WireError) -> WireError {
        let answered = self.settled.load(std::sync::atomic::Ordering::Relaxed);
        match e {
            WireError::ClosedEarly | WireError::Malformed(_) | WireError::Io(_)
                if self.cleartext && !answered =>
            {
                no_http2(
                    &self.host,
                    "without TLS (it closed the connection on the HTTP/2 preface; h2c needs prior knowledge)",
                )
            }
            e => e,
        }
    }

    async fn exchange_on(
        &self,
        request: Request<()>,
        body: Bytes,
    ) -> Result<H2Response, WireError> {
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _counted = InFlight(&self.in_flight);
        let mut send = self
            .send
            .clone()
            .ready()
            .await
            .map_err(|e| wire(&self.host, e))?;
        let end = body.is_empty();
        let (response, mut stream) = send
            .send_request(request, end)
            .map_err(|e| wire(&self.host, e))?;
        if !end {
            stream
                .send_data(body, true)
                .map_err(|e| wire(&self.host, e))?;
        }
        let response = response.await.map_err(|e| wire(&self.host, e))?;
        let first_byte = Instant::now();
        if !self.settled.load(std::sync::atomic::Ordering::Relaxed) {
            let limit = self.send.current_max_send_streams();
            self.max_streams
                .store(limit, std::sync::atomic::Ordering::Relaxed);
            self.settled
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let (parts, mut recv) = response.into_parts();
        // One DATA frame (most answers) is the body as it came, uncopied.
        let (mut body, mut more) = (Bytes::new(), None::<BytesMut>);
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.map_err(|e| wire(&self.host, e))?;
            let _ = recv.flow_control().release_capacity(chunk.len());
            match &mut more {
                None if body.is_empty() => body = chunk,
                None => {
                    let mut joined = BytesMut::from(&body[..]);
                    joined.extend_from_slice(&chunk);
                    more = Some(joined);
                }
                Some(joined) => joined.extend_from_slice(&chunk),
            }
        }
        let trailers = if recv.is_end_stream() {
            None
        } else {
            recv.trailers().await.map_err(|e| wire(&self.host, e))?
        };
        Ok(H2Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            first_byte,
            body: more.map_or(body, BytesMut::freeze),
            trailers,
        })
    }
}
