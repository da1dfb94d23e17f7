#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::otlp::{Envelope, encode};
use super::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message;
use std::time::Duration;
use tracesplit_collector::{Collector, CollectorConfig};
use tracesplit_model::span::{SpanKind, SpanStatus};

/// The names [`client_span`] refers to, in registration order.
const NAMES: [&str; 2] = ["DELETE /v1/cpus/{id}", "DELETE"];

fn names() -> Vec<String> {
    NAMES.iter().map(|n| (*n).to_owned()).collect()
}

/// Registers [`NAMES`] with `spans`, checking they get the numbers the spans use.
fn register(spans: &ClientSpans) {
    for (i, n) in NAMES.iter().enumerate() {
        assert_eq!(spans.name(n), Name(i as u32));
    }
    assert_eq!(
        spans.name(NAMES[1]),
        Name(1),
        "the same text, the same name"
    );
}

fn client_span(parent: SpanIds, status: i64, error: bool) -> Span {
    let ids = parent.child();
    Span {
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        parent_span_id: parent.span_id,
        name: Name(0),
        kind: Kind::Client,
        start_unix_nano: 1_700_000_000_123_456_789,
        end_unix_nano: 1_700_000_000_223_456_789,
        attributes: [
            ("http.request.method", Value::Name(Name(1))),
            (
                "url.full",
                Value::Owned("http://127.0.0.1:8000/v1/cpus/42".into()),
            ),
            ("http.response.status_code", Value::Int(status)),
            ("tracesplit.warmup", Value::Bool(true)),
            ("url.shared", Value::Shared("http://h/x".into())),
        ]
        .into_iter()
        .collect(),
        error,
    }
}

fn envelope() -> Envelope {
    Envelope {
        resource: vec![(
            "service.name".into(),
            Value::Owned("tracesplit-runner".into()),
        )],
        scope_name: "tracesplit-runner".into(),
        scope_version: "9.9.9".into(),
    }
}

#[test]
fn the_encoding_decodes_with_the_generated_otlp_types() {
    let root = SpanIds::root();
    let spans = vec![
        client_span(root, 204, false),
        client_span(root, -1, true),
        Span {
            parent_span_id: 0,
            attributes: Attributes::new(),
            kind: Kind::Internal,
            // Not registered: encoded as "".
            name: Name(99),
            ..client_span(root, 0, false)
        },
    ];
    let mut out = Vec::new();
    encode(&envelope(), &names(), &spans, &mut Vec::new(), &mut out);
    let request = ExportTraceServiceRequest::decode(out.as_slice()).expect("valid protobuf");
    assert_eq!(request.resource_spans.len(), 1);
    let rs = &request.resource_spans[0];
    let resource = rs.resource.as_ref().unwrap();
    assert_eq!(resource.attributes[0].key, "service.name");
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("tracesplit-runner", "9.9.9")
    );
    let decoded = &rs.scope_spans[0].spans;
    assert_eq!(decoded.len(), 3);
    for (d, s) in decoded.iter().zip(&spans) {
        assert_eq!(d.trace_id, s.trace_id.to_be_bytes());
        assert_eq!(d.span_id, s.span_id.to_be_bytes());
        let parent = if s.parent_span_id == 0 {
            Vec::new()
        } else {
            s.parent_span_id.to_be_bytes().to_vec()
        };
        assert_eq!(d.parent_span_id, parent);
        assert_eq!(
            d.name,
            names().get(s.name.0 as usize).map_or("", |n| n.as_str())
        );
        assert_eq!(d.kind, s.kind as i32);
        assert_eq!(
            (d.start_time_unix_nano, d.end_time_unix_nano),
            (s.start_unix_nano, s.end_unix_nano)
        );
        assert_eq!(d.status.as_ref().map(|st| st.code), s.error.then_some(2));
        let attrs: Vec<(String, Any)> = d
            .attributes
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
            .collect();
        let expected: Vec<(String, Any)> = s
            .attributes
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Name(n) => Any::StringValue(names()[n.0 as usize].clone()),
                    Value::Owned(t) => Any::StringValue(t.clone()),
                    Value::Shared(t) => Any::StringValue(t.to_string()),
                    Value::Int(i) => Any::IntValue(*i),
                    Value::Bool(b) => Any::BoolValue(*b),
                };
                ((*k).to_owned(), v)
            })
            .collect();
        assert_eq!(attrs, expected);
    }
}

