//! The measured phase: each scenario's fixtures, then its schedule, with a
//! live progress line; what could not be measured is recorded with its reason.

use super::{RunConfig, RunError};
use crate::fixtures::{
    FixtureError, FixtureId, Fixtures, KeptSet, SetupCounters, Watch, measured_requests,
    setup_requests,
};
use crate::record::TallySnapshot;
use crate::scenario::{RunState, ScenarioNames, ScenarioRun};
use crate::schedule::{Driven, Stop, drive_until};
use crate::suite::Scenario;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracesplit_model::internal::Locked;
use tracesplit_model::manifest::{ScheduleSummary, SetupSummary};

/// What the scenarios gave, before cleanup and the span wait.
pub(super) struct Measured {
    pub notes: Vec<String>,
    pub api_down: bool,
    pub interrupted: bool,
    /// What each scenario's setup did.
    pub setups: BTreeMap<String, SetupSummary>,
    /// Open model: how each scenario kept its schedule.
    pub schedules: BTreeMap<String, ScheduleSummary>,
    /// Scenarios with no measured request, and why.
    pub not_measured: BTreeMap<String, String>,
    /// Scenarios the API refused (a 4xx the suite does not expect), and what it answered.
    pub refused: Vec<String>,
}

/// Why the scenarios after `stop` did not run.
fn stopped_because(config: &RunConfig, state: &RunState) -> Option<&'static str> {
    if state.ledger_failure.locked().is_some() {
        Some("the run stopped before it: the fixture ledger could not be written")
    } else if state.api_down.load(Relaxed) {
        Some("the API stopped answering before it")
    } else if config.cancelled.load(Relaxed) {
        Some("the run was interrupted (Ctrl-C) before it")
    } else if state.refused.locked().is_some() {
        Some("the run stopped before it: the API refused the run's credentials (401/403)")
    } else {
        None
    }
}

/// Measures the scenarios in order until all ran, the API died or Ctrl-C.
pub(super) async fn measure_suite(
    config: &RunConfig,
    state: &Arc<RunState>,
    kept: Option<&KeptSet>,
    watch: &mut Watch,
) -> Result<Measured, RunError> {
    let mut m = Measured {
        notes: Vec::new(),
        api_down: false,
        interrupted: false,
        setups: BTreeMap::new(),
        schedules: BTreeMap::new(),
        not_measured: BTreeMap::new(),
        refused: Vec::new(),
    };
    for scenario in &config.suite.scenarios {
        if let Some(why) = stopped_because(config, state) {
            m.not_measured.insert(scenario.name.clone(), why.into());
            continue;
        }
        let (tally, setup, failed, driven) = measure(config, scenario, state, kept, watch).await?;
        if let (Some(rate), Some(d)) = (config.schedule.rate, driven) {
            let summary = ScheduleSummary {
                rate,
                max_concurrency: config.schedule.max_concurrency as u64,
                peak_concurrency: d.peak_concurrency as u64,
                late_starts: d.late_starts,
            };
            if d.late_starts > 0 {
                m.notes
                    .push(format!("{}: {}", scenario.name, summary.describe()));
            }
            m.schedules.insert(scenario.name.clone(), summary);
        }
        if let Some((why, refused)) = failed {
            if refused {
                m.refused.push(format!("{}: {why}", scenario.name));
            }
            m.notes.push(format!("{}: {why}", scenario.name));
            m.not_measured.insert(scenario.name.clone(), why);
        } else {
            config.progress.line(&done_line(scenario, &tally));
        }
        if setup.created + setup.reconciled + setup.retries > 0 || !setup.existing_rows.is_empty() {
            let rows = setup.existing_rows.iter();
            m.notes
                .extend(rows.map(|r| format!("{}: {r}", scenario.name)));
            if let Some(made) = setup.made_while_measured() {
                m.notes.push(format!("{}: fixtures: {made}", scenario.name));
            }
            m.setups.insert(scenario.name.clone(), setup);
        }
    }
    m.api_down = state.api_down.load(Relaxed);
    m.interrupted = config.cancelled.load(Relaxed) && state.ledger_failure.locked().is_none();
    Ok(m)
}

/// `done CPU_PATCH_SINGLE_FIELD: 20 requests, 0 failed · live p50 ≈ 1.9 ms · p95 ≈ 3.4 ms`.
fn done_line(scenario: &Scenario, t: &TallySnapshot) -> String {
    let mut line = format!(
        "done {:<34} {} requests, {} failed",
        scenario.name,
        t.measured + t.failed,
        t.failed
    );
    if let (Some(p50), Some(p95)) = (t.p50_ms, t.p95_ms) {
        line.push_str(&format!(" · live p50 ≈ {p50:.2} ms · p95 ≈ {p95:.2} ms"));
    }
    if !t.errors.is_empty() {
        let kinds: Vec<String> = t.errors.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        line.push_str(&format!(" ({})", kinds.join(", ")));
    }
    line
}

