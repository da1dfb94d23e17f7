//! `tracesplit compare BASE HEAD` (or `A1 A2 A3 -- B1 B2 B3`): the analyzer
//! compares the runs (latencies from each run's requests.parquet, the P95
//! split from its summary.json and split.parquet, a block bootstrap over time
//! per scenario); exit 1 when a scenario regressed, 2 when the runs differ in
//! what the comparison depends on (unless --force).

use crate::args::CompareArgs;
use crate::commands::analyze::write_to;
use crate::exit;
use anyhow::bail;
use std::path::{Path, PathBuf};
use tracesplit_analyzer::compare::{CompareOptions, Gate};

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

/// A run directory, or the runs inside a directory of runs (sorted).
fn expand(dir: &Path) -> Vec<PathBuf> {
    if dir.join(tracesplit_model::manifest::MANIFEST_FILE).exists()
        || dir.join(tracesplit_model::manifest::REQUESTS_FILE).exists()
    {
        return vec![dir.to_owned()];
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(tracesplit_model::manifest::MANIFEST_FILE).exists())
        .collect();
    runs.sort();
    if runs.is_empty() {
        vec![dir.to_owned()]
    } else {
        runs
    }
}

/// The two sides: `BASE HEAD`, or `A… -- B…`.
fn sides(args: &CompareArgs) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let all = |dirs: &[PathBuf]| dirs.iter().flat_map(|d| expand(d)).collect::<Vec<_>>();
    if !args.head.is_empty() {
        return Ok((all(&args.runs), all(&args.head)));
    }
    match args.runs.as_slice() {
        [base, head] => Ok((expand(base), expand(head))),
        _ => bail!("give two runs (BASE HEAD), or the base runs, `--` and the head runs"),
    }
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let max_regression = parse_percent(&args.max_regression)?;
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", args.alpha);
    }
    if !(args.min_regression_ms.is_finite() && args.min_regression_ms >= 0.0) {
        bail!(
            "--min-regression-ms must be ≥ 0, got {}",
            args.min_regression_ms
        );
    }
    let (base, head) = sides(&args)?;
    let options = CompareOptions {
        gate: Gate {
            max_regression,
            floor_ms: args.min_regression_ms,
            alpha: args.alpha,
        },
        skip_s: args.skip.as_secs_f64(),
        force: args.force,
    };
    let comparison = tracesplit_analyzer::compare::compare_runs(&base, &head, &options)?;
    if comparison.scenarios.is_empty() {
        bail!(
            "the runs have no scenario in common (base: {}, head: {})",
            comparison.base,
            comparison.head
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
    if let Some(path) = &args.junit {
        write_to(
            path,
            tracesplit_report::compare_junit(&comparison).as_bytes(),
            "JUnit comparison",
        )?;
    }
    print!("{}", tracesplit_report::compare_terminal(&comparison));
    Ok(if comparison.regressions().next().is_some() {
        exit::FAILED
    } else {
        exit::OK
    })
}
