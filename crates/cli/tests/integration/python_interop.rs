//! Interoperability with the OpenTelemetry Python SDK's OTLP exporters (gRPC
//! and HTTP/protobuf) against `tracesplit collect`, and of the runner's own
//! OTLP encoding with the official Python protobuf bindings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use serde_json::Value;
use std::process::Command;
use tracesplit_model::SpanRecord;

fn export_with_python(
    protocol: &str,
    endpoint: &str,
    traces: usize,
    token: Option<&str>,
) -> Vec<Value> {
    export_with_python_tls(protocol, endpoint, traces, token, None)
}

fn export_with_python_tls(
    protocol: &str,
    endpoint: &str,
    traces: usize,
    token: Option<&str>,
    cacert: Option<&std::path::Path>,
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
    if let Some(ca) = cacert {
        // requests prefers REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
        // environment over the exporter's own certificate_file (psf/requests#3829);
        // some machines set them.
        cmd.arg("--cacert")
            .arg(ca)
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE");
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
            .find(|s| s.span_id.to_string() == e["span_id"].as_str().unwrap())
            .expect("span stored");
        assert_eq!(s.trace_id.to_string(), e["trace_id"].as_str().unwrap());
        assert_eq!(
            s.parent_span_id.map(|p| p.to_string()).as_deref(),
            e["parent_span_id"].as_str()
        );
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

#[test]
fn python_grpc_and_http_exporters_reach_the_collector_over_tls() {
    let pki = tempfile::tempdir().unwrap();
    crate::tls_cli::make_pki(pki.path());
    let pem = |name: &str| pki.path().join(name);
    for protocol in ["grpc", "http"] {
        let dir = tempfile::tempdir().unwrap();
        let (collector, grpc, http) = collect(
            dir.path(),
            &[
                "--auth-token",
                "tok",
                "--tls-cert",
                pem("server.pem").to_str().unwrap(),
                "--tls-key",
                pem("server.key").to_str().unwrap(),
            ],
        );
        assert!(grpc.starts_with("https://") && http.starts_with("https://"));
        let endpoint = if protocol == "grpc" { grpc } else { http };
        let expected =
            export_with_python_tls(protocol, &endpoint, 10, Some("tok"), Some(&pem("ca.pem")));
        assert_eq!(expected.len(), 30);
        let (code, _) = collector.terminate();
        assert_eq!(code, 0);
        check(
            &expected,
            &tracesplit_store::read_span_dir(dir.path()).unwrap(),
        );
    }
}

/// Answers one OTLP/HTTP export with 200 and hands its body back.
fn capture_one_export() -> (String, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        body
    });
    (url, thread)
}

#[test]
fn the_runners_own_otlp_encoding_decodes_with_the_python_protobuf_bindings() {
    use tracesplit_runner::spans::{ClientSpans, ExportConfig, Kind, Span, SpanIds, Value as V};
    let (url, body) = capture_one_export();
    let spans = ClientSpans::start(ExportConfig::new(Some(url))).unwrap();
    let root = SpanIds::root();
    let child = root.child();
    let client = Span {
        trace_id: child.trace_id,
        span_id: child.span_id,
        parent_span_id: root.span_id,
        name: spans.name("GET /v1/cpus/{id}"),
        kind: Kind::Client,
        start_unix_nano: 1_764_000_000_000_000_001,
        end_unix_nano: 1_764_000_000_012_345_678,
        attributes: vec![
            ("http.request.method", V::Name(spans.name("GET"))),
            (
                "url.full",
                V::Owned("http://127.0.0.1:8000/v1/cpus/7?é=\"1\"".into()),
            ),
            ("http.response.status_code", V::Int(503)),
            ("tracesplit.warmup", V::Bool(false)),
            ("tracesplit.iteration", V::Int(-3)),
        ]
        .into_iter()
        .collect(),
        error: true,
    };
    spans.end(client);
    assert_eq!(spans.shutdown().exported, 1);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body.join().unwrap()).unwrap();
    let out = python_ok("decode_otlp.py", &[file.path()]);
    let request: Value = serde_json::from_str(&out).unwrap();
    let rs = &request["resourceSpans"][0];
    assert_eq!(
        rs["resource"]["attributes"][0],
        serde_json::json!({"key": "service.name", "value": {"stringValue": "tracesplit-runner"}})
    );
    assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "tracesplit-runner");
    let span = &rs["scopeSpans"][0]["spans"][0];
    // The JSON mapping shows ids as base64 and 64-bit integers as strings.
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    assert_eq!(span["traceId"], b64(&child.trace_id.to_be_bytes()));
    assert_eq!(span["spanId"], b64(&child.span_id.to_be_bytes()));
    assert_eq!(span["parentSpanId"], b64(&root.span_id.to_be_bytes()));
    assert_eq!(span["name"], "GET /v1/cpus/{id}");
    assert_eq!(span["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(span["startTimeUnixNano"], "1764000000000000001");
    assert_eq!(span["endTimeUnixNano"], "1764000000012345678");
    assert_eq!(span["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(
        span["attributes"],
        serde_json::json!([
            {"key": "http.request.method", "value": {"stringValue": "GET"}},
            {"key": "url.full", "value": {"stringValue": "http://127.0.0.1:8000/v1/cpus/7?é=\"1\""}},
            {"key": "http.response.status_code", "value": {"intValue": "503"}},
            {"key": "tracesplit.warmup", "value": {"boolValue": false}},
            {"key": "tracesplit.iteration", "value": {"intValue": "-3"}},
        ])
    );
}
