//! HTTP/1.1 on one keep-alive connection, written for the measuring loop.
//!
//! A general-purpose client (hyper's) runs each connection as its own task and
//! hands requests to it through a channel: two task wake-ups per request, which
//! at tens of thousands of requests per second is a large share of the
//! runner's CPU — CPU the server under test then cannot use. Here the task
//! that measures a request also writes it and reads the answer, so one request
//! is one write and (usually) one read. Responses are framed by RFC 9112 §6.3:
//! no body for HEAD, 1xx, 204 and 304; `Transfer-Encoding: chunked`;
//! `Content-Length`; otherwise read to the end of the connection.

pub use crate::stream::{Opening, Target};
use crate::stream::{Stream, open, tls_error};
use bytes::{Buf, Bytes, BytesMut};
use futures::FutureExt;
use http::Method;
use std::io;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Headers a response may have before it counts as malformed.
const MAX_HEADERS: usize = 100;
/// Header fields an answer may have at most (curl reads a few hundred).
const MOST_HEADERS: usize = 1000;

/// Why an exchange produced no usable response.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The socket failed (refused, reset, …).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The connection closed before any byte of a response arrived.
    #[error("connection closed before a response")]
    ClosedEarly,
    /// The server's answer is not HTTP/1.1 we can read.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The host name does not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: Box<str>,
        /// What the resolver said.
        reason: Box<str>,
    },
    /// The answer may have been cut short: its body ran to the connection's
    /// end, and over TLS that end came without close_notify.
    #[error("truncated answer: {0}")]
    Truncated(Box<str>),
    /// The server said it did not process the request (HTTP/2: a stream
    /// above a GOAWAY's last stream id, or REFUSED_STREAM): safe to send
    /// again on another connection, whatever the method.
    #[error("the server did not process the request (GOAWAY or REFUSED_STREAM)")]
    NotProcessed,
    /// `--http2`, and the API does not speak HTTP/2: why, and what to do.
    #[error("{0}")]
    NoHttp2(Box<str>),
    /// The TLS handshake failed (certificate, name, client certificate, …).
    #[error("{}", crate::tls::explain(host, error))]
    Tls {
        /// The host.
        host: Box<str>,
        /// What rustls said (boxed, as the host: every response's `Result`
        /// is as large as its largest error, and it is moved per request).
        error: Box<rustls::Error>,
    },
}

/// A response read off the wire.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// When its first byte arrived.
    pub first_byte: Instant,
    /// The whole body (chunked encoding removed).
    pub body: Bytes,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
    /// `Retry-After` in seconds, when the server sent one (429, 503).
    pub retry_after: Option<u64>,
    /// The headers a step can capture ([`CAPTURED_HEADERS`]), when sent.
    pub captured: Vec<(&'static str, String)>,
    /// The wait between the end of the head and the body's first byte.
    pub stall: std::time::Duration,
}

/// A `Retry-After` value in seconds, over either HTTP version. Delay-seconds
/// only: an HTTP date falls back to the caller's backoff.
pub(crate) fn retry_after_secs(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// Response headers a step may capture (`capture = { v = "header:etag" }`):
/// kept as text when present; every other header is read and dropped.
pub const CAPTURED_HEADERS: [&str; 2] = ["etag", "location"];

/// One open connection with its read buffer.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    read: BytesMut,
    write: Vec<u8>,
    /// Whether a response was already read on it (a closed reused connection is retried).
    pub reused: bool,
    /// How it was opened.
    pub opening: Opening,
    /// The host, for TLS errors in words.
    host: String,
}

impl Conn {
    /// Connects to `target` without Nagle's delay, with its TLS handshake when it has TLS.
    pub async fn connect(target: &Target) -> Result<Self, WireError> {
        let (stream, opening) = open(target).await?;
        Ok(Self {
            stream,
            read: BytesMut::with_capacity(8 * 1024),
            write: Vec::with_capacity(512),
            reused: false,
            opening,
            host: target.host.clone(),
        })
    }

