use super::*;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status, span::Event};

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("catalog".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "asgi".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn span(id: u8, parent: Option<u8>) -> Span {
    Span {
        trace_id: vec![0xab; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span {id}"),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        ..Default::default()
    }
}

#[test]
fn converts_ids_kinds_times_and_promoted_attributes_of_both_conventions() {
    let mut server = span(1, Some(9));
    server.attributes = vec![
        kv(
            "http.route",
            Value::StringValue("/v1/catalog/cpus/{cpu_id}".into()),
        ),
        kv("http.status_code", Value::IntValue(409)),
    ];
    server.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    server.events = vec![Event {
        name: "exception".into(),
        time_unix_nano: 3_000,
        ..Default::default()
    }];
    let mut db = span(2, Some(1));
    db.kind = 3;
    db.attributes = vec![
        kv("db.system", Value::StringValue("postgresql".into())),
        kv(
            "db.statement",
            Value::StringValue("SELECT count(listing.id)".into()),
        ),
        kv(
            "db.query.text",
            Value::StringValue("SELECT count(*) FROM listings".into()),
        ),
        kv("weight", Value::DoubleValue(0.5)),
    ];
    let records = records_from_export(request(vec![server, db])).unwrap();
    assert_eq!(records.len(), 2);
    let s = &records[0];
    assert_eq!(s.trace_id.to_string(), "ab".repeat(16));
    assert_eq!(s.span_id.to_string(), "01".repeat(8));
    assert_eq!(
        s.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("09".repeat(8).as_str())
    );
    assert_eq!(s.kind, SpanKind::Server);
    assert_eq!((s.start_unix_nano, s.end_unix_nano), (1_000, 5_000));
    assert_eq!(s.http_status_code, Some(409));
    assert_eq!(s.http_route.as_deref(), Some("/v1/catalog/cpus/{cpu_id}"));
    assert_eq!(s.status_code, SpanStatus::Error);
    assert_eq!(s.service_name, "catalog");
    assert_eq!(s.scope_name, "asgi");
    assert!(s.events_json.as_deref().unwrap().contains("\"exception\""));
    let d = &records[1];
    assert_eq!(d.kind, SpanKind::Client);
    assert_eq!(d.db_system.as_deref(), Some("postgresql"));
    // The current name wins when both are present.
    assert_eq!(
        d.db_statement.as_deref(),
        Some("SELECT count(*) FROM listings")
    );
    let attrs: serde_json::Value = serde_json::from_str(&d.attributes_json).unwrap();
    assert_eq!(attrs["weight"], 0.5);
    assert_eq!(attrs["db.system"], "postgresql");
}

#[test]
fn rejects_bad_ids_naming_the_span() {
    let mut bad = span(3, None);
    bad.span_id = vec![1, 2, 3];
    let err = records_from_export(request(vec![span(1, None), bad])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resourceSpans[0].scopeSpans[0].spans[1]: spanId: span id must be 8 bytes (16 hex digits), got 3 bytes"
    );
}

#[test]
fn json_escapes_and_nests() {
    let attrs = vec![
        kv("q", Value::StringValue("say \"hi\"\n".into())),
        kv(
            "list",
            Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::IntValue(1)),
                }],
            }),
        ),
    ];
    let text = attributes_to_json(&attrs);
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["q"], "say \"hi\"\n");
    assert_eq!(parsed["list"][0], 1);
}

#[test]
fn reverse_conversion_round_trips_the_essentials() {
    let mut s = span(1, Some(2));
    s.attributes = vec![kv("http.route", Value::StringValue("/x".into()))];
    let records = records_from_export(request(vec![s])).unwrap();
    let again = records_from_export(to_export_request(&records)).unwrap();
    assert_eq!(again, records);
}

#[test]
fn otlp_json_file_exporter_line_decodes() {
    // The shape an OpenTelemetry Collector's file exporter writes: hex ids,
    // string-encoded 64-bit integers, enum numbers.
    let line = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"scope":{"name":"asgi"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"GET /","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","attributes":[{"key":"http.status_code","value":{"intValue":"200"}}],"status":{}}]}]}]}"#;
    let req: ExportTraceServiceRequest = serde_json::from_str(line).unwrap();
    let records = records_from_export(req).unwrap();
    assert_eq!(records[0].http_status_code, Some(200));
    assert_eq!(records[0].start_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(records[0].kind, SpanKind::Server);
}
