//! `tracesplit demo`: the whole pipeline on embedded defaults.

use crate::args::DemoArgs;
use crate::commands::after_run::analyze_after_run;
use crate::commands::run::{Spans, cancel_on_signal, execute, exit_code};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tracesplit_catalog_demo::{CatalogConfig, CatalogServer};
use tracesplit_collector::{Collector, CollectorConfig};
use tracesplit_runner::Progress;
use tracesplit_runner::{Collect, RunConfig, suite};
use tracesplit_runner::{Schedule, Stop};

use tracesplit_telemetry::TelemetryConfig;

pub async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let run_id = tracesplit_runner::new_run_id();
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("tracesplit-runs").join(&run_id));
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let mut collector_config =
        CollectorConfig::ephemeral(run_dir.join(tracesplit_model::manifest::SPANS_DIR));
    collector_config.track_server_parents = true;
    let collector = Collector::start(collector_config)
        .await
        .context("cannot start the embedded collector")?;

    let mut suite = suite::load(None)?;
    suite
        .add_cascade_sweep_arg(args.cascade_sweep.as_deref())
        .map_err(anyhow::Error::msg)?;
    let index = if args.with_index { "ON" } else { "OFF" };
    eprintln!(
        "tracesplit demo: reference catalog in memory with {} listings and the listings index {index}{}",
        args.listings,
        if args.with_index {
            ""
        } else {
            " — deliberately, so the unindexed usage count dominates the 1000-listing delete (--with-index shows the difference)"
        }
    );
    let catalog = CatalogServer::start(CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        db_path: None,
        seed_cpus: 200,
        seed_listings: args.listings,
        listing_index: args.with_index,
        telemetry: Some(
            TelemetryConfig::new("catalog-demo").with_endpoint(collector.http_endpoint()),
        ),
        ..CatalogConfig::default()
    })
    .await
    .context("cannot start the reference catalog")?;
    eprintln!(
        "catalog on {} (seeded in {:.1} s), collector on {}",
        catalog.base_url(),
        started.elapsed().as_secs_f64(),
        collector.http_endpoint()
    );

    let config = RunConfig {
        schedule: Schedule {
            stop: Stop::Iterations(args.runs),
            ..Schedule::default()
        },
        run_id,
        progress: Progress::new(false),
        cancelled: {
            // The demo's API lives in this process: nothing outlives an abort.
            let flag = Arc::new(AtomicBool::new(false));
            cancel_on_signal(flag.clone(), Vec::new());
            flag
        },
        ..RunConfig::new(&catalog.base_url(), suite, run_dir, Collect::default())
    };
    let done = execute(config, Spans::Running(collector)).await;
    catalog.shutdown().await;
    let done = done?;
    // The demo always leaves its reports beside the run (unless told where).
    let reports = args.reports.defaulted_in(&done.outcome.run_dir);
    let failed =
        tokio::task::block_in_place(|| analyze_after_run(&done, &args.analysis, &reports, None))?;
    for (what, path) in [
        ("markdown", &reports.markdown),
        ("junit", &reports.junit),
        ("html", &reports.html),
    ] {
        if let Some(p) = path.as_ref().filter(|p| p.as_os_str() != "-") {
            println!("{:<10}{}", format!("{what}:"), p.display());
        }
    }
    eprintln!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(exit_code(&done.outcome, failed))
}
