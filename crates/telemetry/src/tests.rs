use super::*;
use opentelemetry::trace::TraceContextExt;
use tracing::instrument::WithSubscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[test]
fn header_lists_parse() {
    assert_eq!(
        parse_header_list("authorization=Bearer x, tenant = a ,bad,=v"),
        vec![
            ("authorization".into(), "Bearer x".into()),
            ("tenant".into(), "a".into())
        ]
    );
    assert_eq!(traces_url("http://h:4318/"), "http://h:4318/v1/traces");
    assert_eq!(
        traces_url("http://h:4318/v1/traces"),
        "http://h:4318/v1/traces"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_of_one_component_reach_its_collector_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let collector = tracesplit_collector::Collector::start(
        tracesplit_collector::CollectorConfig::ephemeral(dir.path()),
    )
    .await
    .unwrap();
    let telemetry =
        Telemetry::start(&TelemetryConfig::new("unit").with_endpoint(collector.http_endpoint()))
            .unwrap();
    let trace_id = async {
        let span = tracing::info_span!("outer", "otel.kind" = "client");
        let id = span.context().span().span_context().trace_id();
        span.in_scope(|| tracing::info_span!("inner").in_scope(|| ()));
        id
    }
    .with_subscriber(telemetry.dispatch().clone())
    .await;
    let counts = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    assert_eq!(
        counts,
        ExportCounts {
            ended: 2,
            exported: 2,
            failed: 0
        }
    );
    collector.flush().await.unwrap();
    let spans = tracesplit_store::read_span_dir(dir.path()).unwrap();
    assert_eq!(spans.len(), 2);
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id.to_string() == trace_id.to_string() && s.service_name == "unit")
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_counts_dropped_spans() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let telemetry =
        Telemetry::start(&TelemetryConfig::new("unit").with_endpoint(endpoint)).unwrap();
    async { tracing::info_span!("lost").in_scope(|| ()) }
        .with_subscriber(telemetry.dispatch().clone())
        .await;
    let counts = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    assert_eq!((counts.ended, counts.exported, counts.dropped()), (1, 0, 1));
}
