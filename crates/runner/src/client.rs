//! The HTTP client: one request → one [`Outcome`], failures as data.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

/// What happened to one request. A failure is a value, not an error.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// Send start → response headers.
    pub ttfb: Option<Duration>,
    /// Send start → body fully read (or failure).
    pub duration: Duration,
    /// Response body.
    pub body: Bytes,
    /// Failure kind when there was no usable response: `timeout`, `refused`, `reset`, `io`, …
    pub error: Option<String>,
}

impl Outcome {
    /// Whether the failure means the API could not be reached at all.
    pub fn is_connection_failure(&self) -> bool {
        matches!(
            self.error.as_deref(),
            Some("refused" | "connect" | "unreachable")
        )
    }
}

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
}

/// HTTP/1.1 keep-alive client bound to one API base URL.
#[derive(Clone)]
pub struct ApiClient {
    client: Client<HttpConnector, Full<Bytes>>,
    scheme_authority: String,
    prefix: String,
    headers: HeaderMap,
    timeout: Duration,
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

fn classify(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return match io.kind() {
                ConnectionRefused => "refused",
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => "reset",
                TimedOut => "timeout",
                HostUnreachable | NetworkUnreachable | AddrNotAvailable => "unreachable",
                _ => "io",
            }
            .to_owned();
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return "reset".into();
        }
        cur = err.source();
    }
    "error".into()
}

impl ApiClient {
    /// Client for `base_url` (http only) with extra headers and a per-request timeout.
    pub fn new(
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        pool: usize,
    ) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::BaseUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = base_url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not supported yet; use http or a local TLS-terminating proxy",
                ));
            }
            _ => return Err(bad("must start with http://")),
        }
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool.max(1))
            .build(connector);
        Ok(Self {
            client,
            scheme_authority: format!("http://{authority}"),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            headers,
            timeout,
        })
    }

    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.scheme_authority, self.prefix, path)
    }

    /// The base URL as given (scheme, host, prefix).
    pub fn base_url(&self) -> String {
        format!("{}{}", self.scheme_authority, self.prefix)
    }

    /// Sends one request and reads the whole body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        traceparent: Option<&str>,
    ) -> Outcome {
        let started = Instant::now();
        let fail = |error: String| Outcome {
            status: 0,
            ttfb: None,
            duration: started.elapsed(),
            body: Bytes::new(),
            error: Some(error),
        };
        let mut builder = Request::builder().method(method).uri(self.url(path));
        if let Some(h) = builder.headers_mut() {
            h.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
            if let Some(tp) = traceparent.and_then(|t| HeaderValue::from_str(t).ok()) {
                h.insert("traceparent", tp);
            }
            if body.is_some() {
                h.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
        }
        let request = match builder.body(Full::new(body.unwrap_or_default())) {
            Ok(r) => r,
            Err(e) => return fail(format!("invalid request: {e}")),
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| classify(&e))?;
            let ttfb = started.elapsed();
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| classify(&e))?
                .to_bytes();
            Ok::<_, String>((status, ttfb, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((status, ttfb, body))) => Outcome {
                status,
                ttfb: Some(ttfb),
                duration: started.elapsed(),
                body,
                error: None,
            },
            Ok(Err(kind)) => fail(kind),
            Err(_) => fail("timeout".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_errors_hide_values() {
        let map = parse_headers(&["Authorization: Bearer s3cret".into()]).unwrap();
        assert!(map["authorization"].is_sensitive());
        let err = parse_headers(&["Bad Header Name: s3cret".into()])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn refused_and_timeouts_are_outcomes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = ApiClient::new(
            &format!("http://{addr}"),
            HeaderMap::new(),
            Duration::from_secs(2),
            1,
        )
        .unwrap();
        let o = client.send(Method::GET, "/health", None, None).await;
        assert_eq!((o.status, o.error.as_deref()), (0, Some("refused")));
        assert!(o.is_connection_failure());

        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        });
        let client = ApiClient::new(
            &format!("http://{addr}"),
            HeaderMap::new(),
            Duration::from_millis(200),
            1,
        )
        .unwrap();
        let o = client.send(Method::GET, "/health", None, None).await;
        assert_eq!((o.status, o.error.as_deref()), (0, Some("timeout")));
    }

    #[test]
    fn base_urls() {
        let c = ApiClient::new(
            "http://localhost:8000/api/",
            HeaderMap::new(),
            Duration::from_secs(1),
            1,
        )
        .unwrap();
        assert_eq!(c.url("/v1/x"), "http://localhost:8000/api/v1/x");
        assert!(ApiClient::new("https://x", HeaderMap::new(), Duration::from_secs(1), 1).is_err());
        assert!(
            ApiClient::new(
                "localhost:8000",
                HeaderMap::new(),
                Duration::from_secs(1),
                1
            )
            .is_err()
        );
    }
}
