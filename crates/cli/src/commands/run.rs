//! `tracesplit run`: CLI arguments → a validated `RunConfig` → the runner.

use crate::args::{AnalysisOptions, ReportOptions, RunArgs};
use crate::commands::analyze;
use crate::exit::{self, Unreachable};
use crate::signal;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracesplit_runner::client::parse_headers;
use tracesplit_runner::progress::Progress;
use tracesplit_runner::schedule::{Schedule, Stop};
use tracesplit_runner::shard::Shard;
use tracesplit_runner::{Collect, RunConfig, RunError, RunOutcome, suite};

/// Validates the arguments into a run configuration; nothing has run yet.
pub fn config(args: RunArgs, cancelled: Arc<AtomicBool>) -> anyhow::Result<RunConfig> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.runs == 0 && args.duration.is_none() {
        bail!("--runs must be at least 1");
    }
    if let Some(r) = args.rate.filter(|r| !(*r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of iterations per second, got {r}");
    }
    let mut suite = suite::load(args.suite.as_deref())?;
    // Before the selection, so `--scenario 'CASCADE_SWEEP_*'` runs the sweep alone.
    suite
        .add_cascade_sweep_arg(args.cascade_sweep.as_deref())
        .map_err(anyhow::Error::msg)?;
    suite
        .select(args.scenario.as_deref(), args.entity_type.as_deref())
        .map_err(anyhow::Error::msg)?;
    let run_id = tracesplit_runner::new_run_id();
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("tracesplit-runs").join(&run_id));
    let collect = if args.no_collect {
        Collect::External {
            endpoint: args.otlp_endpoint.clone(),
        }
    } else {
        if args.otlp_endpoint.is_some() {
            bail!(
                "--otlp-endpoint needs --no-collect (the embedded collector receives the client spans otherwise)"
            );
        }
        Collect::Embedded {
            grpc: args.collector_grpc,
            http: args.collector_http,
        }
    };
    let shard = match (&args.shard, args.shards) {
        (Some(text), _) => Some(Shard::parse(text).map_err(anyhow::Error::msg)?),
        (None, Some(n)) => Some(
            Shard::from_job_index(n, std::env::var("JOB_COMPLETION_INDEX").ok().as_deref())
                .map_err(anyhow::Error::msg)?,
        ),
        (None, None) => None,
    };
    let schedule = Schedule {
        stop: args
            .duration
            .map_or(Stop::Iterations(args.runs), Stop::Duration),
        concurrency: args.concurrency,
        rate: args.rate,
        warmup: args.warmup,
    };
    let schedule = shard.map_or(schedule, |s| s.apply(schedule));
    let otlp_headers = std::env::var("OTEL_EXPORTER_OTLP_HEADERS")
        .map(|h| tracesplit_telemetry::parse_header_list(&h))
        .unwrap_or_default();
    Ok(RunConfig {
        base_url: args.base_url.trim_end_matches('/').to_owned(),
        headers: parse_headers(&args.headers)?,
        timeout: args.timeout,
        suite,
        schedule,
        run_dir,
        run_id,
        list_volume: args.list_volume,
        setup_concurrency: args.setup_concurrency.max(1),
        setup_retry: tracesplit_runner::fixtures::Retry {
            max: args.setup_retries,
            ..Default::default()
        },
        keep_fixtures: args.keep_fixtures,
        reuse_fixtures: args.fixtures.clone(),
        collect,
        otlp_headers,
        span_wait: args.span_wait,
        progress: Progress::new(false),
        cancelled,
        shard,
    })
}

/// Ctrl-C sets the flag: no new iteration or fixture create starts; fixtures
/// are still removed. A second Ctrl-C aborts at once, after saying how to
/// remove the fixtures of the `ledgers` (none for an in-process API).
pub fn cancel_on_signal(cancelled: Arc<AtomicBool>, ledgers: Vec<PathBuf>) {
    let first = signal::interrupted();
    tokio::spawn(async move {
        first.await;
        eprintln!(
            "interrupted: finishing in-flight requests, then removing fixtures (Ctrl-C again to abort)"
        );
        cancelled.store(true, Ordering::Relaxed);
        signal::interrupted().await;
        if !ledgers.is_empty() {
            eprintln!(
                "aborted before cleanup: fixtures of this run may be left in the API; remove them with"
            );
            for l in &ledgers {
                eprintln!("  tracesplit cleanup {}", l.display());
            }
        }
        std::process::exit(i32::from(exit::INTERRUPTED));
    });
}

