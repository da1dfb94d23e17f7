//! The notebooks in notebooks/ run (nbclient, a real Jupyter kernel) on the
//! output of a fresh `tracesplit demo`, so they never drift from the file formats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::process::Command;

#[test]
fn notebooks_execute_on_a_fresh_demo() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("demo");
    let demo = Command::new(bin())
        .args([
            "demo",
            "--listings",
            "20000",
            "--runs",
            "4",
            "--out",
            run.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        matches!(demo.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    for file in ["split.parquet", "report.md", "report.html", "junit.xml"] {
        assert!(run.join(file).exists(), "the demo wrote no {file}");
    }
    let out = Command::new(python())
        .arg(workspace_root().join("tests-support/python/run_notebooks.py"))
        .arg(workspace_root())
        .arg(&run)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for nb in [
        "compare_runs",
        "latency_distributions",
        "outlier_drilldown",
        "split_over_time",
    ] {
        assert!(text.contains(&format!("== {nb}.ipynb: ok")), "{nb}: {text}");
    }
    // The drill-down printed a span tree with the server span and a DB statement under it.
    assert!(text.contains("SERVER") && text.contains("SELECT"), "{text}");
    assert!(text.contains("CPU_DELETE_WITH_LISTINGS_1000"), "{text}");
}