    /// Whether an idle connection still looks open (the server has not closed it).
    pub fn is_open(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match &mut self.stream {
            Stream::Plain(s) => {
                matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            // Reading through TLS consumes what arrived since (session
            // tickets) into the session; only a pending read means open.
            Stream::Tls(s) => s.read(&mut probe).now_or_never().is_none(),
        }
    }

    /// Writes one request (`head` is the method, target and fixed headers) and reads its response.
    pub async fn exchange(
        &mut self,
        method: &Method,
        head: impl FnOnce(&mut Vec<u8>),
        body: &[u8],
    ) -> Result<Response, WireError> {
        self.write.clear();
        head(&mut self.write);
        if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            self.write.extend_from_slice(b"content-length: ");
            self.write
                .extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
            self.write.extend_from_slice(b"\r\n");
        }
        self.write.extend_from_slice(b"\r\n");
        self.write.extend_from_slice(body);
        let host = &self.host;
        let failed = |e: io::Error| match tls_error(host, e) {
            WireError::Io(e) => closed_early(e),
            other => other,
        };
        self.stream.write_all(&self.write).await.map_err(failed)?;
        // TLS records may still sit in the session's buffer.
        self.stream.flush().await.map_err(failed)?;
        self.read.clear();
        let response = self.read_response(method == Method::HEAD).await?;
        self.reused = true;
        Ok(response)
    }

    /// Reads more bytes; `Ok(false)` at the end of the stream.
    async fn fill(&mut self) -> Result<bool, WireError> {
        if self.read.capacity() - self.read.len() < 1024 {
            self.read.reserve(8 * 1024);
        }
        match self.stream.read_buf(&mut self.read).await {
            Ok(n) => Ok(n > 0),
            // A TLS alert (a refused client certificate) says why in words.
            Err(e) => Err(tls_error(&self.host, e)),
        }
    }

    async fn read_response(&mut self, head_request: bool) -> Result<Response, WireError> {
        match self.fill().await {
            Ok(true) => {}
            Ok(false) => return Err(WireError::ClosedEarly),
            Err(WireError::Io(e)) => return Err(closed_early(e)),
            Err(e) => return Err(e),
        }
        let first_byte = Instant::now();
        loop {
            let head = loop {
                match parse_head(&self.read)? {
                    Some(head) => break head,
                    None if self.fill().await? => {}
                    None => return Err(truncated("headers")),
                }
            };
            self.read.advance(head.len);
            // Interim responses (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            let framing = head.framing(head_request);
            // A body that did not come with its head: how long it kept us
            // waiting (Nagle on the server meeting our delayed ACK).
            let wants_body = matches!(framing, Framing::Length(n) if n > 0)
                || matches!(framing, Framing::Chunked | Framing::UntilClose);
            let stall = if wants_body && self.read.is_empty() {
                let waited = Instant::now();
                if !self.fill().await? && framing != Framing::UntilClose {
                    return Err(truncated("body"));
                }
                waited.elapsed()
            } else {
                std::time::Duration::ZERO
            };
            let body = match framing {
                Framing::None => Bytes::new(),
                Framing::Length(n) => self.read_exact_body(n).await?,
                Framing::Chunked => self.read_chunked().await?,
                Framing::UntilClose => self.read_to_close().await?,
            };
            let keep_alive = head.keep_alive && framing != Framing::UntilClose;
            return Ok(Response {
                status: head.status,
                first_byte,
                body,
                keep_alive,
                retry_after: head.retry_after,
                captured: head.captured,
                stall,
            });
        }
    }

    async fn read_exact_body(&mut self, n: usize) -> Result<Bytes, WireError> {
        while self.read.len() < n {
            if !self.fill().await? {
                return Err(truncated("body"));
            }
        }
        Ok(self.read.split_to(n).freeze())
    }

