//! The reports read by implementations we did not write: JUnit XML by
//! junitparser, summary.json by the `jsonschema` validator against the
//! checked-in schema (both Python, from the venv scripts/test.sh creates).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::Command;
use tracesplit_report::{Exporter, JsonExporter, JunitExporter};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("TRACESPLIT_PYTHON") {
        return p.into();
    }
    let venv = root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/test.sh (it creates the venv) or set TRACESPLIT_PYTHON",
        venv.display()
    );
    venv
}

fn run_python(script: &str, args: &[&std::path::Path]) -> (bool, String) {
    let out = Command::new(python())
        .arg(root().join("tests-support/python").join(script))
        .args(args)
        .output()
        .expect("python runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn junitparser_reads_one_testcase_per_scenario_with_the_split_in_failures() {
    let a = crate::support::analysis();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(&path, JunitExporter.render(&a).unwrap()).unwrap();
    let (ok, text) = run_python("read_junit.py", &[&path]);
    assert!(ok, "junitparser failed: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON from read_junit.py");
    let suite = &v["suites"][0];
    assert_eq!(suite["tests"], a.scenarios.len());
    let failing = a.scenarios.iter().filter(|s| !s.passed).count();
    assert_eq!(suite["failures"], failing);
    let cases = suite["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let want: Vec<&str> = a.scenarios.iter().map(|s| s.scenario.as_str()).collect();
    assert_eq!(names, want);
    for (c, s) in cases.iter().zip(&a.scenarios) {
        assert_eq!(c["passed"], s.passed, "{}", s.scenario);
        assert_eq!(c["classname"], format!("tracesplit.{}", s.entity_type));
        let expect_time = s.stats.mean_ms * s.stats.count as f64 / 1000.0;
        assert!((c["time"].as_f64().unwrap() - expect_time).abs() < 1e-3);
    }
    let delete = &cases[1]["results"][0];
    assert_eq!(delete["kind"], "failure");
    assert_eq!(delete["message"], "P95 812 ms misses the 500 ms target");
    let skipped = cases
        .iter()
        .find(|c| c["name"] == "PORTS_PROFILE_LIST")
        .unwrap();
    assert_eq!(skipped["results"][0]["kind"], "failure");
    assert!(
        skipped["results"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not measured: setup failed"),
        "{skipped}"
    );
    let text = delete["text"].as_str().unwrap();
    assert!(
        text.contains(
            "P95 split: 812 ms = network 1.20 + queue 0.00 + handler 3.10 + cascade 780 + db other 27.5"
        ),
        "{text}"
    );
    assert!(
        text.contains("http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"),
        "{text}"
    );
    let unmatched = &cases[2]["results"][0];
    assert_eq!(unmatched["message"], "2 of 20 requests failed");
    assert!(
        unmatched["text"]
            .as_str()
            .unwrap()
            .contains("errors: 2 × status 500")
    );
    assert!(
        cases[0]["system_out"]
            .as_str()
            .unwrap()
            .contains("P95 split: 3.40 ms")
    );
}

#[test]
fn summary_json_validates_against_the_checked_in_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.json");
    let e = JsonExporter {
        timestamp: "2026-11-27T10:15:00.000000".into(),
        runs_per_test: 20,
    };
    std::fs::write(&path, e.render(&crate::support::analysis()).unwrap()).unwrap();
    let schema = root().join("schemas/summary.schema.json");
    let (ok, text) = run_python("validate_json.py", &[&schema, &path]);
    assert!(ok, "{text}");
    assert!(text.contains("checked 1 files, 0 errors"), "{text}");

    // The validator does reject what the schema forbids.
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    broken["results"][0]["p95_ms"] = "fast".into();
    broken["analysis"]["scenarios"][1]["p95_split"]["cascade_ms"] = serde_json::Value::Null;
    std::fs::write(&path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let (ok, text) = run_python("validate_json.py", &[&schema, &path]);
    assert!(!ok, "{text}");
    assert!(text.contains("results/0/p95_ms"), "{text}");
    assert!(text.contains("analysis/scenarios/1/p95_split"), "{text}");
}
