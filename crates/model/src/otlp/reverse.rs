//! Span records → OTLP export requests (for replaying a store, benchmarks and tests).

use crate::span::SpanRecord;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use std::collections::BTreeMap;

/// JSON object text → OTLP attributes (integers stay integers, objects become kvlists).
pub fn json_to_attributes(text: &str) -> Vec<KeyValue> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(key, v)| KeyValue {
                key,
                value: Some(json_to_any(v)),
                ..Default::default()
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn json_to_any(v: serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    let value = match v {
        J::Null => None,
        J::Bool(b) => Some(Value::BoolValue(b)),
        J::Number(n) => match n.as_i64() {
            Some(i) => Some(Value::IntValue(i)),
            None => Some(Value::DoubleValue(n.as_f64().unwrap_or(0.0))),
        },
        J::String(s) => Some(Value::StringValue(s)),
        J::Array(a) => Some(Value::ArrayValue(ArrayValue {
            values: a.into_iter().map(json_to_any).collect(),
        })),
        J::Object(o) => Some(Value::KvlistValue(KeyValueList {
            values: o
                .into_iter()
                .map(|(key, v)| KeyValue {
                    key,
                    value: Some(json_to_any(v)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// Groups records by (resource attributes, scope) into one export request.
/// Events and links are not reconstructed.
pub fn to_export_request(records: &[SpanRecord]) -> ExportTraceServiceRequest {
    let mut groups: BTreeMap<(&str, &str), Vec<Span>> = BTreeMap::new();
    for r in records {
        let span = Span {
            trace_id: r.trace_id.0.to_vec(),
            span_id: r.span_id.0.to_vec(),
            parent_span_id: r.parent_span_id.map(|p| p.0.to_vec()).unwrap_or_default(),
            name: r.name.clone(),
            kind: r.kind.to_otlp(),
            start_time_unix_nano: r.start_unix_nano.max(0) as u64,
            end_time_unix_nano: r.end_unix_nano.max(0) as u64,
            attributes: json_to_attributes(&r.attributes_json),
            status: Some(Status {
                code: r.status_code.to_otlp(),
                message: r.status_message.clone(),
            }),
            ..Default::default()
        };
        groups
            .entry((&r.resource_attributes_json, &r.scope_name))
            .or_default()
            .push(span);
    }
    let resource_spans = groups
        .into_iter()
        .map(|((resource, scope), spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: json_to_attributes(resource),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.to_owned(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}
