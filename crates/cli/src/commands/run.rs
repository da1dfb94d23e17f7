//! `tracesplit run`: CLI arguments → a validated `RunConfig` → the runner
//! (which records) → the analyzer (which judges) → the reports.

use crate::args::RunArgs;
use crate::commands::after_run::analyze_after_run;
use crate::exit::{self, Unreachable};
use crate::signal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracesplit_collector::{Collector, CollectorConfig, CollectorHandle};
use tracesplit_runner::Progress;
use tracesplit_runner::Shard;
use tracesplit_runner::parse_headers;
use tracesplit_runner::{Collect, RunConfig, RunError, RunOutcome, suite};
use tracesplit_runner::{DEFAULT_MAX_CONCURRENCY, Schedule, Stop};

/// Where the API's spans go: the embedded collector (on these addresses), a
/// collector a caller already started (the demo), or elsewhere.
pub enum Spans {
    /// Start the embedded collector; it stores in RUN_DIR/spans.
    Embedded {
        /// OTLP/gRPC address.
        grpc: SocketAddr,
        /// OTLP/HTTP address.
        http: SocketAddr,
    },
    /// A collector already running (stopped when the run ends).
    Running(CollectorHandle),
    /// `--no-collect`: client spans to this endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT).
    Elsewhere(Option<String>),
}

/// The largest `--rate` (iterations per second): beyond what one machine
/// can send, and where the schedule's spacing is below a nanosecond.
const MAX_RATE: f64 = 1_000_000.0;

/// Why the arguments make no run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--concurrency 0`.
    #[error("--concurrency must be at least 1")]
    Concurrency,
    /// `--runs 0` without `--duration`.
    #[error("--runs must be at least 1")]
    Runs,
    /// `--max-concurrency 0`.
    #[error("--max-concurrency must be at least 1")]
    MaxConcurrency,
    /// A rate no schedule can keep.
    #[error(
        "--rate must be a number of iterations per second of at least 0.001 and at most 1000000, got {0}"
    )]
    Rate(f64),
    /// `--health-path` that is not a path.
    #[error("--health-path {0:?}: a path starting with / (or none)")]
    HealthPath(String),
    /// `--otlp-endpoint` with the embedded collector.
    #[error(
        "--otlp-endpoint needs --no-collect (the embedded collector receives the client spans otherwise)"
    )]
    OtlpEndpoint,
    /// `--shard`/`--shards`.
    #[error(transparent)]
    Shard(#[from] tracesplit_runner::ShardError),
    /// `--scenario`, `--entity-type`, `--cascade-sweep`.
    #[error(transparent)]
    Selection(#[from] tracesplit_runner::suite::SelectionError),
}

/// The checks of the numbers, before anything is read or created.
fn check(args: &RunArgs) -> Result<(), ConfigError> {
    if args.concurrency == Some(0) {
        return Err(ConfigError::Concurrency);
    }
    if args.runs == 0 && args.duration.is_none() {
        return Err(ConfigError::Runs);
    }
    if args.max_concurrency == Some(0) {
        return Err(ConfigError::MaxConcurrency);
    }
    match args.rate {
        Some(r) if !((0.001..=MAX_RATE).contains(&r)) => Err(ConfigError::Rate(r)),
        _ => Ok(()),
    }
}

/// Validates the arguments into a run configuration; nothing has run yet
/// (and no directory exists yet).
pub fn config(args: RunArgs, cancelled: Arc<AtomicBool>) -> anyhow::Result<(RunConfig, Spans)> {
    check(&args)?;
    if let (Some(c), Some(_)) = (args.concurrency, args.rate) {
        // k6's users pass both; say which one bounds the open model.
        eprintln!(
            "note: --concurrency {c} does not limit an open model: with --rate the iterations in flight follow the rate, up to --max-concurrency ({})",
            args.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY)
        );
    }
    let mut suite = suite::load(args.suite.as_deref())?;
    // Before the selection, so `--scenario 'CASCADE_SWEEP_*'` runs the sweep alone.
    suite
        .add_cascade_sweep_arg(args.cascade_sweep.as_deref())
        .map_err(ConfigError::from)?;
    suite
        .select(args.scenario.as_deref(), args.entity_type.as_deref())
        .map_err(ConfigError::from)?;
    match args.health_path.as_deref() {
        None => {}
        Some("none") => suite.health = None,
        Some(p) if p.starts_with('/') => suite.health = Some(p.to_owned()),
        Some(p) => return Err(ConfigError::HealthPath(p.to_owned()).into()),
    }
    let run_id = tracesplit_runner::new_run_id();
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("tracesplit-runs").join(&run_id));
    let spans = if args.no_collect {
        Spans::Elsewhere(args.otlp_endpoint.clone())
    } else {
        if args.otlp_endpoint.is_some() {
            return Err(ConfigError::OtlpEndpoint.into());
        }
        Spans::Embedded {
            grpc: args.collector_grpc,
            http: args.collector_http,
        }
    };
    let shard = match (&args.shard, args.shards) {
        (Some(text), _) => Some(Shard::parse(text).map_err(ConfigError::from)?),
        (None, Some(n)) => Some(
            Shard::from_job_index(n, std::env::var("JOB_COMPLETION_INDEX").ok().as_deref())
                .map_err(ConfigError::from)?,
        ),
        (None, None) => None,
    };
    let schedule = Schedule {
        stop: args
            .duration
            .map_or(Stop::Iterations(args.runs), Stop::Duration),
        concurrency: args.concurrency.unwrap_or(1),
        max_concurrency: args.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY),
        rate: args.rate,
        warmup: args.warmup,
    };
    let schedule = shard.map_or(schedule, |s| s.apply(schedule));
    let otlp_headers = std::env::var("OTEL_EXPORTER_OTLP_HEADERS")
        .map(|h| tracesplit_telemetry::parse_header_list(&h))
        .unwrap_or_default();
    let config = RunConfig {
        base_url: args.base_url.trim_end_matches('/').to_owned(),
        headers: parse_headers(&args.headers)?,
        tls: args.tls.options(),
        http2: args.http2,
        timeout: args.timeout,
        suite,
        schedule,
        run_dir,
        run_id,
        list_volume: args.list_volume,
        setup_concurrency: args.setup_concurrency.max(1),
        setup_retry: tracesplit_runner::FixtureRetry {
            max: args.setup_retries,
            ..Default::default()
        },
        keep_fixtures: args.keep_fixtures,
        reuse_fixtures: args.fixtures.clone(),
        collect: Collect::default(),
        otlp_headers,
        span_wait: args.span_wait,
        progress: Progress::new(false),
        cancelled,
        shard,
        checked: None,
    };
    Ok((config, spans))
}

