//! `run --http2`: the client's requests over HTTP/2 connections, each
//! carrying as many requests at once as its server allows
//! (SETTINGS_MAX_CONCURRENT_STREAMS): one connection while it has room,
//! another only when every open one is full.

use super::{ATTEMPTS, ApiClient, Request as ApiRequest, Via, send_again};
use crate::h2::{H2Conn, H2Response};
use crate::http1::{Opening, Response, Target, WireError};
use crate::tls::TlsOptions;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tracesplit_model::internal::{Locked, RwLocked};

/// The HTTP/2 side of a client.
pub(super) struct H2Side {
    target: Target,
    /// The URI's scheme and authority, parsed once (each request's URI is
    /// built from them and its path).
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    headers: HeaderMap,
    conns: Mutex<Vec<H2Conn>>,
    /// At most one connection per concurrent request.
    max_conns: usize,
    next: AtomicUsize,
    /// Held while a connection is opened: requests waiting for one share
    /// it, so a GOAWAY is replaced by one connection, not one per stream.
    opening: tokio::sync::Mutex<()>,
    /// The login's header, replaced when the run logs in again.
    auth: Option<(http::HeaderName, std::sync::RwLock<HeaderValue>)>,
}

impl H2Side {
    pub(super) fn new(
        h1: &Target,
        scheme_authority: &str,
        mut headers: HeaderMap,
        tls: &TlsOptions,
        pool: usize,
    ) -> Result<Self, super::ClientError> {
        let mut target = h1.clone();
        if let Some((_, name)) = &h1.tls {
            let config = crate::tls::client_config_for(tls, &[b"h2"])?;
            target.tls = Some((tokio_rustls::TlsConnector::from(config), name.clone()));
        }
        // Connection-specific headers are not allowed in HTTP/2 (RFC 9113 §8.2.2).
        for h in [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "upgrade",
            "host",
        ] {
            headers.remove(h);
        }
        let bad = |reason: String| super::ClientError::BaseUrl {
            url: scheme_authority.to_owned(),
            reason,
        };
        let uri: http::Uri = scheme_authority.parse().map_err(|e| bad(format!("{e}")))?;
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned())
        else {
            return Err(bad("no scheme or host".into()));
        };
        Ok(Self {
            target,
            scheme,
            authority,
            headers,
            conns: Mutex::new(Vec::new()),
            max_conns: pool.max(1),
            next: AtomicUsize::new(0),
            opening: tokio::sync::Mutex::new(()),
            auth: None,
        })
    }

    /// A connection for the next request: an open one with a free stream,
    /// else a new one (`Some(opening)` then) — or, at one connection per
    /// concurrent request, any open one (the request waits for a stream).
    async fn conn(&self) -> Result<(H2Conn, Option<Opening>), WireError> {
        if let Some(conn) = self.pick() {
            return Ok((conn, None));
        }
        // One opener at a time; who waited takes what it opened.
        let _opening = self.opening.lock().await;
        if let Some(conn) = self.pick() {
            return Ok((conn, None));
        }
        let conn = H2Conn::connect(&self.target).await?;
        self.conns.locked().push(conn.clone());
        let opening = conn.opening;
        Ok((conn, Some(opening)))
    }

    /// An open connection with a free stream, tried in turn from the last
    /// one used (the first has room unless the server allows few streams);
    /// closed ones are dropped. At the connection limit, any open one.
    fn pick(&self) -> Option<H2Conn> {
        let mut conns = self.conns.locked();
        let start = self.next.load(Relaxed);
        let mut k = 0;
        while k < conns.len() {
            let i = (start + k) % conns.len();
            if !conns[i].is_running() {
                conns.swap_remove(i);
                continue;
            }
            if conns[i].has_room() {
                self.next.store(i, Relaxed);
                return Some(conns[i].clone());
            }
            k += 1;
        }
        if conns.len() >= self.max_conns && !conns.is_empty() {
            let i = self.next.fetch_add(1, Relaxed) % conns.len();
            return Some(conns[i].clone());
        }
        None
    }

    /// Sends `name: value` (the login's header) on every request from now.
    pub(super) fn authenticate(&mut self, name: &http::HeaderName, value: &HeaderValue) {
        self.auth = Some((name.clone(), std::sync::RwLock::new(value.clone())));
    }

    /// Replaces the login's header value (the run logged in again).
    pub(super) fn replace_auth(&self, value: &HeaderValue) {
        if let Some((_, slot)) = &self.auth {
            *slot.writing() = value.clone();
        }
    }

    /// Takes connection `id` out of the pool (a GOAWAY retired it).
    fn retire(&self, id: u64) {
        self.conns.locked().retain(|c| c.id != id);
    }

    fn request(
        &self,
        method: &Method,
        path_and_query: &str,
        has_body: bool,
        traceparent: Option<&str>,
    ) -> Result<Request<()>, WireError> {
        let path = http::uri::PathAndQuery::try_from(path_and_query)
            .map_err(|e| WireError::Malformed(format!("request: {e}")))?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path);
        let uri = http::Uri::from_parts(parts)
            .map_err(|e| WireError::Malformed(format!("request: {e}")))?;
        let mut request = Request::new(());
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers.clone();
        let headers = request.headers_mut();
        if let Some((name, value)) = &self.auth {
            headers.insert(name.clone(), value.reading().clone());
        }
        if let Some(tp) = traceparent.and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.insert("traceparent", tp);
        }
        if has_body {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        Ok(request)
    }
}

