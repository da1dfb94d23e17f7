//! `tracesplit compare`: per scenario, how P95 and each component moved from
//! a base run to a head run, and whether the change is more than noise. The
//! runs are read through the analyzer's loader (a crashed run's journal is
//! recovered first), the splits from each run's `summary.json`.

use crate::error::AnalyzeError;
use std::collections::HashMap;
use std::path::Path;
use tracesplit_model::Analysis;
use tracesplit_model::compare::{Comparison, ComponentChange, ScenarioChange};
use tracesplit_model::summary::Summary;

/// Reads both runs and compares them (see [`compare`]).
pub fn compare_runs(
    base: &Path,
    head: &Path,
    max_regression: f64,
    alpha: f64,
) -> Result<Comparison, AnalyzeError> {
    let (b, h) = (run_side(base)?, run_side(head)?);
    Ok(compare(&b, &h, max_regression, alpha))
}

/// One run's samples (requests with an expected status) and P95 splits.
pub fn run_side(dir: &Path) -> Result<RunSide, AnalyzeError> {
    let mut notes = Vec::new();
    let t = crate::requests::load_requests(&[dir.to_owned()], &mut notes)?;
    let mut order: Vec<String> = Vec::new();
    let mut samples: HashMap<String, Vec<f64>> = HashMap::new();
    for i in (0..t.len()).filter(|&i| t.expected[i]) {
        let name = &t.scenarios[t.scenario[i] as usize];
        if !samples.contains_key(name) {
            order.push(name.clone());
        }
        samples
            .entry(name.clone())
            .or_default()
            .push(tracesplit_model::stats::ms(t.duration[i]));
    }
    let splits = splits(dir)?;
    let scenarios = order
        .into_iter()
        .map(|name| ScenarioSide {
            samples_ms: samples.remove(&name).unwrap_or_default(),
            split: splits.get(&name).copied().flatten(),
            scenario: name,
        })
        .collect();
    Ok(RunSide {
        label: dir.display().to_string(),
        scenarios,
    })
}

/// The P95 splits of `summary.json`'s analysis, when the run was analyzed.
fn splits(
    dir: &Path,
) -> Result<HashMap<String, Option<tracesplit_model::analysis::Split>>, AnalyzeError> {
    let path = dir.join("summary.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(HashMap::new());
    };
    let bad = |e: serde_json::Error| {
        AnalyzeError::Input(format!(
            "{} is not a tracesplit summary: {e}",
            path.display()
        ))
    };
    let summary: Summary = serde_json::from_str(&text).map_err(bad)?;
    let Some(value) = summary.analysis else {
        return Ok(HashMap::new());
    };
    let analysis: Analysis = serde_json::from_value(value).map_err(bad)?;
    Ok(analysis
        .scenarios
        .into_iter()
        .map(|s| (s.scenario, s.p95_split))
        .collect())
}

/// One run's side of a comparison: per scenario, the raw latencies and the P95 split.
#[derive(Debug, Clone, Default)]
pub struct RunSide {
    /// Run directory (for the report).
    pub label: String,
    /// Scenarios in run order.
    pub scenarios: Vec<ScenarioSide>,
}

/// One scenario of one run.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSide {
    /// Scenario name.
    pub scenario: String,
    /// Client latencies (ms) of the requests with an expected status.
    pub samples_ms: Vec<f64>,
    /// P95 split, when the run was analyzed with spans.
    pub split: Option<tracesplit_model::analysis::Split>,
}

/// Compares `head` against `base`: a scenario regressed when its P95 grew by
/// more than `max_regression` and the Mann-Whitney test says p < `alpha`.
pub fn compare(base: &RunSide, head: &RunSide, max_regression: f64, alpha: f64) -> Comparison {
    let mut scenarios = Vec::new();
    let mut unpaired = Vec::new();
    for h in &head.scenarios {
        let Some(b) = base.scenarios.iter().find(|b| b.scenario == h.scenario) else {
            unpaired.push(h.scenario.clone());
            continue;
        };
        scenarios.push(change(b, h, max_regression, alpha));
    }
    unpaired.extend(
        base.scenarios
            .iter()
            .filter(|b| !head.scenarios.iter().any(|h| h.scenario == b.scenario))
            .map(|b| b.scenario.clone()),
    );
    Comparison {
        base: base.label.clone(),
        head: head.label.clone(),
        max_regression,
        alpha,
        scenarios,
        unpaired,
    }
}

