//! The HTTP client: one request → one [`Outcome`], failures as data.
//!
//! Connections are kept in a small pool and used by one request at a time;
//! the wire format is in `http1.rs`.

use crate::http1::{Conn, Opening, Response, Target, WireError};
use crate::tls::{TlsError, TlsOptions};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracesplit_model::internal::{Locked, RwLocked};

#[path = "client_outcome.rs"]
mod outcome;
use outcome::{ATTEMPTS, send_again, valid_target};
pub use outcome::{NO_HTTP2, Outcome, classify, url_path};

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not usable.
    #[error("invalid --base-url {url:?}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--header` is not `Name: value`.
    #[error("invalid --header {0:?}: expected 'Name: value'")]
    Header(String),
    /// The TLS options are not usable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// HTTP/1.1 keep-alive client bound to one API base URL (HTTP/2 with `--http2`).
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where connections go.
    target: Target,
    /// `http(s)://host[:port]`, for URLs in records and messages.
    scheme_authority: String,
    /// Path prefix of the base URL, without a trailing slash.
    prefix: String,
    /// `Host` and the user's `--header`s, pre-rendered (`name: value\r\n` each).
    fixed_headers: Vec<u8>,
    /// `content-type: …\r\n`, sent with a body.
    body_header: Vec<u8>,
    /// The login's header (`[auth]`), pre-rendered; replaced when the run
    /// logs in again after a 401. `None` without a login: no lock to take.
    auth_header: Option<std::sync::RwLock<Vec<u8>>>,
    timeout: Duration,
    /// Boxed: a connection is moved in and out of the pool on every request.
    #[expect(
        clippy::vec_box,
        reason = "moving a pointer, not a 150-byte connection, per request"
    )]
    idle: Mutex<Vec<Box<Conn>>>,
    max_idle: usize,
    /// `Some` with `--http2`: requests go over these HTTP/2 connections instead.
    h2: Option<h2_side::H2Side>,
}

/// Parses `Name: value` headers (values are secrets: never logged).
pub fn parse_headers(raw: &[String]) -> Result<HeaderMap, ClientError> {
    let mut map = HeaderMap::new();
    for h in raw {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| ClientError::Header(redact(h)))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ClientError::Header(redact(h)))?;
        let mut value =
            HeaderValue::from_str(value.trim()).map_err(|_| ClientError::Header(redact(h)))?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// A header line with its value hidden, for messages.
fn redact(h: &str) -> String {
    match h.split_once(':') {
        Some((n, _)) => format!("{n}: <hidden>"),
        None => "<hidden>".into(),
    }
}

impl ApiClient {
    /// Client for `base_url` (`http` or `https` with the system's trust
    /// store) with extra headers, a per-request timeout and at most `pool`
    /// idle keep-alive connections. Bodies are JSON.
    pub fn new(
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        pool: usize,
    ) -> Result<Self, ClientError> {
        Self::with_tls(base_url, headers, timeout, pool, &TlsOptions::default())
    }

    /// As [`ApiClient::new`], with TLS options for `https`.
    pub fn with_tls(
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        pool: usize,
        tls: &TlsOptions,
    ) -> Result<Self, ClientError> {
        Self::with_content_type(base_url, headers, timeout, pool, "application/json", tls)
    }

    /// As [`ApiClient::with_tls`], speaking HTTP/2 (h2 by ALPN over TLS, h2c
    /// with prior knowledge for `http://`): up to `pool` requests in flight
    /// share a few connections (100 streams each).
    pub fn with_http2(
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        pool: usize,
        tls: &TlsOptions,
    ) -> Result<Self, ClientError> {
        Self::with_options(
            base_url,
            headers,
            timeout,
            pool,
            "application/json",
            tls,
            true,
        )
    }