    async fn read_to_close(&mut self) -> Result<Bytes, WireError> {
        loop {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return Ok(self.read.split().freeze()),
                // Over TLS only close_notify ends such a body for sure: a
                // bare close cannot be told from a cut (RFC 9110 §9.8).
                Err(WireError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(WireError::Truncated(
                        "the body ran to the connection's end, and the TLS peer closed without close_notify, so it may be cut short (RFC 9110 §9.8)".into(),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn read_chunked(&mut self) -> Result<Bytes, WireError> {
        let mut body = BytesMut::new();
        loop {
            let (start, size) = loop {
                match httparse::parse_chunk_size(&self.read) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) if self.fill().await? => {}
                    Ok(httparse::Status::Partial) => return Err(truncated("chunk size")),
                    Err(_) => return Err(WireError::Malformed("invalid chunk size".into())),
                }
            };
            let size = usize::try_from(size)
                .map_err(|_| WireError::Malformed("chunk too large".into()))?;
            if size == 0 {
                self.read.advance(start);
                return self.skip_trailers().await.map(|()| body.freeze());
            }
            let need = start + size + 2;
            while self.read.len() < need {
                if !self.fill().await? {
                    return Err(truncated("chunk"));
                }
            }
            body.extend_from_slice(&self.read[start..start + size]);
            if &self.read[start + size..need] != b"\r\n" {
                return Err(WireError::Malformed("chunk not followed by CRLF".into()));
            }
            self.read.advance(need);
        }
    }

    /// Skips the trailer section after the last chunk, up to its empty line.
    async fn skip_trailers(&mut self) -> Result<(), WireError> {
        loop {
            if let Some(end) = self.read.windows(2).position(|w| w == b"\r\n") {
                self.read.advance(end + 2);
                if end == 0 {
                    return Ok(());
                }
                continue;
            }
            if !self.fill().await? {
                return Err(truncated("trailers"));
            }
        }
    }
}

/// A reset before any response byte means the server closed the connection
/// before reading the request (an idle keep-alive connection, typically).
fn closed_early(e: io::Error) -> WireError {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => WireError::ClosedEarly,
        _ => WireError::Io(e),
    }
}

fn truncated(part: &str) -> WireError {
    WireError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed inside the response {part}"),
    ))
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// A parsed status line and headers.
#[derive(Debug)]
struct Head {
    len: usize,
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
    retry_after: Option<u64>,
    captured: Vec<(&'static str, String)>,
}

impl Head {
    fn framing(&self, head_request: bool) -> Framing {
        if head_request || matches!(self.status, 100..=199 | 204 | 304) {
            Framing::None
        } else if self.chunked {
            Framing::Chunked
        } else if let Some(n) = self.content_length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        }
    }
}

/// Parses a complete response head, `None` when more bytes are needed.
/// Heads of more than [`MAX_HEADERS`] fields are read again with room for
/// [`MOST_HEADERS`] (as curl reads them), off the hot path.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match parse_head_in(buf, &mut headers) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![httparse::EMPTY_HEADER; MOST_HEADERS];
            match parse_head_in(buf, &mut many) {
                Err(httparse::Error::TooManyHeaders) => Err(WireError::Malformed(format!(
                    "the answer's head has more than {MOST_HEADERS} header fields"
                ))),
                Err(e) => Err(WireError::Malformed(e.to_string())),
                Ok(head) => head,
            }
        }
        Err(e) => Err(WireError::Malformed(e.to_string())),
        Ok(head) => head,
    }
}

/// [`parse_head`] with room for `headers.len()` fields; the parser's own
/// error when the head cannot be parsed.
fn parse_head_in<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
) -> Result<Result<Option<Head>, WireError>, httparse::Error> {
    let mut response = httparse::Response::new(headers);
    let len = match response.parse(buf)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(Ok(None)),
    };
    Ok(head_of(&response, len))
}

/// The head of a parsed response.
fn head_of(response: &httparse::Response<'_, '_>, len: usize) -> Result<Option<Head>, WireError> {
    let status = response.code.unwrap_or_default();
    let mut head = Head {
        len,
        status,
        content_length: None,
        chunked: false,
        // HTTP/1.1 keeps the connection unless told otherwise; 1.0 closes it.
        keep_alive: response.version == Some(1),
        retry_after: None,
        captured: Vec::new(),
    };
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse()
                .map_err(|_| WireError::Malformed(format!("Content-Length {value:?}")))?;
            if head.content_length.is_some_and(|m| m != n) {
                return Err(WireError::Malformed("conflicting Content-Length".into()));
            }
            head.content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("retry-after") {
            head.retry_after = retry_after_secs(value);
        } else if let Some(name) = CAPTURED_HEADERS
            .iter()
            .find(|c| h.name.eq_ignore_ascii_case(c))
        {
            head.captured.push((name, value.to_owned()));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    head.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    head.keep_alive = true;
                }
            }
        }
    }
    Ok(Some(head))
}

#[cfg(test)]
#[path = "http1_tests.rs"]
mod tests;
