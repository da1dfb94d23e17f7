//! `tracesplit compare`: per scenario, how P95 and each component moved from
//! base runs to head runs, and whether the change is more than noise: the
//! P95 change's interval comes from a block bootstrap over time (and over
//! runs), see [`crate::bootstrap`]. The runs are read through the analyzer's
//! loader (a crashed run's journal is recovered first), the splits from each
//! run's `summary.json` and `split.parquet`.

use crate::bootstrap::{Run, mean_change, side_p95};
use crate::error::AnalyzeError;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tracesplit_model::Analysis;
use tracesplit_model::compare::{Comparison, ComponentChange, ScenarioChange, ShapeGrowth};
use tracesplit_model::summary::Summary;
use tracesplit_model::tail::ShapeMean;

/// When a change is a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// Largest tolerated P95 growth (0.10 = 10 %).
    pub max_regression: f64,
    /// Smallest P95 growth (ms) that counts: sub-millisecond scenarios
    /// jitter by more than any percentage.
    pub floor_ms: f64,
    /// 1 − the interval's level (0.05: a 95 % interval).
    pub alpha: f64,
}

/// A regression: the P95 grew beyond noise (the interval's low end above
/// zero) and beyond what matters (more than `max_regression`, and by at
/// least `floor_ms`).
pub fn is_regression(
    change: f64,
    (lo, _): (f64, f64),
    (base_ms, head_ms): (f64, f64),
    gate: &Gate,
) -> bool {
    lo > 0.0 && change > gate.max_regression && head_ms - base_ms >= gate.floor_ms
}

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// When a change is a regression.
    pub gate: Gate,
    /// Seconds dropped at the start of each scenario of each run (warm-up).
    pub skip_s: f64,
    /// Compare runs that differ in what the comparison depends on.
    pub force: bool,
}

/// Reads both sides (one or more runs each) and compares them (see [`compare`]).
pub fn compare_runs(
    base: &[std::path::PathBuf],
    head: &[std::path::PathBuf],
    options: &CompareOptions,
) -> Result<Comparison, AnalyzeError> {
    let read = |dirs: &[std::path::PathBuf]| {
        dirs.iter()
            .map(|d| run_side(d, options.skip_s))
            .collect::<Result<Vec<_>, _>>()
    };
    let (b, h) = (read(base)?, read(head)?);
    let differences = crate::like::differences(&b, &h);
    if !differences.is_empty() && !options.force {
        return Err(AnalyzeError::Unlike(differences));
    }
    let mut c = compare(&b, &h, &options.gate);
    c.differences = differences;
    // Base and head builds differ by design: said, never refused.
    c.versions = crate::like::versions(&b, &h);
    c.skipped_s = options.skip_s;
    Ok(c)
}

/// One run's requests per scenario, in start order: latencies and, from its
/// split.parquet, each component per request.
pub fn run_side(dir: &Path, skip_s: f64) -> Result<RunSide, AnalyzeError> {
    let mut notes = Vec::new();
    let t = crate::requests::load_requests(&[dir.to_owned()], &mut notes)?;
    let mut rows: Vec<usize> = (0..t.len()).filter(|&i| t.expected[i]).collect();
    rows.sort_by_key(|&i| t.start[i]);
    let mut order: Vec<String> = Vec::new();
    let mut by_scenario: HashMap<String, Vec<usize>> = HashMap::new();
    for i in rows {
        let name = &t.scenarios[t.scenario[i] as usize];
        if !by_scenario.contains_key(name) {
            order.push(name.clone());
        }
        by_scenario.entry(name.clone()).or_default().push(i);
    }
    let mut explained = explained(dir)?;
    let parts = crate::like::split_parts(dir)?;
    let scenarios = order
        .into_iter()
        .map(|name| {
            let rows = warm(&t, by_scenario.remove(&name).unwrap_or_default(), skip_s);
            let samples_ms = rows
                .iter()
                .map(|&i| tracesplit_model::stats::ms(t.duration[i]))
                .collect();
            let components = parts.components(&name, rows.iter().map(|&i| t.span_id.text(i)));
            let (split, slow_profile) = explained.remove(&name).unwrap_or_default();
            ScenarioSide {
                samples_ms,
                split,
                components,
                slow_profile,
                scenario: name,
            }
        })
        .collect();
    Ok(RunSide {
        label: dir.display().to_string(),
        manifest: crate::inputs::manifest(dir).ok(),
        version: crate::like::service_version(dir),
        scenarios,
    })
}

