//! `manifest.json`: what a run directory holds and how it was produced.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// File name of the manifest inside a run directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the request table inside a run directory.
pub const REQUESTS_FILE: &str = "requests.parquet";
/// Directory of the embedded collector's span store inside a run directory.
pub const SPANS_DIR: &str = "spans";
/// File name of the fixture ledger inside a run directory.
pub const LEDGER_FILE: &str = "ledger.jsonl";

/// Describes one run: identity, target, schedule and what was collected.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunManifest {
    /// Run id, e.g. `ts-20261127-140501-3f2a`.
    pub run_id: String,
    /// tracesplit version that produced the run.
    pub tool_version: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time; empty while running.
    #[serde(default)]
    pub finished_at: String,
    /// Base URL of the API under test.
    pub base_url: String,
    /// Name of the suite.
    pub suite_name: String,
    /// Scenario name → cascade classifier overrides and targets, as the suite declared them.
    #[serde(default)]
    pub scenarios: BTreeMap<String, ScenarioManifest>,
    /// Iterations per scenario requested (`--runs`), when the stop condition was a count.
    #[serde(default)]
    pub runs_per_test: Option<u64>,
    /// Shard of this run, `i/n`, when sharded.
    #[serde(default)]
    pub shard: Option<String>,
    /// Whether the embedded collector wrote `spans/`.
    #[serde(default)]
    pub embedded_collector: bool,
    /// Client spans the runner handed to its exporter.
    #[serde(default)]
    pub client_spans_ended: u64,
    /// Client spans the exporter confirmed.
    #[serde(default)]
    pub client_spans_exported: u64,
    /// Requests whose trace had no server span when the span wait ended.
    #[serde(default)]
    pub missing_server_spans: Option<u64>,
    /// Free-form notes (e.g. "API died mid-run").
    #[serde(default)]
    pub notes: Vec<String>,
    /// Rows that appeared in watched collections without the runner creating them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub side_effects: Vec<SideEffect>,
    /// The suite's scenarios in suite order (reports list them in this order,
    /// measured or not).
    #[serde(default)]
    pub scenario_order: Vec<String>,
    /// How the scenarios were driven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleRecord>,
    /// The nouns the suite's findings use.
    #[serde(default)]
    pub words: Words,
}

/// The nouns findings use for a suite's API: generic unless the suite names
/// its own (the built-in catalog suite says "usage check" and "listings").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Words {
    /// What the cascade component is: the check a delete runs for rows that
    /// still reference the entity.
    pub check: String,
    /// The rows that reference a fixture (its children).
    pub children: String,
}

impl Default for Words {
    fn default() -> Self {
        Self {
            check: "dependency check".into(),
            children: "child rows".into(),
        }
    }
}

/// The schedule of a run, as data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// `closed` (workers back to back) or `open` (starts at a fixed rate).
    pub model: String,
    /// Iterations started per second (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Iterations in flight at most.
    pub concurrency: usize,
    /// Measured iterations per scenario, when counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// Seconds per scenario, when timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Unmeasured iterations first.
    #[serde(default)]
    pub warmup: u64,
}

impl RunManifest {
    /// Whether starts were scheduled at a rate (latency then also counts from the intended start).
    pub fn open_model(&self) -> bool {
        self.schedule.as_ref().is_some_and(|s| s.model == "open")
    }
}

