//! Connections that never finish a request (a port scanner, a stuck client,
//! a slowloris) must not keep a collector from its work: they are closed
//! after the head deadline, and beyond the connection limit on arrival, while
//! valid exports keep being stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracesplit_collector::CollectorConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_exports_still_get_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::ephemeral(dir.path());
    config.limits = tracesplit_net::Limits {
        max_connections: 50,
        head_timeout: Duration::from_millis(300),
    };
    let handle = start_with(config).await;
    // 200 connections to each receiver that send nothing.
    let mut idle = Vec::new();
    for addr in [handle.http_addr(), handle.grpc_addr()] {
        for _ in 0..200 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
    }
    // Every one of them is closed: beyond the limit at once, the rest at the deadline.
    let started = Instant::now();
    for c in &mut idle {
        // The gRPC side greets first (HTTP/2 SETTINGS): read to the end.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "still open after 10 s");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let (over_limit, late, handshakes) = handle.turned_away();
    assert_eq!(over_limit + late, 400, "{over_limit} + {late}");
    assert!(
        late >= 100,
        "the first 50 per receiver wait for the deadline: {late}"
    );
    assert_eq!(handshakes, 0);
    // A valid export goes through on both transports.
    let r = post(&handle, "application/x-protobuf", protobuf(1, 3), &[]).await;
    assert_eq!(r.status(), 200);
    handle.shutdown().await.unwrap();
    assert_eq!(stored(dir.path()).len(), 3);
}