#[test]
fn long_values_and_many_spans_keep_their_lengths_right() {
    // Lengths over 127 and 16383 bytes need two- and three-byte varints.
    let root = SpanIds::root();
    let mut span = client_span(root, 200, false);
    span.attributes
        .push(("url.full", Value::Owned("x".repeat(20_000))));
    let spans = vec![span; 300];
    let mut out = Vec::new();
    encode(&envelope(), &names(), &spans, &mut Vec::new(), &mut out);
    let request = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
    let decoded = &request.resource_spans[0].scope_spans[0].spans;
    assert_eq!(decoded.len(), 300);
    assert!(decoded.iter().all(|d| d.attributes.len() == 6));
}

#[test]
fn ids_and_traceparent_are_w3c_hex() {
    let ids = SpanIds {
        trace_id: 0x0af7651916cd43dd8448eb211c80319c,
        span_id: 0x00f067aa0ba902b7,
    };
    assert_eq!(
        traceparent(ids).as_str(),
        "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
    );
    let max = SpanIds {
        trace_id: u128::MAX,
        span_id: 1,
    };
    assert_eq!(
        traceparent(max).as_str(),
        format!("00-{}-0000000000000001-01", "f".repeat(32))
    );
    assert_eq!(hex_trace_id(1), format!("{:032x}", 1));
    assert_eq!(hex_span_id(u64::MAX), "ffffffffffffffff");
    let a = SpanIds::root();
    let b = a.child();
    assert_eq!(a.trace_id, b.trace_id);
    assert_ne!(a.span_id, b.span_id);
    assert_ne!(SpanIds::root().trace_id, a.trace_id);
}

fn export_config(endpoint: String) -> ExportConfig {
    let mut c = ExportConfig::new(Some(endpoint));
    c.interval = Duration::from_millis(20);
    c.timeout = Duration::from_secs(2);
    c.retry = ExportRetry {
        retries: 3,
        first: Duration::from_millis(5),
        cap: Duration::from_millis(20),
    };
    c
}

/// When each export request reached a [`scripted_collector`].
type Arrivals = std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>;

fn seen(arrivals: &Arrivals) -> usize {
    arrivals.lock().unwrap().len()
}

/// A collector stand-in that answers the n-th export request with `answers[n]`
/// (the last one from then on); returns its URL and when requests came.
async fn scripted_collector(answers: &'static [&'static str]) -> (String, Arrivals) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let arrivals = Arrivals::default();
    let log = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 1 << 16];
                // One request per read is enough for these small exports.
                while matches!(c.read(&mut buf).await, Ok(n) if n > 0) {
                    let k = {
                        let mut log = log.lock().unwrap();
                        log.push(std::time::Instant::now());
                        log.len() - 1
                    };
                    let answer = answers[k.min(answers.len() - 1)];
                    if c.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (url, arrivals)
}

const BUSY: &str =
    "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\n\r\n";
const TOO_MANY: &str = "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n\r\n";
const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
const BAD: &str = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

async fn export_one(url: String) -> (ExportCounts, Option<String>) {
    export_one_with(export_config(url)).await
}

