//! `tracesplit collect`.

use crate::args::CollectArgs;
use crate::{exit, signal};
use anyhow::Context;
use tracesplit_collector::{Collector, CollectorConfig};

pub async fn run(args: CollectArgs) -> anyhow::Result<u8> {
    let config = CollectorConfig {
        grpc_addr: args.grpc,
        http_addr: args.http,
        store_dir: args.store,
        auth_token: args.auth_token,
        max_body: args.max_body,
        flush_interval: args.flush_interval,
        segment_spans: args.segment_spans,
        max_buffered_spans: args.max_buffered_spans,
        track_server_parents: false,
        limits: tracesplit_net::Limits {
            max_connections: args.max_connections,
            head_timeout: args.header_timeout,
        },
        tls: args.tls.files(),
    };
    if let Some(warning) = config.clear_text_token_warning() {
        eprintln!("{warning}");
    }
    let store = config.store_dir.clone();
    // Before any readiness line: a supervisor may signal as soon as it reads one.
    let stop = signal::interrupted();
    let collector = Collector::start(config)
        .await
        .context("cannot start the collector")?;
    println!("OTLP/gRPC listening on {}", collector.grpc_endpoint());
    println!("OTLP/HTTP listening on {}", collector.http_endpoint());
    println!("span store: {}", store.display());
    if collector.replayed_spans() > 0 {
        println!(
            "replayed {} spans from the write-ahead log",
            collector.replayed_spans()
        );
    }
    stop.await;
    let turned_away = collector.turned_away();
    let stats = collector.shutdown().await.context("collector shutdown")?;
    println!(
        "spans received {}, stored {}, rejected {} ({} exports refused)",
        stats.received_spans, stats.stored_spans, stats.rejected_spans, stats.rejected_exports
    );
    if turned_away != (0, 0, 0) {
        println!(
            "connections closed: {} at the connection limit, {} without a request head in time, {} failed TLS handshakes",
            turned_away.0, turned_away.1, turned_away.2
        );
    }
    Ok(if stats.store_errors > 0 {
        exit::USAGE
    } else {
        exit::OK
    })
}