fn p95(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    tracesplit_model::stats::nearest_rank(&s, 95.0).unwrap_or(0.0)
}

fn change(b: &ScenarioSide, h: &ScenarioSide, max_regression: f64, alpha: f64) -> ScenarioChange {
    let (base_p95_ms, head_p95_ms) = (p95(&b.samples_ms), p95(&h.samples_ms));
    let change = if base_p95_ms > 0.0 {
        (head_p95_ms - base_p95_ms) / base_p95_ms
    } else {
        0.0
    };
    let p_value = mann_whitney_p(&b.samples_ms, &h.samples_ms);
    let significant = p_value < alpha;
    let components = match (b.split, h.split) {
        (Some(bs), Some(hs)) => bs
            .components()
            .iter()
            .zip(hs.components())
            .map(|((name, bv), (_, hv))| ComponentChange {
                component: (*name).to_owned(),
                base_ms: *bv,
                head_ms: hv,
            })
            .collect(),
        _ => Vec::new(),
    };
    ScenarioChange {
        scenario: h.scenario.clone(),
        base_count: b.samples_ms.len() as u64,
        head_count: h.samples_ms.len() as u64,
        base_p95_ms,
        head_p95_ms,
        change,
        p_value,
        significant,
        regression: significant && change > max_regression,
        components,
    }
}

/// Two-sided p-value of the Mann-Whitney U test of `a` against `b`, by the
/// normal approximation with tie correction and continuity correction (what
/// SciPy's `mannwhitneyu(method="asymptotic")` computes). 1 when either side is empty.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let (mut rank_sum_a, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_a += rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let u1 = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u1 - mu).abs() - 0.5).max(0.0) / var.sqrt();
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(name: &str, samples: Vec<f64>) -> RunSide {
        RunSide {
            label: name.into(),
            scenarios: vec![ScenarioSide {
                scenario: "S".into(),
                samples_ms: samples,
                split: None,
            }],
        }
    }

    #[test]
    fn a_regression_needs_both_size_and_significance() {
        let base: Vec<f64> = (0..40).map(|i| 10.0 + f64::from(i % 7)).collect();
        let slow: Vec<f64> = base.iter().map(|v| v * 1.5).collect();
        let c = compare(&side("a", base.clone()), &side("b", slow), 0.10, 0.05);
        let s = &c.scenarios[0];
        assert!(s.significant && s.regression, "{s:?}");
        assert!((s.change - 0.5).abs() < 1e-9);
        // Same samples: no change, no regression.
        let same = compare(
            &side("a", base.clone()),
            &side("b", base.clone()),
            0.10,
            0.05,
        );
        assert!(!same.scenarios[0].regression && !same.scenarios[0].significant);
        // 5 % slower and significant, but under the 10 % threshold.
        let bit: Vec<f64> = base.iter().map(|v| v * 1.05 + 0.01).collect();
        let c = compare(&side("a", base.clone()), &side("b", bit), 0.10, 0.05);
        assert!(!c.scenarios[0].regression, "{:?}", c.scenarios[0]);
        // Three samples each, far apart: P95 doubles but the test cannot be sure.
        let c = compare(
            &side("a", vec![10.0, 11.0, 12.0]),
            &side("b", vec![20.0, 22.0, 24.0]),
            0.10,
            0.05,
        );
        assert!(!c.scenarios[0].regression, "{:?}", c.scenarios[0]);
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
            (-1.0, 1.842_700_793),
        ] {
            assert!((erfc(x) - want).abs() < 1e-6, "erfc({x}) = {}", erfc(x));
        }
    }

    #[test]
    fn mann_whitney_agrees_with_scipy() {
        // scipy.stats.mannwhitneyu(a, b, method="asymptotic").pvalue
        let a = [1.1, 2.3, 2.9, 3.5, 4.0, 4.4, 5.2, 6.1];
        let b = [3.9, 4.8, 5.5, 6.0, 6.6, 7.2, 7.9, 8.5];
        assert!((mann_whitney_p(&a, &b) - 0.013_587_273).abs() < 1e-6);
        let c = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0];
        let d = [2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0];
        assert!((mann_whitney_p(&c, &d) - 0.049_884_437).abs() < 1e-6);
        // Ties everywhere: identical samples are not different.
        assert!((mann_whitney_p(&[1.0, 1.0, 2.0], &[1.0, 1.0, 2.0]) - 1.0).abs() < 1e-9);
        assert_eq!(mann_whitney_p(&[], &[1.0]), 1.0);
    }
}
