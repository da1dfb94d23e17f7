//! Any API, first try: a suite written from docs/suites.md for the test
//! bed (login, UUIDs, envelopes, its own health path) runs clean, and wrong
//! credentials stop the run at once with what the API answered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{PortServer, bin, summary_of, text, workspace_root};
use crate::testbed::{App, Bed, Postgres};
use std::process::{Command, Output};

fn suite() -> std::path::PathBuf {
    workspace_root().join("crates/cli/tests/integration/testbed/newcomer.toml")
}

/// `tracesplit run` of the newcomer's suite with `password` in the environment.
fn run(app: &App, collector: u16, out: &std::path::Path, password: &str, extra: &[&str]) -> Output {
    let mut flags: Vec<&str> = if extra.contains(&"--duration") {
        Vec::new()
    } else {
        vec!["--runs", "10"]
    };
    flags.extend_from_slice(extra);
    let env = [
        ("TESTBED_USER", "admin@example.com"),
        ("TESTBED_PASSWORD", password),
        ("NO_COLOR", "1"),
    ];
    crate::testbed::run_suite(app, collector, out, &suite(), &flags, &env)
}

fn rows(db: &Postgres) -> String {
    db.sql("SELECT id, title, coalesce(description, '-'), owner_id FROM item ORDER BY id")
}

#[test]
fn a_newcomers_suite_runs_clean_against_a_real_api() {
    let bed = Bed::start(&[]);
    let (db, app, collector) = (&bed.db, &bed.app, bed.collector);
    let before = rows(db);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run(app, collector, &out, "changethis", &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert_eq!(rows(db), before, "the database is as it was, row for row");
    // No health warning, no leftovers, no lost answers, no catalog words.
    for unwanted in [
        "warning: GET",
        "could not be removed",
        "never recorded",
        "usage check",
        "listing",
        "/v1/catalog",
    ] {
        assert!(!all.contains(unwanted), "{unwanted:?} in:\n{all}");
    }
    let manifest: serde_json::Value = crate::support::manifest_of(&out);
    assert_eq!(
        manifest["notes"].as_array().map(Vec::len),
        Some(0),
        "{}",
        manifest["notes"]
    );
    // The POSTed rows: ledgered as the run's own, and deleted.
    let ledger = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap();
    let created = ledger
        .lines()
        .filter(|l| l.contains("\"created\"") && l.contains("ITEM_CREATE_THEN_READ"))
        .count();
    assert_eq!(created, 10, "{ledger}");
    assert!(
        !ledger.contains("changethis"),
        "no credential in the ledger"
    );
    assert!(
        ledger.contains("${TESTBED_PASSWORD}"),
        "the login is recorded by reference"
    );
    // Every request joined to its server span; pagination's count(*) is no check.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let a = &summary["analysis"];
    assert_eq!(
        a["coverage"]["matched"], a["coverage"]["requests"],
        "{}",
        a["coverage"]
    );
    for s in a["scenarios"].as_array().unwrap() {
        assert_eq!(
            s["p95_split"]["cascade_ms"].as_f64(),
            Some(0.0),
            "{}",
            s["scenario"]
        );
    }
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        let text = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains("changethis"),
            "{}",
            entry.path().display()
        );
    }
}

#[test]
fn wrong_credentials_stop_at_once_and_say_what_the_api_answered() {
    let bed = Bed::start(&[]);
    let (app, collector) = (&bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    // A wrong password: the login itself is refused; nothing else is sent.
    let out = dir.path().join("login");
    let o = run(app, collector, &out, "wrong", &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("answered 400") && all.contains("Incorrect email or password"),
        "{all}"
    );
    assert!(!all.contains("cleanup"), "{all}");
    assert!(!out.join("requests.parquet").exists());
    // A stale token given as a header, no login: the first create is
    // refused, the run stops, and says so.
    let no_login = no_login_suite(dir.path());
    let out = dir.path().join("token");
    let o = Command::new(bin())
        .args([
            "run",
            "--base-url",
            &app.url,
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--suite",
            no_login.to_str().unwrap(),
            "-H",
            "Authorization: Bearer stale",
        ])
        .args(["--collector-grpc", "127.0.0.1:0"])
        .args(["--collector-http", &format!("127.0.0.1:{collector}")])
        .args(["--span-wait", "2s", "--runs", "10"])
        .output()
        .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("403") && all.contains("Could not validate credentials"),
        "{all}"
    );
    assert!(
        !all.contains("tracesplit cleanup"),
        "no cleanup advice: nothing was created\n{all}"
    );
    let spans = tracesplit_store::read_span_dir(&out.join("spans")).unwrap_or_default();
    let served = spans
        .iter()
        .filter(|s| s.service_name == "testbed" && s.kind == tracesplit_model::SpanKind::Server)
        .count();
    assert!(served <= 5, "{served} requests reached the API\n{all}");
    assert!(
        !all.contains("\u{1b}["),
        "no colour codes when stderr is not a terminal"
    );
}

