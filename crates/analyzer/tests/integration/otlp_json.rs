//! `--otlp-json`: the newline-delimited OTLP JSON an OpenTelemetry Collector's
//! file exporter writes (hex ids, 64-bit integers as strings, enum numbers),
//! with old and new semantic-convention attribute names mixed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use serde_json::{Value, json};
use tracesplit_analyzer::{AnalyzeConfig, SpanSource, analyze};
use tracesplit_model::{SpanKind, SpanRecord};

fn attr(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value})
}

/// One span as the file exporter writes it; `old` picks the old attribute names.
fn otlp_span(s: &SpanRecord, old: bool) -> Value {
    let mut attributes = Vec::new();
    if let Some(system) = &s.db_system {
        attributes.push(attr(
            if old { "db.system" } else { "db.system.name" },
            json!({"stringValue": system}),
        ));
    }
    if let Some(statement) = &s.db_statement {
        attributes.push(attr(
            if old { "db.statement" } else { "db.query.text" },
            json!({"stringValue": statement}),
        ));
    }
    if s.kind == SpanKind::Server {
        attributes.push(attr(
            if old {
                "http.status_code"
            } else {
                "http.response.status_code"
            },
            json!({"intValue": "409"}),
        ));
        attributes.push(attr(
            "http.route",
            json!({"stringValue": "/v1/catalog/cpus/{cpu_id}"}),
        ));
    }
    let mut span = json!({
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "flags": 256,
        "name": s.name,
        "kind": s.kind.to_otlp(),
        "startTimeUnixNano": s.start_unix_nano.to_string(),
        "endTimeUnixNano": s.end_unix_nano.to_string(),
        "attributes": attributes,
        "status": if s.kind == SpanKind::Internal { json!({"code": 2, "message": "409"}) } else { json!({}) },
    });
    if let Some(p) = &s.parent_span_id {
        span["parentSpanId"] = json!(p);
    }
    span
}

fn line(spans: &[SpanRecord], old: bool) -> String {
    json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", json!({"stringValue": "catalog-api"})), attr("telemetry.sdk.language", json!({"stringValue": "python"}))]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.asgi", "version": "0.48b0"}, "spans": spans.iter().map(|s| otlp_span(s, old)).collect::<Vec<_>>()}],
        "schemaUrl": "https://opentelemetry.io/schemas/1.21.0"
    }]})
    .to_string()
}

#[test]
fn a_collector_file_exporter_file_gives_the_same_split_as_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    let mut lines = Vec::new();
    for (i, (r, s)) in twenty_deletes().into_iter().enumerate() {
        requests.push(r);
        // Each batch is one line; even iterations use the old attribute names.
        lines.push(line(&s, i % 2 == 0));
    }
    write_run(dir.path(), &requests, &[], 1000.0);
    std::fs::remove_dir_all(dir.path().join("spans")).unwrap();
    let file = dir.path().join("traces.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let cfg = AnalyzeConfig {
        run_dirs: vec![dir.path().to_owned()],
        spans: vec![SpanSource::OtlpJson(file.clone())],
        outliers: 1,
        ..Default::default()
    };
    let out = analyze(&cfg).unwrap();
    let s = &out.analysis.scenarios[0];
    assert_eq!((s.coverage.requests, s.coverage.matched), (20, 20));
    let p = s.p95_split.unwrap();
    assert_eq!(
        (p.network_ms, p.handler_ms, p.cascade_ms, p.db_other_ms),
        (10.0, 23.0, 80.0, 5.0)
    );
    assert_eq!(s.cascade_statement.as_deref(), Some(COUNT));
    assert!(out.analysis.span_source.contains("traces.jsonl"));
}

#[test]
fn a_malformed_line_is_named_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let (r, s) = delete(0, 100, 10, 80, 5);
    write_run(dir.path(), &[r], &[], 1000.0);
    let file = dir.path().join("traces.jsonl");
    std::fs::write(
        &file,
        format!("{}\n{{\"resourceSpans\": [}}\n", line(&s, false)),
    )
    .unwrap();
    let cfg = AnalyzeConfig {
        run_dirs: vec![dir.path().to_owned()],
        spans: vec![SpanSource::OtlpJson(file)],
        ..Default::default()
    };
    let err = analyze(&cfg).err().unwrap().to_string();
    assert!(err.contains("traces.jsonl:2:"), "{err}");
    let mut bad = line(&s, false);
    bad = bad.replacen(&s[0].trace_id.to_string(), "abc", 1);
    std::fs::write(dir.path().join("traces.jsonl"), bad).unwrap();
    let cfg = AnalyzeConfig {
        run_dirs: vec![dir.path().to_owned()],
        spans: vec![SpanSource::OtlpJson(dir.path().join("traces.jsonl"))],
        ..Default::default()
    };
    let err = analyze(&cfg).err().unwrap().to_string();
    assert!(err.contains("traces.jsonl:1:"), "{err}");
}
