//! `tracesplit serve-catalog`.

use crate::args::ServeCatalogArgs;
use crate::{exit, signal};
use anyhow::Context;
use std::time::Duration;
use tracesplit_catalog_demo::{CatalogConfig, CatalogServer};
use tracesplit_telemetry::TelemetryConfig;

pub async fn run(args: ServeCatalogArgs) -> anyhow::Result<u8> {
    let telemetry = (!args.no_telemetry).then(|| {
        let mut t = TelemetryConfig::new("catalog-demo");
        t.endpoint = args.otlp_endpoint.clone();
        t
    });
    let config = CatalogConfig {
        listen: args.listen,
        db_path: args.db,
        seed_cpus: args.seed_cpus,
        seed_listings: args.seed_listings,
        listing_index: !args.no_listing_index,
        handler_delay: Duration::from_millis(args.handler_delay_ms),
        telemetry,
    };
    // Before the readiness line: a supervisor may signal as soon as it reads it.
    let stop = signal::interrupted();
    let catalog = CatalogServer::start(config)
        .await
        .context("cannot start the reference catalog")?;
    println!("catalog listening on {}", catalog.base_url());
    stop.await;
    let counts = catalog.shutdown().await;
    eprintln!(
        "catalog stopped; spans exported {} of {}",
        counts.exported, counts.ended
    );
    Ok(exit::OK)
}
