//! The cascade sweep: the delete's usage check measured against CPUs used by
//! 0, 10, 100, … listings, and how each component grows with the listing count.

use crate::analysis::{ScenarioAnalysis, Split};
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
}

impl CascadeSweep {
    /// The sweep of the `CASCADE_SWEEP_*` scenarios; `None` without at least one.
    pub fn from_scenarios(scenarios: &[ScenarioAnalysis]) -> Option<Self> {
        let mut points: Vec<SweepPoint> = scenarios
            .iter()
            .filter_map(|s| {
                let listings = s.scenario.strip_prefix(SWEEP_PREFIX)?.parse().ok()?;
                Some(SweepPoint {
                    listings,
                    scenario: s.scenario.clone(),
                    p95_ms: s.stats.p95_ms,
                    split: s.p95_split,
                })
            })
            .collect();
        if points.is_empty() {
            return None;
        }
        points.sort_by_key(|p| p.listings);
        let slope = |f: &dyn Fn(&SweepPoint) -> Option<f64>| {
            let xy: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|p| Some((p.listings as f64 / 1000.0, f(p)?)))
                .collect();
            least_squares_slope(&xy)
        };
        let slope_per_1000 = SweepSlopes {
            p95_ms: slope(&|p| Some(p.p95_ms)),
            network_ms: slope(&|p| p.split.map(|s| s.network_ms)),
            handler_ms: slope(&|p| p.split.map(|s| s.handler_ms)),
            cascade_ms: slope(&|p| p.split.map(|s| s.cascade_ms)),
            db_other_ms: slope(&|p| p.split.map(|s| s.db_other_ms)),
        };
        Some(Self {
            points,
            slope_per_1000,
        })
    }
}

/// Slope of the least-squares line through `xy`; 0 with fewer than two distinct x.
pub fn least_squares_slope(xy: &[(f64, f64)]) -> f64 {
    let n = xy.len() as f64;
    if xy.len() < 2 {
        return 0.0;
    }
    let mx = xy.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_too_few_points() {
        let line: Vec<(f64, f64)> = (0..5).map(|x| (x as f64, 3.0 + 2.5 * x as f64)).collect();
        assert!((least_squares_slope(&line) - 2.5).abs() < 1e-12);
        assert_eq!(least_squares_slope(&[(1.0, 4.0)]), 0.0);
        assert_eq!(least_squares_slope(&[(1.0, 4.0), (1.0, 9.0)]), 0.0);
    }

    #[test]
    fn sweep_points_come_from_the_sweep_scenarios_only() {
        let s = |name: &str, p95: f64, cascade: f64| ScenarioAnalysis {
            scenario: name.into(),
            stats: crate::stats::LatencyStats {
                p95_ms: p95,
                ..Default::default()
            },
            p95_split: Some(Split {
                total_ms: p95,
                cascade_ms: cascade,
                handler_ms: p95 - cascade,
                ..Default::default()
            }),
            ..Default::default()
        };
        let scenarios = [
            s("CASCADE_SWEEP_1000", 30.0, 25.0),
            s("CPU_LIST_ALL", 9.0, 0.0),
            s("CASCADE_SWEEP_0", 5.0, 0.0),
            s("CASCADE_SWEEP_10000", 255.0, 250.0),
        ];
        let sweep = CascadeSweep::from_scenarios(&scenarios).expect("a sweep");
        let listings: Vec<u64> = sweep.points.iter().map(|p| p.listings).collect();
        assert_eq!(listings, [0, 1000, 10000]);
        assert!((sweep.slope_per_1000.cascade_ms - 25.0).abs() < 1e-9);
        assert!((sweep.slope_per_1000.handler_ms - 0.0).abs() < 1e-9);
        assert!(CascadeSweep::from_scenarios(&scenarios[1..2]).is_none());
    }
}
