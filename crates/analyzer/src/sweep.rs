//! The cascade sweep's growth fit: how each component of the P95 grows with
//! the listings that use the deleted CPU, with the fit's uncertainty (a
//! growth the points cannot support is reported as none, not as a number).

use tracesplit_model::analysis::ScenarioAnalysis;
use tracesplit_model::sweep::{CascadeSweep, SWEEP_PREFIX, SweepPoint, SweepSlopes};

/// The sweep of the `CASCADE_SWEEP_*` scenarios; `None` without at least one.
pub fn cascade_sweep(scenarios: &[ScenarioAnalysis]) -> Option<CascadeSweep> {
    let mut points: Vec<SweepPoint> = scenarios
        .iter()
        .filter(|s| s.stats.count > 0)
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
    let fit = |f: &dyn Fn(&SweepPoint) -> Option<f64>| {
        let xy: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|p| Some((p.listings as f64 / 1000.0, f(p)?)))
            .collect();
        least_squares(&xy)
    };
    let fits = [
        fit(&|p| Some(p.p95_ms)),
        fit(&|p| p.split.map(|s| s.network_ms)),
        fit(&|p| p.split.map(|s| s.queue_ms)),
        fit(&|p| p.split.map(|s| s.handler_ms)),
        fit(&|p| p.split.map(|s| s.cascade_ms)),
        fit(&|p| p.split.map(|s| s.db_other_ms)),
    ];
    let slopes = |pick: &dyn Fn(&Fit) -> f64| SweepSlopes {
        p95_ms: pick(&fits[0]),
        network_ms: pick(&fits[1]),
        queue_ms: pick(&fits[2]),
        handler_ms: pick(&fits[3]),
        cascade_ms: pick(&fits[4]),
        db_other_ms: pick(&fits[5]),
    };
    let stderr_per_1000 = fits
        .iter()
        .all(|f| f.stderr.is_some())
        .then(|| slopes(&|f| f.stderr.unwrap_or(0.0)));
    Some(CascadeSweep {
        slope_per_1000: slopes(&|f| f.slope),
        stderr_per_1000,
        points,
    })
}

/// A least-squares line's slope and the slope's standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Slope (0 with fewer than two distinct x).
    pub slope: f64,
    /// Its standard error; `None` with fewer than three points (no residual freedom).
    pub stderr: Option<f64>,
}

/// The least-squares fit through `xy`.
pub fn least_squares(xy: &[(f64, f64)]) -> Fit {
    let n = xy.len() as f64;
    let none = Fit {
        slope: 0.0,
        stderr: None,
    };
    if xy.len() < 2 {
        return none;
    }
    let mx = xy.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        return none;
    }
    let slope = sxy / sxx;
    let stderr = (xy.len() > 2).then(|| {
        let intercept = my - slope * mx;
        let rss: f64 = xy
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        (rss / (n - 2.0) / sxx).sqrt()
    });
    Fit { slope, stderr }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracesplit_model::analysis::Split;
    use tracesplit_model::sweep::describe_growth;

    #[test]
    fn a_line_has_its_slope_and_no_error() {
        let line: Vec<(f64, f64)> = (0..5).map(|x| (x as f64, 3.0 + 2.5 * x as f64)).collect();
        let f = least_squares(&line);
        assert!((f.slope - 2.5).abs() < 1e-12);
        assert!(f.stderr.unwrap() < 1e-9);
        assert_eq!(least_squares(&[(1.0, 4.0)]).slope, 0.0);
        assert_eq!(least_squares(&[(1.0, 4.0), (1.0, 9.0)]).slope, 0.0);
        assert_eq!(least_squares(&[(0.0, 4.0), (1.0, 9.0)]).stderr, None);
    }

    #[test]
    fn noise_is_no_growth_and_a_real_slope_is_a_number() {
        // Flat, noisy handler times: a small negative slope the points cannot support.
        let noisy = [
            (0.0, 0.30),
            (0.01, 0.21),
            (0.1, 0.35),
            (1.0, 0.22),
            (10.0, 0.27),
        ];
        let f = least_squares(&noisy);
        assert!(f.slope < 0.0);
        assert!(describe_growth(f.slope, f.stderr).starts_with("no growth measurable"));
        let real = [(0.0, 1.0), (0.1, 8.9), (1.0, 79.0), (10.0, 781.0)];
        let f = least_squares(&real);
        assert!(
            describe_growth(f.slope, f.stderr).starts_with("+78"),
            "{:?}",
            f
        );
    }

    #[test]
    fn sweep_points_come_from_the_measured_sweep_scenarios_only() {
        let s = |name: &str, p95: f64, cascade: f64| ScenarioAnalysis {
            scenario: name.into(),
            stats: tracesplit_model::stats::LatencyStats {
                count: 10,
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
        let mut unmeasured = s("CASCADE_SWEEP_5", 0.0, 0.0);
        unmeasured.stats.count = 0;
        let scenarios = [
            s("CASCADE_SWEEP_1000", 30.0, 25.0),
            s("CPU_LIST_ALL", 9.0, 0.0),
            s("CASCADE_SWEEP_0", 5.0, 0.0),
            s("CASCADE_SWEEP_10000", 255.0, 250.0),
            unmeasured,
        ];
        let sweep = cascade_sweep(&scenarios).expect("a sweep");
        let listings: Vec<u64> = sweep.points.iter().map(|p| p.listings).collect();
        assert_eq!(listings, [0, 1000, 10000]);
        assert!((sweep.slope_per_1000.cascade_ms - 25.0).abs() < 1e-9);
        assert!((sweep.slope_per_1000.handler_ms - 0.0).abs() < 1e-9);
        assert!(sweep.stderr_per_1000.is_some());
        assert!(cascade_sweep(&scenarios[1..2]).is_none());
    }
}
