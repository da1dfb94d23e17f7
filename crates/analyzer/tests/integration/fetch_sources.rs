//! `analyze --jaeger` / `--tempo` against local HTTP servers that replay the
//! exact JSON shapes those APIs answer: the split equals the one from the span
//! store; busy answers (503, 429) are retried; a trace never found is reported
//! and its request counts as unmatched; a dead URL is `Unreachable`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracesplit_analyzer::fetch::{SourceAccess, TraceApi};
use tracesplit_analyzer::{AnalyzeConfig, AnalyzeError, SpanSource, analyze};
use tracesplit_model::{SpanKind, SpanRecord};

fn attrs(s: &SpanRecord) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(v) = &s.http_route {
        out.push(("http.route".into(), json!(v)));
    }
    if let Some(v) = s.http_status_code {
        out.push(("http.response.status_code".into(), json!(v)));
    }
    if let Some(v) = &s.db_system {
        out.push(("db.system.name".into(), json!(v)));
    }
    if let Some(v) = &s.db_statement {
        out.push(("db.query.text".into(), json!(v)));
    }
    out
}

fn kind_name(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        _ => "internal",
    }
}

/// Jaeger's `/api/traces/{id}` body (µs times, tags, references, processes; leading zeros dropped).
fn jaeger_body(spans: &[&SpanRecord]) -> Value {
    let strip = |s: &str| s.trim_start_matches('0').to_owned();
    let spans: Vec<Value> = spans.iter().map(|s| {
        let mut tags = vec![json!({"key": "span.kind", "type": "string", "value": kind_name(s.kind)})];
        for (k, v) in attrs(s) {
            let t = if v.is_number() { "int64" } else { "string" };
            tags.push(json!({"key": k, "type": t, "value": v}));
        }
        let refs: Vec<Value> = s.parent_span_id.iter().map(|p| json!({"refType": "CHILD_OF", "traceID": strip(&s.trace_id.to_string()), "spanID": strip(&p.to_string())})).collect();
        json!({"traceID": strip(&s.trace_id.to_string()), "spanID": strip(&s.span_id.to_string()), "flags": 1, "operationName": s.name,
               "references": refs, "startTime": s.start_unix_nano / 1000, "duration": (s.end_unix_nano - s.start_unix_nano) / 1000,
               "tags": tags, "logs": [], "processID": "p1", "warnings": null})
    }).collect();
    json!({"data": [{"traceID": strip(spans[0]["traceID"].as_str().unwrap()), "spans": spans,
        "processes": {"p1": {"serviceName": "catalog", "tags": []}}, "warnings": null}],
        "total": 0, "limit": 0, "offset": 0, "errors": null})
}

/// Tempo's `/api/v2/traces/{id}` body (protobuf JSON: base64 ids, enum names, string nanos).
fn tempo_body(spans: &[&SpanRecord]) -> Value {
    let b64 = |h: &str| base64::engine::general_purpose::STANDARD.encode(hex::decode(h).unwrap());
    let spans: Vec<Value> = spans.iter().map(|s| {
        let kind = match s.kind { SpanKind::Server => "SPAN_KIND_SERVER", SpanKind::Client => "SPAN_KIND_CLIENT", _ => "SPAN_KIND_INTERNAL" };
        let attributes: Vec<Value> = attrs(s).into_iter().map(|(k, v)| match v {
            Value::Number(n) => json!({"key": k, "value": {"intValue": n.to_string()}}),
            v => json!({"key": k, "value": {"stringValue": v}}),
        }).collect();
        let mut span = json!({"traceId": b64(&s.trace_id.to_string()), "spanId": b64(&s.span_id.to_string()), "name": s.name, "kind": kind,
            "startTimeUnixNano": s.start_unix_nano.to_string(), "endTimeUnixNano": s.end_unix_nano.to_string(),
            "attributes": attributes, "status": {}});
        if let Some(p) = &s.parent_span_id { span["parentSpanId"] = json!(b64(&p.to_string())); }
        span
    }).collect();
    json!({"trace": {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "catalog"}}]},
        "scopeSpans": [{"scope": {"name": "catalog"}, "spans": spans}]}]}})
}

