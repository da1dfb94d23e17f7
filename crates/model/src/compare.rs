//! `tracesplit compare`: per scenario, how P95 and each component moved from a
//! base run to a head run, and whether the change is more than noise.

use serde::{Deserialize, Serialize};

/// One component's P95-split value in both runs (ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentChange {
    /// `network`, `handler`, `cascade`, `db other`.
    pub component: String,
    /// Base (ms).
    pub base_ms: f64,
    /// Head (ms).
    pub head_ms: f64,
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
    /// Two-sided Mann-Whitney U p-value of the raw latencies.
    pub p_value: f64,
    /// p_value < alpha.
    pub significant: bool,
    /// change > max_regression and significant (and head slower).
    pub regression: bool,
    /// The P95 split's components, when both runs were split.
    pub components: Vec<ComponentChange>,
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
}

impl Comparison {
    /// Scenarios that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &ScenarioChange> {
        self.scenarios.iter().filter(|s| s.regression)
    }
}
