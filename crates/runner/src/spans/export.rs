//! The export thread: drains the span queue on an interval and POSTs OTLP/HTTP
//! protobuf to the collector with the runner's own HTTP client.

use super::otlp::{Envelope, encode};
use super::{Shared, Span, Value};
use crate::client::ApiClient;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::time::Duration;
use tracesplit_telemetry::traces_url;

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
}

impl ExportConfig {
    /// Defaults for the runner: a deep queue and frequent exports, so that
    /// client spans are not dropped at high request rates.
    pub fn new(endpoint: Option<String>) -> Self {
        Self {
            endpoint,
            headers: Vec::new(),
            service_name: "tracesplit-runner".into(),
            max_queue: 1 << 20,
            // Frequent: a short queue stays within its first allocation (no regrowth).
            interval: Duration::from_millis(50),
            batch: 2048,
            timeout: Duration::from_secs(10),
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

fn resolve_url(endpoint: Option<&str>) -> String {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match endpoint {
        Some(e) => traces_url(e),
        None => env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| traces_url(&e)))
            .unwrap_or_else(|| "http://localhost:4318/v1/traces".into()),
    }
}

/// `service.name` and the OTEL_RESOURCE_ATTRIBUTES pairs, as the SDKs do.
fn resource(service_name: &str) -> Vec<(String, Value)> {
    let mut attrs: Vec<(String, Value)> = tracesplit_telemetry::parse_header_list(
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

/// The resolved export destination.
pub(super) struct Target {
    client: ApiClient,
    path: String,
    url: String,
    envelope: Envelope,
    batch: usize,
}

impl Target {
    pub(super) fn new(config: &ExportConfig) -> Result<Self, SpanExportError> {
        let url = resolve_url(config.endpoint.as_deref());
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
        let client = ApiClient::with_content_type(
            &base,
            headers,
            config.timeout,
            1,
            "application/x-protobuf",
            &crate::tls::TlsOptions::from_otlp_env(),
        )
        .map_err(|e| match e {
            crate::client::ClientError::BaseUrl { reason, .. } => bad(reason),
            other => bad(other.to_string()),
        })?;
        Ok(Self {
            client,
            path,
            url,
            envelope: Envelope {
                resource: resource(&config.service_name),
                scope_name: "tracesplit-runner".into(),
                scope_version: env!("CARGO_PKG_VERSION").into(),
            },
            batch: config.batch.max(1),
        })
    }

    /// POSTs one encoded request; `Err` names what went wrong.
    async fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let outcome = self
            .client
            .send(Method::POST, &self.path, Some(body.into()), None)
            .await;
        match (outcome.status, outcome.error) {
            (200..=299, _) => Ok(()),
            (0, e) => Err(format!("{}: {}", self.url, e.unwrap_or_default())),
            (status, _) => Err(format!("{} answered {status}", self.url)),
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
        let Ok(names) = s.names.read() else {
            s.counters.add_failed(spans.len() as u64);
            return;
        };
        for chunk in spans.chunks(self.batch) {
            let mut body = Vec::new();
            encode(&self.envelope, &names, chunk, lens, &mut body);
            let n = chunk.len() as u64;
            match rt.block_on(self.post(body)) {
                Ok(()) => s.counters.add_exported(n),
                Err(e) => {
                    s.note_error(e);
                    s.counters.add_failed(n);
                }
            }
        }
    }
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
