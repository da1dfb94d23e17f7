//! The export thread: drains the span queue on an interval and POSTs OTLP/HTTP
//! protobuf to the collector with the runner's own HTTP client.

use super::otlp::{Envelope, encode};
use super::{Shared, Span, Value};
use crate::client::ApiClient;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::time::Duration;
use tracesplit_export::traces_url;
use tracesplit_model::internal::RwLocked;

/// The runner's `service.name` (unless OTEL_SERVICE_NAME says otherwise)
/// and its instrumentation scope.
pub const RUNNER: &str = "tracesplit-runner";

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// OTLP/HTTP base URL (`http://host:4318`, or `https://` with the system's
    /// trust store and the `OTEL_EXPORTER_OTLP_*CERTIFICATE`/`*KEY` files) or full traces URL (`…/v1/traces`);
    /// `None`: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT,
    /// else `http://localhost:4318`.
    pub endpoint: Option<String>,
    /// Extra export headers (e.g. a collector's bearer token).
    pub headers: Vec<(String, String)>,
    /// `service.name` unless OTEL_SERVICE_NAME is set.
    pub service_name: String,
    /// Spans waiting for export before new ones are dropped (and counted).
    pub max_queue: usize,
    /// How often the queue is exported.
    pub interval: Duration,
    /// Spans per export request.
    pub batch: usize,
    /// Per export request.
    pub timeout: Duration,
    /// How an export the collector could not take now is retried.
    pub retry: ExportRetry,
    /// OTLP/HTTP protobuf (the default) or OTLP/gRPC.
    pub protocol: ExportProtocol,
    /// Gzip the export requests (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
    pub gzip: bool,
}

/// How export requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportProtocol {
    /// `http/protobuf`: POST /v1/traces.
    #[default]
    HttpProtobuf,
    /// `grpc`: TraceService/Export over HTTP/2.
    Grpc,
}

fn env_var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        .map(|v| v.trim().to_ascii_lowercase())
}

