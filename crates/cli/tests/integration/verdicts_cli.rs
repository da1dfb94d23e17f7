//! One source of truth: the analyzer judges what the runner recorded, and
//! every output says the same — the open model's corrected P95 included, and
//! every scenario of the suite, measured or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(url: &str, out: &Path, extra: &[&str]) -> Output {
    let reports = [
        ("--markdown", "report.md"),
        ("--junit", "junit.xml"),
        ("--html", "report.html"),
    ];
    let mut args: Vec<String> = Vec::new();
    for (flag, file) in reports {
        args.push(flag.into());
        args.push(out.with_extension(file).to_str().unwrap().into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    run_command(url, out).args(&args).output().unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A slow API driven at a rate it cannot keep up with: the uncorrected P95
/// is within target, the corrected one is seconds — FAIL, exit 1, in every
/// format, with the spans collected or not.
#[test]
fn the_corrected_p95_decides_the_open_model_in_every_output() {
    let (_cat, url) = serve_catalog(&["--no-telemetry", "--handler-delay-ms", "300"]);
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [("no-collect", &["--no-collect"][..]), ("collect", &[][..])] {
        let out = dir.path().join(name);
        let mut args = vec![
            "--scenario",
            "CPU_PATCH_SINGLE_FIELD",
            "--runs",
            "16",
            "--rate",
            "10",
            // One in flight at most: 300 ms requests cannot keep 10/s, so
            // starts fall behind and the corrected P95 grows.
            "--max-concurrency",
            "1",
        ];
        args.extend_from_slice(extra);
        let o = run(&url, &out, &args);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {all}");
        assert!(
            all.contains("FAIL CPU_PATCH_SINGLE_FIELD: P95 corrected for coordinated omission"),
            "{name}: {all}"
        );
        let summary: serde_json::Value =
            serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
        let r = &summary["results"][0];
        let (p95, corrected) = (
            r["p95_ms"].as_f64().unwrap(),
            r["p95_corrected_ms"].as_f64().unwrap(),
        );
        assert!(p95 < 500.0 && corrected > 1000.0, "{name}: {r}");
        assert_eq!(r["passed"], false);
        assert_eq!(summary["summary"]["failed"], 1);
        assert!(r["verdict"].as_str().unwrap().contains("corrected"), "{r}");
        let md = read(&out.with_extension("report.md"));
        assert!(
            md.contains("corrected P95 ms")
                && md.contains("P95 corrected for coordinated omission"),
            "{md}"
        );
        let junit = read(&out.with_extension("junit.xml"));
        assert!(
            junit.contains("failure message=\"P95 corrected for coordinated omission"),
            "{junit}"
        );
        let html = read(&out.with_extension("report.html"));
        assert!(
            html.contains("<th>corrected P95</th>")
                && html.contains("P95 corrected for coordinated omission")
        );
    }
}

/// The API dies mid-run: the scenarios it never reached are in every
/// output, failing, with the reason; the note is everywhere too.
#[test]
fn a_run_whose_api_dies_lists_every_scenario_in_every_output() {
    let (cat, url) = serve_catalog(&["--no-telemetry", "--handler-delay-ms", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("died");
    let journal = out.join("requests.journal.jsonl");
    let killer = std::thread::spawn(move || {
        // Once the third scenario is measuring, the API dies.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !std::fs::read_to_string(&journal).is_ok_and(|t| t.contains("CPU_DELETE_NO_LISTINGS"))
        {
            assert!(
                Instant::now() < deadline,
                "the run never reached the third scenario"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        cat.kill_hard();
    });
    let o = run(
        &url,
        &out,
        &["--runs", "30", "--setup-retries", "1", "--no-collect"],
    );
    killer.join().unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    let summary: serde_json::Value =
        serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results.len(), 16, "{all}");
    assert_eq!(summary["summary"]["total_tests"], 16);
    let reached: Vec<&str> = results
        .iter()
        .filter(|r| r["not_measured"].is_null())
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert!(reached.len() < 16, "some were never reached: {reached:?}");
    let skipped = results
        .iter()
        .find(|r| r["scenario"] == "PORTS_PROFILE_LIST")
        .unwrap();
    assert_eq!(skipped["passed"], false);
    assert_eq!(
        skipped["not_measured"],
        "the API stopped answering before it"
    );
    assert!(
        summary["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("stopped answering"))
    );
    let junit = read(&out.with_extension("junit.xml"));
    assert!(junit.contains("tests=\"16\""), "{junit}");
    assert!(
        junit.contains("stopped answering mid-run"),
        "the note: {junit}"
    );
    for file in ["report.md", "report.html"] {
        let t = read(&out.with_extension(file));
        assert!(
            t.contains("PORTS_PROFILE_LIST") && t.contains("not measured"),
            "{file}"
        );
        assert!(
            t.contains("stopped answering mid-run"),
            "the note in {file}"
        );
    }
    let md = read(&out.with_extension("report.md"));
    assert!(md.contains("| PORTS_PROFILE_LIST | n/a |"), "{md}");
}
