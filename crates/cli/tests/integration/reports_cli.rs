//! Reports and comparisons from real runs, as processes: the cascade sweep
//! into Markdown, JUnit (read by junitparser), HTML and a summary.json that
//! the `jsonschema` validator accepts; `compare` and its exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::path::Path;
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_cascade_sweep_reaches_every_report() {
    let port = free_port();
    let (cat, url) = serve_catalog(&[
        "--no-listing-index",
        "--seed-listings",
        "20000",
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{port}"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let (md, junit, html) = (
        dir.path().join("r.md"),
        dir.path().join("j.xml"),
        dir.path().join("r.html"),
    );
    let output = Command::new(bin())
        .args([
            "run",
            "--base-url",
            &url,
            "--runs",
            "4",
            "--cascade-sweep",
            "0,1000,4000",
        ])
        .args([
            "--scenario",
            "CASCADE_SWEEP_*",
            "--out",
            run_dir.to_str().unwrap(),
        ])
        .args([
            "--collector-grpc",
            "127.0.0.1:0",
            "--collector-http",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--markdown",
            md.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ])
        .args(["--html", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);

    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
    let sweep = &s["analysis"]["cascade_sweep"];
    let listings: Vec<u64> = sweep["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["listings"].as_u64().unwrap())
        .collect();
    assert_eq!(listings, [0, 1000, 4000]);
    let cascade = |i: usize| sweep["points"][i]["split"]["cascade_ms"].as_f64().unwrap();
    assert!(
        cascade(2) > cascade(0),
        "the usage check grows with the listings: {sweep}"
    );
    assert!(
        sweep["slope_per_1000"]["cascade_ms"].as_f64().unwrap() > 0.0,
        "{sweep}"
    );

    // The real summary.json against the checked-in schema, by a validator we did not write.
    let schema = workspace_root().join("schemas/summary.schema.json");
    let v = python_script(
        "validate_json.py",
        &[&schema, &run_dir.join("summary.json")],
    );
    assert!(v.status.success(), "{}", text(&v));

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("## Cascade sweep") && md.contains("| 4000 |"),
        "{md}"
    );
    assert!(
        md.contains("Fitted growth per 1,000 listings (0 → 4000; ± is the 95 % interval)"),
        "{md}"
    );
    assert!(md.contains("```text"), "an exemplar waterfall: {md}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<svg class=\"sweep\"") && html.contains("<svg class=\"waterfall\""));
    let j = python_script("read_junit.py", &[&junit]);
    assert!(j.status.success(), "{}", text(&j));
    let parsed: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    let names: Vec<&str> = parsed["suites"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CASCADE_SWEEP_0",
            "CASCADE_SWEEP_1000",
            "CASCADE_SWEEP_4000"
        ]
    );

    // analyze writes the same reports on its own; `-` is stdout.
    let again = Command::new(bin())
        .args(["analyze", run_dir.to_str().unwrap(), "--markdown", "-"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("# tracesplit report"));
}

fn measured_run(dir: &Path, handler_delay_ms: &str) -> std::path::PathBuf {
    let (cat, url) = serve_catalog(&["--no-telemetry", "--handler-delay-ms", handler_delay_ms]);
    let out = dir.join(format!("delay-{handler_delay_ms}"));
    let o = Command::new(bin())
        .args([
            "run",
            "--base-url",
            &url,
            "--runs",
            "25",
            "--scenario",
            "GPU_PATCH_SINGLE_FIELD",
        ])
        .args(["--out", out.to_str().unwrap(), "--span-wait", "100ms"])
        .args([
            "--collector-grpc",
            "127.0.0.1:0",
            "--collector-http",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    cat.terminate();
    out
}

fn compare(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("compare")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn compare_flags_a_significant_regression_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let base = measured_run(dir.path(), "0");
    let head = measured_run(dir.path(), "15");
    let (b, h) = (base.to_str().unwrap(), head.to_str().unwrap());
    let md = dir.path().join("compare.md");
    let json = dir.path().join("compare.json");

    let slower = compare(&[
        b,
        h,
        "--markdown",
        md.to_str().unwrap(),
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(slower.status.code(), Some(1), "{}", text(&slower));
    assert!(text(&slower).contains("REGRESSION"), "{}", text(&slower));
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let s = &c["scenarios"][0];
    assert_eq!(s["regression"], true);
    assert!(s["p_value"].as_f64().unwrap() < 0.001, "{s}");
    // Every head request sleeps 15 ms in the handler, so its P95 is at least
    // that. (Not "base P95 + 14": P95s do not subtract, and the base P95 picks
    // up scheduler noise from the test running beside it — seen: 4.6 ms.)
    let (base_p95, head_p95) = (
        s["base_p95_ms"].as_f64().unwrap(),
        s["head_p95_ms"].as_f64().unwrap(),
    );
    assert!(head_p95 >= 15.0 && head_p95 > base_p95, "{s}");
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("| GPU_PATCH_SINGLE_FIELD |")
    );

    let faster = compare(&[h, b]);
    assert_eq!(faster.status.code(), Some(0), "{}", text(&faster));
    assert!(text(&faster).contains("faster"));
    let same = compare(&[b, b]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("no significant change"));
    let tolerant = compare(&[b, h, "--max-regression", "100000%"]);
    assert_eq!(tolerant.status.code(), Some(0), "{}", text(&tolerant));

    let missing = compare(&[b, dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(text(&missing).contains("nope"));
    let bad = compare(&[b, h, "--max-regression", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("--max-regression"));
    let usage = compare(&[b]);
    assert_eq!(usage.status.code(), Some(2), "clap's usage error");
}
