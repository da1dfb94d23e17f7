//! The run's files and lines: `manifest.json`, `summary.json`, the result
//! line per scenario and the notes that explain what went wrong.

use super::RunConfig;
use super::{Measured, RunError, SpansEnded};
use crate::fixtures::CleanupReport;
use crate::schedule::Stop;
use crate::suite::Scenario;
use crate::summary;
use std::path::Path;
use tracesplit_model::RunManifest;
use tracesplit_model::manifest::{LEDGER_FILE, ScenarioManifest};
use tracesplit_model::summary::ScenarioResult;

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
        cascade_statement: s.cascade.statement.clone(),
        cascade_span: s.cascade.span.clone(),
        fixture_listings: s.fixture.as_ref().map(|f| f.children),
        setup: None,
    }
}

pub(super) fn manifest(config: &RunConfig, embedded: bool) -> RunManifest {
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

pub(super) fn result_line(r: &ScenarioResult) -> String {
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

pub(super) fn run_notes(
    config: &RunConfig,
    measured: &Measured,
    cleanup: &CleanupReport,
    ended: &SpansEnded,
    export_error: Option<String>,
) -> Vec<String> {
    let spans = &ended.client_spans;
    let mut notes = Vec::new();
    if measured.api_down {
        notes.push(format!("the API at {} stopped answering mid-run; the remaining requests were counted as errors (api_unreachable)", config.base_url));
    }
    if measured.interrupted {
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
    if let Some(m) = ended.missing.filter(|m| *m > 0) {
        notes.push(format!(
            "{m} requests have no server span (is the API exporting its spans to this collector?)"
        ));
    }
    notes
}