    /// Whether requests go over HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.inner.h2.is_some()
    }

    /// As [`ApiClient::with_tls`], with bodies of another media type.
    pub fn with_content_type(
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        pool: usize,
        content_type: &'static str,
        tls: &TlsOptions,
    ) -> Result<Self, ClientError> {
        Self::with_options(base_url, headers, timeout, pool, content_type, tls, false)
    }

    /// The one constructor: `http2` sends over HTTP/2 connections.
    pub(crate) fn with_options(
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        pool: usize,
        content_type: &'static str,
        tls: &TlsOptions,
        http2: bool,
    ) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::BaseUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = base_url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let (scheme, default_port) = match uri.scheme_str() {
            Some("http") => ("http", 80),
            Some("https") => ("https", 443),
            _ => return Err(bad("must start with http:// or https://")),
        };
        let host = uri.host().ok_or_else(|| bad("has no host"))?;
        let host_port = match uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let connector = if scheme == "https" {
            let name = crate::tls::server_name(host).map_err(|e| bad(&e.to_string()))?;
            let config = crate::tls::client_config(tls)?;
            Some((tokio_rustls::TlsConnector::from(config), name))
        } else {
            None
        };
        let mut headers = headers;
        // Named as curl and k6 name themselves, unless -H says otherwise.
        if !headers.contains_key(http::header::USER_AGENT) {
            headers.insert(
                http::header::USER_AGENT,
                HeaderValue::from_static(USER_AGENT),
            );
        }
        let mut fixed_headers = format!("host: {host_port}\r\n").into_bytes();
        let body_header = format!("content-type: {content_type}\r\n").into_bytes();
        for (name, value) in &headers {
            fixed_headers.extend_from_slice(name.as_str().as_bytes());
            fixed_headers.extend_from_slice(b": ");
            fixed_headers.extend_from_slice(value.as_bytes());
            fixed_headers.extend_from_slice(b"\r\n");
        }
        let target = Target {
            address: format!("{host}:{}", uri.port_u16().unwrap_or(default_port)),
            host: host.to_owned(),
            tls: connector,
        };
        let scheme_authority = format!("{scheme}://{host_port}");
        let h2 = if http2 {
            Some(h2_side::H2Side::new(
                &target,
                &scheme_authority,
                headers,
                tls,
                pool,
            )?)
        } else {
            None
        };
        Ok(Self {
            inner: Arc::new(Inner {
                target,
                scheme_authority,
                prefix: uri.path().trim_end_matches('/').to_owned(),
                fixed_headers,
                body_header,
                auth_header: None,
                timeout,
                idle: Mutex::new(Vec::new()),
                max_idle: pool.max(1),
                h2,
            }),
        })
    }

    /// Opens a new connection (name resolution, TCP, TLS) and sends `GET
    /// path` on it: what a run checks before anything else. A TLS or name
    /// failure comes back as the wire error that says it in words.
    pub async fn probe(&self, path: &str) -> Result<(u16, Opening), WireError> {
        let attempt = async {
            match &self.inner.h2 {
                Some(side) => self.probe_h2(side, path).await,
                None => self.probe_h1(path).await,
            }
        };
        tokio::time::timeout(self.inner.timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(self.no_answer()))
    }

    /// [`ApiClient::probe`] over HTTP/1.1.
    async fn probe_h1(&self, path: &str) -> Result<(u16, Opening), WireError> {
        let request = Request {
            method: &Method::GET,
            path,
            body: &Bytes::new(),
            traceparent: None,
        };
        let mut conn = Box::new(Conn::connect(&self.inner.target).await?);
        let opening = conn.opening;
        let response = self.exchange_on(&mut conn, &request).await?;
        if response.keep_alive {
            self.checkin(conn);
        }
        Ok((response.status, opening))
    }

    /// Opens a connection to the API (TCP, and TLS for https://) without
    /// sending a request: the reachability check of an API without a health
    /// path. Over HTTP/2, a `GET /` whose answer does not matter.
    pub async fn reach(&self) -> Result<(), WireError> {
        if self.inner.h2.is_some() {
            return self.probe("/").await.map(|_| ());
        }
        let attempt = async {
            let conn = Box::new(Conn::connect(&self.inner.target).await?);
            self.checkin(conn);
            Ok(())
        };
        tokio::time::timeout(self.inner.timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(self.no_answer()))
    }

    /// This client, sending the login's header on every request (over
    /// either HTTP version); the header can be replaced later
    /// ([`ApiClient::replace_auth`]).
    pub fn authenticated(mut self, name: &HeaderName, value: &HeaderValue) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.auth_header = Some(std::sync::RwLock::new(header_line(name, value)));
            if let Some(h2) = inner.h2.as_mut() {
                h2.authenticate(name, value);
            }
        }
        self
    }

    /// Replaces the login's header (after logging in again); `false` when
    /// this client has none to replace.
    pub fn replace_auth(&self, name: &HeaderName, value: &HeaderValue) -> bool {
        match &self.inner.auth_header {
            Some(slot) => {
                *slot.writing() = header_line(name, value);
                if let Some(h2) = &self.inner.h2 {
                    h2.replace_auth(value);
                }
                true
            }
            None => false,
        }
    }

    /// The probe's error when the API did not answer within the timeout.
    fn no_answer(&self) -> WireError {
        WireError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {:?}", self.inner.timeout),
        ))
    }

    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        // Pushed, not `format!`ed: this runs once per request.
        let (a, p) = (&self.inner.scheme_authority, &self.inner.prefix);
        let mut url = String::with_capacity(a.len() + p.len() + path.len());
        url.push_str(a);
        url.push_str(p);
        url.push_str(path);
        url
    }

    /// The base URL as given (scheme, host, prefix).
    pub fn base_url(&self) -> String {
        format!("{}{}", self.inner.scheme_authority, self.inner.prefix)
    }

    /// Sends one request and reads the whole body, over either HTTP
    /// version: one timeout, one outcome (failures as data).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        traceparent: Option<&str>,
    ) -> Outcome {
        let started = Instant::now();
        let mut via = Via::default();
        let fail = |error: String, via: &Via| Outcome {
            status: 0,
            started,
            ttfb: None,
            duration: started.elapsed(),
            body: Bytes::new(),
            error: Some(error),
            opening: via.opening,
            reused: via.reused,
            retry_after: None,
            captured: Vec::new(),
            stall: Duration::ZERO,
        };
        if !valid_target(path) {
            return fail(
                format!(
                    "invalid request: path {path:?} is not a URL path (spaces or control characters?)"
                ),
                &via,
            );
        }
        let body = body.unwrap_or_default();
        let request = Request {
            method: &method,
            path,
            body: &body,
            traceparent,
        };
        let exchange = async {
            match &self.inner.h2 {
                Some(side) => self.exchange_h2(side, &request, &mut via).await,
                None => self.exchange(&request, &mut via).await,
            }
        };
        let result = tokio::time::timeout(self.inner.timeout, exchange).await;
        match result {
            Ok(Ok(response)) => Outcome {
                status: response.status,
                started,
                ttfb: Some(response.first_byte.saturating_duration_since(started)),
                duration: started.elapsed(),
                body: response.body,
                error: None,
                opening: via.opening,
                reused: via.reused,
                retry_after: response.retry_after,
                captured: response.captured,
                stall: response.stall,
            },
            Ok(Err(e)) => fail(classify(&e), &via),
            Err(_) => fail("timeout".into(), &via),
        }
    }

    /// One exchange on a pooled connection; a kept-alive connection the
    /// server closed meanwhile is replaced once for idempotent methods.
    async fn exchange(&self, request: &Request<'_>, via: &mut Via) -> Result<Response, WireError> {
        let mut conn = match self.checkout() {
            Some(conn) => {
                via.reused = true;
                conn
            }
            None => via.opened(Box::new(Conn::connect(&self.inner.target).await?)),
        };
        let result = self.exchange_on(&mut conn, request).await;
        let result = match result {
            Err(e) if send_again(&e, request.method, 0, conn.reused) => {
                conn = via.opened(Box::new(Conn::connect(&self.inner.target).await?));
                self.exchange_on(&mut conn, request).await
            }
            other => other,
        };
        if let Ok(response) = &result
            && response.keep_alive
        {
            self.checkin(conn);
        }
        result
    }

    async fn exchange_on(&self, conn: &mut Conn, r: &Request<'_>) -> Result<Response, WireError> {
        let head = |w: &mut Vec<u8>| {
            w.extend_from_slice(r.method.as_str().as_bytes());
            w.push(b' ');
            w.extend_from_slice(self.inner.prefix.as_bytes());
            w.extend_from_slice(r.path.as_bytes());
            w.extend_from_slice(b" HTTP/1.1\r\n");
            w.extend_from_slice(&self.inner.fixed_headers);
            if let Some(auth) = &self.inner.auth_header {
                w.extend_from_slice(&auth.reading());
            }
            if let Some(tp) = r.traceparent {
                w.extend_from_slice(b"traceparent: ");
                w.extend_from_slice(tp.as_bytes());
                w.extend_from_slice(b"\r\n");
            }
            if !r.body.is_empty() {
                w.extend_from_slice(&self.inner.body_header);
            }
        };
        conn.exchange(r.method, head, r.body).await
    }

    fn checkout(&self) -> Option<Box<Conn>> {
        let mut idle = self.inner.idle.locked();
        while let Some(mut conn) = idle.pop() {
            if conn.is_open() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, conn: Box<Conn>) {
        let mut idle = self.inner.idle.locked();
        if idle.len() < self.inner.max_idle {
            idle.push(conn);
        }
    }
}

/// The connection a request went out on.
#[derive(Default)]
struct Via {
    opening: Option<Opening>,
    reused: bool,
}

impl Via {
    /// The request opened `conn` (a retry's new connection replaces a reused one).
    fn opened(&mut self, conn: Box<Conn>) -> Box<Conn> {
        self.opening = Some(conn.opening);
        self.reused = false;
        conn
    }
}

/// One request's parts, borrowed for a retry.
struct Request<'a> {
    method: &'a Method,
    path: &'a str,
    body: &'a Bytes,
    traceparent: Option<&'a str>,
}

/// The `User-Agent` every request carries unless a `-H` sets one.
pub const USER_AGENT: &str = concat!("tracesplit/", env!("CARGO_PKG_VERSION"));

/// `name: value\r\n`.
fn header_line(name: &HeaderName, value: &HeaderValue) -> Vec<u8> {
    let mut line = Vec::with_capacity(name.as_str().len() + value.len() + 4);
    line.extend_from_slice(name.as_str().as_bytes());
    line.extend_from_slice(b": ");
    line.extend_from_slice(value.as_bytes());
    line.extend_from_slice(b"\r\n");
    line
}

#[path = "client_h2.rs"]
mod h2_side;

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
