//! `tracesplit run`, `suite show` and `cleanup` as processes: exit codes,
//! outputs, secrets, and cleanup after a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};
use tracesplit_catalog_demo::dump::{Rows, difference, rows};

fn catalog() -> (Proc, String) {
    serve_catalog(&["--no-telemetry"])
}

fn run(args: &[&str]) -> std::process::Output {
    run_with_local_collector().args(args).output().unwrap()
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
    let never = dir.path().join("never");
    let out = never.to_str().unwrap();
    let bad = run(&[
        "--base-url",
        &url,
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("strict.toml:2:"), "file and line: {stderr}");
    let bad_header = run(&["--base-url", &url, "--header", "no colon", "--out", out]);
    assert_eq!(bad_header.status.code(), Some(2));

    drop(cat);
    let unreachable = run(&["--base-url", &url, "--runs", "1", "--out", out]);
    assert_eq!(unreachable.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.contains(&format!("{url}/health")), "{stderr}");
    assert!(
        !never.exists(),
        "a run that could not start leaves no run directory"
    );
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

/// A catalog on a database file with a few seeded rows, a little slow (so
/// listing setup takes a while), and what its tables hold now.
fn catalog_on_file(dir: &std::path::Path) -> (Proc, String, std::path::PathBuf, Rows) {
    let db = dir.join("catalog.db");
    let (cat, url) = serve_catalog(&[
        "--no-telemetry",
        "--db",
        db.to_str().unwrap(),
        "--seed-cpus",
        "5",
        "--seed-listings",
        "40",
        "--handler-delay-ms",
        "3",
    ]);
    let before = rows(&db).unwrap();
    (cat, url, db, before)
}

/// Starts a run of the 1000-listing delete and waits until its ledger holds
/// `lines` lines (listing setup under way).
fn run_into_listing_setup(url: &str, out: &std::path::Path, lines: usize) -> std::process::Child {
    let child = run_command(url, out)
        .args([
            "--scenario",
            "CPU_DELETE_WITH_LISTINGS_1000",
            "--setup-concurrency",
            "8",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ledger = out.join("ledger.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&ledger)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < lines
    {
        assert!(
            Instant::now() < deadline,
            "the run never got into listing setup"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn cleanup_ledger(ledger: &std::path::Path) -> std::process::Output {
    Command::new(bin())
        .args(["cleanup", ledger.to_str().unwrap()])
        .output()
        .unwrap()
}

/// `tracesplit cleanup LEDGER` succeeds and every table is as it was before the run.
fn cleanup_restores(ledger: &std::path::Path, db: &std::path::Path, before: &Rows) {
    let cleaned = cleanup_ledger(ledger);
    assert_eq!(
        cleaned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cleaned.stderr)
    );
    if let Some(d) = difference(before, &rows(db).unwrap()) {
        panic!("after cleanup: {d}");
    }
}

#[test]
fn cleanup_after_a_killed_run_leaves_every_table_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (_cat, url, db, before) = catalog_on_file(dir.path());
    let out = dir.path().join("killed");
    let mut child = run_into_listing_setup(&url, &out, 300);
    // SIGKILL with creates in flight: some land after the ledger saw the last line.
    child.kill().unwrap();
    child.wait().unwrap();
    let ledger = out.join("ledger.jsonl");
    assert!(rows(&db).unwrap()["listings"].len() > before["listings"].len() + 250);

    let cleaned = cleanup_ledger(&ledger);
    let stdout = String::from_utf8_lossy(&cleaned.stdout);
    assert_eq!(
        cleaned.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&cleaned.stderr)
    );
    assert!(stdout.contains("removed "), "{stdout}");
    eprintln!("cleanup after SIGKILL: {stdout}");
    if let Some(d) = difference(&before, &rows(&db).unwrap()) {
        panic!("after cleanup: {d}");
    }
    let again = cleanup_ledger(&ledger);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("removed 0 fixtures")
            && String::from_utf8_lossy(&again.stdout).contains("and 0 more"),
        "exit {:?}: {}{}",
        again.status.code(),
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_double_ctrl_c_names_the_cleanup_command_and_cleanup_finishes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (_cat, url, db, before) = catalog_on_file(dir.path());
    let out = dir.path().join("aborted");
    let child = run_into_listing_setup(&url, &out, 300);
    let pid = child.id().to_string();
    let interrupt = || {
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    // 30 ms apart (a quick double press): the second must not be lost while
    // the first is handled. (Signals sent within microseconds may coalesce
    // into one, as the kernel and tokio deliver them.)
    interrupt();
    std::thread::sleep(Duration::from_millis(30));
    interrupt();
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{stderr}");
    let ledger = out.join("ledger.jsonl");
    assert!(
        stderr.contains(&format!("tracesplit cleanup {}", ledger.display())),
        "{stderr}"
    );

    cleanup_restores(&ledger, &db, &before);
}

/// A fixture nobody recorded is one nobody will clean up: a ledger line that
/// cannot be written stops the run, which removes what it can, exits 2 and
/// names the ledger; `cleanup` finishes the job.
#[test]
fn a_ledger_line_that_cannot_be_written_stops_the_run_and_names_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (_cat, url, db, before) = catalog_on_file(dir.path());
    let out = dir.path().join("ledger-fails");
    // The begin line and the five per-iteration CPUs are written; the first
    // delete the run records (iteration 0's) is refused.
    let failed = run_command(&url, &out)
        .args(["--scenario", "CPU_DELETE_NO_LISTINGS", "--runs", "5"])
        .env("TRACESPLIT_FAULT_INJECT", "ledger-after-6")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    let ledger = out.join("ledger.jsonl");
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the fixture ledger {} could not be written",
            ledger.display()
        )) && stderr.contains(&format!("tracesplit cleanup {}", ledger.display())),
        "{stderr}"
    );
    let requests = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(requests.contains("CPU_DELETE_NO_LISTINGS"));
    cleanup_restores(&ledger, &db, &before);
}

/// Arguments that make no run are refused before anything is read, sent or
/// created: exit 2, the flag named, no run directory.
#[test]
fn arguments_that_make_no_run_are_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["--rate", "1e-20"][..],
            "--rate must be a number of iterations per second",
        ),
        (&["--rate", "1e9"][..], "at most 1000000, got 1000000000"),
        (&["--rate", "NaN"][..], "--rate must be"),
        (
            &["--concurrency", "0"][..],
            "--concurrency must be at least 1",
        ),
        (
            &["--max-concurrency", "0", "--rate", "5"][..],
            "--max-concurrency must be at least 1",
        ),
        (
            &["--health-path", "health"][..],
            "--health-path \"health\": a path starting with /",
        ),
        (
            &["--shard", "3/3"][..],
            "--shard \"3/3\": expected I/N with 0 ≤ I < N",
        ),
        (
            &["--scenario", "NOPE*"][..],
            "no scenario matches (--scenario NOPE*",
        ),
        (
            &["--otlp-endpoint", "http://127.0.0.1:1"][..],
            "--otlp-endpoint needs --no-collect",
        ),
    ] {
        let out = dir.path().join("never");
        let o = Command::new(bin())
            .args(["run", "--base-url", "http://127.0.0.1:9", "--out"])
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
}