/// `rows` (start order) without those of the first `skip_s` seconds, unless
/// that would leave fewer than half of them.
fn warm(t: &crate::table::RequestTable, rows: Vec<usize>, skip_s: f64) -> Vec<usize> {
    let Some(&first) = rows.first() else {
        return rows;
    };
    let from = t.start[first] + (skip_s * 1e9) as i64;
    let kept = rows.partition_point(|&i| t.start[i] < from);
    if (rows.len() - kept) * 2 >= rows.len() {
        rows[kept..].to_vec()
    } else {
        rows
    }
}

/// Per scenario, the P95 split and the slow set's shape profile of
/// `summary.json`'s analysis, when the run was analyzed.
fn explained(dir: &Path) -> Result<HashMap<String, Explained>, AnalyzeError> {
    let path = dir.join("summary.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(HashMap::new());
    };
    let bad = |source| AnalyzeError::Json {
        path: path.clone(),
        what: "tracesplit summary",
        source,
    };
    let summary: Summary = serde_json::from_str(&text).map_err(bad)?;
    let Some(value) = summary.analysis else {
        return Ok(HashMap::new());
    };
    let analysis: Analysis = serde_json::from_value(value).map_err(bad)?;
    Ok(analysis
        .scenarios
        .into_iter()
        .map(|s| {
            let profile = s.tail.map(|t| t.slow_profile).unwrap_or_default();
            (s.scenario, (s.p95_split, profile))
        })
        .collect())
}

/// A scenario's P95 split and slow-set shape profile.
type Explained = (Option<tracesplit_model::analysis::Split>, Vec<ShapeMean>);

/// One run's side of a comparison.
#[derive(Debug, Clone, Default)]
pub struct RunSide {
    /// Run directory (for the report).
    pub label: String,
    /// Its manifest, when it has one (what the run was: suite, load model, host).
    pub manifest: Option<tracesplit_model::RunManifest>,
    /// The API's `service.version`, when its spans carry one.
    pub version: Option<String>,
    /// Scenarios in run order.
    pub scenarios: Vec<ScenarioSide>,
}

/// One scenario of one run.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSide {
    /// Scenario name.
    pub scenario: String,
    /// Client latencies (ms) of the requests with an expected status, in start order.
    pub samples_ms: Vec<f64>,
    /// P95 split, when the run was analyzed with spans.
    pub split: Option<tracesplit_model::analysis::Split>,
    /// Per component (network, queue, handler, cascade, db other), each
    /// matched request's value (ms) in start order; empty without split.parquet.
    pub components: Vec<Vec<f64>>,
    /// The slow set's span shapes (from the run's tail explanation).
    pub slow_profile: Vec<ShapeMean>,
}

/// Compares `head` against `base` (one or more runs each): a scenario
/// regressed when [`is_regression`] says so of its P95 change.
pub fn compare(base: &[RunSide], head: &[RunSide], gate: &Gate) -> Comparison {
    let names = |side: &[RunSide]| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in side.iter().flat_map(|r| &r.scenarios) {
            if !v.contains(&s.scenario) {
                v.push(s.scenario.clone());
            }
        }
        v
    };
    let (bn, hn) = (names(base), names(head));
    let scenarios = hn
        .iter()
        .filter(|n| bn.contains(n))
        .enumerate()
        .map(|(k, n)| change(&of(base, n), &of(head, n), gate, k as u64))
        .collect();
    let unpaired = hn
        .iter()
        .filter(|n| !bn.contains(n))
        .chain(bn.iter().filter(|n| !hn.contains(n)))
        .cloned()
        .collect();
    let label = |side: &[RunSide]| {
        side.iter()
            .map(|r| r.label.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Comparison {
        base: label(base),
        head: label(head),
        max_regression: gate.max_regression,
        alpha: gate.alpha,
        scenarios,
        unpaired,
        floor_ms: gate.floor_ms,
        runs: (base.len() as u64, head.len() as u64),
        skipped_s: 0.0,
        differences: Vec::new(),
        versions: None,
    }
}

/// Scenario `name` of each run of a side.
fn of<'a>(side: &'a [RunSide], name: &str) -> Vec<&'a ScenarioSide> {
    side.iter()
        .filter_map(|r| r.scenarios.iter().find(|s| s.scenario == name))
        .collect()
}

