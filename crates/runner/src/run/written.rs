//! The run's records about itself: `manifest.json` (what was asked, how it
//! went, the notes that explain what went wrong) and the line that says up
//! front how long the run will take.

use super::RunConfig;
use super::{Measured, RunError, SpansEnded};
use crate::fixtures::CleanupReport;
use crate::schedule::Stop;
use crate::suite::Scenario;
use std::path::Path;
use tracesplit_model::RunManifest;
use tracesplit_model::manifest::{LEDGER_FILE, ScenarioManifest, ScheduleRecord};

pub(super) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), RunError> {
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
        // An empty classifier: the suite declares none (a suite starts from
        // nothing); the analysis then marks no span as the check.
        cascade_statement: Some(s.cascade.statement.clone().unwrap_or_default()),
        cascade_span: Some(s.cascade.span.clone().unwrap_or_default()),
        fixture_listings: s.fixture.as_ref().map(|f| f.children),
        setup: None,
        not_measured: None,
        schedule: None,
    }
}

pub(super) fn manifest(config: &RunConfig) -> RunManifest {
    let schedule = &config.schedule;
    RunManifest {
        run_id: config.run_id.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at: crate::timestamp_now(),
        base_url: config.base_url.clone(),
        suite_name: config.suite.name.clone(),
        scenarios: config
            .suite
            .scenarios
            .iter()
            .map(|s| (s.name.clone(), scenario_manifest(s)))
            .collect(),
        scenario_order: config
            .suite
            .scenarios
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        runs_per_test: match schedule.stop {
            Stop::Iterations(n) => Some(n),
            Stop::Duration(_) => None,
        },
        words: config.suite.words.clone(),
        schedule: Some(ScheduleRecord {
            model: if schedule.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            rate: schedule.rate,
            concurrency: schedule.concurrency,
            iterations: match schedule.stop {
                Stop::Iterations(n) => Some(n),
                Stop::Duration(_) => None,
            },
            duration_s: match schedule.stop {
                Stop::Duration(d) => Some(d.as_secs_f64()),
                Stop::Iterations(_) => None,
            },
            warmup: schedule.warmup,
        }),
        embedded_collector: config.collect.server_spans.is_some(),
        shard: config.shard.map(|s| s.to_string()),
        ..Default::default()
    }
}

/// What the run recorded once it ended: scenarios not measured, setups,
/// span counts, notes, the end time.
pub(super) fn finish_manifest(m: &mut RunManifest, measured: &Measured, ended: &SpansEnded) {
    m.finished_at = crate::timestamp_now();
    m.client_spans_ended = ended.client_spans.ended;
    m.client_spans_exported = ended.client_spans.exported;
    m.missing_server_spans = ended.missing;
    m.notes = measured.notes.clone();
    for (name, s) in m.scenarios.iter_mut() {
        s.setup = measured.setups.get(name).cloned();
        s.not_measured = measured.not_measured.get(name).cloned();
        s.schedule = measured.schedules.get(name).copied();
    }
}

/// How long the run will take, said before it starts: `--duration` applies
/// to each scenario.
pub(super) fn estimate_line(config: &RunConfig) -> String {
    let n = config.suite.scenarios.len();
    let s = &config.schedule;
    let warmup = if s.warmup > 0 {
        format!(" after {} warm-up iterations", s.warmup)
    } else {
        String::new()
    };
    match s.stop {
        Stop::Duration(d) => {
            let total = d.as_secs_f64() * n as f64;
            format!(
                "{n} scenarios × {} each = {} of measuring{warmup}, plus fixture setup (--duration applies to each scenario)",
                humanize(d.as_secs_f64()),
                humanize(total)
            )
        }
        Stop::Iterations(k) => format!(
            "{n} scenarios × {k} iterations{warmup} ({}), plus fixture setup",
            match s.rate {
                Some(r) => format!(
                    "at {r}/s: about {} of measuring",
                    humanize(k as f64 * n as f64 / r)
                ),
                None => format!("{} at a time", s.concurrency),
            }
        ),
    }
}

/// `90 s`, `16 min`, `2.5 h`.
fn humanize(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

pub(super) fn run_notes(
    config: &RunConfig,
    measured: &Measured,
    cleanup: &CleanupReport,
    ended: &SpansEnded,
    export_error: Option<String>,
) -> Vec<String> {
    let spans = &ended.client_spans;
    let mut notes = Vec::new();
    if config.http2 {
        notes.push(format!(
            "requests went over HTTP/2 ({}): many share one connection, so connection setup is paid once",
            if config.base_url.starts_with("https:") {
                "h2 over TLS"
            } else {
                "h2c, prior knowledge"
            }
        ));
    }
    if config.tls.insecure && config.base_url.starts_with("https:") {
        notes.push(format!(
            "TLS certificate verification was off (--insecure): the identity of {} was not checked",
            config.base_url
        ));
    }
    if measured.api_down {
        notes.push(format!("the API at {} stopped answering mid-run; the remaining requests were counted as errors (api_unreachable)", config.base_url));
    }
    if measured.interrupted {
        notes
            .push("interrupted (Ctrl-C): the scenarios after the interruption were not run".into());
    }
    if !cleanup.failed.is_empty() {
        notes.push(format!(
            "{} fixtures could not be removed (first: {} → {}); run `{}` when the API is back",
            cleanup.failed.len(),
            cleanup.failed[0].0,
            cleanup.failed[0].1,
            config.cleanup_command(&config.run_dir.join(LEDGER_FILE))
        ));
    }
    if cleanup.swept > 0 {
        notes.push(format!(
            "cleanup found {} more fixtures by the run's tag that the ledger never recorded (creates whose answers were lost) and removed them",
            cleanup.swept
        ));
    }
    if cleanup.kept > 0 {
        let ledger = config
            .reuse_fixtures
            .clone()
            .unwrap_or_else(|| config.run_dir.join(LEDGER_FILE));
        let command = config.cleanup_command(&ledger);
        let ledger = ledger.display();
        notes.push(format!(
            "{} fixtures kept: reuse them with --fixtures {ledger}, remove them with `{command}`",
            cleanup.kept
        ));
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
    if let Some(m) = ended.missing.filter(|m| *m > 0) {
        notes.push(format!(
            "{m} requests had no server span when the span wait ended (no span arrived for {:?}); the analysis lists the likely causes",
            config.span_wait
        ));
    }
    if let Some(e) = &ended.wait_error {
        notes.push(format!(
            "the wait for server spans could not read the requests: {e}"
        ));
    }
    notes
}
