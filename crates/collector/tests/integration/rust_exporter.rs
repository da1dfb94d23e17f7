//! Interoperability with an exporter we did not write: opentelemetry-otlp
//! (Rust), over gRPC (tonic) and over HTTP (protobuf).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use opentelemetry::trace::{
    Link, Span as _, SpanKind, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Ids the SDK gave the spans it exported: (name, span id, parent id).
type Expected = Vec<(String, String, Option<String>)>;

fn emit(provider: &SdkTracerProvider, traces: usize) -> Expected {
    let tracer = provider.tracer("interop");
    let mut expected = Vec::new();
    for t in 0..traces {
        let mut root = tracer
            .span_builder(format!("GET /items/{t}"))
            .with_kind(SpanKind::Server)
            .with_attributes(vec![
                KeyValue::new("http.route", "/items/{id}"),
                KeyValue::new("http.response.status_code", 200i64),
                KeyValue::new("ratio", 0.25),
                KeyValue::new("cached", true),
            ])
            .start(&tracer);
        root.add_event("accepted", vec![KeyValue::new("queue", "main")]);
        let root_sc = root.span_context().clone();
        let root_cx = Context::current_with_span(root);
        let mut db = tracer
            .span_builder("SELECT items")
            .with_kind(SpanKind::Client)
            .with_attributes(vec![
                KeyValue::new("db.system.name", "sqlite"),
                KeyValue::new("db.query.text", "SELECT * FROM items WHERE id = ?"),
            ])
            .with_links(vec![Link::with_context(root_sc.clone())])
            .start_with_context(&tracer, &root_cx);
        expected.push((
            "SELECT items".to_string(),
            db.span_context().span_id().to_string(),
            Some(root_sc.span_id().to_string()),
        ));
        db.end();
        expected.push((
            format!("GET /items/{t}"),
            root_sc.span_id().to_string(),
            None,
        ));
        root_cx.span().end();
    }
    expected
}

fn provider(exporter: opentelemetry_otlp::SpanExporter) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("interop-rust")
                .build(),
        )
        .build()
}

async fn check(
    dir: &std::path::Path,
    handle: tracesplit_collector::CollectorHandle,
    expected: Expected,
) {
    handle.flush().await.unwrap();
    let stored = stored(dir);
    assert_eq!(
        stored.len(),
        expected.len(),
        "exactly the exported spans are stored"
    );
    for (name, span_id, parent) in &expected {
        let s = stored
            .iter()
            .find(|s| &s.span_id.to_string() == span_id)
            .unwrap_or_else(|| panic!("span {name} missing"));
        assert_eq!(&s.name, name);
        assert_eq!(&s.parent_span_id.map(|p| p.to_string()), parent);
        assert_eq!(s.service_name, "interop-rust");
        assert_eq!(s.scope_name, "interop");
        assert!(
            s.end_unix_nano >= s.start_unix_nano && s.start_unix_nano > 1_600_000_000_000_000_000
        );
        if parent.is_none() {
            assert_eq!(s.kind, tracesplit_model::SpanKind::Server);
            assert_eq!(s.http_status_code, Some(200));
            let attrs: serde_json::Value = serde_json::from_str(&s.attributes_json).unwrap();
            assert_eq!(
                (attrs["ratio"].as_f64(), attrs["cached"].as_bool()),
                (Some(0.25), Some(true))
            );
            assert!(s.events_json.as_deref().unwrap().contains("\"accepted\""));
        } else {
            assert_eq!(s.kind, tracesplit_model::SpanKind::Client);
            assert_eq!(s.db_system.as_deref(), Some("sqlite"));
            assert!(
                s.links_json
                    .as_deref()
                    .unwrap()
                    .contains(&parent.clone().unwrap())
            );
        }
    }
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_grpc_exporter_spans_are_stored_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let handle = start(dir.path()).await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(handle.grpc_endpoint())
        .build()
        .unwrap();
    let provider = provider(exporter);
    let expected = tokio::task::spawn_blocking(move || {
        let expected = emit(&provider, 25);
        provider.shutdown().unwrap();
        expected
    })
    .await
    .unwrap();
    check(dir.path(), handle, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_http_exporter_spans_are_stored_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let handle = start(dir.path()).await;
    let endpoint = format!("{}/v1/traces", handle.http_endpoint());
    let expected = tokio::task::spawn_blocking(move || {
        // The blocking reqwest client: the SDK's batch processor exports from a plain thread.
        tracesplit_net::client_tls::use_ring_by_default();
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .unwrap();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .unwrap();
        let provider = provider(exporter);
        let expected = emit(&provider, 25);
        provider.shutdown().unwrap();
        expected
    })
    .await
    .unwrap();
    check(dir.path(), handle, expected).await;
}