struct Replay {
    bodies: HashMap<String, Value>,
    /// Answers 503, then 429, for the first two requests of every trace.
    busy_first: bool,
    hits: Mutex<HashMap<String, usize>>,
    requests: AtomicUsize,
    /// Headers (lowercase name, value) every request must carry, else 401.
    required: Vec<(String, String)>,
}

/// A one-thread HTTP/1.1 server on loopback port 0 answering `GET …/traces/{id}`.
fn serve(replay: Arc<Replay>) -> String {
    serve_with(replay, None)
}

/// As [`serve`], over TLS with `tls` (a rustls server configuration) when given.
fn serve_with(replay: Arc<Replay>, tls: Option<Arc<rustls::ServerConfig>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            match &tls {
                None => answer(stream, &replay),
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                        continue;
                    };
                    answer(rustls::StreamOwned::new(conn, stream), &replay);
                }
            }
        }
    });
    format!("{scheme}://localhost:{}", addr.port())
}

/// Reads one request from `stream` and answers it from `replay`.
fn answer<S: std::io::Read + Write>(stream: S, replay: &Replay) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let authorized = replay.required.iter().all(|r| headers.contains(r));
    replay.requests.fetch_add(1, Ordering::Relaxed);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let id = path
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let n = {
        let mut h = replay.hits.lock().unwrap();
        let e = h.entry(id.clone()).or_insert(0);
        *e += 1;
        *e
    };
    let (status, body) = match replay.bodies.get(&id) {
        _ if !authorized => ("401 Unauthorized", "who are you".to_owned()),
        _ if replay.busy_first && n == 1 => ("503 Service Unavailable", "busy".to_owned()),
        _ if replay.busy_first && n == 2 => ("429 Too Many Requests", "slow down".to_owned()),
        Some(b) => ("200 OK", b.to_string()),
        None => ("404 Not Found", "trace not found".to_owned()),
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// The test PKI (crates/net, rcgen) in `dir`; the server's configuration for localhost.
fn test_pki(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    tracesplit_net::test_pki::write_test_pki(dir).unwrap();
    tracesplit_net::TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_ca: None,
    }
    .server_config(&[b"http/1.1"])
    .unwrap()
}

fn run_with_spans(dir: &std::path::Path) -> Vec<SpanRecord> {
    let (requests, spans) = twenty_deletes_flat();
    write_run(dir, &requests, std::slice::from_ref(&spans), 1000.0);
    spans
}

fn bodies(
    spans: &[SpanRecord],
    skip: Option<&str>,
    body: fn(&[&SpanRecord]) -> Value,
) -> HashMap<String, Value> {
    let mut by_trace: HashMap<String, Vec<&SpanRecord>> = HashMap::new();
    for s in spans
        .iter()
        .filter(|s| s.kind != SpanKind::Client || s.db_system.is_some())
    {
        by_trace.entry(s.trace_id.to_string()).or_default().push(s);
    }
    by_trace
        .into_iter()
        .filter(|(t, _)| Some(t.as_str()) != skip)
        // Both APIs are asked with the full 32-digit hex id.
        .map(|(t, v)| (t, body(&v)))
        .collect()
}

fn config(dir: &std::path::Path, source: SpanSource) -> AnalyzeConfig {
    AnalyzeConfig {
        run_dirs: vec![dir.to_owned()],
        spans: vec![source],
        outliers: 3,
        span_wait: Duration::from_millis(600),
        fetch_concurrency: 4,
        ..Default::default()
    }
}

