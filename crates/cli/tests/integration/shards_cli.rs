//! `run --shard I/N` as several processes against one catalog, spans through a
//! standalone `tracesplit collect`, merged by `analyze DIR…`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::process::Command;

#[test]
fn shards_run_disjoint_shares_and_analyze_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("spans");
    let (collector, _grpc, http) = collect(&store, &["--flush-interval", "100ms"]);
    let (cat, url) = serve_catalog(&["--otlp-endpoint", &http]);

    let shard = |spec: &str, env: Option<&str>| {
        let out = dir.path().join(format!("shard-{}", spec.replace('/', "-")));
        let mut cmd = Command::new(bin());
        cmd.args([
            "run",
            "--base-url",
            &url,
            "--runs",
            "7",
            "--scenario",
            "{CPU_DELETE_NO_LISTINGS,GPU_PATCH_SINGLE_FIELD}",
        ])
        .args([
            "--no-collect",
            "--otlp-endpoint",
            &http,
            "--out",
            out.to_str().unwrap(),
        ]);
        match env {
            Some(index) => cmd
                .args(["--shards", spec])
                .env("JOB_COMPLETION_INDEX", index),
            None => cmd.args(["--shard", spec]),
        };
        (cmd.spawn().unwrap(), out)
    };
    // Three processes at once: two by --shard, one by the Indexed Job variable.
    let runs = [
        shard("0/3", None),
        shard("1/3", None),
        shard("3", Some("2")),
    ];
    let mut dirs = Vec::new();
    for (mut child, out) in runs {
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "shard {}", out.display());
        dirs.push(out);
    }
    // No wait: the catalog's shutdown exports what its batch holds, the
    // collector's shutdown writes what it buffered.
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);
    let (code, _) = collector.terminate();
    assert_eq!(code, 0);

    let manifests: Vec<serde_json::Value> = dirs
        .iter()
        .map(|d| crate::support::manifest_of(d))
        .collect();
    let shards: Vec<&str> = manifests
        .iter()
        .map(|m| m["shard"].as_str().unwrap())
        .collect();
    assert_eq!(shards, ["0/3", "1/3", "2/3"]);

    let mut args = vec!["analyze".to_owned()];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap().to_owned()));
    args.extend(["--spans".to_owned(), store.to_str().unwrap().to_owned()]);
    let merged_json = dir.path().join("merged.json");
    args.extend([
        "--output".to_owned(),
        merged_json.to_str().unwrap().to_owned(),
    ]);
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&merged_json).unwrap()).unwrap();
    assert_eq!(s["analysis"]["run_ids"].as_array().unwrap().len(), 3);
    for r in s["results"].as_array().unwrap() {
        // 7 iterations split 3 + 2 + 2, one request each.
        assert_eq!(r["runs"], 7, "{}", r["scenario"]);
    }
    let coverage = &s["analysis"]["coverage"];
    assert_eq!(coverage["requests"], 14);
    assert_eq!(coverage["matched"], 14, "{coverage}");
}