/// docs/suites.md's step 5, walked on the test bed: a delete's dependency
/// check planted at 50 ms (`SELECT count(*) FROM orders …`) is database time
/// while the suite declares no check, and the delete's *cascade* once the
/// doc's lines are added — the list's pagination `count(*)` never is, and
/// the findings use the suite's words.
#[test]
fn the_dependency_check_is_singled_out_only_when_the_suite_declares_it() {
    let bed = Bed::start(&[("TESTBED_CHECK_MS", "50")]);
    let (db, app, collector) = (&bed.db, &bed.app, bed.collector);
    let before = rows(db);
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--scenario", "{ITEM_LIST,ITEM_DELETE}"];
    let off = dir.path().join("off");
    let o = run(app, collector, &off, "changethis", &flags);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a = crate::testbed::analysis(&off);
    let delete = &crate::testbed::scenario(&a, "ITEM_DELETE")["p95_split"];
    assert_eq!(delete["cascade_ms"].as_f64(), Some(0.0), "{delete}");
    assert!(delete["db_other_ms"].as_f64().unwrap() >= 48.0, "{delete}");
    // Both scenarios' statements are spanned twice (SQLAlchemy and
    // psycopg): one finding for the run, with every copy counted.
    let overlapping: Vec<_> = (a["findings"].as_array().unwrap().iter())
        .filter(|f| f["rule"] == "overlapping_instrumentation")
        .collect();
    assert_eq!(overlapping.len(), 1, "{overlapping:?}");
    let copies: u64 = (a["scenarios"].as_array().unwrap().iter())
        .map(|s| s["db_spans"]["duplicates"].as_u64().unwrap())
        .sum();
    let detail = overlapping[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!("{copies} DB spans")) && detail.contains("in 2 of 2 scenarios"),
        "{detail}"
    );
    // The slow statement is still named, as database time, not as a check.
    let findings = a["findings"].to_string();
    assert!(
        findings.contains("(the suite declares no dependency check); slowest statement: `SELECT count(*) FROM orders"),
        "{findings}"
    );

    // The doc's lines, top-level keys before the suite's first table.
    let doc = std::fs::read_to_string(workspace_root().join("docs/suites.md")).unwrap();
    let step = &doc[doc.find("**5. The dependency check").unwrap()..];
    let block = &step[step.find("```toml\n").unwrap() + 8..];
    let block = &block[..block.find("```").unwrap()];
    let suite_text = std::fs::read_to_string(suite()).unwrap();
    let at = suite_text.find("[auth]").unwrap();
    let on_suite = dir.path().join("on.toml");
    let text_on = format!("{}{block}\n{}", &suite_text[..at], &suite_text[at..]);
    std::fs::write(&on_suite, text_on).unwrap();
    let on = dir.path().join("on");
    let env = [
        ("TESTBED_USER", "admin@example.com"),
        ("TESTBED_PASSWORD", "changethis"),
    ];
    let mut args = vec!["--runs", "10"];
    args.extend_from_slice(&flags);
    let o = crate::testbed::run_suite(app, collector, &on, &on_suite, &args, &env);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let a = crate::testbed::analysis(&on);
    let delete = &crate::testbed::scenario(&a, "ITEM_DELETE")["p95_split"];
    let cascade = delete["cascade_ms"].as_f64().unwrap();
    assert!((48.0..=60.0).contains(&cascade), "{delete}");
    assert!(delete["db_other_ms"].as_f64().unwrap() < 20.0, "{delete}");
    let list = &crate::testbed::scenario(&a, "ITEM_LIST")["p95_split"];
    assert_eq!(list["cascade_ms"].as_f64(), Some(0.0), "{list}");
    let findings = a["findings"].to_string();
    assert!(
        findings.contains("the order check") && findings.contains("add an index on item_id"),
        "{findings}"
    );
    assert_eq!(rows(db), before, "the database is as it was");
}

