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

use bytes::{Buf, Bytes, BytesMut};
use http::Method;
use std::io;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers a response may have before it counts as malformed.
const MAX_HEADERS: usize = 100;

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
}

/// One open connection with its read buffer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    read: BytesMut,
    write: Vec<u8>,
    /// Whether a response was already read on it (a closed reused connection is retried).
    pub reused: bool,
}

impl Conn {
    /// Connects to `authority` (`host:port`) without Nagle's delay.
    pub async fn connect(authority: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            read: BytesMut::with_capacity(8 * 1024),
            write: Vec::with_capacity(512),
            reused: false,
        })
    }

    /// Whether an idle connection still looks open (the server has not closed it).
    pub fn is_open(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
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
        self.stream
            .write_all(&self.write)
            .await
            .map_err(closed_early)?;
        self.read.clear();
        let response = self.read_response(method == Method::HEAD).await?;
        self.reused = true;
        Ok(response)
    }

    /// Reads more bytes; `Ok(false)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.read.capacity() - self.read.len() < 1024 {
            self.read.reserve(8 * 1024);
        }
        Ok(self.stream.read_buf(&mut self.read).await? > 0)
    }

    async fn read_response(&mut self, head_request: bool) -> Result<Response, WireError> {
        if !self.fill().await.map_err(closed_early)? {
            return Err(WireError::ClosedEarly);
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
        while self.fill().await? {}
        Ok(self.read.split().freeze())
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
fn parse_head(buf: &[u8]) -> Result<Option<Head>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(WireError::Malformed(e.to_string())),
    };
    let status = response.code.unwrap_or_default();
    let mut head = Head {
        len,
        status,
        content_length: None,
        chunked: false,
        // HTTP/1.1 keeps the connection unless told otherwise; 1.0 closes it.
        keep_alive: response.version == Some(1),
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