async fn export_one_with(config: ExportConfig) -> (ExportCounts, Option<String>) {
    let spans = ClientSpans::start(config).unwrap();
    spans.end(client_span(SpanIds::root(), 200, false));
    let s = spans.clone();
    let counts = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap();
    (counts, spans.last_error())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_collector_is_retried_and_a_refusal_is_not() {
    // 503 with Retry-After, then 429 without: retried, then taken.
    let (url, arrivals) = scripted_collector(&[BUSY, TOO_MANY, OK]).await;
    let (counts, error) = export_one(url).await;
    assert_eq!((counts.exported, counts.failed), (1, 0), "{error:?}");
    assert_eq!(seen(&arrivals), 3);
    // 400: the payload is refused, sending it again cannot help.
    let (url, arrivals) = scripted_collector(&[BAD]).await;
    let (counts, error) = export_one(url).await;
    assert_eq!((counts.exported, counts.failed), (0, 1));
    assert_eq!(seen(&arrivals), 1);
    assert!(error.unwrap().ends_with("answered 400"));
    // Busy for good: the retries are bounded (1 + 3) and said; the next
    // batch is tried once (the collector is known to be down).
    let (url, arrivals) = scripted_collector(&[BUSY]).await;
    let spans = ClientSpans::start(export_config(url)).unwrap();
    spans.end(client_span(SpanIds::root(), 200, false));
    let waited = std::time::Instant::now();
    while spans.counts().failed == 0 && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen(&arrivals), 4);
    assert!(
        spans
            .last_error()
            .unwrap()
            .ends_with("answered 503 (after 3 retries)")
    );
    spans.end(client_span(SpanIds::root(), 200, false));
    let s = spans.clone();
    let counts = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap();
    assert_eq!((counts.exported, counts.failed), (0, 2));
    assert_eq!(seen(&arrivals), 5);
}

const BUSY_FOR_A_SECOND: &str =
    "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n";