/// The ledgers a run writes fixtures to (its own, and a kept set's).
pub fn ledgers_of(config: &RunConfig) -> Vec<PathBuf> {
    let mut out = vec![config.run_dir.join(tracesplit_model::manifest::LEDGER_FILE)];
    out.extend(config.reuse_fixtures.clone());
    out
}

/// Runs and maps errors: an unreachable API is exit 3.
pub async fn execute(config: RunConfig) -> anyhow::Result<RunOutcome> {
    match tracesplit_runner::run(config).await {
        Ok(outcome) => Ok(outcome),
        Err(e @ RunError::Unreachable { .. }) => Err(Unreachable(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

/// Prints where everything is, and the notes.
pub fn report_files(outcome: &RunOutcome) {
    let dir = outcome.run_dir.display();
    println!(
        "requests: {dir}/requests.parquet ({} rows)",
        outcome.requests
    );
    if let Some(c) = &outcome.collector {
        println!("spans:    {dir}/spans ({} stored)", c.stored_spans);
    }
    println!("summary:  {dir}/summary.json");
    for note in &outcome.summary.notes {
        println!("note: {note}");
    }
}

/// Exit code of a finished run whose final summary has `failed` failing scenarios.
pub fn exit_code(outcome: &RunOutcome, failed: u64) -> u8 {
    if outcome.interrupted {
        exit::INTERRUPTED
    } else if outcome.api_down {
        exit::UNREACHABLE
    } else if failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// After a run whose collector ran: the analysis replaces the client-side
/// summary (same seed keys, plus the split). Returns the final summary's failed count.
pub fn analyze_after_run(
    outcome: &RunOutcome,
    options: &AnalysisOptions,
    reports: &ReportOptions,
    output: Option<&Path>,
) -> anyhow::Result<u64> {
    let client = &outcome.summary.summary;
    if outcome.collector.is_none() {
        write_output(&outcome.summary, output)?;
        println!(
            "{} of {} scenarios met their targets (client-side figures: spans were not collected here; \
             split them with `tracesplit analyze {} --spans DIR` or --otlp-json FILE)",
            client.passed,
            client.total_tests,
            outcome.run_dir.display()
        );
        return Ok(client.failed);
    }
    let cfg = analyze::config(vec![outcome.run_dir.clone()], Vec::new(), options);
    match analyze::analyze_and_write(
        &cfg,
        &outcome.run_dir,
        output,
        outcome.summary.notes.clone(),
    ) {
        Ok((out, summary)) => {
            analyze::write_reports(&out.analysis, reports)?;
            analyze::print_table(&out)?;
            Ok(summary.summary.failed)
        }
        Err(e) => {
            eprintln!(
                "warning: the analysis failed, summary.json keeps the client-side figures: {e:#}"
            );
            write_output(&outcome.summary, output)?;
            Ok(client.failed)
        }
    }
}

fn write_output(
    summary: &tracesplit_model::summary::Summary,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = output {
        let text = serde_json::to_string_pretty(summary)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write --output {}", path.display()))?;
    }
    Ok(())
}

pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let output = args.output.clone();
    let options = args.analysis.clone();
    let reports = args.reports.clone();
    let cancelled = Arc::new(AtomicBool::new(false));
    let config = config(args, cancelled.clone())?;
    cancel_on_signal(cancelled, ledgers_of(&config));
    let outcome = execute(config).await?;
    let failed = analyze_after_run(&outcome, &options, &reports, output.as_deref())?;
    report_files(&outcome);
    Ok(exit_code(&outcome, failed))
}
