//! The notebooks in notebooks/ run (nbclient, a real Jupyter kernel) on the
//! output of a fresh `tracesplit demo`, so they never drift from the file formats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::path::Path;
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
    stores_rewritten_by_polars_analyze_alike(&run, dir.path());
}

/// The run's analysis (`summary.json` without where the spans came from)
/// and `split.parquet`, from a fresh `tracesplit analyze` of `run`.
fn analysis_of(run: &Path) -> (serde_json::Value, Vec<u8>) {
    let out = Command::new(bin())
        .args(["analyze", run.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let summary = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let mut summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let mut analysis = summary["analysis"].take();
    analysis["span_source"] = serde_json::Value::Null;
    (analysis, std::fs::read(run.join("split.parquet")).unwrap())
}

/// A span store rewritten by polars (its defaults: Zstd, its own row groups,
/// its binary type for the ids) and one whose ids are hex text (as
/// tracesplit 0.1.0 wrote them) give the same analysis and split, byte for
/// byte; the drill-down notebook reads the hex-text store too.
fn stores_rewritten_by_polars_analyze_alike(run: &Path, dir: &Path) {
    let (analysis, split) = analysis_of(run);
    assert!(
        analysis["scenarios"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    for layout in ["binary", "hex"] {
        let copy = dir.join(format!("rewritten-{layout}"));
        python_ok(
            "rewrite_store.py",
            &[run.as_os_str(), copy.as_os_str(), layout.as_ref()],
        );
        let (copied, copied_split) = analysis_of(&copy);
        assert!(copied == analysis, "{layout}: the analysis differs");
        assert!(copied_split == split, "{layout}: split.parquet differs");
    }
    codec_this_build_does_not_decode_is_named(run, dir);
    let (root, hex) = (workspace_root(), dir.join("rewritten-hex"));
    let text = python_ok(
        "run_notebooks.py",
        &[root.as_os_str(), hex.as_os_str(), "outlier".as_ref()],
    );
    assert!(
        text.contains("== outlier_drilldown.ipynb: ok") && text.contains("SERVER"),
        "{text}"
    );
}

/// A store rewritten with LZ4 (polars offers it; this build decodes Snappy
/// and Zstd) is an input error naming the file, the codec and what to do.
fn codec_this_build_does_not_decode_is_named(run: &Path, dir: &Path) {
    let copy = dir.join("rewritten-lz4");
    python_ok(
        "rewrite_store.py",
        &[
            run.as_os_str(),
            copy.as_os_str(),
            "binary".as_ref(),
            "lz4".as_ref(),
        ],
    );
    let out = Command::new(bin())
        .args(["analyze", copy.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(".parquet: compressed with lz4")
            && stderr.contains("write it again with Snappy or Zstd"),
        "{stderr}"
    );
}
