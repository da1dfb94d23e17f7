//! `tracesplit collect` as a process: durability across SIGKILL, the exit line,
//! and the catalog's spans end to end into Parquet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::time::Duration;

fn export(trace: u32, n: u32) -> Vec<u8> {
    let spans = (1..=n)
        .map(|i| Span {
            trace_id: [trace.to_be_bytes(), [1; 4], [2; 4], [3; 4]].concat(),
            span_id: u64::from(i).to_be_bytes().to_vec(),
            name: format!("s{i}"),
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn acknowledged_exports_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // A long flush interval: nothing reaches a segment before the kill.
    let (proc1, _, http) = collect(dir.path(), &["--flush-interval", "1h"]);
    let client = http_client();
    for t in 0..20 {
        let r = client
            .post(format!("{http}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(export(t, 50))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    proc1.kill_hard();
    assert!(
        tracesplit_store::list_segments(dir.path())
            .unwrap()
            .is_empty(),
        "nothing was flushed before the kill"
    );

    let (mut proc2, _, _) = collect(dir.path(), &[]);
    assert_eq!(
        proc2.wait_line("replayed", Duration::from_secs(30)),
        "1000 spans from the write-ahead log"
    );
    let (code, lines) = proc2.terminate();
    assert_eq!(code, 0);
    assert!(
        lines
            .iter()
            .any(|l| l == "spans received 0, stored 0, rejected 0 (0 exports refused)"),
        "{lines:?}"
    );
    let spans = tracesplit_store::read_span_dir(dir.path()).unwrap();
    assert_eq!(spans.len(), 1000);
    let mut ids: Vec<(tracesplit_model::TraceId, tracesplit_model::SpanId)> =
        spans.into_iter().map(|s| (s.trace_id, s.span_id)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "no span lost or duplicated");
}

#[test]
fn final_line_counts_received_stored_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (proc, _, http) = collect(dir.path(), &[]);
    let client = http_client();
    let ok = client
        .post(format!("{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(export(1, 7))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = client
        .post(format!("{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body("garbage")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    let (code, lines) = proc.terminate();
    assert_eq!(code, 0);
    assert!(
        lines
            .iter()
            .any(|l| l == "spans received 7, stored 7, rejected 0 (1 exports refused)"),
        "{lines:?}"
    );
}

#[test]
fn catalog_spans_reach_the_store_through_collect() {
    let dir = tempfile::tempdir().unwrap();
    let (collector, _, http) = collect(dir.path(), &["--flush-interval", "100ms"]);
    let (catalog, base) = serve_catalog(&["--otlp-endpoint", &http]);
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let r = http_client()
        .get(format!("{base}/v1/catalog/cpus/1"))
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, _) = catalog.terminate();
    assert_eq!(code, 0);
    let (code, _) = collector.terminate();
    assert_eq!(code, 0);
    let spans = tracesplit_store::read_span_dir(dir.path()).unwrap();
    let server = spans
        .iter()
        .find(|s| s.trace_id.to_string() == trace && s.kind == tracesplit_model::SpanKind::Server)
        .expect("server span stored");
    assert_eq!(
        server.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("b7ad6b7169203331")
    );
    assert!(spans.iter().any(|s| {
        s.trace_id.to_string() == trace
            && s.db_statement
                .as_deref()
                .is_some_and(|q| q.contains("FROM cpus"))
    }));
}

/// A supervisor may stop the collector the moment it reads a readiness line:
/// the signal must reach the clean shutdown (exit 0 and the exit line), never
/// the default action (the handlers are installed before the first line).
#[test]
fn sigterm_right_after_the_readiness_line_shuts_down_cleanly() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        // Returns as soon as it has read the listening lines.
        let (p, _, _) = collect(dir.path(), &[]);
        let (code, lines) = p.terminate();
        assert_eq!(code, 0, "{lines:?}");
        assert!(
            lines.iter().any(|l| l.starts_with("spans received 0")),
            "{lines:?}"
        );
    }
}
