//! OTLP/HTTP ingest end to end: protobuf, JSON, gzip, into Parquet segments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::io::Write;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_json_and_gzip_bodies_all_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let handle = start(dir.path()).await;

    let r = post(&handle, "application/x-protobuf", protobuf(1, 3), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");

    let json = serde_json::to_vec(&export(2, 2)).unwrap();
    let r = post(&handle, "application/json", json, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "{}");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&protobuf(3, 4)).unwrap();
    let r = post(
        &handle,
        "application/x-protobuf",
        gz.finish().unwrap(),
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(r.status(), 200);

    handle.flush().await.unwrap();
    let spans = stored(dir.path());
    assert_eq!(spans.len(), 9);
    let by_trace = |t: u8| {
        spans
            .iter()
            .filter(|s| s.trace_id.to_string() == format!("{t:02x}").repeat(16))
            .count()
    };
    assert_eq!((by_trace(1), by_trace(2), by_trace(3)), (3, 2, 4));
    let second = spans
        .iter()
        .find(|s| s.trace_id.to_string() == "01".repeat(16) && s.name == "span-1")
        .unwrap();
    assert_eq!(
        second.parent_span_id.map(|p| p.to_string()).as_deref(),
        Some("0000000000000001")
    );
    assert_eq!(second.service_name, "test");

    let stats = handle.shutdown().await.unwrap();
    assert_eq!(
        (
            stats.received_spans,
            stats.stored_spans,
            stats.accepted_exports
        ),
        (9, 9, 3)
    );
    assert!(
        !dir.path().join("wal").read_dir().unwrap().any(|_| true),
        "logs removed after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_are_written_by_time_without_an_explicit_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tracesplit_collector::CollectorConfig::ephemeral(dir.path());
    config.flush_interval = std::time::Duration::from_millis(100);
    let handle = start_with(config).await;
    assert_eq!(
        post(&handle, "application/x-protobuf", protobuf(1, 5), &[])
            .await
            .status(),
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored(dir.path()).len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "no segment was written by time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_are_written_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tracesplit_collector::CollectorConfig::ephemeral(dir.path());
    config.flush_interval = std::time::Duration::from_secs(3600);
    config.segment_spans = 10;
    let handle = start_with(config).await;
    // Two exports (12 spans) fill a segment; the next two go to the next one.
    // Waiting in between keeps all four from landing in one write-ahead
    // generation, which would (rightly) make one segment of 24.
    for (t, segments) in (1..=4).zip([0, 1, 1, 2]) {
        assert_eq!(
            post(&handle, "application/x-protobuf", protobuf(t, 6), &[])
                .await
                .status(),
            200
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while handle.stats().segments < segments {
            assert!(
                std::time::Instant::now() < deadline,
                "size trigger did not write segments"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let stats = handle.shutdown().await.unwrap();
    assert_eq!(stats.stored_spans, 24);
    assert_eq!(stored(dir.path()).len(), 24);
}