#[test]
fn jaeger_and_tempo_give_the_split_the_store_gives() {
    let dir = tempfile::tempdir().unwrap();
    let spans = run_with_spans(dir.path());
    let from_store = analyze(&AnalyzeConfig {
        run_dirs: vec![dir.path().to_owned()],
        outliers: 3,
        ..Default::default()
    })
    .unwrap();
    let want = from_store.analysis.scenarios[0].p95_split.unwrap();
    let pki = tempfile::tempdir().unwrap();
    let tls_config = test_pki(pki.path());
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("123456:glc_key")
    );
    // Both over https with the test CA: Jaeger behind a bearer token, a
    // multi-tenant Tempo with basic auth (Grafana Cloud's way); both with a
    // tenant header.
    for (api, body, auth) in [
        (
            TraceApi::Jaeger,
            jaeger_body as fn(&[&SpanRecord]) -> Value,
            "Bearer t0ken".to_owned(),
        ),
        (TraceApi::TempoV2, tempo_body, basic.clone()),
    ] {
        let required = vec![
            ("authorization".to_owned(), auth.clone()),
            ("x-scope-orgid".to_owned(), "team-a".to_owned()),
        ];
        let replay = Arc::new(Replay {
            bodies: bodies(&spans, None, body),
            busy_first: true,
            hits: Mutex::default(),
            requests: AtomicUsize::new(0),
            required: required.clone(),
        });
        let url = serve_with(replay.clone(), Some(tls_config.clone()));
        assert!(url.starts_with("https://"));
        let access = SourceAccess {
            headers: required,
            tls: tracesplit_net::client_tls::TlsOptions {
                cacert: Some(pki.path().join("ca.pem")),
                ..Default::default()
            },
        };
        assert!(
            !format!("{access:?}").contains("t0ken")
                && !format!("{access:?}").contains(&basic[6..])
        );
        let out = analyze(&config(dir.path(), SpanSource::Fetch { url, api, access })).unwrap();
        let s = &out.analysis.scenarios[0];
        assert_eq!(s.coverage.matched, 20, "{api:?}");
        assert_eq!(s.p95_split.unwrap(), want, "{api:?}");
        // 20 traces × (503, 429, 200).
        assert_eq!(replay.requests.load(Ordering::Relaxed), 60, "{api:?}");
        assert!(
            out.analysis
                .findings
                .iter()
                .all(|f| f.rule != "traces_missing")
        );
    }
}

#[test]
fn a_trace_never_found_is_reported_and_unmatched() {
    let dir = tempfile::tempdir().unwrap();
    let spans = run_with_spans(dir.path());
    let lost = spans[0].trace_id.to_string();
    let replay = Arc::new(Replay {
        bodies: bodies(&spans, Some(&lost), jaeger_body),
        busy_first: false,
        hits: Mutex::default(),
        requests: AtomicUsize::new(0),
        required: Vec::new(),
    });
    let url = serve(replay.clone());
    let out = analyze(&config(
        dir.path(),
        SpanSource::Fetch {
            url,
            api: TraceApi::Jaeger,
            access: SourceAccess::default(),
        },
    ))
    .unwrap();
    let s = &out.analysis.scenarios[0];
    assert_eq!((s.coverage.requests, s.coverage.matched), (20, 19));
    let f = out
        .analysis
        .findings
        .iter()
        .find(|f| f.rule == "traces_missing")
        .expect("a finding");
    assert!(
        f.detail.contains("1 of 20 traces") && f.detail.contains(&lost),
        "{}",
        f.detail
    );
    // The 404 was retried while the span wait allowed.
    assert!(replay.hits.lock().unwrap()[&lost] >= 3);
}

#[test]
fn a_dead_query_api_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    run_with_spans(dir.path());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Err(e) = analyze(&config(
        dir.path(),
        SpanSource::Fetch {
            url: format!("http://127.0.0.1:{port}"),
            api: TraceApi::TempoV2,
            access: SourceAccess::default(),
        },
    )) else {
        panic!("a dead query API must fail the analysis");
    };
    assert!(matches!(e, AnalyzeError::Unreachable(_)), "{e}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");
}
