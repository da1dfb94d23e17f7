//! `tracesplit compare BASE HEAD`: the analyzer compares the runs (raw
//! latencies from each run's requests.parquet, the P95 split from its
//! summary.json, a Mann-Whitney U test per scenario); exit 1 when a scenario
//! regressed.

use crate::args::CompareArgs;
use crate::commands::analyze::write_to;
use crate::exit;
use anyhow::bail;

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

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let max_regression = parse_percent(&args.max_regression)?;
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", args.alpha);
    }
    let comparison = tracesplit_analyzer::compare::compare_runs(
        &args.base,
        &args.head,
        max_regression,
        args.alpha,
    )?;
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
