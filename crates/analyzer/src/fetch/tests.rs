use super::*;
use tracesplit_model::{SpanKind, SpanStatus};

/// The shape Jaeger 1.x's `/api/traces/{id}` answers (ids without leading zeros).
const JAEGER: &str = r#"{"data":[{"traceID":"af92f3577b34da6a3ce929d0e0e4736","spans":[
 {"traceID":"af92f3577b34da6a3ce929d0e0e4736","spanID":"f067aa0ba902b7","flags":1,"operationName":"DELETE /v1/catalog/cpus/{id}",
  "references":[{"refType":"CHILD_OF","traceID":"af92f3577b34da6a3ce929d0e0e4736","spanID":"53995c3f42cd8ad8"}],
  "startTime":1764239100000000,"duration":812000,
  "tags":[{"key":"otel.scope.name","type":"string","value":"tracesplit-catalog"},{"key":"span.kind","type":"string","value":"server"},
          {"key":"http.route","type":"string","value":"/v1/catalog/cpus/{id}"},{"key":"http.response.status_code","type":"int64","value":409},
          {"key":"otel.status_code","type":"string","value":"ERROR"},{"key":"internal.span.format","type":"string","value":"otlp"}],
  "logs":[],"processID":"p1","warnings":null},
 {"traceID":"af92f3577b34da6a3ce929d0e0e4736","spanID":"1111111111111111","flags":1,"operationName":"SELECT listing",
  "references":[{"refType":"CHILD_OF","traceID":"af92f3577b34da6a3ce929d0e0e4736","spanID":"f067aa0ba902b7"}],
  "startTime":1764239100001000,"duration":780000,
  "tags":[{"key":"span.kind","type":"string","value":"client"},{"key":"db.system.name","type":"string","value":"sqlite"},
          {"key":"db.query.text","type":"string","value":"SELECT count(*) FROM listing WHERE cpu_id = ?1"}],
  "logs":[],"processID":"p1","warnings":null}],
 "processes":{"p1":{"serviceName":"catalog-demo","tags":[{"key":"telemetry.sdk.language","type":"string","value":"rust"}]}},"warnings":null}],
 "total":0,"limit":0,"offset":0,"errors":null}"#;

#[test]
fn jaeger_traces_become_span_records() {
    let records = records_from_export(jaeger::to_export(JAEGER.as_bytes()).expect("parses"))
        .expect("converts");
    assert_eq!(records.len(), 2);
    let server = records
        .iter()
        .find(|r| r.kind == SpanKind::Server)
        .expect("server span");
    assert_eq!(
        server.trace_id.to_string(),
        "0af92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(
        server.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert_eq!(server.end_unix_nano - server.start_unix_nano, 812_000_000);
    assert_eq!(server.http_route.as_deref(), Some("/v1/catalog/cpus/{id}"));
    assert_eq!(server.http_status_code, Some(409));
    assert_eq!(server.status_code, SpanStatus::Error);
    assert_eq!(server.service_name, "catalog-demo");
    assert_eq!(server.scope_name, "tracesplit-catalog");
    let db = records
        .iter()
        .find(|r| r.kind == SpanKind::Client)
        .expect("db span");
    assert_eq!(
        db.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("00f067aa0ba902b7")
    );
    assert_eq!(db.db_system.as_deref(), Some("sqlite"));
    assert!(
        db.db_statement
            .as_deref()
            .unwrap_or("")
            .starts_with("SELECT count(*)")
    );
    assert!(jaeger::to_export(b"{\"data\": 5}").is_err());
}

/// Tempo's v1 answer: protobuf JSON, base64 ids, enum names, older field names.
const TEMPO_V1: &str = r#"{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"catalog-demo"}}]},
 "instrumentationLibrarySpans":[{"instrumentationLibrary":{"name":"tracesplit-catalog"},"spans":[
  {"traceId":"CvkvNXezTaajzpKdDg5HNg==","spanId":"APBnqgupArc=","parentSpanId":"U5lcP0LNitg=","name":"DELETE /v1/catalog/cpus/{id}",
   "kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1764239100000000000","endTimeUnixNano":"1764239100812000000",
   "attributes":[{"key":"http.response.status_code","value":{"intValue":"409"}}],"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}"#;

#[test]
fn tempo_v1_and_v2_answers_become_span_records() {
    let records = records_from_export(tempo::to_export(TEMPO_V1.as_bytes()).expect("parses"))
        .expect("converts");
    assert_eq!(records.len(), 1);
    let s = &records[0];
    assert_eq!(s.trace_id.to_string(), "0af92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(s.span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(
        s.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert_eq!(s.kind, SpanKind::Server);
    assert_eq!(s.status_code, SpanStatus::Error);
    assert_eq!(s.http_status_code, Some(409));
    assert_eq!(s.scope_name, "tracesplit-catalog");

    let v2 = TEMPO_V1
        .replacen("{\"batches\":", "{\"trace\":{\"resourceSpans\":", 1)
        .replace("instrumentationLibrarySpans", "scopeSpans")
        .replace("instrumentationLibrary", "scope")
        + "}";
    let again =
        records_from_export(tempo::to_export(v2.as_bytes()).expect("v2 parses")).expect("converts");
    assert_eq!(again, records);
    let bad = TEMPO_V1.replace("APBnqgupArc=", "AAAA");
    let e = tempo::to_export(bad.as_bytes()).expect_err("a 3-byte span id");
    assert!(e.to_string().contains("AAAA"), "{e}");
}

#[test]
fn backoff_doubles_and_honours_retry_after() {
    assert_eq!(backoff(1, None), Duration::from_millis(200));
    assert_eq!(backoff(9, None), Duration::from_secs(2));
    let h = reqwest::header::HeaderValue::from_static("3");
    assert_eq!(backoff(1, Some(&h)), Duration::from_secs(3));
}
