//! `summary.json`: the seed tooling's keys, unchanged, with the split,
//! coverage and findings beside them under `analysis`.

use crate::{Exporter, ReportError};
use tracesplit_model::Analysis;
use tracesplit_model::summary::{ScenarioResult, Summary, Totals};

/// Writes `summary.json`.
#[derive(Debug, Clone, Default)]
pub struct JsonExporter {
    /// Seed `timestamp`.
    pub timestamp: String,
    /// Seed `runs_per_test`.
    pub runs_per_test: u64,
}

/// The seed-compatible summary of an analysis.
pub fn summary(a: &Analysis, timestamp: &str, runs_per_test: u64) -> Summary {
    let results: Vec<ScenarioResult> = a
        .scenarios
        .iter()
        .map(|s| {
            let mut r = ScenarioResult {
                operation: s.operation.clone(),
                entity_type: s.entity_type.clone(),
                scenario: s.scenario.clone(),
                target_ms: s.target_ms,
                passed: s.passed,
                failed_runs: s.failed,
                status_counts: s.status_counts.clone(),
                errors: s.errors.clone(),
                p95_corrected_ms: s.p95_corrected_ms,
                p99_corrected_ms: s.p99_corrected_ms,
                setup: s.setup.clone(),
                verdict: s.verdict.clone(),
                not_measured: s.not_measured.clone(),
                ..Default::default()
            };
            r.set_stats(&s.stats);
            r
        })
        .collect();
    let passed = results.iter().filter(|r| r.passed).count() as u64;
    Summary {
        timestamp: timestamp.to_owned(),
        base_url: a.base_url.clone(),
        runs_per_test,
        summary: Totals {
            total_tests: results.len() as u64,
            passed,
            failed: results.len() as u64 - passed,
        },
        results,
        run_id: a.run_ids.join(","),
        tool: format!("tracesplit {}", env!("CARGO_PKG_VERSION")),
        source: if a.coverage.matched > 0 {
            "spans".into()
        } else {
            "requests".into()
        },
        notes: a.notes.clone(),
        analysis: serde_json::to_value(a).ok(),
    }
}

impl Exporter for JsonExporter {
    fn render(&self, a: &Analysis) -> Result<Vec<u8>, ReportError> {
        let s = summary(a, &self.timestamp, self.runs_per_test);
        let mut text = serde_json::to_vec_pretty(&s).map_err(|e| ReportError::Render {
            format: "JSON",
            message: e.to_string(),
        })?;
        text.push(b'\n');
        Ok(text)
    }
}