/// What one scenario's fixture setup did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SetupSummary {
    /// Wall time of the setup (seconds).
    pub seconds: f64,
    /// Entities created (and ledgered).
    pub created: u64,
    /// Creates whose answer was lost (timeout, reset, 5xx) but whose entity was
    /// found by its tag afterwards.
    pub reconciled: u64,
    /// Create attempts repeated after a failure.
    pub retries: u64,
    /// Per-iteration fixtures created inside their iteration because none was
    /// ready ahead (their creation delayed those iterations' requests).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub made_during_measuring: u64,
    /// Creates the API answered with a row it already had (get-or-create):
    /// used, never modified or deleted. One sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing_rows: Vec<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl SetupSummary {
    /// `12 made while the scenario was measured (…)`, when any were.
    pub fn made_while_measured(&self) -> Option<String> {
        (self.made_during_measuring > 0).then(|| format!(
            "{} made while the scenario was measured (created beside or inside its iterations: a timed closed run cannot know how many it needs; give --rate to create them all first)",
            self.made_during_measuring
        ))
    }

    /// `1000 created in 12.3 s, 20 reconciled after lost answers, 22 retries`.
    pub fn describe(&self) -> String {
        let mut text = format!("{} created in {:.1} s", self.created, self.seconds);
        if self.reconciled > 0 {
            text.push_str(&format!(
                ", {} reconciled after lost answers",
                self.reconciled
            ));
        }
        if self.retries > 0 {
            text.push_str(&format!(", {} retries", self.retries));
        }
        if let Some(made) = self.made_while_measured() {
            text.push_str(&format!(", {made}"));
        }
        if !self.existing_rows.is_empty() {
            text.push_str(&format!(
                ", {} existing rows returned by the API (not ours)",
                self.existing_rows.len()
            ));
        }
        text
    }
}

/// Rows that appeared in a watched collection during a phase of the run
/// without the runner creating them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SideEffect {
    /// The watched kind (`ram-specs`).
    pub kind: String,
    /// The new rows' ids.
    pub ids: Vec<String>,
    /// When they appeared (`setup of CPU_DELETE_WITH_LISTINGS_100`).
    pub phase: String,
    /// The requests of that phase that most likely created them.
    pub likely_cause: String,
}

impl SideEffect {
    /// One line for notes and terminals.
    pub fn describe(&self) -> String {
        format!(
            "{} new {} row(s) not created by tracesplit appeared during {} (ids {}); most likely created by {}. They were left in place: not ours",
            self.ids.len(),
            self.kind,
            self.phase,
            self.ids.join(", "),
            self.likely_cause
        )
    }
}

/// Per-scenario settings the analyzer needs later.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScenarioManifest {
    /// Entity type (`CPU`, …).
    pub entity_type: String,
    /// Operation (`DELETE`, …).
    pub operation: String,
    /// P95 target in milliseconds.
    pub target_ms: f64,
    /// Cascade classifier: statement regex override.
    #[serde(default)]
    pub cascade_statement: Option<String>,
    /// Cascade classifier: span/ancestor name regex override.
    #[serde(default)]
    pub cascade_span: Option<String>,
    /// Listings attached to the scenario's fixture (for N+1 growth and the cascade sweep).
    #[serde(default)]
    pub fixture_listings: Option<u64>,
    /// What the scenario's fixture setup did (absent when it did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupSummary>,
    /// Why the scenario was not measured (setup failed, the API died before
    /// it, the run was interrupted); absent when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
    /// How the open model's schedule went (absent in the closed model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSummary>,
}

/// How the open model (`--rate`) kept its schedule in one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScheduleSummary {
    /// Iterations per second asked for.
    pub rate: f64,
    /// The bound on iterations in flight (`--max-concurrency`).
    pub max_concurrency: u64,
    /// Most iterations in flight at once.
    pub peak_concurrency: u64,
    /// Measured iterations that could not start on time: `max_concurrency`
    /// iterations were in flight (k6's dropped iterations; run late here).
    pub late_starts: u64,
}

impl ScheduleSummary {
    /// One sentence for the reports.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} iterations/s, up to {} in flight (of at most {})",
            self.rate, self.peak_concurrency, self.max_concurrency
        );
        if self.late_starts > 0 {
            s.push_str(&format!(
                "; {} iterations could not start on time because {} were in flight: they started late, and the wait is the schedule component of the corrected latency",
                self.late_starts, self.max_concurrency
            ));
        }
        s
    }
}