impl ExportProtocol {
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`:
    /// `http/protobuf` (default) or `grpc`; `http/json` is refused by name.
    pub fn from_env() -> Result<Self, SpanExportError> {
        match env_var(&[
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ])
        .as_deref()
        {
            None | Some("http/protobuf") => Ok(Self::HttpProtobuf),
            Some("grpc") => Ok(Self::Grpc),
            Some(other) => Err(SpanExportError::Endpoint {
                url: String::new(),
                reason: format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported: use http/protobuf or grpc"
                ),
            }),
        }
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, else `OTEL_EXPORTER_OTLP_COMPRESSION`, is `gzip`.
pub fn gzip_from_env() -> bool {
    env_var(&[
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ])
    .as_deref()
        == Some("gzip")
}

/// Retries of an export request, as the OTLP specification asks: 429, 502,
/// 503 and 504 — and a failed connection to a collector that answered
/// before (restarting) — are retried with exponential backoff, or after the
/// `Retry-After` the collector sent; anything else is not. Bounded, and once a batch has used up its retries the next ones are
/// tried once each until an export succeeds again: a collector that stays
/// down costs one batch's retries, not every batch's (nor the run's end).
#[derive(Debug, Clone, Copy)]
pub struct ExportRetry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait; each next one doubles.
    pub first: Duration,
    /// The longest wait (a `Retry-After` beyond it is cut to it).
    pub cap: Duration,
}

impl Default for ExportRetry {
    fn default() -> Self {
        // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s: a collector restarting or shedding
        // load gets three seconds; one that is down costs that once (below).
        Self {
            retries: 5,
            first: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl ExportConfig {
    /// Defaults for the runner: a deep queue and frequent exports, so that
    /// client spans are not dropped at high request rates.
    pub fn new(endpoint: Option<String>) -> Self {
        Self {
            endpoint,
            headers: Vec::new(),
            service_name: RUNNER.into(),
            max_queue: 1 << 20,
            // Frequent: a short queue stays within its first allocation (no regrowth).
            interval: Duration::from_millis(50),
            batch: 2048,
            timeout: Duration::from_secs(10),
            retry: ExportRetry::default(),
            protocol: ExportProtocol::HttpProtobuf,
            gzip: gzip_from_env(),
        }
    }
}

/// Why span export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SpanExportError {
    /// The endpoint URL is not usable.
    #[error(
        "OTLP endpoint {url:?}: {reason} (check --otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT)"
    )]
    Endpoint {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// An export header is not a valid HTTP header.
    #[error(
        "OTLP export header {0:?} is not a valid HTTP header (check OTEL_EXPORTER_OTLP_HEADERS)"
    )]
    Header(String),
    /// The export thread could not start.
    #[error("cannot start the span export thread: {0}")]
    Thread(String),
}

fn resolve_url(endpoint: Option<&str>, protocol: ExportProtocol) -> String {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match protocol {
        // gRPC endpoints are a base URL; the method path is fixed.
        ExportProtocol::Grpc => endpoint
            .map(str::to_owned)
            .or_else(|| env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .unwrap_or_else(|| "http://localhost:4317".into()),
        ExportProtocol::HttpProtobuf => match endpoint {
            Some(e) => traces_url(e),
            None => env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| traces_url(&e)))
                .unwrap_or_else(|| "http://localhost:4318/v1/traces".into()),
        },
    }
}

/// The resource and scope of the runner's spans.
pub(super) fn envelope(service_name: &str) -> Envelope {
    Envelope {
        resource: resource(service_name),
        scope_name: RUNNER.into(),
        scope_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `service.name` and the OTEL_RESOURCE_ATTRIBUTES pairs, as the SDKs do.
fn resource(service_name: &str) -> Vec<(String, Value)> {
    let mut attrs: Vec<(String, Value)> = tracesplit_export::parse_header_list(
        &std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default(),
    )
    .into_iter()
    .map(|(k, v)| (k, Value::Owned(v)))
    .collect();
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| service_name.to_owned());
    attrs.retain(|(k, _)| k != "service.name");
    attrs.insert(0, ("service.name".into(), Value::Owned(service)));
    attrs.push((
        "telemetry.sdk.name".into(),
        Value::Owned("tracesplit".into()),
    ));
    attrs.push(("telemetry.sdk.language".into(), Value::Owned("rust".into())));
    attrs
}

/// How the requests travel.
enum Transport {
    /// POST `path` with the runner's HTTP client.
    Http { client: ApiClient, path: String },
    /// TraceService/Export over HTTP/2.
    Grpc(Box<super::grpc::GrpcTarget>),
}

/// The resolved export destination.
pub(super) struct Target {
    transport: Transport,
    gzip: bool,
    url: String,
    envelope: Envelope,
    batch: usize,
    retry: ExportRetry,
    /// The last export went through (or none was tried): retry failures.
    healthy: std::sync::atomic::AtomicBool,
    /// An export went through once: a connection that fails now is a
    /// collector restarting, worth retrying; before, nothing may listen at all.
    seen_up: std::sync::atomic::AtomicBool,
}

impl Target {
    pub(super) fn new(config: &ExportConfig) -> Result<Self, SpanExportError> {
        let url = resolve_url(config.endpoint.as_deref(), config.protocol);
        let bad = |reason: String| SpanExportError::Endpoint {
            url: url.clone(),
            reason,
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        let authority = uri.authority().ok_or_else(|| bad("has no host".into()))?;
        let base = format!("{}://{authority}", uri.scheme_str().unwrap_or("http"));
        let path = uri
            .path_and_query()
            .map_or("/v1/traces", |p| p.as_str())
            .to_owned();
        let mut headers = HeaderMap::new();
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| SpanExportError::Header(k.clone()))?;
            let mut value =
                HeaderValue::from_str(v).map_err(|_| SpanExportError::Header(k.clone()))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        let tls = crate::tls::TlsOptions::from_otlp_env();
        let transport = match config.protocol {
            ExportProtocol::Grpc => Transport::Grpc(Box::new(
                super::grpc::GrpcTarget::new(&uri, headers, &tls, config.gzip, config.timeout)
                    .map_err(|e| bad(e.to_string()))?,
            )),
            ExportProtocol::HttpProtobuf => {
                if config.gzip {
                    headers.insert(
                        http::header::CONTENT_ENCODING,
                        HeaderValue::from_static("gzip"),
                    );
                }
                let client = ApiClient::with_content_type(
                    &base,
                    headers,
                    config.timeout,
                    1,
                    "application/x-protobuf",
                    &tls,
                )
                .map_err(|e| match e {
                    crate::client::ClientError::BaseUrl { reason, .. } => bad(reason),
                    other => bad(other.to_string()),
                })?;
                Transport::Http { client, path }
            }
        };
        Ok(Self {
            transport,
            gzip: config.gzip,
            url,
            envelope: envelope(&config.service_name),
            batch: config.batch.max(1),
            retry: config.retry,
            healthy: std::sync::atomic::AtomicBool::new(true),
            seen_up: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// One attempt: `Ok`, or what went wrong, whether it may be retried,
    /// and the collector's `Retry-After`.
    async fn attempt(&self, body: &bytes::Bytes) -> Result<(), Refused> {
        let (client, path) = match &self.transport {
            Transport::Grpc(g) => return g.export(body).await,
            Transport::Http { client, path } => (client, path),
        };
        let outcome = client
            .send(Method::POST, path, Some(body.clone()), None)
            .await;
        let (retry, message) = match (outcome.status, outcome.error) {
            (200..=299, _) => return Ok(()),
            (0, e) => {
                let e = e.unwrap_or_default();
                let transient =
                    matches!(e.as_str(), "refused" | "reset" | "timeout" | "unreachable");
                let retry = if transient {
                    Retry::Connection
                } else {
                    Retry::No
                };
                (retry, format!("{}: {e}", self.url))
            }
            (status @ (429 | 502 | 503 | 504), _) => {
                (Retry::Busy, format!("{} answered {status}", self.url))
            }
            (status, _) => (Retry::No, format!("{} answered {status}", self.url)),
        };
        Err(Refused {
            retry,
            message,
            retry_after: outcome.retry_after,
        })
    }

    /// Sends one encoded request, retrying what the collector could not take
    /// now (when `retry`); `Err` names what went wrong the last time.
    /// Bytes left free at the front of an encoded batch: a gRPC message's
    /// frame prefix (its compressed flag and length), filled in by `post`
    /// instead of copying the message behind it.
    fn headroom(&self) -> usize {
        match self.transport {
            Transport::Grpc(_) => GRPC_PREFIX,
            Transport::Http { .. } => 0,
        }
    }

    async fn post(&self, body: Vec<u8>, retry: bool) -> Result<(), Failure> {
        let skip = self.headroom();
        let mut body = if self.gzip {
            gzip(&body[skip..], skip)
        } else {
            body
        };
        if skip == GRPC_PREFIX {
            let len = u32::try_from(body.len() - skip).unwrap_or(u32::MAX);
            body[0] = u8::from(self.gzip);
            body[1..GRPC_PREFIX].copy_from_slice(&len.to_be_bytes());
        }
        let body = bytes::Bytes::from(body);
        let mut wait = self.retry.first;
        let mut attempt = 0;
        loop {
            let Refused {
                retry: kind,
                message,
                retry_after,
            } = match self.attempt(&body).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            // A connection that failed is retried only once the collector
            // has answered before (restarting); before, nothing may listen.
            let retryable = match kind {
                Retry::Busy => true,
                Retry::Connection => self.seen_up.load(std::sync::atomic::Ordering::Relaxed),
                Retry::No => false,
            };
            if !retryable || !retry || attempt >= self.retry.retries {
                return Err(Failure {
                    message,
                    retries: attempt,
                    retryable,
                });
            }
            let pause = retry_after
                .map_or(wait, Duration::from_secs)
                .min(self.retry.cap);
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(self.retry.cap);
            attempt += 1;
        }
    }

    /// Exports `spans` in batches; counts what was accepted and what failed.
    fn export(
        &self,
        rt: &tokio::runtime::Runtime,
        s: &Shared,
        spans: &[Span],
        lens: &mut Vec<usize>,
    ) {
        // Names are only added while scenarios are set up: reading them for
        // the whole export holds nobody up.
        let names = s.names.reading();
        use std::sync::atomic::Ordering::Relaxed;
        for chunk in spans.chunks(self.batch) {
            let mut body = vec![0; self.headroom()];
            encode(&self.envelope, &names, chunk, lens, &mut body);
            let n = chunk.len() as u64;
            match rt.block_on(self.post(body, self.healthy.load(Relaxed))) {
                Ok(()) => {
                    self.healthy.store(true, Relaxed);
                    self.seen_up.store(true, Relaxed);
                    s.counters.add_exported(n);
                }
                Err(f) => {
                    if f.retryable {
                        self.healthy.store(false, Relaxed);
                    }
                    s.note_error(if f.retries > 0 {
                        format!("{} (after {} retries)", f.message, f.retries)
                    } else {
                        f.message
                    });
                    s.counters.add_failed(n);
                }
            }
        }
    }
}

/// Whether a refused attempt may be retried, per the OTLP specification.
pub(super) enum Retry {
    /// The collector answered that it is busy (429/502/503/504; gRPC UNAVAILABLE, …).
    Busy,
    /// The connection failed (refused, reset, timed out).
    Connection,
    /// Not retryable: the request itself was refused.
    No,
}

/// An attempt that did not go through.
pub(super) struct Refused {
    pub(super) retry: Retry,
    pub(super) message: String,
    /// The collector's `Retry-After` (seconds), or gRPC RetryInfo's delay.
    pub(super) retry_after: Option<u64>,
}

/// A gRPC message's frame prefix: compressed flag (1 byte), length (4).
const GRPC_PREFIX: usize = 5;

/// `body` gzipped, after `headroom` zero bytes.
fn gzip(body: &[u8], headroom: usize) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(vec![0; headroom], flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(body);
    e.finish().unwrap_or_default()
}

/// An export request that did not go through.
struct Failure {
    message: String,
    retries: u32,
    retryable: bool,
}

/// The export thread's loop: wake on the interval, a flush or shutdown; export what is queued.
pub(super) fn run(s: &Shared, target: &Target, interval: Duration) {
    // The HTTP client needs a Tokio reactor: this thread has its own small one.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            s.note_error(format!("no runtime for span export: {e}"));
            None
        }
    };
    let mut lens = Vec::new();
    s.queue.drain_loop(interval, |spans| match &rt {
        Some(rt) => target.export(rt, s, spans, &mut lens),
        None => s.counters.add_failed(spans.len() as u64),
    });
}