/// A health path the API refuses stops the run before anything is made:
/// 403 (no token: the suite without its login) names the credentials, 404
/// the path; both with the API's own words, exit 2, no run directory.
#[test]
fn a_health_path_the_api_refuses_stops_the_run_with_its_answer() {
    let bed = Bed::start(&[]);
    let (db, app, collector) = (&bed.db, &bed.app, bed.collector);
    let before = rows(db);
    let dir = tempfile::tempdir().unwrap();
    for (path, status, said, why) in [
        (
            "/api/v1/items/",
            "403",
            "Could not validate credentials",
            "credentials",
        ),
        (
            "/api/v1/nope",
            "404",
            "Not Found",
            "the health path is not the API's",
        ),
    ] {
        let out = dir.path().join(status);
        let flags = ["--runs", "10", "--health-path", path];
        let o = run_without_login(app, collector, dir.path(), &out, &flags);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{all}");
        assert!(
            all.contains(&format!("answered {status}")) && all.contains(said) && all.contains(why),
            "{all}"
        );
        assert!(!all.contains("cleanup"), "{all}");
        assert!(!out.exists(), "no run directory after a refusal");
    }
    assert_eq!(rows(db), before);
}

/// `--http2` against uvicorn (HTTP/1.1 only, no TLS): the login and the
/// health check both say to drop --http2 (exit 2: a flag to change, not an
/// API that is down), before anything is made.
#[test]
fn http2_against_an_http1_api_says_to_drop_it() {
    let bed = Bed::start(&[]);
    let (app, collector) = (&bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("login");
    let o = run(app, collector, &out, "changethis", &["--http2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("drop --http2"), "{}", text(&o));
    let out = dir.path().join("health");
    let flags = ["--runs", "10", "--http2"];
    let o = run_without_login(app, collector, dir.path(), &out, &flags);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("does not speak HTTP/2 without TLS") && text(&o).contains("drop --http2"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
}

/// `tracesplit run` of the newcomer's suite without its login (written
/// into `dir`), with `flags` and nothing in the environment.
fn run_without_login(
    app: &App,
    collector: u16,
    dir: &std::path::Path,
    out: &std::path::Path,
    flags: &[&str],
) -> Output {
    crate::testbed::run_suite(app, collector, out, &no_login_suite(dir), flags, &[])
}

/// The newcomer's suite without its `[auth]` section, written into `dir`.
fn no_login_suite(dir: &std::path::Path) -> std::path::PathBuf {
    let suite_text = std::fs::read_to_string(suite()).unwrap();
    let start = suite_text.find("[auth]").unwrap();
    let end = suite_text.find("[[kind]]").unwrap();
    let path = dir.join("no-login.toml");
    std::fs::write(
        &path,
        format!("{}{}", &suite_text[..start], &suite_text[end..]),
    )
    .unwrap();
    path
}

/// Kept fixtures are removed later by `tracesplit cleanup`, which logs in
/// as the run did: the ledger names the variables, the environment has them.
#[test]
fn cleanup_logs_in_as_the_run_did() {
    let bed = Bed::start(&[]);
    let (db, app, collector) = (&bed.db, &bed.app, bed.collector);
    let before = rows(db);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // The suite's own entity type selects (the catalog's list once refused "item").
    let o = run(
        app,
        collector,
        &out,
        "changethis",
        &[
            "--keep-fixtures",
            "--scenario",
            "ITEM_GET",
            "--entity-type",
            "item",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_ne!(rows(db), before, "the kept fixture is there");
    let ledger = out.join("ledger.jsonl");
    let cleanup = |password: Option<&str>| {
        let mut c = Command::new(bin());
        c.args(["cleanup", ledger.to_str().unwrap()])
            .env("TESTBED_USER", "admin@example.com")
            .env_remove("TESTBED_PASSWORD");
        if let Some(p) = password {
            c.env("TESTBED_PASSWORD", p);
        }
        c.output().unwrap()
    };
    let o = cleanup(None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("${TESTBED_PASSWORD}"), "{}", text(&o));
    let o = cleanup(Some("changethis"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(rows(db), before, "removed with the run's login");

    // A run authenticated by -H alone: cleanup needs the header again
    // (headers are never kept), and `cleanup -H` removes what it kept.
    let out = dir.path().join("header");
    let auth = format!("Authorization: Bearer {}", app.token());
    let flags = [
        "--runs",
        "10",
        "--keep-fixtures",
        "--scenario",
        "ITEM_GET",
        "-H",
        auth.as_str(),
    ];
    let o = run_without_login(app, collector, dir.path(), &out, &flags);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_ne!(rows(db), before, "the kept fixture is there");
    assert!(
        text(&o).contains("-H 'authorization: …'`"),
        "the advice names the header: {}",
        text(&o)
    );
    let ledger = out.join("ledger.jsonl");
    assert!(!std::fs::read_to_string(&ledger).unwrap().contains(&auth));
    let bare = Command::new(bin())
        .args(["cleanup", ledger.to_str().unwrap()])
        .output()
        .unwrap();
    // The ledger names the header, never its value: cleanup asks for it
    // before it sends anything.
    assert!(
        std::fs::read_to_string(&ledger)
            .unwrap()
            .contains("\"headers\":[\"authorization\"]")
    );
    assert_eq!(bare.status.code(), Some(2), "{}", text(&bare));
    assert!(
        text(&bare).contains("the run sent authorization with -H"),
        "{}",
        text(&bare)
    );
    assert_ne!(rows(db), before, "nothing removed without the header");
    let with_header = Command::new(bin())
        .args(["cleanup", ledger.to_str().unwrap(), "-H", auth.as_str()])
        .output()
        .unwrap();
    assert_eq!(with_header.status.code(), Some(0), "{}", text(&with_header));
    assert_eq!(rows(db), before, "removed with cleanup -H");
}

/// Tokens that expire every 1.5 s: after a 401 the run logs in again, and
/// the requests after it are answered.
#[test]
fn an_expired_token_is_renewed_after_a_401() {
    let bed = Bed::start(&[("TESTBED_TOKEN_TTL_S", "1.5")]);
    let (app, collector) = (&bed.app, bed.collector);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run(
        app,
        collector,
        &out,
        "changethis",
        &[
            "--scenario",
            "ITEM_LIST",
            "--rate",
            "20",
            "--duration",
            "4s",
        ],
    );
    assert!(out.join("summary.json").exists(), "{}", text(&o));
    let requests = tracesplit_store::read_requests(&out.join("requests.parquet")).unwrap();
    let mut by_start: Vec<_> = requests
        .iter()
        .map(|r| (r.start_unix_nano, r.status))
        .collect();
    by_start.sort_unstable();
    let unauthorized = by_start.iter().filter(|r| r.1 == 401).count();
    let ok = by_start.iter().filter(|r| r.1 == 200).count();
    let first_401 = by_start.iter().position(|r| r.1 == 401);
    assert!(first_401.is_some(), "the token never expired: {by_start:?}");
    let after: Vec<u16> = by_start[first_401.unwrap_or(0)..]
        .iter()
        .map(|r| r.1)
        .collect();
    assert!(
        after.contains(&200),
        "answered again after the 401: {after:?}"
    );
    assert!(
        unauthorized * 5 <= by_start.len() && ok >= 50,
        "{unauthorized} × 401, {ok} × 200"
    );
    let manifest: serde_json::Value = crate::support::manifest_of(&out);
    assert!(
        manifest["notes"].to_string().contains("logged in again"),
        "{}",
        manifest["notes"]
    );
}

/// The test bed serves its own /openapi.json (FastAPI's): `suite init`
/// makes a suite from it that logs in by the document's OAuth2 flow, runs
/// every scenario with each request joined to its server span, and leaves
/// the database as it found it.
#[test]
fn a_suite_from_the_apis_openapi_document_runs_with_its_login() {
    let bed = Bed::start(&[]);
    let (db, app, collector) = (&bed.db, &bed.app, bed.collector);
    let before = rows(db);
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("generated.toml");
    let init = Command::new(bin())
        .args([
            "suite",
            "init",
            "--openapi",
            &format!("{}/openapi.json", app.url),
        ])
        .args(["--out", suite.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    let generated = std::fs::read_to_string(&suite).unwrap();
    assert!(
        generated.contains("path = \"/api/v1/login/access-token\"")
            && generated.contains("items = \"/data\""),
        "{generated}"
    );
    let out = dir.path().join("run");
    let o = crate::testbed::run_suite(
        app,
        collector,
        &out,
        &suite,
        &["--runs", "10"],
        &[
            ("API_USER", "admin@example.com"),
            ("API_PASSWORD", "changethis"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{generated}", text(&o));
    let a = crate::testbed::analysis(&out);
    let names: Vec<&str> = a["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ITEM_LIST",
            "ITEM_GET",
            "ITEM_UPDATE",
            "ITEM_CREATE",
            "ITEM_DELETE"
        ]
    );
    for s in a["scenarios"].as_array().unwrap() {
        assert_eq!(s["failed"].as_u64(), Some(0), "{s}");
        let c = &s["coverage"];
        assert_eq!(c["matched"], c["requests"], "{}: {c}", s["scenario"]);
    }
    assert_eq!(rows(db), before, "the database as it was found");
}

/// A run of the generated `suite` against `url` (no collector: these APIs
/// export no spans), sending `header`: its output and summary.json's rows.
fn run_generated(
    url: &str,
    suite: &std::path::Path,
    dir: &std::path::Path,
    header: &str,
) -> (Output, Vec<serde_json::Value>) {
    let out = dir.join("run");
    let o = Command::new(bin())
        .args(["run", "--base-url", url, "--suite", suite.to_str().unwrap()])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--runs",
            "10",
            "--no-collect",
        ])
        .args(["-H", header])
        .output()
        .unwrap();
    let results = summary_of(&out, &o)["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (o, results)
}

/// An API shaped like a springdoc-documented Spring service, served by a
/// small Python server (tests-support/python/springdoc_api.py): integer ids,
/// 201 and 204, `Page` lists, a pet's create that names its owner, visits
/// nested under their owner's id (`/api/owners/{ownerId}/visits/{visitId}`),
/// vets created by a bare `201 Created` with a `Location` (no body), an API
/// key header. The suite made from its /v3/api-docs runs clean and
/// every fixture is removed — pets and visits before the owners they belong
/// to (the server refuses to delete an owner that has either).
#[test]
fn a_suite_from_a_springdoc_document_runs_and_removes_every_fixture() {
    let script = workspace_root().join("tests-support/python/springdoc_api.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script);
    let server = PortServer::start(cmd);
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("petclinic.toml");
    let init = Command::new(bin())
        .args(["suite", "init", "--openapi", &format!("{url}/v3/api-docs")])
        .args(["-o", suite.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    let generated = std::fs::read_to_string(&suite).unwrap();
    assert!(
        generated.contains("ownerId = \"{shared.owners.id}\"")
            && generated.contains("delete = \"/api/owners/{shared.owners.id}/visits/{id}\"")
            && generated.contains("-H 'X-API-Key: ${API_KEY}'"),
        "{generated}"
    );
    // Its YAML document (springdoc's /v3/api-docs.yaml) gives the same suite.
    let from_yaml = dir.path().join("from-yaml.toml");
    let init = Command::new(bin())
        .args([
            "suite",
            "init",
            "--openapi",
            &format!("{url}/v3/api-docs.yaml"),
        ])
        .args(["-o", from_yaml.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    assert_eq!(std::fs::read_to_string(&from_yaml).unwrap(), generated);
    // A dry run first: one of each kind created and deleted (pets after the
    // owner their create names), and what the API refuses, in its words.
    let dry = |key: &str| {
        Command::new(bin())
            .args(["suite", "init", "--openapi", &format!("{url}/v3/api-docs")])
            .args(["-o", dir.path().join("again.toml").to_str().unwrap()])
            .args(["--dry-run", "-H", key])
            .output()
            .unwrap()
    };
    let ok = dry("X-API-Key: s3cret");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        text(&ok).contains("owners: created 1, deleted")
            && text(&ok).contains("visits: created 2, deleted")
            && text(&ok).contains("pets: created 3, deleted")
            && text(&ok).contains("vets: created 4, deleted"),
        "{}",
        text(&ok)
    );
    let refused = dry("X-API-Key: wrong");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("owners: the create was refused: 401"),
        "{}",
        text(&refused)
    );
    let (o, results) = run_generated(&url, &suite, dir.path(), "X-API-Key: s3cret");
    let left = server.stop();
    assert_eq!(o.status.code(), Some(0), "{}\n{generated}", text(&o));
    // A suite that declares no dependency check has none, also by default.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary["analysis"]["cascade_defaults"],
        serde_json::json!({"statement": "", "span": ""}),
        "{summary}"
    );
    // No span source (--no-collect): said once, not once per scenario.
    assert_eq!(
        text(&o).matches("no span source").count(),
        1,
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("have no server span"), "{}", text(&o));
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "OWNER_LIST",
            "OWNER_GET",
            "OWNER_CREATE",
            "OWNER_DELETE",
            "VISIT_LIST",
            "VISIT_GET",
            "VISIT_CREATE",
            "VISIT_DELETE",
            "PET_GET",
            "PET_UPDATE",
            "PET_CREATE",
            "PET_DELETE",
            "VET_GET",
            "VET_CREATE",
            "VET_DELETE"
        ],
        "{generated}"
    );
    for r in results {
        assert_eq!(r["failed_runs"].as_u64(), Some(0), "{r}\n{generated}");
    }
    let left_over = ["owners", "pets", "visits", "vets"].map(|t| left[t].as_u64());
    assert_eq!(left_over, [Some(0); 4], "{left}");
}

/// A NestJS-shaped API on Node.js's http server: its document at /api-json
/// as @nestjs/swagger writes it (a list answering a plain array, 201 on
/// create, a bearer scheme). The suite made from it runs clean with the
/// token passed as -H, and no cat is left.
#[test]
fn a_suite_from_a_nestjs_document_runs_and_removes_every_fixture() {
    const NEST: &str = r#"
const http = require('http');
const doc = {openapi: '3.0.0', info: {title: 'Cats example', version: '1.0'},
  paths: {
    '/cats': {get: {responses: {200: {content: {'application/json': {schema: {type: 'array', items: {$ref: '#/components/schemas/Cat'}}}}}}},
              post: {requestBody: {required: true, content: {'application/json': {schema: {$ref: '#/components/schemas/CreateCatDto'}}}},
                     responses: {201: {content: {'application/json': {schema: {$ref: '#/components/schemas/Cat'}}}}}}},
    '/cats/{id}': {get: {responses: {200: {}}}, delete: {responses: {200: {}}}}},
  components: {securitySchemes: {bearer: {type: 'http', scheme: 'bearer', bearerFormat: 'JWT'}},
    schemas: {CreateCatDto: {type: 'object', required: ['name', 'age', 'breed'], properties: {
                name: {type: 'string'}, age: {type: 'integer', example: 3}, breed: {type: 'string', example: 'Maine Coon'}}},
              Cat: {type: 'object', properties: {id: {type: 'number'}, name: {type: 'string'}}}}}};
const cats = new Map(); let next = 1;
const send = (res, status, body) => {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(data)});
  res.end(data);
};
const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (c) => raw += c);
  req.on('end', () => {
    const path = req.url.split('?')[0];
    if (path === '/api-json') return send(res, 200, doc);
    if (req.headers.authorization !== 'Bearer t0ken') return send(res, 401, {message: 'Unauthorized'});
    const m = path.match(/^\/cats(?:\/(\d+))?$/);
    if (!m) return send(res, 404, {message: 'Not Found'});
    if (req.method === 'GET' && !m[1]) return send(res, 200, [...cats.values()]);
    if (req.method === 'POST' && !m[1]) {
      const b = JSON.parse(raw || '{}');
      if (typeof b.name !== 'string' || !Number.isInteger(b.age) || typeof b.breed !== 'string')
        return send(res, 400, {message: ['name, age and breed are required']});
      const cat = {id: next++, name: b.name, age: b.age, breed: b.breed};
      cats.set(cat.id, cat);
      return send(res, 201, cat);
    }
    const cat = cats.get(Number(m[1]));
    if (!cat) return send(res, 404, {message: 'Not Found'});
    if (req.method === 'GET') return send(res, 200, cat);
    if (req.method === 'DELETE') { cats.delete(cat.id); return send(res, 200, cat); }
    send(res, 405, {message: 'Method Not Allowed'});
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => {
  require('fs').writeSync(1, JSON.stringify({cats: cats.size}) + '\n');
  process.exit(0);
});
"#;
    let mut cmd = Command::new("node");
    cmd.args(["-e", NEST]);
    let server = PortServer::start(cmd);
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("cats.toml");
    let init = Command::new(bin())
        .args(["suite", "init", "--openapi", &format!("{url}/api-json")])
        .args(["-o", suite.to_str().unwrap()])
        .args(["--dry-run", "-H", "Authorization: Bearer t0ken"])
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    assert!(
        text(&init).contains("cats: created 1, deleted"),
        "{}",
        text(&init)
    );
    let (o, results) = run_generated(&url, &suite, dir.path(), "Authorization: Bearer t0ken");
    let left = server.stop();
    let generated = std::fs::read_to_string(&suite).unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{generated}", text(&o));
    assert_eq!(results.len(), 4, "{generated}");
    for r in results {
        assert_eq!(r["failed_runs"].as_u64(), Some(0), "{r}\n{generated}");
    }
    assert_eq!(left["cats"].as_u64(), Some(0), "{left}");
}