fn change(b: &[&ScenarioSide], h: &[&ScenarioSide], gate: &Gate, seed: u64) -> ScenarioChange {
    let runs = |side: &[&ScenarioSide]| -> Vec<Run> {
        side.iter().map(|s| s.samples_ms.clone()).collect()
    };
    let (br, hr) = (runs(b), runs(h));
    let (base_p95_ms, head_p95_ms) = (side_p95(&br), side_p95(&hr));
    let c = crate::bootstrap::p95_change_with(
        &br,
        &hr,
        seed + 1,
        crate::bootstrap::RESAMPLES,
        gate.alpha,
    );
    let components = components(b, h, seed);
    ScenarioChange {
        scenario: h.first().map(|s| s.scenario.clone()).unwrap_or_default(),
        base_count: br.iter().map(Vec::len).sum::<usize>() as u64,
        head_count: hr.iter().map(Vec::len).sum::<usize>() as u64,
        base_p95_ms,
        head_p95_ms,
        change: c.change,
        interval: c.interval,
        p_value: c.p,
        significant: c.interval.0 > 0.0 || c.interval.1 < 0.0,
        regression: is_regression(c.change, c.interval, (base_p95_ms, head_p95_ms), gate),
        components,
        shape: grown_shape(b, h),
    }
}

/// The span shape whose mean exclusive time per slow request grew most,
/// each side's runs averaged (a shape absent from a run counts 0 there);
/// `None` unless both sides have profiles and some shape grew.
fn grown_shape(b: &[&ScenarioSide], h: &[&ScenarioSide]) -> Option<ShapeGrowth> {
    let (bp, hp) = (profiled(b), profiled(h));
    if bp.is_empty() || hp.is_empty() {
        return None;
    }
    // shape → (db, ms, calls), averaged over a side's runs.
    let mean = |runs: &[&[ShapeMean]]| -> BTreeMap<String, (bool, f64, f64)> {
        let mut m: BTreeMap<String, (bool, f64, f64)> = BTreeMap::new();
        let n = runs.len() as f64;
        for s in runs.iter().flat_map(|r| r.iter()) {
            let e = m.entry(s.shape.clone()).or_insert((s.db, 0.0, 0.0));
            e.1 += s.ms / n;
            e.2 += s.calls / n;
        }
        m
    };
    let (bm, hm) = (mean(&bp), mean(&hp));
    hm.into_iter()
        .map(|(shape, (db, head_ms, head_calls))| {
            let (_, base_ms, base_calls) = bm.get(&shape).copied().unwrap_or_default();
            ShapeGrowth {
                shape,
                db,
                base_ms,
                head_ms,
                base_calls,
                head_calls,
            }
        })
        .filter(|g| g.head_ms > g.base_ms)
        .max_by(|x, y| (x.head_ms - x.base_ms).total_cmp(&(y.head_ms - y.base_ms)))
}

/// Each run's slow-set profile, for the runs that have one.
fn profiled<'a>(side: &[&'a ScenarioSide]) -> Vec<&'a [ShapeMean]> {
    side.iter()
        .map(|s| s.slow_profile.as_slice())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The P95 split's components of the first run a side, each with the change
