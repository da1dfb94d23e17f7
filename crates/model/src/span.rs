//! One server or client span as the span store keeps it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// OpenTelemetry span kind, stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpanKind {
    /// Kind not given by the producer.
    #[default]
    Unspecified,
    /// Internal operation.
    Internal,
    /// Server side of a request (the *server entry* of a request when its parent is the client span).
    Server,
    /// Client side of a request; also every database call.
    Client,
    /// Message producer.
    Producer,
    /// Message consumer.
    Consumer,
}

impl SpanKind {
    /// The OTLP enum number (SPAN_KIND_*).
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// The OTLP enum number.
    pub fn to_otlp(self) -> i32 {
        match self {
            Self::Unspecified => 0,
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
            Self::Producer => 4,
            Self::Consumer => 5,
        }
    }

    /// Upper-case name as stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "UNSPECIFIED",
            Self::Internal => "INTERNAL",
            Self::Server => "SERVER",
            Self::Client => "CLIENT",
            Self::Producer => "PRODUCER",
            Self::Consumer => "CONSUMER",
        }
    }

    /// Parses the stored name (case-insensitive); unknown text is `Unspecified`.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().trim_start_matches("SPAN_KIND_") {
            "INTERNAL" => Self::Internal,
            "SERVER" => Self::Server,
            "CLIENT" => Self::Client,
            "PRODUCER" => Self::Producer,
            "CONSUMER" => Self::Consumer,
            _ => Self::Unspecified,
        }
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OpenTelemetry span status code, stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpanStatus {
    /// No status set (the default; HTTP 4xx on servers).
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed.
    Error,
}

impl SpanStatus {
    /// The OTLP enum number (STATUS_CODE_*).
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// The OTLP enum number.
    pub fn to_otlp(self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error => 2,
        }
    }

    /// Upper-case name as stored in the `status_code` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "UNSET",
            Self::Ok => "OK",
            Self::Error => "ERROR",
        }
    }

    /// Parses the stored name (case-insensitive); unknown text is `Unset`.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().trim_start_matches("STATUS_CODE_") {
            "OK" => Self::Ok,
            "ERROR" => Self::Error,
            _ => Self::Unset,
        }
    }
}

/// One span, flattened: ids typed (hex only where they are shown or
/// written as JSON), a few attributes promoted to columns, the rest kept as
/// JSON text so that nothing the producer sent is lost.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpanRecord {
    /// Trace id.
    pub trace_id: crate::ids::TraceId,
    /// Span id.
    pub span_id: crate::ids::SpanId,
    /// Parent span id; `None` for a root span.
    pub parent_span_id: Option<crate::ids::SpanId>,
    /// Span name, e.g. `DELETE /v1/catalog/cpus/{cpu_id}` or `SELECT catalog`.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch (producer's clock).
    pub start_unix_nano: i64,
    /// End, nanoseconds since the Unix epoch (producer's clock).
    pub end_unix_nano: i64,
    /// Status code.
    pub status_code: SpanStatus,
    /// Status message (empty when none).
    pub status_message: String,
    /// `service.name` of the producing resource.
    pub service_name: String,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// `http.route`.
    pub http_route: Option<String>,
    /// `http.response.status_code` or the old `http.status_code`.
    pub http_status_code: Option<i32>,
    /// `db.system.name` or the old `db.system`.
    pub db_system: Option<String>,
    /// `db.query.text` or the old `db.statement`.
    pub db_statement: Option<String>,
    /// `db.operation.name` or the old `db.operation`.
    pub db_operation: Option<String>,
    /// All span attributes as a JSON object (values typed as JSON allows).
    pub attributes_json: String,
    /// All resource attributes as a JSON object.
    pub resource_attributes_json: String,
    /// Span events as a JSON array of `{name, time_unix_nano, attributes}`; `None` when there are none.
    pub events_json: Option<String>,
    /// Span links as a JSON array of `{trace_id, span_id, attributes}`; `None` when there are none.
    pub links_json: Option<String>,
}

impl SpanRecord {
    /// Duration in nanoseconds, never negative.
    pub fn duration_ns(&self) -> i64 {
        (self.end_unix_nano - self.start_unix_nano).max(0)
    }
}

/// Where a run's own spans go when they are written from its records after
/// the run rather than exported while it measures (the embedded collector,
/// in the same process: no protobuf over HTTP, no cores taken from the
/// requests being measured).
pub trait OwnSpanSink: Send + Sync {
    /// Stores one OTLP `ExportTraceServiceRequest` (protobuf), waiting while
    /// the store is full; the error says why it could not.
    fn store(&self, otlp_protobuf: Vec<u8>)
    -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Whoever receives the API's spans and can tell which client spans already
/// have a SERVER child: the runner's wait for server spans asks it after the
/// last request (the embedded collector answers; the runner does not know it).
pub trait ServerSpanIndex: Send + Sync {
    /// The client span ids (16 hex digits) of `ids` without a SERVER child yet.
    fn without_server_span(&self, ids: Vec<String>) -> Vec<String>;
    /// Spans received so far (the wait ends when this stops growing).
    fn received_spans(&self) -> u64;
}
