//! `compare` as a CI gate on this shared machine: back-to-back runs of the
//! same build compare clean, a planted 5 ms in the handler is a regression
//! with the handler named, and runs of different load models are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{bin, free_port, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A catalog with `delay_ms` in every handler, saying it is `version` of
/// the API (`service.version`), exporting its spans to the collector each
/// run starts on `port`.
fn catalog(delay_ms: &str, version: &str) -> (crate::support::Proc, String, u16) {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let attributes = format!("service.version={version}");
    let mut cat = crate::support::Proc::spawn_env(
        &[
            "serve-catalog",
            "--listen",
            "127.0.0.1:0",
            "--handler-delay-ms",
            delay_ms,
            "--otlp-endpoint",
            &endpoint,
        ],
        &[("OTEL_RESOURCE_ATTRIBUTES", attributes.as_str())],
    );
    let url = cat.wait_line("catalog listening on", std::time::Duration::from_secs(60));
    (cat, url, port)
}

/// 300 measured PATCHes against `url` into `dir/name`.
fn measured(dir: &Path, name: &str, url: &str, port: u16, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let o = Command::new(bin())
        .args([
            "run",
            "--base-url",
            url,
            "--scenario",
            "GPU_PATCH_SINGLE_FIELD",
        ])
        .args(["--out", out.to_str().unwrap(), "--span-wait", "2s"])
        .args(["--collector-grpc", "127.0.0.1:0"])
        .args(["--collector-http", &format!("127.0.0.1:{port}")])
        .args(if extra.contains(&"--runs") {
            &[][..]
        } else {
            &["--runs", "300"][..]
        })
        .args(extra)
        .output()
        .unwrap();
    assert!(out.join("summary.json").exists(), "{}", text(&o));
    out
}

fn compare(args: &[&Path], flags: &[&str]) -> Output {
    Command::new(bin())
        .arg("compare")
        .args(args)
        .args(flags)
        .output()
        .unwrap()
}

#[test]
fn identical_runs_compare_clean_and_a_slower_handler_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, url, port) = catalog("0", "1.0.0");
    let runs: Vec<PathBuf> = (0..6)
        .map(|k| measured(dir.path(), &format!("a{k}"), &url, port, &[]))
        .collect();
    for pair in runs.chunks(2) {
        let o = compare(&[&pair[0], &pair[1]], &[]);
        assert_eq!(o.status.code(), Some(0), "A/A pair flagged:\n{}", text(&o));
    }
    // Repeated runs a side: each run a sample.
    let o = compare(
        &[
            &runs[0],
            &runs[1],
            &runs[2],
            Path::new("--"),
            &runs[3],
            &runs[4],
            &runs[5],
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("over runs"), "{}", text(&o));
    cat.terminate();

    let (slow, slow_url, slow_port) = catalog("5", "1.1.0");
    let head = measured(dir.path(), "slow", &slow_url, slow_port, &[]);
    slow.terminate();
    let json = dir.path().join("c.json");
    let junit = dir.path().join("c.xml");
    let o = compare(
        &[&runs[0], &head],
        &[
            "--output",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("type=\"regression\"") && xml.contains("handler +"),
        "{xml}"
    );
    // Read by junitparser, a consumer we did not write.
    let parsed: serde_json::Value =
        serde_json::from_str(&crate::support::python_ok("read_junit.py", &[&junit])).unwrap();
    let case = &parsed["suites"][0]["cases"][0];
    assert_eq!(case["passed"], false, "{parsed}");
    assert_eq!(case["results"][0]["type"], "regression", "{parsed}");
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let s = &c["scenarios"][0];
    assert_eq!(s["regression"], true, "{s}");
    let grew = s["components"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["mean_change_ms"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["mean_change_ms"].as_f64().unwrap_or(0.0))
        })
        .unwrap();
    assert_eq!(grew["component"], "handler", "{s}");
    let ms = grew["mean_change_ms"].as_f64().unwrap();
    // The planted 5 ms, give or take what other tests' load adds to one
    // run's mean and not the other's; the mistake this catches (the growth
    // in another component) leaves the handler's near 0.
    assert!((3.0..10.0).contains(&ms), "handler grew {ms} ms: {s}");
    assert!(text(&o).contains("handler +"), "{}", text(&o));
    // The planted sleep is in the server span's own time (no child spans it):
    // that shape grew most, by the planted 5 ms.
    let shape = &s["shape"];
    assert!(
        shape["shape"]
            .as_str()
            .unwrap()
            .starts_with("PATCH /v1/catalog/gpus"),
        "{shape}"
    );
    let grew = shape["head_ms"].as_f64().unwrap() - shape["base_ms"].as_f64().unwrap();
    assert!((3.0..10.0).contains(&grew), "{shape}");
    assert!(
        text(&o).contains("most grown span: PATCH /v1/catalog/gpus"),
        "{}",
        text(&o)
    );
    // The builds differ: said, not refused.
    assert!(
        text(&o).contains("the API's service.version: 1.0.0 in base, 1.1.0 in head"),
        "{}",
        text(&o)
    );
}

#[test]
fn runs_of_different_load_models_are_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, url, port) = catalog("0", "1.0.0");
    let closed = measured(dir.path(), "closed", &url, port, &["--runs", "40"]);
    let open = measured(
        dir.path(),
        "open",
        &url,
        port,
        &["--runs", "40", "--rate", "50"],
    );
    cat.terminate();
    let o = compare(&[&closed, &open], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("load model: closed") && text(&o).contains("open"),
        "{}",
        text(&o)
    );
    let o = compare(&[&closed, &open], &["--force"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert!(
        text(&o).contains("the runs differ (compared with --force): load model"),
        "{}",
        text(&o)
    );
}
