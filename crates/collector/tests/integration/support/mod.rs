//! Helpers shared by the collector's end-to-end tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::path::Path;
use std::time::Duration;
use tracesplit_collector::{Collector, CollectorConfig, CollectorHandle};
use tracesplit_model::SpanRecord;

pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// `n` spans of trace `trace`, each the child of the previous one.
pub fn export(trace: u8, n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![trace; 16],
            span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 {
                vec![]
            } else {
                (i as u64).to_be_bytes().to_vec()
            },
            name: format!("span-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            end_time_unix_nano: 1_700_000_000_000_001_000 + i as u64,
            attributes: vec![kv("i", Value::IntValue(i as i64))],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("test".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "scope".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn protobuf(trace: u8, n: usize) -> Vec<u8> {
    export(trace, n).encode_to_vec()
}

pub async fn start(dir: &Path) -> CollectorHandle {
    start_with(CollectorConfig::ephemeral(dir)).await
}

pub async fn start_with(config: CollectorConfig) -> CollectorHandle {
    Collector::start(config).await.expect("collector starts")
}

pub fn http() -> reqwest::Client {
    tracesplit_net::client_tls::use_ring_by_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub async fn post(
    handle: &CollectorHandle,
    content_type: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http()
        .post(format!("{}/v1/traces", handle.http_endpoint()))
        .header("content-type", content_type)
        .body(body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Every stored span, read back from the segments.
pub fn stored(dir: &Path) -> Vec<SpanRecord> {
    tracesplit_store::read_span_dir(dir).unwrap()
}
