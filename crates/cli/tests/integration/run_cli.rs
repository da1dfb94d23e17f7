//! `tracesplit run`, `suite show` and `cleanup` as processes: exit codes,
//! outputs, secrets, and cleanup after a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn catalog() -> (Proc, String) {
    serve_catalog(&["--no-telemetry"])
}

fn run(args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "run",
        "--collector-grpc",
        "127.0.0.1:0",
        "--collector-http",
        "127.0.0.1:0",
        "--span-wait",
        "200ms",
    ];
    all.extend_from_slice(args);
    Command::new(bin()).args(&all).output().unwrap()
}

#[test]
fn exit_codes_of_run() {
    let (cat, url) = catalog();
    let dir = tempfile::tempdir().unwrap();

    let ok = run(&[
        "--base-url",
        &url,
        "--runs",
        "3",
        "--scenario",
        "GPU_*",
        "--out",
        dir.path().join("ok").to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.contains("3 of 3 scenarios met their targets"),
        "{stdout}"
    );

    let suite = dir.path().join("strict.toml");
    std::fs::write(&suite, "name = \"strict\"\n[[scenario]]\nname = \"TOO_STRICT\"\nentity_type = \"GPU\"\noperation = \"LIST\"\ntarget_p95_ms = 0.000001\nsteps = [{ method = \"GET\", path = \"/v1/catalog/gpus\", expect = [200] }]\n").unwrap();
    let missed = run(&[
        "--base-url",
        &url,
        "--runs",
        "3",
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        dir.path().join("missed").to_str().unwrap(),
    ]);
    assert_eq!(missed.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("missed/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["summary"],
        serde_json::json!({"total_tests": 1, "passed": 0, "failed": 1})
    );

    std::fs::write(&suite, "name = \"bad\"\n[[scenario]]\nname = \"X\"\n").unwrap();
    let bad = run(&["--base-url", &url, "--suite", suite.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("strict.toml:2:"), "file and line: {stderr}");

    drop(cat);
    let unreachable = run(&["--base-url", &url, "--runs", "1"]);
    assert_eq!(unreachable.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.contains(&format!("{url}/health")), "{stderr}");
}

#[test]
fn seed_output_file_and_header_values_never_written() {
    let (_cat, url) = catalog();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let seed = dir.path().join("results.json");
    let r = run(&[
        "--base-url",
        &url,
        "--runs",
        "2",
        "--entity-type",
        "profile",
        "--header",
        "Authorization: Bearer TOPSECRET-42",
        "--out",
        out.to_str().unwrap(),
        "--output",
        seed.to_str().unwrap(),
        "--verbose",
    ]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let seed: serde_json::Value = serde_json::from_slice(&std::fs::read(&seed).unwrap()).unwrap();
    for key in [
        "timestamp",
        "base_url",
        "runs_per_test",
        "summary",
        "results",
    ] {
        assert!(seed.get(key).is_some(), "seed key {key}");
    }
    assert_eq!(seed["runs_per_test"], 2);
    let names: Vec<&str> = seed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["PROFILE_PATCH_WEIGHTS", "PROFILE_LIST_ALL"]);
    for key in [
        "operation",
        "entity_type",
        "scenario",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "min_ms",
        "max_ms",
        "mean_ms",
        "stddev_ms",
        "target_ms",
        "passed",
        "runs",
        "failed_runs",
    ] {
        assert!(seed["results"][0].get(key).is_some(), "result key {key}");
    }
    let mut everything =
        String::from_utf8_lossy(&r.stdout).to_string() + &String::from_utf8_lossy(&r.stderr);
    for entry in walk(&out) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(
        !everything.contains("TOPSECRET"),
        "a header value was written somewhere"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn suite_show_prints_the_built_in_suite() {
    let out = Command::new(bin())
        .args(["suite", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("[[scenario]]").count(), 16);
    assert!(text.contains("CPU_DELETE_WITH_LISTINGS_1000"));
}

#[test]
fn cleanup_removes_what_a_killed_run_left() {
    let (_cat, url) = catalog();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crashed");
    let mut child = Command::new(bin())
        .args([
            "run",
            "--base-url",
            &url,
            "--runs",
            "100000",
            "--scenario",
            "CPU_DELETE_WITH_LISTINGS_100",
            "--out",
            out.to_str().unwrap(),
            "--collector-grpc",
            "127.0.0.1:0",
            "--collector-http",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ledger = out.join("ledger.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&ledger)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 101
        || !out.join("requests.journal.jsonl").exists()
    {
        assert!(
            Instant::now() < deadline,
            "the run never got past fixture setup"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&ledger).unwrap();
    let cpu = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["entity"] == "cpus")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        http_client()
            .get(format!("{url}/v1/catalog/cpus/{cpu}"))
            .send()
            .unwrap()
            .status(),
        200
    );

    let cleaned = Command::new(bin())
        .args(["cleanup", ledger.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        cleaned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cleaned.stderr)
    );
    assert!(String::from_utf8_lossy(&cleaned.stdout).contains("removed 101 fixtures"));
    assert_eq!(
        http_client()
            .get(format!("{url}/v1/catalog/cpus/{cpu}"))
            .send()
            .unwrap()
            .status(),
        404
    );
    let again = Command::new(bin())
        .args(["cleanup", ledger.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("removed 0 fixtures"));
}
