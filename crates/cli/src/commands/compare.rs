//! `tracesplit compare BASE HEAD`: raw latencies from each run's
//! requests.parquet, the P95 split from its summary.json, a Mann-Whitney U test
//! per scenario; exit 1 when a scenario regressed.

use crate::args::CompareArgs;
use crate::commands::analyze::write_to;
use crate::exit;
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::path::Path;
use tracesplit_model::Analysis;
use tracesplit_model::compare::{RunSide, ScenarioSide, compare};
use tracesplit_model::manifest::REQUESTS_FILE;
use tracesplit_model::summary::Summary;

/// `10%`, `10`, `2.5` → 0.10, 0.10, 0.025.
pub fn parse_percent(text: &str) -> anyhow::Result<f64> {
    let v: f64 = text
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--max-regression {text:?} is not a percentage (e.g. 10%)"))?;
    if !(v.is_finite() && v >= 0.0) {
        bail!("--max-regression must be a percentage ≥ 0, got {text}");
    }
    Ok(v / 100.0)
}

/// One run's samples and splits.
fn side(dir: &Path) -> anyhow::Result<RunSide> {
    let path = dir.join(REQUESTS_FILE);
    if !path.exists() {
        bail!(
            "{} has no {REQUESTS_FILE}: is it a tracesplit run directory?",
            dir.display()
        );
    }
    let requests = tracesplit_store::read_requests(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let splits = splits(dir)?;
    let mut order: Vec<String> = Vec::new();
    let mut samples: HashMap<String, Vec<f64>> = HashMap::new();
    for r in requests.iter().filter(|r| r.expected) {
        if !samples.contains_key(&r.scenario) {
            order.push(r.scenario.clone());
        }
        samples
            .entry(r.scenario.clone())
            .or_default()
            .push(tracesplit_model::stats::ms(r.duration_ns));
    }
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

/// The P95 splits of summary.json's analysis, when the run was analyzed.
fn splits(
    dir: &Path,
) -> anyhow::Result<HashMap<String, Option<tracesplit_model::analysis::Split>>> {
    let path = dir.join("summary.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(HashMap::new());
    };
    let summary: Summary = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a tracesplit summary", path.display()))?;
    let Some(value) = summary.analysis else {
        return Ok(HashMap::new());
    };
    let analysis: Analysis = serde_json::from_value(value)
        .with_context(|| format!("the analysis in {} is malformed", path.display()))?;
    Ok(analysis
        .scenarios
        .into_iter()
        .map(|s| (s.scenario, s.p95_split))
        .collect())
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let max_regression = parse_percent(&args.max_regression)?;
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", args.alpha);
    }
    let base = side(&args.base).context("base run")?;
    let head = side(&args.head).context("head run")?;
    let comparison = compare(&base, &head, max_regression, args.alpha);
    if comparison.scenarios.is_empty() {
        bail!(
            "the runs have no scenario in common (base: {}, head: {})",
            args.base.display(),
            args.head.display()
        );
    }
    if let Some(path) = &args.output {
        let json = serde_json::to_vec_pretty(&comparison)?;
        write_to(path, &json, "comparison JSON")?;
    }
    if let Some(path) = &args.markdown {
        write_to(
            path,
            tracesplit_report::compare_markdown(&comparison).as_bytes(),
            "Markdown comparison",
        )?;
    }
    print!("{}", tracesplit_report::compare_terminal(&comparison));
    Ok(if comparison.regressions().next().is_some() {
        exit::FAILED
    } else {
        exit::OK
    })
}
