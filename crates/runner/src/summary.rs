//! Client-side `summary.json` (the seed's format) from the scenario tallies.

use crate::record::TallySnapshot;
use crate::suite::Scenario;
use tracesplit_model::stats::LatencyStats;
use tracesplit_model::summary::{ScenarioResult, Summary, Totals};

/// One scenario's seed-format result from what the runner measured.
pub fn scenario_result(
    scenario: &Scenario,
    tally: &TallySnapshot,
    open_model: bool,
) -> ScenarioResult {
    let stats = LatencyStats::from_ns(&tally.durations_ns);
    let mut r = ScenarioResult {
        operation: scenario.operation.clone(),
        entity_type: scenario.entity_type.clone(),
        scenario: scenario.name.clone(),
        target_ms: scenario.target_p95_ms,
        failed_runs: tally.failed,
        status_counts: tally.status_counts.clone(),
        errors: tally.errors.clone(),
        ..Default::default()
    };
    r.set_stats(&stats);
    r.passed = passed(&r);
    if open_model {
        let corrected = LatencyStats::from_ns(&tally.corrected_ns);
        r.p95_corrected_ms = Some(corrected.p95_ms);
        r.p99_corrected_ms = Some(corrected.p99_ms);
    }
    r
}

/// A scenario passes when something was measured, its P95 is within target and no request failed.
pub fn passed(r: &ScenarioResult) -> bool {
    r.runs > 0
        && r.failed_runs == 0
        && r.p95_corrected_ms.unwrap_or(r.p95_ms) <= r.target_ms
        && r.p95_ms <= r.target_ms
}

/// Totals over results.
pub fn totals(results: &[ScenarioResult]) -> Totals {
    let passed = results.iter().filter(|r| r.passed).count() as u64;
    Totals {
        total_tests: results.len() as u64,
        passed,
        failed: results.len() as u64 - passed,
    }
}

/// `2025-11-14T10:30:00.123456` (UTC), the seed's timestamp format.
pub fn timestamp_now() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

/// Assembles the file.
pub fn summary(
    base_url: &str,
    runs_per_test: u64,
    run_id: &str,
    results: Vec<ScenarioResult>,
    notes: Vec<String>,
) -> Summary {
    Summary {
        timestamp: timestamp_now(),
        base_url: base_url.to_owned(),
        runs_per_test,
        summary: totals(&results),
        results,
        run_id: run_id.to_owned(),
        tool: format!("tracesplit {}", env!("CARGO_PKG_VERSION")),
        source: "client".into(),
        notes,
        analysis: None,
    }
}
