//! OpenTelemetry wiring of the reference catalog (and of anything else that
//! instruments with `tracing`). The runner's own spans take a lighter path:
//! `tracesplit_runner::spans`.
//!
//! Each component gets its own [`Telemetry`]: a tracer provider exporting
//! over OTLP/HTTP and a `tracing` [`Dispatch`] with an OpenTelemetry layer.
//! Components attach the dispatch to their futures (`.with_subscriber`)
//! instead of installing a global subscriber, so that the runner, the
//! catalog and the tests can live in one process, each exporting to its own
//! endpoint under its own service name.

mod batch;
mod counting;

pub use tracesplit_export::{
    Counters, DrainQueue, Drainer, ExportCounts, parse_header_list, traces_url,
};

use batch::PollingBatchProcessor;
use counting::CountingExporter;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Dispatch;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

/// How a component exports its spans.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` unless OTEL_SERVICE_NAME is set.
    pub service_name: String,
    /// OTLP/HTTP base URL (`http://host:4318`); `None` means OTEL_EXPORTER_OTLP_ENDPOINT
    /// (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), else the OTLP default localhost:4318.
    pub endpoint: Option<String>,
    /// Extra export headers (e.g. a collector's bearer token); OTEL_EXPORTER_OTLP_HEADERS also applies.
    pub headers: Vec<(String, String)>,
    /// Spans waiting for export before new ones are dropped (and counted).
    pub max_queue: usize,
    /// How often the batch processor exports.
    pub export_interval: Duration,
    /// Spans per export request.
    pub export_batch: usize,
    /// Export over OTLP/gRPC instead of OTLP/HTTP protobuf (the endpoint is
    /// then the gRPC one, e.g. `http://host:4317`).
    pub grpc: bool,
}

/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`:
/// `Ok(true)` for `grpc`, `Ok(false)` for `http/protobuf` or unset; any
/// other value is named in the error.
pub fn grpc_from_env() -> Result<bool, TelemetryError> {
    let value = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .iter()
    .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()));
    match value.as_deref().map(str::trim) {
        None | Some("http/protobuf") => Ok(false),
        Some("grpc") => Ok(true),
        Some(other) => Err(TelemetryError::Exporter(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported: use http/protobuf or grpc"
        ))),
    }
}

impl TelemetryConfig {
    /// Defaults for `service_name`: the environment's endpoint, 1 s batches.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            endpoint: None,
            headers: Vec::new(),
            max_queue: 65_536,
            export_interval: Duration::from_millis(500),
            export_batch: 512,
            grpc: false,
        }
    }

    /// Exports to the OTLP/HTTP base URL `endpoint`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The exporter rejected its configuration (endpoint URL, headers, …).
    #[error("cannot configure the OTLP exporter: {0}")]
    Exporter(String),
}

/// A component's tracer provider and dispatch.
pub struct Telemetry {
    provider: SdkTracerProvider,
    dispatch: Dispatch,
    /// A do-nothing dispatch registered beside `dispatch`, so that tracing-core
    /// never sees exactly one dispatch in the process. With one, it takes a
    /// shortcut (tokio-rs/tracing#3611): a callsite's interest comes from the
    /// default of whichever thread reaches it first, so a thread without our
    /// dispatch (another component, a test) would disable that span — a
    /// catalog's DB statement span, say — for the life of the process.
    _interest_guard: Dispatch,
    counters: Arc<Counters>,
}

impl Telemetry {
    /// Builds the exporter, provider and dispatch.
    pub fn start(config: &TelemetryConfig) -> Result<Self, TelemetryError> {
        // opentelemetry-otlp's default HTTP client is reqwest, which (built
        // without its own crypto library) needs a process-wide provider.
        tracesplit_net::client_tls::use_ring_by_default();
        let exporter = if config.grpc {
            grpc_exporter(config)?
        } else {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_timeout(Duration::from_secs(10));
            if https(config) {
                builder = builder.with_http_client(https_client()?);
            }
            if let Some(endpoint) = &config.endpoint {
                builder = builder.with_endpoint(traces_url(endpoint));
            }
            if !config.headers.is_empty() {
                let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
                builder = builder.with_headers(headers);
            }
            builder
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?
        };
        let counters = Arc::new(Counters::default());
        let batch = PollingBatchProcessor::new(
            CountingExporter::new(exporter, counters.clone()),
            counters.clone(),
            config.max_queue,
            config.export_batch,
            config.export_interval,
        );
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(config.service_name.clone());
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(batch)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer(config.service_name.clone());
        // Warnings and errors logged inside the component still reach the terminal.
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(stderr_colour())
            .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
        // Spans and events at INFO or above (a global filter: cheaper than a
        // per-layer one): libraries' debug/trace events would otherwise become
        // span events on every request span, costing time and bytes for nothing.
        // No code location, thread, busy/idle attributes and no OpenTelemetry
        // context activation on every poll: nothing here reads them, and at
        // tens of thousands of spans per second they are a large share of the
        // runner's CPU. (Trace context is propagated explicitly.)
        let otel = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false);
        let subscriber = tracing_subscriber::registry()
            .with(otel)
            .with(logs)
            .with(tracing_subscriber::filter::LevelFilter::INFO);
        // Registered first, so that registering ours sees two.
        let interest_guard = Dispatch::new(tracing::subscriber::NoSubscriber::default());
        Ok(Self {
            provider,
            dispatch: Dispatch::new(subscriber),
            _interest_guard: interest_guard,
            counters,
        })
    }

    /// The dispatch to attach to this component's futures and threads.
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }

    /// Spans ended / exported / failed so far.
    pub fn counts(&self) -> ExportCounts {
        self.counters.snapshot()
    }

    /// Exports everything queued now (blocking; call from a blocking context).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::debug!("span export flush: {e}");
        }
    }

    /// Flushes and stops the exporter; returns the final counts (blocking).
    pub fn shutdown(&self) -> ExportCounts {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!("span exporter shutdown: {e}");
        }
        self.counts()
    }
}

/// Whether the export endpoint (the configured one, else the environment's) is `https://`.
fn https(config: &TelemetryConfig) -> bool {
    let env = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .find_map(|n| std::env::var(n).ok());
    config
        .endpoint
        .clone()
        .or(env)
        .is_some_and(|e| e.trim().starts_with("https://"))
}

