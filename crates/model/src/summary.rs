//! `summary.json`: the seed tooling's results format, kept key for key, with
//! tracesplit's additions beside the seed's keys.

use crate::stats::LatencyStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Seed: local time of the run, `2025-11-14T10:30:00.123456`.
    pub timestamp: String,
    /// Seed: the API's base URL.
    pub base_url: String,
    /// Seed: iterations per scenario (`--runs`); 0 when the run was bounded by time.
    pub runs_per_test: u64,
    /// Seed: totals.
    pub summary: Totals,
    /// Seed: one entry per scenario.
    pub results: Vec<ScenarioResult>,
    /// tracesplit: run id.
    #[serde(default)]
    pub run_id: String,
    /// tracesplit: producing tool and version.
    #[serde(default)]
    pub tool: String,
    /// tracesplit: where the numbers come from: `spans` (requests joined with
    /// server spans) or `requests` (no span matched: client figures only).
    #[serde(default)]
    pub source: String,
    /// tracesplit: notes (API died, spans missing, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// tracesplit: the analysis (split, coverage, findings) when spans were joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::Analysis>")]
    pub analysis: Option<serde_json::Value>,
}

/// Seed: `summary` object.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Totals {
    /// Scenarios.
    pub total_tests: u64,
    /// Scenarios that met their target.
    pub passed: u64,
    /// Scenarios that did not.
    pub failed: u64,
}

/// Seed: one `results[]` entry, plus tracesplit's additions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioResult {
    /// Seed: `PATCH`, `PUT`, `DELETE`, `LIST`, `GET`.
    pub operation: String,
    /// Seed: `CPU`, `GPU`, …
    pub entity_type: String,
    /// Seed: scenario name.
    pub scenario: String,
    /// Seed: nearest-rank P50 (ms).
    pub p50_ms: f64,
    /// Seed: nearest-rank P95 (ms).
    pub p95_ms: f64,
    /// Seed: nearest-rank P99 (ms).
    pub p99_ms: f64,
    /// Seed: minimum (ms).
    pub min_ms: f64,
    /// Seed: maximum (ms).
    pub max_ms: f64,
    /// Seed: mean (ms).
    pub mean_ms: f64,
    /// Seed: sample standard deviation (ms).
    pub stddev_ms: f64,
    /// Seed: P95 target (ms).
    pub target_ms: f64,
    /// Seed: P95 within target and no failed request.
    pub passed: bool,
    /// Seed: requests measured (status in the expected set).
    pub runs: u64,
    /// Seed: requests that failed (unexpected status, or no response).
    pub failed_runs: u64,
    /// tracesplit: responses per HTTP status (`"0"` = no response).
    #[serde(default)]
    pub status_counts: BTreeMap<String, u64>,
    /// tracesplit: failures per kind (`timeout`, `refused`, `status 500`, …).
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// tracesplit: P95 corrected for coordinated omission (open model only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_corrected_ms: Option<f64>,
    /// tracesplit: P99 corrected for coordinated omission (open model only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_corrected_ms: Option<f64>,
    /// tracesplit: what the scenario's fixture setup did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<crate::manifest::SetupSummary>,
    /// tracesplit: why it passed or failed, in one sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub verdict: String,
    /// tracesplit: why it was not measured at all, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
}

impl ScenarioResult {
    /// Fills the seed's latency fields from statistics.
    pub fn set_stats(&mut self, s: &LatencyStats) {
        self.p50_ms = s.p50_ms;
        self.p95_ms = s.p95_ms;
        self.p99_ms = s.p99_ms;
        self.min_ms = s.min_ms;
        self.max_ms = s.max_ms;
        self.mean_ms = s.mean_ms;
        self.stddev_ms = s.stddev_ms;
        self.runs = s.count;
    }
}

/// The JSON Schema of `summary.json` (checked in as `schemas/summary.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Summary)).unwrap_or_default()
}
