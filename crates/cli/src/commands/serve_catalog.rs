//! `tracesplit serve-catalog`.

use crate::args::ServeCatalogArgs;
use crate::{exit, signal};
use anyhow::Context;
use std::time::Duration;
use tracesplit_catalog_demo::{CatalogConfig, CatalogServer};
use tracesplit_telemetry::TelemetryConfig;

pub async fn run(args: ServeCatalogArgs) -> anyhow::Result<u8> {
    let grpc = tracesplit_telemetry::grpc_from_env()?;
    let telemetry = (!args.no_telemetry).then(|| {
        let mut t = TelemetryConfig::new("catalog-demo");
        t.endpoint = args.otlp_endpoint.clone();
        // OTEL_EXPORTER_OTLP_PROTOCOL=grpc, as the OpenTelemetry SDKs read it.
        t.grpc = grpc;
        t
    });
    let config = CatalogConfig {
        listen: args.listen,
        db_path: args.db,
        seed_cpus: args.seed_cpus,
        seed_listings: args.seed_listings,
        listing_index: !args.no_listing_index,
        handler_delay: Duration::from_millis(args.handler_delay_ms),
        queue_delay: Duration::from_millis(args.queue_delay_ms),
        telemetry,
        tls: args.tls.files(),
    };
    // Before the readiness line: a supervisor may signal as soon as it reads it.
    let stop = signal::interrupted();
    let catalog = CatalogServer::start(config)
        .await
        .context("cannot start the reference catalog")?;
    println!("catalog listening on {}", catalog.base_url());
    stop.await;
    let counts = catalog.shutdown().await;
    // A full export queue slows the handlers instead of dropping spans, so
    // what is missing here failed at the endpoint (often: exports of the
    // run's cleanup after its collector had stopped).
    let queue_dropped = counts
        .ended
        .saturating_sub(counts.exported)
        .saturating_sub(counts.failed);
    eprintln!(
        "catalog stopped; spans exported {} of {} ({} in exports that failed: the collector was down or refused; {queue_dropped} dropped from a full queue)",
        counts.exported, counts.ended, counts.failed
    );
    Ok(exit::OK)
}
