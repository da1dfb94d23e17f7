//! A whole run: health check, collector, fixtures, scenarios, cleanup, span
//! wait, summary — each result written as soon as it exists.

mod config;
mod written;

pub use config::{Collect, RunConfig, RunError, RunOutcome};

use crate::client::ApiClient;
use crate::fixtures::ledger::Ledger;
use crate::fixtures::{
    CleanupReport, FixtureError, FixtureId, FixtureSettings, Fixtures, KeptSet, SetupCounters,
    Watch, measured_requests, setup_requests,
};
use crate::progress::Progress;
use crate::record::{Recorder, TallySnapshot};
use crate::scenario::{RunState, ScenarioNames, ScenarioRun};
use crate::schedule::{Stop, drive};
use crate::spans::{ClientSpans, ExportConfig, ExportCounts};
use crate::suite::Scenario;
use crate::{spanwait, summary};
use http::Method;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracesplit_collector::{Collector, CollectorConfig, CollectorHandle, CollectorStats};
use tracesplit_model::RunManifest;
use tracesplit_model::manifest::{
    LEDGER_FILE, MANIFEST_FILE, REQUESTS_FILE, SPANS_DIR, SetupSummary,
};
use tracesplit_model::summary::{ScenarioResult, Summary};
use written::{manifest, result_line, run_notes, write_json};

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
    let dir = config.run_dir.clone();
    open_run_dir(&dir)?;
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
    let (fixtures, kept) = open_fixtures(&config, client.clone(), ledger.clone()).await?;
    let mut watch = Watch::start(&fixtures, &config.suite).await;
    // From here on an early return still completes requests.parquet (its Drop).
    let recorder = Recorder::start(&dir.join(REQUESTS_FILE))?;
    let state = Arc::new(RunState::new(
        client,
        fixtures.clone(),
        &config.run_id,
        recorder.sink(),
        spans.clone(),
        config.cancelled.clone(),
    ));
    let mut measured = measure_suite(&config, &state, kept.as_ref(), &mut watch).await;
    let kept_ledger = kept.as_ref().map(|k| k.ledger.clone());
    let cleanup = cleanup(
        &fixtures,
        &ledger,
        config.keep_fixtures,
        kept_ledger.as_deref(),
        &mut measured.notes,
    )
    .await;
    if !watch.is_empty() {
        watch
            .check(&fixtures, "cleanup", "the cleanup's DELETE requests")
            .await;
    }
    let ledger_failure = state.ledger_failure.lock().ok().and_then(|mut f| f.take());
    drop(state);
    let requests = recorder.finish()?;
    let ended = end_spans(&config, &spans, collector, &measured.responded).await;
    let notes = run_notes(&config, &measured, &cleanup, &ended, spans.last_error());
    measured.notes.extend(notes);
    measured.notes.extend(watch.problems.iter().cloned());
    measured
        .notes
        .extend(watch.side_effects().iter().map(|s| s.describe()));
    manifest.side_effects = watch.side_effects().to_vec();
    let summary = write_results(&config, &mut manifest, &measured, &ended)?;
    if let Some(error) = ledger_failure {
        return Err(RunError::LedgerFailed {
            path: ledger.path().to_owned(),
            error,
        });
    }
    Ok(RunOutcome {
        run_dir: dir,
        summary,
        manifest,
        api_down: measured.api_down,
        interrupted: measured.interrupted,
        cleanup,
        missing_server_spans: ended.missing,
        client_spans: ended.client_spans,
        collector: ended.collector,
        requests,
    })
}

/// The run's fixtures, and the kept set it reuses (its shared fixtures adopted).
async fn open_fixtures(
    config: &RunConfig,
    client: ApiClient,
    ledger: Arc<Ledger>,
) -> Result<(Fixtures, Option<KeptSet>), RunError> {
    let kept = config
        .reuse_fixtures
        .as_deref()
        .map(KeptSet::open)
        .transpose()?;
    let fixtures = Fixtures::new(
        client,
        ledger,
        &config.suite,
        FixtureSettings {
            run_id: config.run_id.clone(),
            concurrency: config.setup_concurrency,
            retry: config.setup_retry,
            progress: config.progress.clone(),
            cancelled: config.cancelled.clone(),
        },
    )?;
    if let Some(k) = &kept {
        // The kept set's ledger gets this run's kinds and tag too, so
        // `cleanup` of the set sweeps for every run that added to it.
        k.ledger.begin(&config.run_id, &config.suite.kinds)?;
        k.adopt_shared(&fixtures).await?;
    }
    Ok((fixtures, kept))
}