impl ApiClient {
    /// One exchange over HTTP/2; sent once more on another connection when
    /// the server said it did not process it (any method), or when a
    /// kept-alive connection closed under an idempotent one — the HTTP/1.1
    /// path's rule ([`send_again`]). `via` learns the connection it went out on.
    pub(super) async fn exchange_h2(
        &self,
        side: &H2Side,
        r: &ApiRequest<'_>,
        via: &mut Via,
    ) -> Result<Response, WireError> {
        let target: std::borrow::Cow<'_, str> = if self.inner.prefix.is_empty() {
            r.path.into()
        } else {
            format!("{}{}", self.inner.prefix, r.path).into()
        };
        for attempt in 0..ATTEMPTS {
            let request = side.request(r.method, &target, !r.body.is_empty(), r.traceparent)?;
            let (conn, opening) = side.conn().await?;
            match opening {
                Some(o) => {
                    via.opening = via.opening.or(Some(o));
                    via.reused = false;
                }
                None => via.reused = via.opening.is_none(),
            }
            let result = conn.exchange(request, r.body.clone()).await;
            let reused = opening.is_none();
            match result {
                Err(e) if send_again(&e, r.method, attempt, reused) => {
                    // A GOAWAY retires the connection; a stream refused on a
                    // live one (more streams than the server's limit, sent
                    // before its SETTINGS arrived) leaves it in the pool.
                    if !conn.is_open() {
                        side.retire(conn.id);
                    }
                }
                other => return other.map(response),
            }
        }
        Err(WireError::NotProcessed)
    }

    /// [`ApiClient::probe`] over HTTP/2, on a new connection.
    pub(super) async fn probe_h2(
        &self,
        side: &H2Side,
        path: &str,
    ) -> Result<(u16, Opening), WireError> {
        let conn = H2Conn::connect(&side.target).await?;
        let target = format!("{}{path}", self.inner.prefix);
        let request = side.request(&Method::GET, &target, false, None)?;
        let answer = conn.exchange(request, Bytes::new()).await?;
        let opening = conn.opening;
        side.conns.locked().push(conn);
        Ok((answer.status, opening))
    }
}

/// An HTTP/2 answer as the HTTP/1.1 path gives it: the one shape an
/// [`Outcome`] is made from.
fn response(r: H2Response) -> Response {
    Response {
        status: r.status,
        first_byte: r.first_byte,
        keep_alive: true,
        retry_after: r
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| crate::http1::retry_after_secs(v.to_str().ok()?)),
        captured: crate::http1::CAPTURED_HEADERS
            .iter()
            .filter_map(|name| {
                let v = r.headers.get(*name)?.to_str().ok()?;
                Some((*name, v.trim().to_owned()))
            })
            .collect(),
        stall: std::time::Duration::ZERO,
        body: r.body,
    }
}