const BUSY_FOR_AN_HOUR: &str =
    "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3600\r\ncontent-length: 0\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collectors_retry_after_is_waited_for_up_to_the_cap() {
    // Retry-After: 1 — the retry waits the second the collector asked for,
    // not the 5 ms backoff of the test's configuration.
    let (url, arrivals) = scripted_collector(&[BUSY_FOR_A_SECOND, OK]).await;
    let mut config = export_config(url);
    config.retry.cap = Duration::from_secs(5);
    let (counts, error) = export_one_with(config).await;
    assert_eq!((counts.exported, counts.failed), (1, 0), "{error:?}");
    let at = arrivals.lock().unwrap().clone();
    assert_eq!(at.len(), 2);
    let waited = at[1] - at[0];
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    // Retry-After: 3600 is cut to the cap (20 ms here): three retries and
    // the batch is counted failed, long before an hour.
    let (url, arrivals) = scripted_collector(&[BUSY_FOR_AN_HOUR]).await;
    let started = std::time::Instant::now();
    let (counts, error) = export_one(url).await;
    assert_eq!((counts.exported, counts.failed), (0, 1));
    assert_eq!(seen(&arrivals), 4);
    assert!(error.unwrap().ends_with("answered 429 (after 3 retries)"));
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// An embedded collector storing in `dir`, and an export config pointing at it.
async fn collector_and_config(
    dir: &std::path::Path,
) -> (tracesplit_collector::CollectorHandle, ExportConfig) {
    let collector = Collector::start(CollectorConfig::ephemeral(dir))
        .await
        .unwrap();
    let config = export_config(collector.http_endpoint());
    (collector, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_collector_with_their_attributes_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (collector, mut config) = collector_and_config(dir.path()).await;
    config.batch = 7;
    let spans = ClientSpans::start(config).unwrap();
    register(&spans);
    let root = SpanIds::root();
    let sent: Vec<Span> = (0..20)
        .map(|i| client_span(root, 200 + i, i == 3))
        .collect();
    for s in &sent {
        spans.end(s.clone());
    }
    let s = spans.clone();
    let counts = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap();
    assert_eq!((counts.ended, counts.exported, counts.failed), (20, 20, 0));
    assert_eq!(spans.last_error(), None);
    let stats = collector.shutdown().await.unwrap();
    assert_eq!(stats.stored_spans, 20);
    let stored = tracesplit_store::read_span_dir(dir.path()).unwrap();
    let three = stored
        .iter()
        .find(|r| r.span_id.to_string() == hex_span_id(sent[3].span_id))
        .expect("span stored");
    assert_eq!(three.trace_id.to_string(), hex_trace_id(root.trace_id));
    assert_eq!(
        three.parent_span_id.map(|p| p.to_string()),
        Some(hex_span_id(root.span_id))
    );
    assert_eq!(three.kind, SpanKind::Client);
    assert_eq!(three.status_code, SpanStatus::Error);
    assert_eq!(three.http_status_code, Some(203));
    assert_eq!(three.service_name, "tracesplit-runner");
    assert_eq!(three.start_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(three.name, NAMES[0]);
    let attrs: serde_json::Value = serde_json::from_str(&three.attributes_json).unwrap();
    assert_eq!(attrs["http.request.method"], NAMES[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_refusing_endpoint_counts_failures_and_names_them() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let spans = ClientSpans::start(export_config(url.clone())).unwrap();
    spans.end(client_span(SpanIds::root(), 200, false));
    let s = spans.clone();
    let counts = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap();
    assert_eq!((counts.ended, counts.exported, counts.failed), (1, 0, 1));
    let error = spans.last_error().unwrap();
    assert!(
        error.contains(&format!("{url}/v1/traces")) && error.contains("refused"),
        "{error}"
    );

    // An endpoint that answers, but not 2xx: the spans are not exported either.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = vec![0u8; 1 << 16];
            let _ = c.read(&mut buf).await;
            let _ = c
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let spans = ClientSpans::start(export_config(format!("http://{addr}/otlp/"))).unwrap();
    spans.end(client_span(SpanIds::root(), 200, false));
    let s = spans.clone();
    let counts = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap();
    assert_eq!((counts.exported, counts.failed), (0, 1));
    let error = spans.last_error().unwrap();
    assert!(error.contains("/otlp/v1/traces answered 503"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_exports_what_is_queued_and_stops_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (collector, mut config) = collector_and_config(dir.path()).await;
    config.interval = Duration::from_secs(3600);
    let spans = ClientSpans::start(config).unwrap();
    register(&spans);
    spans.end(client_span(SpanIds::root(), 200, false));
    // Dropping the last handle stops the export thread and waits for its last
    // export; without the stop it would sleep through the hour-long interval
    // (dropped on a detached thread: a test that fails must not hang as well).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(spans);
        let _ = tx.send(());
    });
    let joined = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(joined.is_ok(), "the export thread did not stop");
    assert_eq!(collector.shutdown().await.unwrap().stored_spans, 1);
}

#[test]
fn bad_endpoints_and_headers_are_rejected_before_anything_runs() {
    for (endpoint, says) in [
        ("https//collector:4318", "OTLP endpoint"),
        ("not a url", "OTLP endpoint"),
        ("ftp://collector", "http://"),
    ] {
        let e = ClientSpans::start(ExportConfig::new(Some(endpoint.into()))).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(says) && text.contains("--otlp-endpoint"),
            "{endpoint}: {text}"
        );
    }
    // An https collector (a hosted one) is accepted: the system's trust store.
    assert!(
        ClientSpans::start(ExportConfig::new(Some(
            "https://collector.example:4318".into()
        )))
        .is_ok()
    );
    let mut c = ExportConfig::new(Some("http://127.0.0.1:4318".into()));
    c.headers = vec![("bad header".into(), "x".into())];
    assert!(matches!(
        ClientSpans::start(c),
        Err(SpanExportError::Header(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_over_grpc_and_gzipped_over_both() {
    for (protocol, gzip) in [
        (ExportProtocol::Grpc, false),
        (ExportProtocol::Grpc, true),
        (ExportProtocol::HttpProtobuf, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let collector = Collector::start(CollectorConfig::ephemeral(dir.path()))
            .await
            .unwrap();
        let endpoint = match protocol {
            ExportProtocol::Grpc => collector.grpc_endpoint(),
            ExportProtocol::HttpProtobuf => collector.http_endpoint(),
        };
        let mut config = export_config(endpoint);
        config.protocol = protocol;
        config.gzip = gzip;
        config.batch = 3;
        let spans = ClientSpans::start(config).unwrap();
        register(&spans);
        let root = SpanIds::root();
        for i in 0..7 {
            spans.end(client_span(root, 200 + i, false));
        }
        let s = spans.clone();
        let counts = tokio::task::spawn_blocking(move || s.shutdown())
            .await
            .unwrap();
        assert_eq!(
            (counts.exported, counts.failed),
            (7, 0),
            "{protocol:?} gzip {gzip}: {:?}",
            spans.last_error()
        );
        let stats = collector.shutdown().await.unwrap();
        assert_eq!(stats.stored_spans, 7, "{protocol:?} gzip {gzip}");
    }
}