fn tls_error(e: impl std::fmt::Display) -> TelemetryError {
    TelemetryError::Exporter(format!("TLS: {e}"))
}

/// The OTLP/HTTP client for an `https://` endpoint: the system's trust store
/// plus the `OTEL_EXPORTER_OTLP_CERTIFICATE` / client certificate files.
fn https_client() -> Result<reqwest::Client, TelemetryError> {
    use tracesplit_net::client_tls::{TlsOptions, client_config, use_ring_by_default};
    use_ring_by_default();
    let tls = client_config(&TlsOptions::from_otlp_env()).map_err(tls_error)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .build()
        .map_err(tls_error)
}

/// The same for OTLP/gRPC (tonic's own TLS configuration).
fn grpc_tls() -> Result<tonic::transport::ClientTlsConfig, TelemetryError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    tracesplit_net::client_tls::use_ring_by_default();
    let files = tracesplit_net::client_tls::TlsOptions::from_otlp_env();
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| tls_error(format!("{}: {e}", p.display())))
    };
    let mut tls = ClientTlsConfig::new().with_native_roots();
    if let Some(ca) = &files.cacert {
        tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    if let (Some(cert), Some(key)) = (&files.cert, &files.key) {
        tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(tls)
}

/// The OTLP/gRPC exporter (tonic). Built inside the caller's Tokio runtime:
/// its channel's worker runs there, while exports are awaited on the export
/// thread's own small runtime.
fn grpc_exporter(
    config: &TelemetryConfig,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::WithTonicConfig;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_timeout(Duration::from_secs(10));
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    if https(config) {
        builder = builder.with_tls_config(grpc_tls()?);
    }
    if !config.headers.is_empty() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (k, v) in &config.headers {
            let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| {
                TelemetryError::Exporter(format!("header {k:?} is not valid gRPC metadata"))
            })?;
            let value = v.parse().map_err(|_| {
                TelemetryError::Exporter(format!("header {k:?} has an invalid value"))
            })?;
            metadata.insert(key, value);
        }
        builder = builder.with_metadata(metadata);
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// Reads the W3C trace context (`traceparent`, `tracestate`) of an incoming request.
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    struct Headers<'a>(&'a http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers))
}

/// Whether log lines on stderr get ANSI colours: only on a terminal, unless
/// `NO_COLOR` (any value) turns them off or `CLICOLOR_FORCE` (not `0`) on
/// (<https://no-color.org>, <https://bixense.com/clicolors/>).
pub fn stderr_colour() -> bool {
    use std::io::IsTerminal;
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests;
