//! What became of one request: its [`Outcome`] (failures as data, counted
//! by kind) and the one rule for sending it again, for both HTTP versions.

use crate::http1::{Opening, WireError};
use bytes::Bytes;
use http::Method;
use std::time::{Duration, Instant};

/// What happened to one request. A failure is a value, not an error.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// When the send started (the clock reading the durations count from).
    pub started: Instant,
    /// Send start → first byte of the response.
    pub ttfb: Option<Duration>,
    /// Send start → body fully read (or failure).
    pub duration: Duration,
    /// Response body.
    pub body: Bytes,
    /// Failure kind when there was no usable response: `timeout`, `refused`, `reset`, `io`, …
    pub error: Option<String>,
    /// The connection it went out on, when it opened one (part of `duration`).
    pub opening: Option<Opening>,
    /// It went out on a kept-alive connection an earlier request opened.
    pub reused: bool,
    /// The answer's `Retry-After` (seconds), when it had one.
    pub retry_after: Option<u64>,
    /// The answer's headers a step can capture (`etag`, `location`).
    pub captured: Vec<(&'static str, String)>,
    /// The wait between the answer's head and its body (HTTP/1.1).
    pub stall: Duration,
}

impl Outcome {
    /// The start of the answer's body (300 characters), as messages quote
    /// what the API said.
    pub fn body_excerpt(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(300)
            .collect()
    }

    /// What came back, as a message says it: the status and the start of
    /// the body, or the failure kind.
    pub fn answer_text(&self) -> String {
        match &self.error {
            Some(e) => e.clone(),
            None => format!(
                "{} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        }
    }

    /// A `201 Created` without a body that names its new resource in a
    /// `Location` header (`/api/vets/7`), read as the answer `{"id": 7}`:
    /// the last path segment, a number when it is one. `None` for any other
    /// answer.
    pub fn location_answer(&self) -> Option<serde_json::Value> {
        self.location_id().map(|id| serde_json::json!({ "id": id }))
    }

    /// The id of [`Outcome::location_answer`]: a number or a text.
    pub fn location_id(&self) -> Option<serde_json::Value> {
        if self.status != 201 || !self.body.trim_ascii().is_empty() {
            return None;
        }
        let location = self
            .captured
            .iter()
            .find(|(h, _)| *h == "location")
            .map(|(_, v)| v.as_str())?;
        let path = url_path(location).split(['?', '#']).next().unwrap_or("");
        let last = path.trim_end_matches('/').rsplit('/').next()?;
        if last.is_empty() || last.contains(':') {
            return None;
        }
        Some(match last.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(last),
        })
    }

    /// Whether the failure means the API could not be reached at all.
    pub fn is_connection_failure(&self) -> bool {
        matches!(
            self.error.as_deref(),
            Some("refused" | "connect" | "unreachable" | "resolve" | "tls")
        )
    }
}

/// The path of `url`: from the first `/` after `scheme://authority` (empty
/// when there is none), or `url` itself when it has no scheme (a path
/// already, as a `Location` or an OpenAPI server may give).
pub fn url_path(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    }
}

/// The failure kind of a request sent with `--http2` to an API without it.
pub const NO_HTTP2: &str = "no_http2";

/// The failure kind of a request that got no usable response.
pub fn classify(e: &WireError) -> String {
    use std::io::ErrorKind::*;
    match e {
        WireError::ClosedEarly => "reset",
        WireError::Malformed(_) => "malformed",
        WireError::Resolve { .. } => "resolve",
        WireError::Tls { .. } => "tls",
        WireError::NoHttp2(_) => NO_HTTP2,
        WireError::NotProcessed => "refused_stream",
        WireError::Truncated(_) => "truncated",
        WireError::Io(io) => match io.kind() {
            ConnectionRefused => "refused",
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => "reset",
            TimedOut => "timeout",
            HostUnreachable | NetworkUnreachable | AddrNotAvailable => "unreachable",
            _ => "io",
        },
    }
    .to_owned()
}

/// Times one request is sent at most: a server retiring connections every
/// few requests (nginx's keepalive_requests 10 at concurrency 8) can refuse
/// a stream on the replacement too.
pub(super) const ATTEMPTS: usize = 4;

/// Whether an exchange that failed with `e` on attempt `attempt` (0-based)
/// is sent again on another connection — one rule for HTTP/1.1 and HTTP/2:
/// a request the server said it never processed (above a GOAWAY's last
/// stream id, REFUSED_STREAM), whatever its method; or an idempotent one on
/// a kept-alive connection (`reused`) the server had closed meanwhile, once.
pub(super) fn send_again(e: &WireError, method: &Method, attempt: usize, reused: bool) -> bool {
    match e {
        WireError::NotProcessed => attempt + 1 < ATTEMPTS,
        WireError::ClosedEarly => attempt == 0 && reused && idempotent(method),
        _ => false,
    }
}

/// Methods that may be sent again when a kept-alive connection turns out closed.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// A request target must be visible ASCII without spaces (RFC 9112 §3.2).
pub(super) fn valid_target(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| (0x21..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn created(status: u16, body: &'static [u8], location: Option<&str>) -> Outcome {
        Outcome {
            status,
            started: Instant::now(),
            ttfb: None,
            duration: Duration::ZERO,
            body: Bytes::from_static(body),
            error: None,
            opening: None,
            reused: false,
            retry_after: None,
            captured: location
                .map(|l| vec![("location", l.to_owned())])
                .unwrap_or_default(),
            stall: Duration::ZERO,
        }
    }

    #[test]
    fn a_created_answer_without_a_body_is_read_from_its_location() {
        let answer = |o: Outcome| o.location_answer();
        assert_eq!(
            answer(created(201, b"", Some("/api/vets/7"))),
            Some(json!({"id": 7}))
        );
        assert_eq!(
            answer(created(201, b" ", Some("http://h/api/vets/3f2a-b9/?x=1"))),
            Some(json!({"id": "3f2a-b9"}))
        );
        // Only a bodiless 201 naming a resource.
        assert_eq!(answer(created(200, b"", Some("/api/vets/7"))), None);
        assert_eq!(answer(created(201, b"{}", Some("/api/vets/7"))), None);
        assert_eq!(answer(created(201, b"", None)), None);
        assert_eq!(answer(created(201, b"", Some("http://h/"))), None);
    }
}