/// A scenario's live tally, what its setup did, why it was not measured
/// (when its setup failed or the API refused it: then `true`), and how its
/// schedule went (when it ran).
type Measurement = (
    TallySnapshot,
    SetupSummary,
    Option<(String, bool)>,
    Option<Driven>,
);

/// Sets up one scenario's fixtures and measures it. Returns its live tally,
/// what the setup did, and why it was not measured when its setup failed.
async fn measure(
    config: &RunConfig,
    scenario: &Scenario,
    state: &Arc<RunState>,
    kept: Option<&KeptSet>,
    watch: &mut Watch,
) -> Result<Measurement, RunError> {
    let counters = Arc::new(SetupCounters::default());
    let started = Instant::now();
    let setup = setup(config, scenario, &state.fixtures, kept, &counters).await;
    let seconds = started.elapsed().as_secs_f64();
    if !watch.is_empty() {
        let phase = format!("the setup of {}", scenario.name);
        let cause = setup_requests(&config.suite, scenario);
        watch.check(&state.fixtures, &phase, &cause).await;
    }
    let (fixture_id, pool) = match setup {
        Ok(v) => v,
        Err(e) => {
            if let FixtureError::Ledger(e) = &e {
                state.ledger_failed(e.to_string());
            }
            // A setup that failed because the API is gone stops the run like
            // measured requests that cannot connect do.
            if state.client.reach().await.is_err() {
                state.api_down.store(true, Relaxed);
            }
            // A 4xx answer to a create is a refusal: the run's credentials
            // (401/403: nothing after it can work) or the suite's body.
            let refused = match &e {
                FixtureError::Api { answer, .. } => {
                    let status: u16 = answer
                        .split(' ')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if matches!(status, 401 | 403) {
                        state.refused.locked().get_or_insert(e.to_string());
                    }
                    (400..500).contains(&status)
                }
                _ => false,
            };
            let why = match e {
                FixtureError::Cancelled => "interrupted (Ctrl-C) during its fixture setup".into(),
                e => format!("setup failed: {e}"),
            };
            config.progress.line(&format!("{}: {why}", scenario.name));
            return Ok((
                TallySnapshot::default(),
                counters.summary(seconds),
                Some((why, refused)),
                None,
            ));
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
        names: ScenarioNames::new(scenario, state)?,
        refusals: Default::default(),
    });
    let (tally, driven) = drive_scenario(config, &run).await;
    if !watch.is_empty() {
        let phase = format!("the measured requests of {}", scenario.name);
        watch
            .check(&state.fixtures, &phase, &measured_requests(scenario))
            .await;
    }
    let refused = run.refusals.reason().map(|r| {
        (
            format!(
                "the API refused its first {} requests: {r}",
                crate::refusal::REFUSALS
            ),
            true,
        )
    });
    Ok((tally, counters.summary(seconds), refused, Some(driven)))
}

/// Runs a scenario's schedule with a progress bar; returns its live tally.
async fn drive_scenario(config: &RunConfig, run: &Arc<ScenarioRun>) -> (TallySnapshot, Driven) {
    let total = match config.schedule.stop {
        Stop::Iterations(n) => n,
        Stop::Duration(_) => 0,
    };
    let bar = config.progress.bar(&run.scenario.name, total);
    let (r, b) = (run.clone(), bar.clone());
    let producer = crate::scenario::keep_fixtures_ahead(run, config);
    let halted = run.refusals.halted.clone();
    let driven = drive_until(
        config.schedule,
        config.cancelled.clone(),
        halted,
        move |ticket| {
            let (run, bar) = (r.clone(), b.clone());
            async move {
                run.iteration(ticket).await;
                if !ticket.warmup {
                    // The live line costs a histogram walk: only when a bar or a
                    // plain progress line shows it.
                    bar.inc(if bar.wants_message() {
                        run.tally.live_line()
                    } else {
                        None
                    });
                }
            }
        },
    )
    .await;
    if let Some((done, p)) = producer {
        // Let a create in flight finish and be ledgered: cut off, its row
        // would be made without the run knowing it (the sweep's "lost
        // answers"). The fixtures left in the pool are removed at cleanup.
        done.store(true, Relaxed);
        let _ = p.await;
    }
    bar.finish();
    (run.tally.snapshot(), driven)
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
    let pool = fixtures
        .iteration_pool(scenario, pool_size(config), counters)
        .await?;
    Ok((shared, pool.into()))
}

/// Per-iteration fixtures created before measuring: every iteration's when
/// the run is counted or timed at a rate (the schedule stops after
/// rate × duration iterations; 2 % more for a margin); for a timed closed
/// run, a start the producer keeps ahead of.
pub(crate) fn pool_size(config: &RunConfig) -> u64 {
    let s = &config.schedule;
    match (s.stop, s.rate) {
        (Stop::Iterations(n), _) => n + s.warmup,
        (Stop::Duration(d), Some(rate)) => {
            let n = (rate * d.as_secs_f64()).ceil() as u64 + 1;
            n + n.div_ceil(50) + s.warmup
        }
        (Stop::Duration(_), None) => crate::scenario::AHEAD as u64,
    }
}
