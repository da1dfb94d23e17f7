//! The cascade sweep: the delete's usage check measured against CPUs used by
//! 0, 10, 100, … listings, and how each component grows with the listing count.

use crate::analysis::Split;
use serde::{Deserialize, Serialize};

/// Scenario names of the sweep: `CASCADE_SWEEP_<listings>`.
pub const SWEEP_PREFIX: &str = "CASCADE_SWEEP_";

/// The sweep scenario's name for a listing count.
pub fn sweep_scenario(listings: u64) -> String {
    format!("{SWEEP_PREFIX}{listings}")
}

/// One listing count of the sweep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepPoint {
    /// Listings using the deleted CPU.
    pub listings: u64,
    /// The scenario that measured it.
    pub scenario: String,
    /// Client P95 (ms).
    pub p95_ms: f64,
    /// The P95 split, when spans matched.
    pub split: Option<Split>,
}

/// Least-squares growth of each component, in ms per 1,000 listings.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepSlopes {
    /// Client P95.
    pub p95_ms: f64,
    /// Network.
    pub network_ms: f64,
    /// Queue.
    #[serde(default)]
    pub queue_ms: f64,
    /// Handler.
    pub handler_ms: f64,
    /// Cascade check.
    pub cascade_ms: f64,
    /// Other DB time.
    pub db_other_ms: f64,
}

/// The whole sweep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CascadeSweep {
    /// Points by listing count.
    pub points: Vec<SweepPoint>,
    /// Growth per 1,000 listings (least squares over the points).
    pub slope_per_1000: SweepSlopes,
    /// The standard error of each slope (needs at least three points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_per_1000: Option<SweepSlopes>,
}

/// How a fitted growth reads: a number with its uncertainty, or "no growth
/// measurable" when the 95 % interval (slope ± 2 standard errors) holds 0.
pub fn describe_growth(slope: f64, stderr: Option<f64>) -> String {
    match stderr {
        Some(se) if slope.abs() <= 2.0 * se => {
            format!("no growth measurable (±{:.2} ms)", 2.0 * se)
        }
        Some(se) => format!("{slope:+.2} ms (±{:.2})", 2.0 * se),
        None if slope <= 0.0 => "no growth measurable".into(),
        None => format!("{slope:+.2} ms"),
    }
}
