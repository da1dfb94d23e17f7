//! `tracesplit demo` and `run` → analysis, as processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::process::Command;

fn summary(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

fn scenario<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["analysis"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["scenario"] == name)
        .unwrap()
}

#[test]
fn demo_runs_everything_and_the_unindexed_check_dominates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let output = Command::new(bin())
        .args([
            "demo",
            "--listings",
            "60000",
            "--runs",
            "5",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("deliberately"),
        "the demo says the missing index is deliberate: {stderr}"
    );
    assert!(
        stdout.contains("16 of 16 scenarios met their targets"),
        "{stdout}"
    );
    assert!(stdout.contains("CPU_DELETE_WITH_LISTINGS_1000"));
    for file in [
        "requests.parquet",
        "summary.json",
        "manifest.json",
        "ledger.jsonl",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    let s = summary(&out);
    assert_eq!(s["summary"]["total_tests"], 16);
    assert_eq!(s["source"], "spans");
    let coverage = &s["analysis"]["coverage"];
    assert_eq!(coverage["matched"], coverage["requests"]);
    let delete = scenario(&s, "CPU_DELETE_WITH_LISTINGS_1000");
    let split = &delete["p95_split"];
    assert!(split["cascade_ms"].as_f64().unwrap() > 0.0, "{split}");
    // Dominates the typical request (the median: five runs' P95 is their
    // slowest, which a busy test machine can stretch anywhere).
    let cascade_p50 = delete["components"]["cascade"]["p50_ms"].as_f64().unwrap();
    let p50 = delete["stats"]["p50_ms"].as_f64().unwrap();
    assert!(
        cascade_p50 > 0.5 * p50,
        "cascade p50 {cascade_p50} of {p50}: {delete}"
    );
    assert!(
        s["analysis"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "dominant_component"
                && f["scenario"] == "CPU_DELETE_WITH_LISTINGS_1000")
    );
    // The same run analyzed in one pass and in many partitions (a 1 KB
    // memory limit): the same analysis and split.parquet, byte for byte.
    let analyze = |extra: &[&str]| {
        let o = Command::new(bin())
            .args(["analyze", out.to_str().unwrap(), "--force"])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
        let analysis = summary(&out)["analysis"].to_string();
        (
            analysis,
            std::fs::read(out.join("split.parquet")).unwrap(),
            stderr,
        )
    };
    let (whole, whole_split, _) = analyze(&[]);
    let (parts, parts_split, stderr) = analyze(&["--memory-limit", "1KB"]);
    assert!(
        stderr.contains("partitions of the trace ids") && stderr.contains("partition 2/"),
        "{stderr}"
    );
    // 1 KB cannot hold the requests themselves: the user is told.
    assert!(
        stderr.contains("requests alone need about") && stderr.contains("more than the limit"),
        "{stderr}"
    );
    assert!(whole == parts, "the partitioned analysis differs");
    assert!(whole_split == parts_split, "split.parquet differs");
}

#[test]
fn run_analyzes_at_its_end_when_its_collector_ran() {
    let port = free_port();
    let (cat, url) = serve_catalog(&["--otlp-endpoint", &format!("http://127.0.0.1:{port}")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = Command::new(bin())
        .args([
            "run",
            "--base-url",
            &url,
            "--runs",
            "5",
            "--scenario",
            "CPU_DELETE_*",
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--collector-grpc",
            "127.0.0.1:0",
            "--collector-http",
            &format!("127.0.0.1:{port}"),
            "--jaeger-url",
            "http://jaeger:16686",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("split"), "the table: {stdout}");
    let s = summary(&out);
    assert_eq!(s["source"], "spans");
    let delete = scenario(&s, "CPU_DELETE_WITH_LISTINGS_100");
    assert_eq!(delete["coverage"]["matched"], 5);
    let link = delete["outliers"][0]["links"][0]["url"].as_str().unwrap();
    assert!(link.starts_with("http://jaeger:16686/trace/"), "{link}");
    assert_eq!(
        s["results"].as_array().unwrap().len(),
        3,
        "seed keys still there"
    );
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);

    // analyze on its own gives the same figures, and exits 1 when a target is missed.
    let again = Command::new(bin())
        .args(["analyze", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    let strict = Command::new(bin())
        .args([
            "analyze",
            out.to_str().unwrap(),
            "--cascade-span",
            "(unclosed",
        ])
        .output()
        .unwrap();
    assert_eq!(
        strict.status.code(),
        Some(2),
        "a bad regex is a usage error"
    );
    let missing = Command::new(bin())
        .args(["analyze", dir.path().join("nope").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"));

    // A broken invariant of the analysis is an internal error: exit 4, "please report".
    let broken = Command::new(bin())
        .args(["analyze", out.to_str().unwrap()])
        .env("TRACESPLIT_FAULT_INJECT", "split-sum")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("please report") && stderr.contains(s["run_id"].as_str().unwrap()),
        "{stderr}"
    );

    // A panicking worker thread is an internal error too: said once, exit 4.
    let panicked = Command::new(bin())
        .args(["analyze", out.to_str().unwrap()])
        .env("TRACESPLIT_FAULT_INJECT", "worker-panic")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&panicked.stderr);
    assert_eq!(panicked.status.code(), Some(4), "{stderr}");
    assert_eq!(stderr.matches("internal error").count(), 1, "{stderr}");
    assert!(
        stderr.contains("planted by TRACESPLIT_FAULT_INJECT=worker-panic")
            && stderr.contains("please report")
            && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );

    // A span source that finds no trace does not replace the analysis that
    // had every span: it goes beside it, unless --force.
    let jaeger = not_found_server();
    let from_jaeger = |force: bool| {
        let mut args = vec![
            "analyze".to_owned(),
            out.to_str().unwrap().to_owned(),
            "--jaeger".into(),
            jaeger.clone(),
            "--span-wait".into(),
            "300ms".into(),
        ];
        if force {
            args.push("--force".into());
        }
        Command::new(bin()).args(&args).output().unwrap()
    };
    let kept = from_jaeger(false);
    assert!(
        String::from_utf8_lossy(&kept.stderr).contains("kept"),
        "{}",
        String::from_utf8_lossy(&kept.stderr)
    );
    let matched = |file: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(file)).unwrap()).unwrap();
        v["analysis"]["coverage"]["matched"].as_u64().unwrap()
    };
    let all = s["analysis"]["coverage"]["requests"].as_u64().unwrap();
    assert_eq!(
        matched("summary.json"),
        all,
        "the analysis with spans stays"
    );
    assert_eq!(matched("summary.jaeger.json"), 0);
    from_jaeger(true);
    assert_eq!(matched("summary.json"), 0, "--force replaces it");
}

#[test]
fn the_slow_deletes_are_explained_by_the_unindexed_usage_check() {
    // The demo's catalog (listings without their foreign-key index), 200
    // deletes of a CPU used by 1,000 listings: the usage check scans the
    // table, so the deletes that took longest took it there.
    let port = free_port();
    let (cat, url) = serve_catalog(&[
        "--seed-listings",
        "60000",
        "--no-listing-index",
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{port}"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = Command::new(bin())
        .args(["run", "--base-url", &url, "--runs", "200"])
        .args(["--scenario", "CPU_DELETE_WITH_LISTINGS_1000"])
        .args(["--collector-grpc", "127.0.0.1:0", "--span-wait", "500ms"])
        .args(["--collector-http", &format!("127.0.0.1:{port}")])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let s = summary(&out);
    let delete = scenario(&s, "CPU_DELETE_WITH_LISTINGS_1000");
    let tail = &delete["tail"];
    assert_eq!(tail["slow"], 11, "{tail}");
    let top = tail["shapes"][0]["shape"].as_str().unwrap();
    assert!(
        top.starts_with("SELECT count(listings.id)") && top.contains("WHERE (listings.cpu_id = ?)"),
        "the usage check's statement, fingerprinted: {tail}"
    );
    let outlier = &delete["outliers"][0]["critical_path"];
    assert!(
        outlier
            .as_array()
            .unwrap()
            .iter()
            .any(|step| step["name"] == top && step["db"] == true),
        "the slowest delete's critical path runs through the check: {outlier}"
    );
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);
}

/// A query API that has no trace: 404 to everything.
fn not_found_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    url
}
