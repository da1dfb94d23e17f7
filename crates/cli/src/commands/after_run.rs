//! After `run` and `demo`: the analysis of what was recorded (with the
//! spans when a collector ran, without them otherwise — the same code path),
//! the reports, and where everything is.

use crate::args::{AnalysisOptions, ReportOptions};
use crate::commands::analyze;
use crate::commands::run::Executed;
use anyhow::Context;
use std::path::Path;

/// Analyzes the run, writes `summary.json` (and `--output`) and the reports,
/// prints the table and the files. Returns how many scenarios failed.
pub fn analyze_after_run(
    done: &Executed,
    options: &AnalysisOptions,
    reports: &ReportOptions,
    output: Option<&Path>,
) -> anyhow::Result<u64> {
    let outcome = &done.outcome;
    let dir = &outcome.run_dir;
    eprintln!(
        "analyzing {} requests{}…",
        outcome.requests,
        match done.stored_spans {
            Some(n) => format!(" and {n} spans"),
            None => " (no spans here: client figures only)".into(),
        }
    );
    let cfg = analyze::config(vec![dir.clone()], Vec::new(), options);
    let (out, summary) =
        analyze::analyze_and_write(&cfg, dir, output, true).with_context(|| {
            format!(
                "the run's records are kept in {}; analyze them again with `tracesplit analyze {}`",
                dir.display(),
                dir.display()
            )
        })?;
    analyze::write_reports(&out.analysis, reports)?;
    analyze::print_table(&out)?;
    let d = dir.display();
    println!("requests: {d}/requests.parquet ({} rows)", outcome.requests);
    match done.stored_spans {
        Some(n) => println!("spans:    {d}/spans ({n} stored)"),
        None => println!(
            "spans:    not collected here; split them with `tracesplit analyze {d} --spans DIR` (or --otlp-json FILE, --jaeger URL, --tempo URL)"
        ),
    }
    println!("summary:  {d}/summary.json");
    Ok(summary.summary.failed)
}
