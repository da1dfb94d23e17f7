//! Conversions between OTLP wire types (opentelemetry-proto) and [`SpanRecord`].
//!
//! Decoding consumes the request so that names and statements are moved, not
//! copied: the collector's ingest path runs through here for every span.

use crate::ids::{IdError, SpanId, TraceId};
use crate::span::{SpanKind, SpanRecord, SpanStatus};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;

mod json;
mod reverse;

pub use json::{any_value_to_json, attributes_to_json};
pub use reverse::{json_to_attributes, to_export_request};

/// Why an OTLP payload could not be turned into span records.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OtlpConvertError {
    /// A trace, span or parent id is malformed.
    #[error("resourceSpans[{resource}].scopeSpans[{scope}].spans[{span}]: {field}: {source}")]
    InvalidId {
        /// Index of the resource span list.
        resource: usize,
        /// Index of the scope span list.
        scope: usize,
        /// Index of the span.
        span: usize,
        /// `traceId`, `spanId` or `parentSpanId`.
        field: &'static str,
        /// What is wrong with it.
        source: IdError,
    },
}

/// Attribute keys promoted to columns, each with its current and its old semantic-convention name.
const HTTP_ROUTE: [&str; 1] = ["http.route"];
const HTTP_STATUS: [&str; 2] = ["http.response.status_code", "http.status_code"];
const DB_SYSTEM: [&str; 2] = ["db.system.name", "db.system"];
const DB_STATEMENT: [&str; 2] = ["db.query.text", "db.statement"];
const DB_OPERATION: [&str; 2] = ["db.operation.name", "db.operation"];

/// Counts of an export request, for answers and statistics.
pub fn span_count(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len())
        .sum()
}

/// Converts every span of an export request into records, validating ids.
///
/// All-or-nothing: one malformed id rejects the whole request, so that a
/// client never gets a success answer for data we could not keep.
pub fn records_from_export(
    request: ExportTraceServiceRequest,
) -> Result<Vec<SpanRecord>, OtlpConvertError> {
    let mut out = Vec::with_capacity(span_count(&request));
    for (ri, rs) in request.resource_spans.into_iter().enumerate() {
        let resource_attrs = rs.resource.map(|r| r.attributes).unwrap_or_default();
        let service_name = find_str(&resource_attrs, &["service.name"]).unwrap_or_default();
        let resource_json = attributes_to_json(&resource_attrs);
        for (si, ss) in rs.scope_spans.into_iter().enumerate() {
            let scope_name = ss.scope.map(|s| s.name).unwrap_or_default();
            for (pi, span) in ss.spans.into_iter().enumerate() {
                let at = |field, source| OtlpConvertError::InvalidId {
                    resource: ri,
                    scope: si,
                    span: pi,
                    field,
                    source,
                };
                let record = span_to_record(span, &service_name, &scope_name, &resource_json)
                    .map_err(|(field, e)| at(field, e))?;
                out.push(record);
            }
        }
    }
    Ok(out)
}

fn span_to_record(
    span: Span,
    service_name: &str,
    scope_name: &str,
    resource_json: &str,
) -> Result<SpanRecord, (&'static str, IdError)> {
    let trace_id = TraceId::from_bytes(&span.trace_id).map_err(|e| ("traceId", e))?;
    let span_id = SpanId::from_bytes(&span.span_id).map_err(|e| ("spanId", e))?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(SpanId::from_bytes(&span.parent_span_id).map_err(|e| ("parentSpanId", e))?)
    };
    let attrs = &span.attributes;
    let status = span.status.unwrap_or_default();
    Ok(SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        kind: SpanKind::from_otlp(span.kind),
        start_unix_nano: clamp_time(span.start_time_unix_nano),
        end_unix_nano: clamp_time(span.end_time_unix_nano),
        status_code: SpanStatus::from_otlp(status.code),
        status_message: status.message,
        service_name: service_name.to_owned(),
        scope_name: scope_name.to_owned(),
        http_route: find_str(attrs, &HTTP_ROUTE),
        http_status_code: find_int(attrs, &HTTP_STATUS).and_then(|v| i32::try_from(v).ok()),
        db_system: find_str(attrs, &DB_SYSTEM),
        db_statement: find_str(attrs, &DB_STATEMENT),
        db_operation: find_str(attrs, &DB_OPERATION),
        attributes_json: attributes_to_json(attrs),
        resource_attributes_json: resource_json.to_owned(),
        events_json: json::events_to_json(&span.events),
        links_json: json::links_to_json(&span.links),
        name: span.name,
    })
}

fn clamp_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn find<'a>(attrs: &'a [KeyValue], keys: &[&str]) -> Option<&'a AnyValue> {
    // Keys are tried in order so the current semantic-convention name wins over the old one.
    keys.iter()
        .find_map(|k| attrs.iter().find(|kv| kv.key == *k))
        .and_then(|kv| kv.value.as_ref())
}

fn find_str(attrs: &[KeyValue], keys: &[&str]) -> Option<String> {
    match find(attrs, keys)?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn find_int(attrs: &[KeyValue], keys: &[&str]) -> Option<i64> {
    match find(attrs, keys)?.value.as_ref()? {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.trim().parse().ok(),
        Value::DoubleValue(d) if d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
