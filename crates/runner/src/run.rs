//! A whole run: health check, collector, fixtures, scenarios, cleanup, span
//! wait, summary — each result written as soon as it exists.

use crate::client::{ApiClient, ClientError};
use crate::fixtures::ledger::{Ledger, LedgerError};
use crate::fixtures::{CleanupReport, FixtureError, Fixtures, KeptSet};
use crate::progress::Progress;
use crate::record::{Recorder, TallySnapshot};
use crate::scenario::{RunState, ScenarioNames, ScenarioRun};
use crate::schedule::{Schedule, Stop, drive};
use crate::spans::{ClientSpans, ExportConfig, ExportCounts, SpanExportError};
use crate::suite::{Scenario, Suite};
use crate::{spanwait, summary};
use http::{HeaderMap, Method};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tracesplit_collector::{Collector, CollectorConfig, CollectorHandle, CollectorStats};
use tracesplit_model::RunManifest;
use tracesplit_model::manifest::{
    LEDGER_FILE, MANIFEST_FILE, REQUESTS_FILE, SPANS_DIR, ScenarioManifest,
};
use tracesplit_model::summary::{ScenarioResult, Summary};
use tracesplit_store::StoreError;

/// Where spans go.
pub enum Collect {
    /// A collector the caller started (the demo, tests): the runner sends its
    /// client spans there, waits for server spans, and shuts it down at the end.
    Running(Box<CollectorHandle>),
    /// Start the embedded collector on these addresses; store in `RUN_DIR/spans`.
    Embedded {
        /// OTLP/gRPC address.
        grpc: SocketAddr,
        /// OTLP/HTTP address.
        http: SocketAddr,
    },
    /// Spans go elsewhere (`--no-collect`); client spans to this OTLP/HTTP endpoint
    /// (`None`: OTEL_EXPORTER_OTLP_ENDPOINT or the OTLP default).
    External {
        /// OTLP/HTTP base URL.
        endpoint: Option<String>,
    },
}

/// Everything a run needs, validated by the caller.
pub struct RunConfig {
    /// API base URL.
    pub base_url: String,
    /// Extra request headers (auth); never written anywhere.
    pub headers: HeaderMap,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Scenarios to run.
    pub suite: Suite,
    /// How to drive each scenario.
    pub schedule: Schedule,
    /// Output directory.
    pub run_dir: PathBuf,
    /// Run id.
    pub run_id: String,
    /// `--list-volume`.
    pub list_volume: u64,
    /// Concurrent fixture creations.
    pub setup_concurrency: usize,
    /// Leave shared fixtures in place.
    pub keep_fixtures: bool,
    /// Reuse a kept fixture set.
    pub reuse_fixtures: Option<PathBuf>,
    /// Span collection.
    pub collect: Collect,
    /// Headers for the client spans' OTLP export.
    pub otlp_headers: Vec<(String, String)>,
    /// Quiet period that ends the wait for server spans.
    pub span_wait: Duration,
    /// Progress output.
    pub progress: Progress,
    /// Set on Ctrl-C: no new iteration starts.
    pub cancelled: Arc<AtomicBool>,
    /// This process's shard (its schedule already holds its share), recorded in the manifest.
    pub shard: Option<crate::shard::Shard>,
}

impl RunConfig {
    /// A run of `suite` against `base_url` with the defaults a caller usually
    /// keeps: 20 sequential iterations, 30 s timeout, a fresh run id, no extra
    /// headers, fixtures removed at the end, a 5 s span wait, no progress output.
    pub fn new(base_url: &str, suite: Suite, run_dir: PathBuf, collect: Collect) -> Self {
        Self {
            base_url: base_url.to_owned(),
            headers: HeaderMap::new(),
            timeout: Duration::from_secs(30),
            suite,
            schedule: Schedule::default(),
            run_dir,
            run_id: crate::new_run_id(),
            list_volume: 0,
            setup_concurrency: 8,
            keep_fixtures: false,
            reuse_fixtures: None,
            collect,
            otlp_headers: Vec::new(),
            span_wait: Duration::from_secs(5),
            progress: Progress::silent(),
            cancelled: Arc::new(AtomicBool::new(false)),
            shard: None,
        }
    }
}

