//! The catalog's spans: SERVER spans continue the caller's trace, DB spans sit
//! under them, and a delete's usage count is a visible DB span.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tracesplit_catalog_demo::{CatalogConfig, CatalogServer};
use tracesplit_collector::{Collector, CollectorConfig};
use tracesplit_model::{SpanKind, SpanRecord};
use tracesplit_telemetry::TelemetryConfig;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn ancestors<'a>(spans: &'a [SpanRecord], span: &'a SpanRecord) -> Vec<&'a SpanRecord> {
    let mut out = Vec::new();
    let mut cur = span;
    while let Some(p) = cur
        .parent_span_id
        .as_ref()
        .and_then(|p| spans.iter().find(|s| &s.span_id == p))
    {
        out.push(p);
        cur = p;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_db_spans_continue_the_callers_trace() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(CollectorConfig::ephemeral(dir.path()))
        .await
        .unwrap();
    let config = CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        telemetry: Some(
            TelemetryConfig::new("catalog-demo").with_endpoint(collector.http_endpoint()),
        ),
        ..Default::default()
    };
    let catalog = CatalogServer::start(config).await.unwrap();
    tracesplit_net::client_tls::use_ring_by_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = catalog.base_url();

    // A CPU used by 3 listings, then a traced DELETE that must answer 409.
    let cpu: serde_json::Value = client
        .post(format!("{base}/v1/catalog/cpus"))
        .json(&json!({"name": "Traced", "manufacturer": "Intel"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = cpu["id"].as_i64().unwrap();
    for _ in 0..3 {
        client
            .post(format!("{base}/v1/listings/"))
            .json(&json!({"title": "t", "price_usd": 1.0, "cpu_id": id}))
            .send()
            .await
            .unwrap();
    }
    let resp = client
        .delete(format!("{base}/v1/catalog/cpus/{id}"))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let untraced = client
        .get(format!("{base}/v1/catalog/gpus"))
        .send()
        .await
        .unwrap();
    assert_eq!(untraced.status(), 200);

    let counts = catalog.shutdown().await;
    assert_eq!(counts.ended, counts.exported, "all catalog spans exported");
    collector.flush().await.unwrap();
    let spans = tracesplit_store::read_span_dir(dir.path()).unwrap();
    let trace: Vec<SpanRecord> = spans
        .iter()
        .filter(|s| s.trace_id.to_string() == TRACE)
        .cloned()
        .collect();

    let server = trace
        .iter()
        .find(|s| s.kind == SpanKind::Server)
        .expect("server span");
    assert_eq!(
        server.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some(PARENT)
    );
    assert_eq!(server.name, "DELETE /v1/catalog/cpus/{cpu_id}");
    assert_eq!(
        server.http_route.as_deref(),
        Some("/v1/catalog/cpus/{cpu_id}")
    );
    assert_eq!(server.http_status_code, Some(409));
    assert_eq!(server.service_name, "catalog-demo");
    let attrs: serde_json::Value = serde_json::from_str(&server.attributes_json).unwrap();
    assert_eq!(
        (
            attrs["http.request.method"].as_str(),
            attrs["url.path"].as_str()
        ),
        (
            Some("DELETE"),
            Some(format!("/v1/catalog/cpus/{id}").as_str())
        )
    );

    let delete = trace
        .iter()
        .find(|s| s.name == "catalog.delete_cpu")
        .expect("delete span");
    assert_eq!(
        (delete.kind, delete.status_code),
        (SpanKind::Internal, tracesplit_model::SpanStatus::Error)
    );
    let db: Vec<&SpanRecord> = trace
        .iter()
        .filter(|s| s.db_system.as_deref() == Some("sqlite"))
        .collect();
    assert!(
        db.len() >= 4,
        "BEGIN, SELECT cpu, SELECT count, ROLLBACK: {db:?}"
    );
    for d in &db {
        assert_eq!(d.kind, SpanKind::Client);
        assert!(
            ancestors(&trace, d)
                .iter()
                .any(|a| a.span_id == server.span_id),
            "{} is under the server span",
            d.name
        );
        assert!(
            d.start_unix_nano >= server.start_unix_nano && d.end_unix_nano <= server.end_unix_nano
        );
    }
    let usage = db
        .iter()
        .find(|d| {
            d.db_statement
                .as_deref()
                .is_some_and(|s| s.starts_with("SELECT count(listings.id)"))
        })
        .expect("usage count span");
    assert_eq!(usage.name, "SELECT catalog");
    assert_eq!(usage.db_operation.as_deref(), Some("SELECT"));
    let names: Vec<&str> = ancestors(&trace, usage)
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names[..2],
        ["catalog.cpu_usage_check", "catalog.delete_cpu"]
    );

    // The request without traceparent started its own trace.
    let gpus = spans
        .iter()
        .find(|s| s.name == "GET /v1/catalog/gpus")
        .unwrap();
    assert_ne!(gpus.trace_id.to_string(), TRACE);
    assert_eq!(gpus.parent_span_id, None);
    collector.shutdown().await.unwrap();
}