/// of its per-request mean and that change's interval.
fn components(b: &[&ScenarioSide], h: &[&ScenarioSide], seed: u64) -> Vec<ComponentChange> {
    let (Some(bs), Some(hs)) = (
        b.first().and_then(|s| s.split),
        h.first().and_then(|s| s.split),
    ) else {
        return Vec::new();
    };
    let per = |side: &[&ScenarioSide], k: usize| -> Vec<Run> {
        side.iter()
            .filter_map(|s| s.components.get(k).cloned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    bs.components()
        .iter()
        .zip(hs.components())
        .enumerate()
        .map(|(k, ((name, bv), (_, hv)))| {
            let (pb, ph) = (per(b, k), per(h, k));
            let moved = (!pb.is_empty() && !ph.is_empty())
                .then(|| mean_change(&pb, &ph, seed * 7 + k as u64 + 3));
            ComponentChange {
                component: (*name).to_owned(),
                base_ms: *bv,
                head_ms: hv,
                mean_change_ms: moved.map(|m| m.change),
                interval_ms: moved.map(|m| m.interval),
            }
        })
        .collect()
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
            manifest: None,
            version: None,
            scenarios: vec![ScenarioSide {
                scenario: "S".into(),
                samples_ms: samples,
                ..Default::default()
            }],
        }
    }

    const GATE: Gate = Gate {
        max_regression: 0.10,
        floor_ms: 0.5,
        alpha: 0.05,
    };

    #[test]
    fn a_regression_needs_significance_size_and_the_floor() {
        let base: Vec<f64> = (0..400).map(|i| 10.0 + f64::from(i % 7)).collect();
        let slow: Vec<f64> = base.iter().map(|v| v * 1.5).collect();
        let c = compare(&[side("a", base.clone())], &[side("b", slow)], &GATE);
        let s = &c.scenarios[0];
        assert!(s.significant && s.regression, "{s:?}");
        assert!((s.change - 0.5).abs() < 1e-9);
        assert!(s.interval.0 > 0.3 && s.interval.1 < 0.7, "{s:?}");
        // Same samples: no change, no regression.
        let same = compare(
            &[side("a", base.clone())],
            &[side("b", base.clone())],
            &GATE,
        );
        assert!(!same.scenarios[0].regression && !same.scenarios[0].significant);
        // 5 % slower and significant, but under the 10 % threshold.
        let bit: Vec<f64> = base.iter().map(|v| v * 1.05 + 0.01).collect();
        let c = compare(&[side("a", base.clone())], &[side("b", bit)], &GATE);
        assert!(!c.scenarios[0].regression, "{:?}", c.scenarios[0]);
        // A sub-millisecond scenario 50 % slower: under the floor.
        let tiny: Vec<f64> = base.iter().map(|v| v / 100.0).collect();
        let tiny_slow: Vec<f64> = tiny.iter().map(|v| v * 1.5).collect();
        let c = compare(&[side("a", tiny)], &[side("b", tiny_slow)], &GATE);
        assert!(
            c.scenarios[0].significant && !c.scenarios[0].regression,
            "{:?}",
            c.scenarios[0]
        );
    }

    #[test]
    fn a_burst_in_one_run_is_not_a_regression() {
        // The same latencies; the head's first 60 requests (three time blocks)
        // hit by a burst that makes them 20× slower: its P95 doubles, but the
        // blocks say the burst may as well not have been there.
        let base: Vec<f64> = (0..800).map(|i| 10.0 + f64::from(i % 11)).collect();
        let mut head = base.clone();
        for v in head.iter_mut().take(60) {
            *v *= 20.0;
        }
        let c = compare(&[side("a", base)], &[side("b", head)], &GATE);
        let s = &c.scenarios[0];
        assert!(s.change > 0.5, "{s:?}");
        assert!(!s.regression && s.interval.0 <= 0.0, "{s:?}");
    }

    #[test]
    fn the_shape_that_grew_most_is_named_over_the_runs_of_each_side() {
        let with = |profile: &[(&str, f64)]| ScenarioSide {
            scenario: "S".into(),
            slow_profile: profile
                .iter()
                .map(|&(shape, ms)| ShapeMean {
                    shape: shape.into(),
                    db: shape.starts_with("SELECT"),
                    calls: 1.0,
                    ms,
                })
                .collect(),
            ..Default::default()
        };
        let (b1, b2) = (
            with(&[("GET /x", 1.0), ("SELECT a", 2.0)]),
            with(&[("GET /x", 1.2), ("SELECT a", 2.2)]),
        );
        // SELECT a grows 2.1 → 2.6; SELECT b is new at 1.0: it grew most.
        let (h1, h2) = (
            with(&[("GET /x", 1.1), ("SELECT a", 2.6), ("SELECT b", 1.2)]),
            with(&[("GET /x", 1.1), ("SELECT a", 2.6), ("SELECT b", 0.8)]),
        );
        let g = grown_shape(&[&b1, &b2], &[&h1, &h2]).unwrap();
        assert_eq!((g.shape.as_str(), g.db), ("SELECT b", true));
        assert!((g.base_ms, g.head_ms) == (0.0, 1.0), "{g:?}");
        // Nothing grew, or a side without profiles: none named.
        assert_eq!(grown_shape(&[&h1], &[&b1]), None);
        assert_eq!(grown_shape(&[&b1], &[&b1]), None);
        assert_eq!(grown_shape(&[&with(&[])], &[&h1]), None);
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
