//! Jaeger's query API (`GET /api/traces/{id}`) → OTLP messages, so that the
//! span records come out of the same conversion as everything else.

use super::{IdProblem, TraceFormatError};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    data: Option<Vec<Trace>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trace {
    #[serde(default)]
    spans: Vec<JSpan>,
    #[serde(default)]
    processes: HashMap<String, Process>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JSpan {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: String,
    #[serde(default)]
    references: Vec<Reference>,
    /// Microseconds since the epoch.
    start_time: i64,
    /// Microseconds.
    duration: i64,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "processID", default)]
    process_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    ref_type: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    service_name: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
struct Tag {
    key: String,
    #[serde(rename = "type", default)]
    kind: String,
    value: serde_json::Value,
}

/// Hex id of `bytes` length, left-padded: Jaeger drops leading zeros.
fn id_bytes(hex_id: &str, bytes: usize) -> Result<Vec<u8>, TraceFormatError> {
    let padded = format!("{:0>w$}", hex_id, w = bytes * 2);
    hex::decode(&padded).map_err(|_| TraceFormatError::id(hex_id, IdProblem::NotHex))
}

fn value(t: &Tag) -> any_value::Value {
    use any_value::Value as V;
    match (t.kind.as_str(), &t.value) {
        ("bool", v) => V::BoolValue(v.as_bool().unwrap_or(false)),
        ("int64", v) => V::IntValue(v.as_i64().or_else(|| v.as_str()?.parse().ok()).unwrap_or(0)),
        ("float64", v) => V::DoubleValue(v.as_f64().unwrap_or(0.0)),
        (_, serde_json::Value::String(s)) => V::StringValue(s.clone()),
        (_, other) => V::StringValue(other.to_string()),
    }
}

fn kv(t: &Tag) -> KeyValue {
    KeyValue {
        key: t.key.clone(),
        value: Some(AnyValue {
            value: Some(value(t)),
        }),
        ..Default::default()
    }
}

fn kind(s: &str) -> span::SpanKind {
    match s {
        "server" => span::SpanKind::Server,
        "client" => span::SpanKind::Client,
        "producer" => span::SpanKind::Producer,
        "consumer" => span::SpanKind::Consumer,
        "internal" => span::SpanKind::Internal,
        _ => span::SpanKind::Unspecified,
    }
}

fn convert(s: &JSpan) -> Result<(String, Span), TraceFormatError> {
    let mut out = Span {
        trace_id: id_bytes(&s.trace_id, 16)?,
        span_id: id_bytes(&s.span_id, 8)?,
        name: s.operation_name.clone(),
        start_time_unix_nano: (s.start_time.max(0) as u64) * 1000,
        end_time_unix_nano: ((s.start_time + s.duration).max(0) as u64) * 1000,
        ..Default::default()
    };
    if let Some(parent) = s.references.iter().find(|r| r.ref_type == "CHILD_OF") {
        out.parent_span_id = id_bytes(&parent.span_id, 8)?;
    }
    let mut scope = String::new();
    let mut status = Status::default();
    for t in &s.tags {
        match t.key.as_str() {
            // Jaeger folds these OTLP fields into tags; unfold them.
            "span.kind" => out.kind = kind(t.value.as_str().unwrap_or("")) as i32,
            "otel.scope.name" | "otel.library.name" => {
                scope = t.value.as_str().unwrap_or("").into()
            }
            "otel.status_code" => {
                status.code = match t.value.as_str() {
                    Some("ERROR") => 2,
                    Some("OK") => 1,
                    _ => 0,
                }
            }
            "otel.status_description" => status.message = t.value.as_str().unwrap_or("").into(),
            "error" if t.value.as_bool() == Some(true) && status.code == 0 => status.code = 2,
            "internal.span.format" => {}
            _ => out.attributes.push(kv(t)),
        }
    }
    out.status = Some(status);
    Ok((scope, out))
}

/// One Jaeger API response → one OTLP export request (one resource per process).
pub fn to_export(body: &[u8]) -> Result<ExportTraceServiceRequest, TraceFormatError> {
    let r: Response = serde_json::from_slice(body).map_err(TraceFormatError::Jaeger)?;
    let mut out = ExportTraceServiceRequest::default();
    for trace in r.data.unwrap_or_default() {
        let mut by_process: HashMap<&str, Vec<(String, Span)>> = HashMap::new();
        for s in &trace.spans {
            by_process
                .entry(s.process_id.as_str())
                .or_default()
                .push(convert(s)?);
        }
        for (pid, spans) in by_process {
            let process = trace.processes.get(pid);
            let mut attributes: Vec<KeyValue> = process
                .map(|p| p.tags.iter().map(kv).collect())
                .unwrap_or_default();
            attributes.push(KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(
                        process.map(|p| p.service_name.clone()).unwrap_or_default(),
                    )),
                }),
                ..Default::default()
            });
            let mut scopes: HashMap<String, Vec<Span>> = HashMap::new();
            for (scope, s) in spans {
                scopes.entry(scope).or_default().push(s);
            }
            out.resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: scopes
                    .into_iter()
                    .map(|(name, spans)| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name,
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
        }
    }
    Ok(out)
}
