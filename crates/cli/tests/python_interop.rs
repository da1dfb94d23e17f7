//! Interoperability with the OpenTelemetry Python SDK's OTLP exporters (gRPC
//! and HTTP/protobuf) against `tracesplit collect`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use std::process::Command;
use support::*;
use tracesplit_model::SpanRecord;

fn export_with_python(
    protocol: &str,
    endpoint: &str,
    traces: usize,
    token: Option<&str>,
) -> Vec<Value> {
    let script = workspace_root().join("tests-support/python/export_spans.py");
    let mut cmd = Command::new(python());
    cmd.arg(script).args([
        "--protocol",
        protocol,
        "--endpoint",
        endpoint,
        "--traces",
        &traces.to_string(),
    ]);
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "python exporter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(expected: &[Value], stored: &[SpanRecord]) {
    assert_eq!(
        stored.len(),
        expected.len(),
        "exactly the exported spans are stored"
    );
    for e in expected {
        let s = stored
            .iter()
            .find(|s| s.span_id == e["span_id"].as_str().unwrap())
            .expect("span stored");
        assert_eq!(s.trace_id, e["trace_id"].as_str().unwrap());
        assert_eq!(s.parent_span_id.as_deref(), e["parent_span_id"].as_str());
        assert_eq!(s.name, e["name"].as_str().unwrap());
        assert_eq!(s.kind.as_str(), e["kind"].as_str().unwrap());
        assert_eq!(s.start_unix_nano, e["start_unix_nano"].as_i64().unwrap());
        assert_eq!(s.end_unix_nano, e["end_unix_nano"].as_i64().unwrap());
        let attrs: Value = serde_json::from_str(&s.attributes_json).unwrap();
        assert_eq!(attrs, e["attributes"], "attributes of {}", s.name);
        let events: Vec<Value> = s
            .events_json
            .as_deref()
            .map(|j| serde_json::from_str(j).unwrap())
            .unwrap_or_default();
        let names: Vec<&str> = events
            .iter()
            .map(|ev| ev["name"].as_str().unwrap())
            .collect();
        assert_eq!(Value::from(names), e["events"]);
        let links: Vec<Value> = s
            .links_json
            .as_deref()
            .map(|j| serde_json::from_str(j).unwrap())
            .unwrap_or_default();
        let link_ids: Vec<&str> = links
            .iter()
            .map(|l| l["span_id"].as_str().unwrap())
            .collect();
        assert_eq!(Value::from(link_ids), e["links"]);
    }
    // Promoted columns accept the old semantic-convention names the Python example uses.
    let db = stored.iter().find(|s| s.name == "SELECT items").unwrap();
    assert_eq!(db.db_system.as_deref(), Some("postgresql"));
    assert_eq!(
        db.db_statement.as_deref(),
        Some("SELECT count(id) FROM items")
    );
    let root = stored.iter().find(|s| s.parent_span_id.is_none()).unwrap();
    assert_eq!(root.http_status_code, Some(200));
}

#[test]
fn python_grpc_and_http_exporters_are_stored_exactly() {
    for protocol in ["grpc", "http"] {
        let dir = tempfile::tempdir().unwrap();
        let (collector, grpc, http) = collect(dir.path(), &["--auth-token", "tok"]);
        let endpoint = if protocol == "grpc" { grpc } else { http };
        let expected = export_with_python(protocol, &endpoint, 40, Some("tok"));
        assert_eq!(expected.len(), 120);
        let (code, _) = collector.terminate();
        assert_eq!(code, 0);
        let stored = tracesplit_store::read_span_dir(dir.path()).unwrap();
        assert!(
            stored
                .iter()
                .all(|s| s.service_name == format!("interop-python-{protocol}"))
        );
        check(&expected, &stored);
    }
}