/// What a run produced.
pub struct RunOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// `summary.json` as written.
    pub summary: Summary,
    /// `manifest.json` as written.
    pub manifest: RunManifest,
    /// The API stopped answering mid-run.
    pub api_down: bool,
    /// Ctrl-C stopped the run early.
    pub interrupted: bool,
    /// Fixture cleanup.
    pub cleanup: CleanupReport,
    /// Requests without server span when the wait ended (embedded collector only).
    pub missing_server_spans: Option<u64>,
    /// Client span export.
    pub client_spans: ExportCounts,
    /// Embedded collector counters.
    pub collector: Option<CollectorStats>,
    /// Rows in `requests.parquet`.
    pub requests: u64,
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The API did not answer the health check.
    #[error("cannot reach the API at {url}: {error} (is it running? check --base-url)")]
    Unreachable {
        /// Health URL.
        url: String,
        /// What happened.
        error: String,
    },
    /// The run directory cannot be used.
    #[error("run directory {path}: {message}")]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Bad base URL or header.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Writing requests.parquet failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The embedded collector could not start.
    #[error(
        "embedded collector: {0} (use --collector-grpc/--collector-http 127.0.0.1:0, or --no-collect)"
    )]
    Collector(#[from] tracesplit_collector::StartError),
    /// Client span export could not be configured.
    #[error(transparent)]
    Spans(#[from] SpanExportError),
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), RunError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RunError::RunDir {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| RunError::RunDir {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn scenario_manifest(s: &Scenario) -> ScenarioManifest {
    ScenarioManifest {
        entity_type: s.entity_type.clone(),
        operation: s.operation.clone(),
        target_ms: s.target_p95_ms,
        cascade_statement: s.cascade.statement.clone(),
        cascade_span: s.cascade.span.clone(),
        fixture_listings: s.fixture.as_ref().map(|f| f.listings),
    }
}

fn manifest(config: &RunConfig, embedded: bool) -> RunManifest {
    RunManifest {
        run_id: config.run_id.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at: summary::timestamp_now(),
        base_url: config.base_url.clone(),
        suite_name: config.suite.name.clone(),
        scenarios: config
            .suite
            .scenarios
            .iter()
            .map(|s| (s.name.clone(), scenario_manifest(s)))
            .collect(),
        runs_per_test: match config.schedule.stop {
            Stop::Iterations(n) => Some(n),
            Stop::Duration(_) => None,
        },
        embedded_collector: embedded,
        shard: config.shard.map(|s| s.to_string()),
        ..Default::default()
    }
}

async fn health(client: &ApiClient, progress: &Progress) -> Result<(), RunError> {
    let outcome = client.send(Method::GET, "/health", None, None).await;
    match outcome.status {
        0 => Err(RunError::Unreachable {
            url: client.url("/health"),
            error: outcome.error.unwrap_or_default(),
        }),
        200..=299 => Ok(()),
        s => {
            progress.line(&format!(
                "warning: GET {} answered {s}; continuing",
                client.url("/health")
            ));
            Ok(())
        }
    }
}

async fn start_collector(config: &mut RunConfig) -> Result<Option<CollectorHandle>, RunError> {
    match &config.collect {
        Collect::Running(_) => {
            let taken =
                std::mem::replace(&mut config.collect, Collect::External { endpoint: None });
            match taken {
                Collect::Running(handle) => Ok(Some(*handle)),
                _ => Ok(None),
            }
        }
        Collect::Embedded { grpc, http } => {
            let cfg = CollectorConfig {
                grpc_addr: *grpc,
                http_addr: *http,
                store_dir: config.run_dir.join(SPANS_DIR),
                track_server_parents: true,
                ..CollectorConfig::default()
            };
            Ok(Some(Collector::start(cfg).await?))
        }
        Collect::External { .. } => Ok(None),
    }
}

fn client_spans(
    config: &RunConfig,
    collector: Option<&CollectorHandle>,
) -> Result<ClientSpans, RunError> {
    let endpoint = match (&config.collect, collector) {
        (_, Some(c)) => Some(c.http_endpoint()),
        (Collect::External { endpoint }, None) => endpoint.clone(),
        (Collect::Embedded { .. } | Collect::Running(_), None) => None,
    };
    let mut export = ExportConfig::new(endpoint);
    export.headers = config.otlp_headers.clone();
    Ok(ClientSpans::start(export)?)
}

/// Runs the suite. Returns the outcome even when targets are missed, the API
/// died or Ctrl-C stopped it; `Err` only when the run could not happen at all.
pub async fn run(mut config: RunConfig) -> Result<RunOutcome, RunError> {
    let run_dir = config.run_dir.clone();
    let dir = &run_dir;
    std::fs::create_dir_all(dir).map_err(|e| RunError::RunDir {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    if dir.join(REQUESTS_FILE).exists() {
        return Err(RunError::RunDir {
            path: dir.clone(),
            message: "already holds a run; choose another --out".into(),
        });
    }
    let client = ApiClient::new(
        &config.base_url,
        config.headers.clone(),
        config.timeout,
        config.schedule.concurrency + config.setup_concurrency,
    )?;
    health(&client, &config.progress).await?;
    let collector = start_collector(&mut config).await?;
    let spans = client_spans(&config, collector.as_ref())?;
    let mut manifest = manifest(&config, collector.is_some());
    write_json(&dir.join(MANIFEST_FILE), &manifest)?;

    let ledger = Arc::new(Ledger::open(&dir.join(LEDGER_FILE))?);
    let kept = config
        .reuse_fixtures
        .as_deref()
        .map(KeptSet::open)
        .transpose()?;
    let fixtures = Fixtures::new(
        client.clone(),
        ledger.clone(),
        &config.run_id,
        config.setup_concurrency,
        config.progress.clone(),
    );
    let recorder = Recorder::start(&dir.join(REQUESTS_FILE))?;
    let state = Arc::new(RunState {
        client,
        fixtures: fixtures.clone(),
        run_id: config.run_id.clone(),
        records: recorder.sink(),
        spans: spans.clone(),
        conn_failures: AtomicU64::new(0),
        api_down: AtomicBool::new(false),
        anchor: (Instant::now(), SystemTime::now()),
    });

    let mut results = Vec::new();
    let mut notes = Vec::new();
    let mut responded = Vec::new();
    for scenario in &config.suite.scenarios {
        if config.cancelled.load(Relaxed) || state.api_down.load(Relaxed) {
            break;
        }
        let tally = measure(&config, scenario, &state, kept.as_ref(), &mut notes).await;
        responded.extend_from_slice(&tally.responded);
        let result = summary::scenario_result(scenario, &tally, config.schedule.rate.is_some());
        config.progress.line(&result_line(&result));
        results.push(result);
    }
    let api_down = state.api_down.load(Relaxed);
    let interrupted = config.cancelled.load(Relaxed);

    let cleanup = match fixtures.cleanup(&ledger, config.keep_fixtures).await {
        Ok(report) => report,
        Err(e) => {
            notes.push(format!("fixture cleanup stopped: {e}"));
            CleanupReport::default()
        }
    };
    let responded: Vec<String> = responded
        .into_iter()
        .map(crate::spans::hex_span_id)
        .collect();
    drop(state);
    let requests = recorder.finish()?;
    let s = spans.clone();
    let client_spans = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap_or_default();
    let (missing, collector_stats) = match collector {
        Some(c) => finish_collector(c, &responded, config.span_wait).await,
        None => (None, None),
    };
    notes.extend(run_notes(
        &config,
        api_down,
        interrupted,
        &cleanup,
        missing,
        &client_spans,
        spans.last_error(),
    ));

    let runs = manifest.runs_per_test.unwrap_or(0);
    let summary = summary::summary(
        &config.base_url,
        runs,
        &config.run_id,
        results,
        notes.clone(),
    );
    write_json(&dir.join("summary.json"), &summary)?;
    manifest.finished_at = summary::timestamp_now();
    manifest.client_spans_ended = client_spans.ended;
    manifest.client_spans_exported = client_spans.exported;
    manifest.missing_server_spans = missing;
    manifest.notes = notes;
    write_json(&dir.join(MANIFEST_FILE), &manifest)?;
    Ok(RunOutcome {
        run_dir: dir.clone(),
        summary,
        manifest,
        api_down,
        interrupted,
        cleanup,
        missing_server_spans: missing,
        client_spans,
        collector: collector_stats,
        requests,
    })
}

/// Sets up one scenario's fixtures and measures it; setup failures become a note and an empty tally.
async fn measure(
    config: &RunConfig,
    scenario: &Scenario,
    state: &Arc<RunState>,
    kept: Option<&KeptSet>,
    notes: &mut Vec<String>,
) -> TallySnapshot {
    let setup = setup(config, scenario, &state.fixtures, kept).await;
    let (fixture_id, pool) = match setup {
        Ok(v) => v,
        Err(e) => {
            config
                .progress
                .line(&format!("{}: setup failed: {e}", scenario.name));
            notes.push(format!("{}: setup failed: {e}", scenario.name));
            let mut t = TallySnapshot::default();
            t.errors.insert("setup".into(), 1);
            t.failed = 1;
            return t;
        }
    };
    let run = Arc::new(ScenarioRun {
        scenario: scenario.clone(),
        fixture_id,
        pool: Mutex::new(pool),
        tally: Default::default(),
        state: state.clone(),
        names: ScenarioNames::new(scenario, state),
    });
    let total = match config.schedule.stop {
        Stop::Iterations(n) => n,
        Stop::Duration(_) => 0,
    };
    let bar = config.progress.bar(&scenario.name, total);
    let (r, b) = (run.clone(), bar.clone());
    drive(config.schedule, config.cancelled.clone(), move |ticket| {
        let (run, bar) = (r.clone(), b.clone());
        async move {
            run.iteration(ticket).await;
            if !ticket.warmup {
                // Live percentiles cost a histogram walk: only when a bar shows them.
                bar.inc(if bar.visible() {
                    run.tally.live_line()
                } else {
                    None
                });
            }
        }
    })
    .await;
    bar.finish();
    run.tally.snapshot()
}

async fn setup(
    config: &RunConfig,
    scenario: &Scenario,
    fixtures: &Fixtures,
    kept: Option<&KeptSet>,
) -> Result<(Option<i64>, VecDeque<i64>), FixtureError> {
    let ledger = kept.map_or_else(|| fixtures.ledger(), |k| k.ledger.clone());
    if let (Some(entity), true) = (&scenario.volume_entity, config.list_volume > 0) {
        match kept {
            Some(k) => {
                k.volume(fixtures, entity, config.list_volume, &scenario.name)
                    .await?
            }
            None => {
                fixtures
                    .volume(&ledger, entity, config.list_volume, &scenario.name)
                    .await?
            }
        }
    }
    let shared = match kept {
        Some(k) => k.shared(fixtures, scenario).await?,
        None => fixtures.shared(scenario, &ledger).await?,
    };
    let pool_size = match config.schedule.stop {
        Stop::Iterations(n) => n + config.schedule.warmup,
        Stop::Duration(_) => 0,
    };
    let pool = fixtures.iteration_pool(scenario, pool_size).await?;
    Ok((shared, pool.into()))
}

async fn finish_collector(
    c: CollectorHandle,
    client_span_ids: &[String],
    quiet: Duration,
) -> (Option<u64>, Option<CollectorStats>) {
    let missing = spanwait::wait_for_server_spans(&c, client_span_ids, quiet).await as u64;
    match c.shutdown().await {
        Ok(stats) => (Some(missing), Some(stats)),
        Err(e) => {
            tracing::error!("embedded collector shutdown: {e}");
            (Some(missing), None)
        }
    }
}

fn result_line(r: &ScenarioResult) -> String {
    let verdict = if r.passed { "PASS" } else { "FAIL" };
    let mut line = format!(
        "{verdict} {:<34} p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms  target {:>6.0} ms  n={}",
        r.scenario, r.p50_ms, r.p95_ms, r.p99_ms, r.target_ms, r.runs
    );
    if r.failed_runs > 0 {
        let kinds: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        line.push_str(&format!(
            "  failed {} ({})",
            r.failed_runs,
            kinds.join(", ")
        ));
    }
    line
}

fn run_notes(
    config: &RunConfig,
    api_down: bool,
    interrupted: bool,
    cleanup: &CleanupReport,
    missing: Option<u64>,
    spans: &ExportCounts,
    export_error: Option<String>,
) -> Vec<String> {
    let mut notes = Vec::new();
    if api_down {
        notes.push(format!("the API at {} stopped answering mid-run; the remaining requests were counted as errors (api_unreachable)", config.base_url));
    }
    if interrupted {
        notes
            .push("interrupted (Ctrl-C): the scenarios after the interruption were not run".into());
    }
    if !cleanup.failed.is_empty() {
        notes.push(format!(
            "{} fixtures could not be removed (first: {} → {}); run `tracesplit cleanup {}` when the API is back",
            cleanup.failed.len(),
            cleanup.failed[0].0,
            cleanup.failed[0].1,
            config.run_dir.join(LEDGER_FILE).display()
        ));
    }
    if cleanup.kept > 0 {
        let ledger = config
            .reuse_fixtures
            .clone()
            .unwrap_or_else(|| config.run_dir.join(LEDGER_FILE));
        let ledger = ledger.display();
        notes.push(format!("{} fixtures kept: reuse them with --fixtures {ledger}, remove them with `tracesplit cleanup {ledger}`", cleanup.kept));
    }
    if spans.dropped() > 0 {
        let why = export_error.map_or_else(
            || "collector unreachable or overloaded".to_owned(),
            |e| format!("last error: {e}"),
        );
        notes.push(format!(
            "{} of {} client spans were not exported ({why})",
            spans.dropped(),
            spans.ended
        ));
    }
    if let Some(m) = missing.filter(|m| *m > 0) {
        notes.push(format!(
            "{m} requests have no server span (is the API exporting its spans to this collector?)"
        ));
    }
    notes
}