/// Creates the run directory; refuses one that already holds a run.
fn open_run_dir(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::RunDir {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    if dir.join(REQUESTS_FILE).exists() {
        return Err(RunError::RunDir {
            path: dir.to_owned(),
            message: "already holds a run; choose another --out".into(),
        });
    }
    Ok(())
}

/// What the scenarios gave, before cleanup and the span wait.
struct Measured {
    results: Vec<ScenarioResult>,
    notes: Vec<String>,
    /// Client span ids of requests that got an answer (their server spans are awaited).
    responded: Vec<String>,
    api_down: bool,
    interrupted: bool,
    /// What each scenario's setup did.
    setups: BTreeMap<String, SetupSummary>,
}

/// Measures the scenarios in order until all ran, the API died or Ctrl-C.
async fn measure_suite(
    config: &RunConfig,
    state: &Arc<RunState>,
    kept: Option<&KeptSet>,
    watch: &mut Watch,
) -> Measured {
    let (mut results, mut notes, mut responded) = (Vec::new(), Vec::new(), Vec::new());
    let mut setups = BTreeMap::new();
    for scenario in &config.suite.scenarios {
        if config.cancelled.load(Relaxed) || state.api_down.load(Relaxed) {
            break;
        }
        let (tally, setup) = measure(config, scenario, state, kept, watch, &mut notes).await;
        responded.extend_from_slice(&tally.responded);
        let mut result = summary::scenario_result(scenario, &tally, config.schedule.rate.is_some());
        if setup.created + setup.reconciled + setup.retries > 0 || !setup.existing_rows.is_empty() {
            notes.extend(
                setup
                    .existing_rows
                    .iter()
                    .map(|r| format!("{}: {r}", scenario.name)),
            );
            result.setup = Some(setup.clone());
            setups.insert(scenario.name.clone(), setup);
        }
        config.progress.line(&result_line(&result));
        results.push(result);
    }
    Measured {
        results,
        notes,
        responded: responded
            .into_iter()
            .map(crate::spans::hex_span_id)
            .collect(),
        api_down: state.api_down.load(Relaxed),
        interrupted: config.cancelled.load(Relaxed)
            && state.ledger_failure.lock().is_ok_and(|f| f.is_none()),
        setups,
    }
}

/// Removes the run's fixtures (or keeps the shared ones); a cleanup that
/// stopped becomes a note.
async fn cleanup(
    fixtures: &Fixtures,
    ledger: &Ledger,
    keep: bool,
    kept: Option<&Ledger>,
    notes: &mut Vec<String>,
) -> CleanupReport {
    fixtures
        .cleanup(ledger, keep, kept)
        .await
        .unwrap_or_else(|e| {
            notes.push(format!("fixture cleanup stopped: {e}"));
            CleanupReport::default()
        })
}

/// How the span side ended: client export counts, the server-span wait.
struct SpansEnded {
    client_spans: ExportCounts,
    missing: Option<u64>,
    collector: Option<CollectorStats>,
}

/// Stops the client span export (after a last one), then waits for server
/// spans and stops the embedded collector.
async fn end_spans(
    config: &RunConfig,
    spans: &ClientSpans,
    collector: Option<CollectorHandle>,
    responded: &[String],
) -> SpansEnded {
    let s = spans.clone();
    let client_spans = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap_or_default();
    let (missing, collector) = match collector {
        Some(c) => finish_collector(c, responded, config.span_wait).await,
        None => (None, None),
    };
    SpansEnded {
        client_spans,
        missing,
        collector,
    }
}

/// Writes `summary.json` and the completed `manifest.json`.
fn write_results(
    config: &RunConfig,
    manifest: &mut RunManifest,
    measured: &Measured,
    ended: &SpansEnded,
) -> Result<Summary, RunError> {
    let summary = summary::summary(
        &config.base_url,
        manifest.runs_per_test.unwrap_or(0),
        &config.run_id,
        measured.results.clone(),
        measured.notes.clone(),
    );
    write_json(&config.run_dir.join("summary.json"), &summary)?;
    manifest.finished_at = summary::timestamp_now();
    manifest.client_spans_ended = ended.client_spans.ended;
    manifest.client_spans_exported = ended.client_spans.exported;
    manifest.missing_server_spans = ended.missing;
    manifest.notes = measured.notes.clone();
    for (name, setup) in &measured.setups {
        if let Some(m) = manifest.scenarios.get_mut(name) {
            m.setup = Some(setup.clone());
        }
    }
    write_json(&config.run_dir.join(MANIFEST_FILE), manifest)?;
    Ok(summary)
}

/// Sets up one scenario's fixtures and measures it; setup failures become a
/// note and an empty tally. Returns the tally and what the setup did.
async fn measure(
    config: &RunConfig,
    scenario: &Scenario,
    state: &Arc<RunState>,
    kept: Option<&KeptSet>,
    watch: &mut Watch,
    notes: &mut Vec<String>,
) -> (TallySnapshot, SetupSummary) {
    let counters = Arc::new(SetupCounters::default());
    let started = Instant::now();
    let setup = setup(config, scenario, &state.fixtures, kept, &counters).await;
    let seconds = started.elapsed().as_secs_f64();
    if !watch.is_empty() {
        let phase = format!("the setup of {}", scenario.name);
        watch
            .check(
                &state.fixtures,
                &phase,
                &setup_requests(&config.suite, scenario),
            )
            .await;
    }
    let (fixture_id, pool) = match setup {
        Ok(v) => v,
        Err(e) => {
            if let FixtureError::Ledger(e) = &e {
                state.ledger_failed(e.to_string());
            }
            config
                .progress
                .line(&format!("{}: setup failed: {e}", scenario.name));
            notes.push(format!("{}: setup failed: {e}", scenario.name));
            let mut t = TallySnapshot::default();
            t.errors.insert("setup".into(), 1);
            t.failed = 1;
            return (t, counters.summary(seconds));
        }
    };
    let run = Arc::new(ScenarioRun {
        scenario: scenario.clone(),
        fixture_id,
        pool: Mutex::new(pool),
        shared: state.fixtures.shared_ids(),
        setup: counters.clone(),
        tally: Default::default(),
        state: state.clone(),
        names: ScenarioNames::new(scenario, state),
    });
    let tally = drive_scenario(config, &run).await;
    if !watch.is_empty() {
        let phase = format!("the measured requests of {}", scenario.name);
        watch
            .check(&state.fixtures, &phase, &measured_requests(scenario))
            .await;
    }
    (tally, counters.summary(seconds))
}

/// Runs a scenario's schedule with a progress bar; returns its tally.
async fn drive_scenario(config: &RunConfig, run: &Arc<ScenarioRun>) -> TallySnapshot {
    let total = match config.schedule.stop {
        Stop::Iterations(n) => n,
        Stop::Duration(_) => 0,
    };
    let bar = config.progress.bar(&run.scenario.name, total);
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
    counters: &SetupCounters,
) -> Result<(Option<FixtureId>, VecDeque<FixtureId>), FixtureError> {
    let ledger = kept.map_or_else(|| fixtures.ledger(), |k| k.ledger.clone());
    let needs = config.suite.shared_needs(scenario);
    fixtures
        .ensure_shared(&needs, &ledger, &scenario.name, counters)
        .await?;
    if let (Some(kind), true) = (&scenario.volume_entity, config.list_volume > 0) {
        match kept {
            Some(k) => {
                k.volume(fixtures, kind, config.list_volume, &scenario.name, counters)
                    .await?
            }
            None => {
                fixtures
                    .volume(&ledger, kind, config.list_volume, &scenario.name, counters)
                    .await?
            }
        }
    }
    let shared = match kept {
        Some(k) => k.shared(fixtures, scenario, counters).await?,
        None => fixtures.shared(scenario, &ledger, counters).await?,
    };
    let pool_size = match config.schedule.stop {
        Stop::Iterations(n) => n + config.schedule.warmup,
        Stop::Duration(_) => 0,
    };
    let pool = fixtures
        .iteration_pool(scenario, pool_size, counters)
        .await?;
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
