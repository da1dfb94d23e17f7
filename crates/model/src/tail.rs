//! Why the slow requests are slow: a scenario's slow set (requests at or
//! above its P95) against its baseline (at or below its P50).

use serde::{Deserialize, Serialize};

/// Mean calls per request as the reports write them: `10`, `9.1`.
pub fn fmt_calls(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The comparison of one scenario's slow set with its baseline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TailExplanation {
    /// Slow requests compared (matched, at or above the P95; sampled evenly
    /// by rank when there are more).
    pub slow: u64,
    /// Baseline requests compared (matched, at or below the P50; sampled likewise).
    pub baseline: u64,
    /// Mean client total of the slow set (ms).
    pub slow_mean_ms: f64,
    /// Mean client total of the baseline (ms).
    pub baseline_mean_ms: f64,
    /// Why the span shapes were not compared (too few requests), when they were not.
    pub not_compared: Option<String>,
    /// Span shapes that add time to a slow request, most first (at most five;
    /// only differences a Mann-Whitney U test finds at p < 0.01).
    pub shapes: Vec<ShapeDelta>,
    /// Attribute values over-represented in the slow set, largest share
    /// difference first (at most five; only differences a one-sided Fisher
    /// exact test finds at p < 0.01 after a Bonferroni correction for every
    /// value tested).
    #[serde(default)]
    pub attributes: Vec<AttributeDelta>,
    /// Whether the slow requests bunch in time.
    pub clustering: Option<TimeCluster>,
    /// Every span shape of the slow set with its mean exclusive time per
    /// slow request, most first (at most [`PROFILE_SHAPES`]): what
    /// `compare` reads to name the shape that grew most between runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slow_profile: Vec<ShapeMean>,
}

/// Shapes kept in a slow set's profile.
pub const PROFILE_SHAPES: usize = 40;

/// One span shape's mean in a set of requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShapeMean {
    /// The span name, or the statement fingerprint of a DB span.
    pub shape: String,
    /// A DB span.
    pub db: bool,
    /// Mean calls per request.
    pub calls: f64,
    /// Mean exclusive time per request (ms).
    pub ms: f64,
}

/// One span shape in both sets: a span name, or for DB spans the statement
/// with its literals and parameter lists normalised.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShapeDelta {
    /// The span name, or the statement fingerprint of a DB span.
    pub shape: String,
    /// A DB span.
    pub db: bool,
    /// Mean calls per slow request.
    pub slow_calls: f64,
    /// Mean calls per baseline request.
    pub baseline_calls: f64,
    /// Mean exclusive time per slow request (ms): the span's time minus its children's.
    pub slow_ms: f64,
    /// Mean exclusive time per baseline request (ms).
    pub baseline_ms: f64,
    /// slow_ms − baseline_ms: what the shape adds to a slow request.
    pub added_ms: f64,
    /// Mann-Whitney U p-value of the per-request exclusive times.
    pub p_value: f64,
    /// No baseline request has this shape.
    pub only_in_slow: bool,
}

/// One low-cardinality attribute value in both sets: which instance,
/// route, status or operation the slow requests have more often.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttributeDelta {
    /// Attribute key (`service.instance.id`, `http.response.status_code`, …).
    pub key: String,
    /// Its value, as text.
    pub value: String,
    /// Found on the server span or its resource (a property of the request:
    /// who served it, which route, which status), rather than on a span below it.
    pub on_request: bool,
    /// Share of the slow requests that have it.
    pub slow_share: f64,
    /// Share of the baseline requests that have it.
    pub baseline_share: f64,
    /// One-sided Fisher exact test p-value (slow share greater), before the
    /// Bonferroni correction.
    pub p_value: f64,
}

/// The densest window (10 % of the scenario's time) of its slow requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeCluster {
    /// Window start, seconds after the scenario's first request.
    pub from_s: f64,
    /// Window end (s).
    pub to_s: f64,
    /// Share of the slow requests in the window.
    pub slow_share: f64,
    /// Share of all the scenario's requests in the window (what the slow
    /// share would be if slowness did not depend on time).
    pub all_share: f64,
    /// Binomial tail p-value of that many slow requests in the window.
    pub p_value: f64,
    /// The slow requests bunch (p < 0.001, at least twice the expected share, five or more).
    pub clustered: bool,
}
