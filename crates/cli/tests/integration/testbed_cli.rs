//! Acceptance on the field test bed: a FastAPI + SQLAlchemy + psycopg app on
//! PostgreSQL under `opentelemetry-instrument` (tests-support/testbed), with
//! planted causes. Every number is checked against what was planted or what
//! the app itself logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::text;
use crate::testbed::{self, Bed, analysis, scenario};

/// A pool of 2 that raises after 250 ms, each request holding a connection
/// 50 ms, driven at 80/s with a 200 ms client timeout: the pool runs out,
/// requests time out on the client and fail on the server later; a route
/// raises on every request.
#[test]
fn the_servers_errors_are_named_and_counted_and_the_split_stays_intact() {
    let bed = Bed::start(&[
        ("TESTBED_POOL_SIZE", "2"),
        ("TESTBED_MAX_OVERFLOW", "0"),
        ("TESTBED_POOL_TIMEOUT", "0.25"),
        ("TESTBED_HOLD_MS", "50"),
    ]);
    let (app, collector) = (&bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (md, junit, html) = (
        dir.path().join("r.md"),
        dir.path().join("r.xml"),
        dir.path().join("r.html"),
    );
    let o = testbed::run(
        app,
        collector,
        &out,
        &[
            "--scenario",
            "{ITEM_GET,ITEM_EXPLODE}",
            "--rate",
            "80",
            "--runs",
            "240",
            "--timeout",
            "200ms",
            "--markdown",
            md.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    );
    let stdout = text(&o);
    let a = analysis(&out);
    let logged = app.logged_errors();
    let count = |prefix: &str| logged.iter().filter(|l| l.starts_with(prefix)).count() as u64;
    let (pool_logged, planted_logged) = (
        count("sqlalchemy.exc.TimeoutError: QueuePool limit of size 2 overflow 0 reached"),
        count("RuntimeError: planted failure for item"),
    );
    assert!(
        pool_logged > 0,
        "the planted pool did not run out: {logged:?}\n{stdout}"
    );
    assert_eq!(planted_logged, 240, "{stdout}");

    // The counts equal the app's own log, per scenario and exception.
    let get = scenario(&a, "ITEM_GET");
    let groups = get["server_errors"].as_array().unwrap();
    let pool = groups
        .iter()
        .find(|g| g["exception_type"] == "sqlalchemy.exc.TimeoutError")
        .unwrap_or_else(|| panic!("no pool error group: {groups:?}"));
    assert_eq!(pool["requests"].as_u64(), Some(pool_logged), "{pool}");
    assert_eq!(pool["cause"], "the connection pool is exhausted");
    assert!(
        pool["message"]
            .as_str()
            .unwrap()
            .starts_with("QueuePool limit of size 2 overflow 0 reached")
    );
    let explode = &scenario(&a, "ITEM_EXPLODE")["server_errors"][0];
    assert_eq!(explode["exception_type"], "RuntimeError");
    assert_eq!(explode["requests"].as_u64(), Some(240));
    assert_eq!(explode["fingerprint"], "planted failure for item …");

    // Ranked first among the findings, and in every format.
    let findings = a["findings"].as_array().unwrap();
    assert_eq!(findings[0]["rule"], "server_errors", "{findings:?}");
    let needle = "sqlalchemy.exc.TimeoutError: QueuePool limit of size 2 overflow 0 reached";
    for (what, body) in [
        ("terminal", stdout.clone()),
        ("markdown", std::fs::read_to_string(&md).unwrap()),
        ("junit", std::fs::read_to_string(&junit).unwrap()),
        ("html", std::fs::read_to_string(&html).unwrap()),
    ] {
        assert!(
            body.contains(needle),
            "{what} lacks the pool error:\n{body}"
        );
        assert!(
            body.contains("RuntimeError: planted failure for item"),
            "{what}"
        );
    }

    // The client gave up on some; the server finished them later, with errors.
    // Over both scenarios: under load the exploding route can time out too.
    let timeouts: u64 = ["ITEM_GET", "ITEM_EXPLODE"]
        .iter()
        .map(|n| scenario(&a, n)["errors"]["timeout"].as_u64().unwrap_or(0))
        .sum();
    assert!(timeouts > 0, "no request timed out on the client: {get}");
    let abandoned = &a["abandoned"];
    assert_eq!(
        abandoned["requests"].as_u64(),
        Some(timeouts),
        "{abandoned}"
    );
    assert!(
        abandoned["finished_on_server"].as_u64().unwrap() > 0,
        "{abandoned}"
    );
    assert!(abandoned["with_error"].as_u64().unwrap() > 0, "{abandoned}");
    assert!(
        abandoned["mean_later_ms"].as_f64().unwrap() > 0.0,
        "{abandoned}"
    );

    // The split of the answered requests: one host, consistent clocks,
    // the wire under 5 ms at P95.
    assert_eq!(a["clocks"]["consistent"], true, "{}", a["clocks"]);
    let p95 = &get["p95_split"];
    assert!(p95["network_ms"].as_f64().unwrap() < 5.0, "{p95}");
    // Two statements a request (the item, then pg_sleep), each spanned by
    // SQLAlchemy and by psycopg: counted once.
    assert_eq!(
        get["db_spans"]["p50"].as_u64(),
        Some(2),
        "{}",
        get["db_spans"]
    );
    // Each answered request's two statements were spanned twice: copies set aside.
    let answered = get["stats"]["count"].as_u64().unwrap();
    let copies = get["db_spans"]["duplicates"].as_u64().unwrap();
    assert!(
        copies >= answered && answered > 0,
        "{copies} copies, {answered} answered"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "overlapping_instrumentation")
    );
}

/// The open model against an API with 20 ms latency: the rate is reached
/// with the concurrency it needs; bounded to one in flight, starts are late
/// and the wait is the schedule component of the corrected latency.
#[test]
fn the_open_model_keeps_its_rate_and_the_schedule_wait_is_a_component() {
    let bed = Bed::start(&[("TESTBED_POOL_SIZE", "20"), ("TESTBED_HOLD_MS", "20")]);
    let (app, collector) = (&bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("free");
    let o = testbed::run(
        app,
        collector,
        &out,
        &[
            "--scenario",
            "ITEM_GET",
            "--rate",
            "100",
            "--duration",
            "3s",
        ],
    );
    assert!(out.join("summary.json").exists(), "{}", text(&o));
    let requests = tracesplit_store::read_requests(&out.join("requests.parquet")).unwrap();
    let mut starts: Vec<i64> = requests.iter().map(|r| r.start_unix_nano).collect();
    starts.sort_unstable();
    let seconds = (starts[starts.len() - 1] - starts[0]) as f64 / 1e9;
    let achieved = (starts.len() - 1) as f64 / seconds;
    assert!((achieved - 100.0).abs() <= 5.0, "{achieved:.1}/s of 100/s");
    let manifest: serde_json::Value = crate::support::manifest_of(&out);
    let schedule = &manifest["scenarios"]["ITEM_GET"]["schedule"];
    assert!(
        schedule["peak_concurrency"].as_u64().unwrap() >= 2,
        "{schedule}"
    );
    assert_components_sum(&analysis(&out));

    // One in flight at most: starts wait, and the wait is its own component.
    let late = dir.path().join("late");
    let o = testbed::run(
        app,
        collector,
        &late,
        &[
            "--scenario",
            "ITEM_GET",
            "--rate",
            "100",
            "--runs",
            "100",
            "--max-concurrency",
            "1",
        ],
    );
    let a = analysis(&late);
    let manifest: serde_json::Value = crate::support::manifest_of(&late);
    let schedule = &manifest["scenarios"]["ITEM_GET"]["schedule"];
    assert!(
        schedule["late_starts"].as_u64().unwrap() > 50,
        "{schedule}\n{}",
        text(&o)
    );
    assert_eq!(schedule["peak_concurrency"].as_u64(), Some(1));
    let split = assert_components_sum(&a);
    assert!(split["schedule_ms"].as_f64().unwrap() > 20.0, "{split}");
    assert!(text(&o).contains("schedule "), "{}", text(&o));
}

/// The corrected split's components (schedule + the five) sum to its total.
fn assert_components_sum(a: &serde_json::Value) -> serde_json::Value {
    let split = scenario(a, "ITEM_GET")["p95_corrected_split"].clone();
    let parts: f64 = [
        "schedule_ms",
        "network_ms",
        "queue_ms",
        "handler_ms",
        "cascade_ms",
        "db_other_ms",
    ]
    .iter()
    .map(|k| split[k].as_f64().unwrap_or(0.0))
    .sum();
    let total = split["total_ms"].as_f64().unwrap();
    assert!((parts - total).abs() <= 1e-6 * total.max(1.0), "{split}");
    split
}

/// A timed delete at a rate: every per-iteration fixture is created before
/// the measured phase, as the server's own spans show, and the manifest
/// counts what the server saw.
#[test]
fn per_iteration_fixtures_are_created_before_the_clock_starts() {
    let bed = Bed::start(&[]);
    let (db, app, collector) = (&bed.db, &bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = testbed::run(
        app,
        collector,
        &out,
        &[
            "--scenario",
            "ITEM_DELETE",
            "--rate",
            "50",
            "--duration",
            "5s",
        ],
    );
    assert!(out.join("summary.json").exists(), "{}", text(&o));
    let requests = tracesplit_store::read_requests(&out.join("requests.parquet")).unwrap();
    let first = requests.iter().map(|r| r.start_unix_nano).min().unwrap();
    let spans = tracesplit_store::read_span_dir(&out.join("spans")).unwrap();
    let creates: Vec<_> = spans
        .iter()
        .filter(|s| s.service_name == "testbed" && s.name == "POST /api/v1/items/")
        .collect();
    assert!(
        creates.len() >= requests.len(),
        "{} creates, {} deletes",
        creates.len(),
        requests.len()
    );
    let inside = creates.iter().filter(|s| s.end_unix_nano > first).count();
    assert_eq!(inside, 0, "creates inside the measured phase");
    // The runner's own spans, written from the rows after the run: each
    // request's CLIENT span with the row's times, under its iteration span,
    // and the API's SERVER span under it.
    let by_id: std::collections::HashMap<tracesplit_model::SpanId, &tracesplit_model::SpanRecord> =
        spans.iter().map(|s| (s.span_id, s)).collect();
    for r in &requests {
        let c = by_id
            .get(&r.span_id.parse().unwrap())
            .expect("the request's CLIENT span");
        assert_eq!(c.service_name, "tracesplit-runner");
        assert_eq!(c.kind, tracesplit_model::SpanKind::Client);
        assert_eq!(
            (c.start_unix_nano, c.end_unix_nano),
            (r.start_unix_nano, r.start_unix_nano + r.duration_ns)
        );
        let parent = c.parent_span_id.unwrap();
        assert_eq!(by_id[&parent].name, "ITEM_DELETE iteration");
    }
    let served = spans
        .iter()
        .filter(|s| s.kind == tracesplit_model::SpanKind::Server)
        .filter(|s| {
            s.parent_span_id.is_some_and(|p| {
                by_id
                    .get(&p)
                    .is_some_and(|c| c.service_name == "tracesplit-runner")
            })
        })
        .count();
    assert_eq!(served, requests.len(), "SERVER spans under the runner's");
    let manifest: serde_json::Value = crate::support::manifest_of(&out);
    let setup = &manifest["scenarios"]["ITEM_DELETE"]["setup"];
    assert_eq!(
        setup["created"].as_u64(),
        Some(creates.len() as u64),
        "{setup}"
    );
    assert_eq!(
        setup["made_during_measuring"].as_u64().unwrap_or(0),
        0,
        "{setup}"
    );
    // Nothing of the run is left, and the rows that were there are.
    assert_eq!(db.sql("SELECT count(*) FROM item").trim(), "2");

    // A timed closed run cannot know how many it needs: it makes them while
    // it measures and says so; the create in flight when the time is up is
    // finished and ledgered, not cut off (the sweep found it as a "lost
    // answer" before).
    let closed = dir.path().join("closed");
    let o = testbed::run(
        app,
        collector,
        &closed,
        &[
            "--scenario",
            "ITEM_DELETE",
            "--duration",
            "2s",
            "--concurrency",
            "4",
        ],
    );
    let all = text(&o);
    assert!(closed.join("summary.json").exists(), "{all}");
    assert!(
        all.contains("made while the scenario was measured"),
        "{all}"
    );
    assert!(!all.contains("never recorded"), "{all}");
    assert_eq!(db.sql("SELECT count(*) FROM item").trim(), "2");
}

/// The load the issue was found with (`--rate 200 --concurrency 64`, 600
/// GETs, a 1 s timeout) against a pool of 5 + 10 whose checkout gives up
/// after 0.5 s: the event loop saturates, and spans end late and bodies
/// follow their heads late — inside the server span. The clocks still
/// agree (one host), and the wire stays what loopback is.
#[test]
fn the_issues_own_load_keeps_the_clocks_and_the_wire() {
    let bed = Bed::start(&[
        ("TESTBED_POOL_SIZE", "5"),
        ("TESTBED_MAX_OVERFLOW", "10"),
        ("TESTBED_POOL_TIMEOUT", "0.5"),
        ("TESTBED_HOLD_MS", "50"),
    ]);
    let (app, collector) = (&bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = testbed::run(
        app,
        collector,
        &out,
        &[
            "--scenario",
            "ITEM_GET",
            "--rate",
            "200",
            "--concurrency",
            "64",
            "--runs",
            "600",
            "--timeout",
            "1s",
        ],
    );
    assert!(
        text(&o).contains("--concurrency 64 does not limit an open model"),
        "{}",
        text(&o)
    );
    let a = analysis(&out);
    let clocks = &a["clocks"];
    assert_eq!(clocks["consistent"], true, "{clocks}\n{}", text(&o));
    assert_eq!(clocks["started_early"].as_u64(), Some(0), "{clocks}");
    let p95 = &scenario(&a, "ITEM_GET")["p95_split"];
    assert!(
        p95["network_ms"].as_f64().unwrap() < 5.0,
        "{p95}\n{}",
        text(&o)
    );
    // A stall named is the server's, not the kernel's.
    for f in a["findings"].as_array().unwrap() {
        if f["rule"] == "transport_stall" {
            assert!(f["detail"].as_str().unwrap().contains("not network"), "{f}");
        }
    }
}
