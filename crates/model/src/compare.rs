//! `tracesplit compare`: per scenario, how P95 and each component moved from a
//! base run to a head run, and whether the change is more than noise.

use serde::{Deserialize, Serialize};

/// One component's P95-split value in both runs (ms), and how its
/// per-request mean moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentChange {
    /// `network`, `handler`, `cascade`, `db other`.
    pub component: String,
    /// Base (ms).
    pub base_ms: f64,
    /// Head (ms).
    pub head_ms: f64,
    /// Change of the component's mean per request, head − base (ms), from
    /// each run's split.parquet; `None` when a run has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_change_ms: Option<f64>,
    /// Its 95 % interval (block bootstrap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<(f64, f64)>,
}

impl ComponentChange {
    /// The interval excludes zero: this part moved.
    pub fn moved(&self) -> bool {
        self.interval_ms
            .is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0)
    }
}

/// One scenario present in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioChange {
    /// Scenario name.
    pub scenario: String,
    /// Requests measured in the base run.
    pub base_count: u64,
    /// Requests measured in the head run.
    pub head_count: u64,
    /// Base P95 (ms).
    pub base_p95_ms: f64,
    /// Head P95 (ms).
    pub head_p95_ms: f64,
    /// (head − base) / base.
    pub change: f64,
    /// 95 % interval of `change`: a block bootstrap over time (and over
    /// runs, with three or more a side).
    #[serde(default)]
    pub interval: (f64, f64),
    /// Two-sided bootstrap p-value of the change (the share of resamples on
    /// the other side of zero, doubled).
    pub p_value: f64,
    /// The interval excludes zero.
    pub significant: bool,
    /// Significantly slower, by more than max_regression and the floor.
    pub regression: bool,
    /// The P95 split's components, when both runs were split.
    pub components: Vec<ComponentChange>,
    /// The span shape whose mean exclusive time per slow request (at or
    /// above the P95) grew most, when both sides' tails were explained and
    /// one grew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<ShapeGrowth>,
}

/// A span shape in the slow requests of both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShapeGrowth {
    /// The span name, or the statement fingerprint of a DB span.
    pub shape: String,
    /// A DB span.
    pub db: bool,
    /// Mean exclusive time per slow request in base (ms; 0 when absent).
    pub base_ms: f64,
    /// The same in head (ms).
    pub head_ms: f64,
    /// Mean calls per slow request in base.
    pub base_calls: f64,
    /// Mean calls per slow request in head.
    pub head_calls: f64,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// Base run directory.
    pub base: String,
    /// Head run directory.
    pub head: String,
    /// Largest P95 growth tolerated (0.10 = 10 %).
    pub max_regression: f64,
    /// Significance level of the test.
    pub alpha: f64,
    /// Scenarios in both runs, in the head's order.
    pub scenarios: Vec<ScenarioChange>,
    /// Scenarios in only one of the runs.
    pub unpaired: Vec<String>,
    /// Smallest P95 growth that counts as a regression (ms).
    #[serde(default)]
    pub floor_ms: f64,
    /// Runs a side.
    #[serde(default)]
    pub runs: (u64, u64),
    /// Seconds dropped at the start of each scenario of each run (warm-up).
    #[serde(default)]
    pub skipped_s: f64,
    /// How the runs differ in what the comparison depends on (compared
    /// anyway with `--force`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// The API's `service.version` on each side, when the spans name it
    /// and the sides differ (said, not refused: builds are what is compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
}

impl Comparison {
    /// Scenarios that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &ScenarioChange> {
        self.scenarios.iter().filter(|s| s.regression)
    }
}