/// Ctrl-C sets the flag: no new iteration or fixture create starts; fixtures
/// are still removed. A second Ctrl-C aborts at once, after saying how to
/// remove the fixtures: the `cleanups` commands (none for an in-process API).
pub fn cancel_on_signal(cancelled: Arc<AtomicBool>, cleanups: Vec<String>) {
    // One listener for both: a second Ctrl-C right after the first is kept.
    let mut interrupts = signal::Interrupts::new();
    tokio::spawn(async move {
        interrupts.next().await;
        eprintln!(
            "interrupted: finishing in-flight requests, then removing fixtures (Ctrl-C again to abort)"
        );
        cancelled.store(true, Ordering::Relaxed);
        interrupts.next().await;
        if !cleanups.is_empty() {
            eprintln!(
                "aborted before cleanup: fixtures of this run may be left in the API; remove them with"
            );
            for c in &cleanups {
                eprintln!("  {c}");
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

fn runner_error(e: RunError) -> anyhow::Error {
    match e {
        e @ (RunError::Unreachable { .. }
        | RunError::Connect { .. }
        | RunError::Auth(tracesplit_runner::AuthError::Unreachable { .. })) => {
            Unreachable(e.to_string()).into()
        }
        e => e.into(),
    }
}

/// A finished run and what its collector stored.
pub struct Executed {
    /// What the runner recorded.
    pub outcome: RunOutcome,
    /// Spans the embedded (or given) collector stored, when there was one.
    pub stored_spans: Option<u64>,
}

/// Checks the API, creates the run directory, starts the collector when
/// asked, runs, and stops the collector. An unreachable API is exit 3 and
/// leaves no run directory.
pub async fn execute(mut config: RunConfig, spans: Spans) -> anyhow::Result<Executed> {
    // Checked once, before anything is created; the run reuses the client.
    config.checked = Some(
        tracesplit_runner::preflight(&config)
            .await
            .map_err(runner_error)?,
    );
    tracesplit_runner::open_run_dir(&config.run_dir).map_err(runner_error)?;
    let collector = match spans {
        Spans::Embedded { grpc, http } => Some(
            Collector::start(CollectorConfig {
                grpc_addr: grpc,
                http_addr: http,
                store_dir: config.run_dir.join(tracesplit_model::manifest::SPANS_DIR),
                track_server_parents: true,
                ..CollectorConfig::default()
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "embedded collector: {e} (use --collector-grpc/--collector-http 127.0.0.1:0, or --no-collect)"
                )
            })?,
        ),
        Spans::Running(c) => Some(c),
        Spans::Elsewhere(endpoint) => {
            config.collect = Collect::external(endpoint);
            None
        }
    };
    if let Some(c) = &collector {
        config.collect = Collect::embedded(c.span_index(), c.own_span_sink());
    }
    let outcome = tracesplit_runner::run(config).await;
    let stored_spans = match collector {
        Some(c) => match c.shutdown().await {
            Ok(stats) => Some(stats.stored_spans),
            Err(e) => {
                eprintln!("warning: the embedded collector did not shut down cleanly: {e}");
                None
            }
        },
        None => None,
    };
    Ok(Executed {
        outcome: outcome.map_err(runner_error)?,
        stored_spans,
    })
}

/// Exit code of a finished run whose analysis found `failed` failing scenarios.
pub fn exit_code(outcome: &RunOutcome, failed: u64) -> u8 {
    if !outcome.refused.is_empty() {
        exit::USAGE
    } else if outcome.interrupted {
        exit::INTERRUPTED
    } else if outcome.api_down {
        exit::UNREACHABLE
    } else if failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let output = args.output.clone();
    let options = args.analysis.clone();
    let reports = args.reports.clone();
    let cancelled = Arc::new(AtomicBool::new(false));
    let (config, spans) = config(args, cancelled.clone())?;
    let cleanups = ledgers_of(&config)
        .iter()
        .map(|l| config.cleanup_command(l))
        .collect();
    cancel_on_signal(cancelled, cleanups);
    let done = execute(config, spans).await?;
    let failed = tokio::task::block_in_place(|| {
        analyze_after_run(&done, &options, &reports, output.as_deref())
    })?;
    for refused in &done.outcome.refused {
        eprintln!("error: {refused}");
    }
    Ok(exit_code(&done.outcome, failed))
}
