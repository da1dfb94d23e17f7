//! The field test bed (tests-support/testbed): a FastAPI + SQLAlchemy +
//! psycopg app on a throwaway PostgreSQL cluster, run under OpenTelemetry's
//! `opentelemetry-instrument` with the instrumentations from PyPI, exporting
//! its spans to the run's collector. scripts/test.sh installs its venv
//! (`.venv-testbed`) and Debian's postgresql.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cluster;

pub use cluster::Postgres;

use crate::support::{free_port, http_client, workspace_root};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The suite of the test bed's items API: UUID ids, `{"data", "count"}` lists.
pub const SUITE: &str = r#"
name = "testbed"
[[kind]]
name = "items"
create = { path = "/api/v1/items/", body = { title = "tracesplit {run_id} item {n}" } }
tag = "/title"
delete = "/api/v1/items/{id}"
list = "/api/v1/items/?skip={offset}&limit=100"
items = "/data"

[[scenario]]
name = "ITEM_GET"
entity_type = "item"
operation = "GET"
target_p95_ms = 200
fixture = { kind = "items" }
steps = [{ method = "GET", path = "/api/v1/items/{fixture.id}", expect = [200] }]

[[scenario]]
name = "ITEM_DELETE"
entity_type = "item"
operation = "DELETE"
target_p95_ms = 200
fixture = { kind = "items", per_iteration = true }
steps = [{ method = "DELETE", path = "/api/v1/items/{fixture.id}", expect = [200] }]

[[scenario]]
name = "ITEM_EXPLODE"
entity_type = "item"
operation = "GET"
target_p95_ms = 200
fixture = { kind = "items" }
steps = [{ method = "GET", path = "/api/v1/items/{fixture.id}/explode", expect = [200] }]
"#;

/// The venv's programs (scripts/test.sh creates it).
fn venv_bin(name: &str) -> PathBuf {
    let p = workspace_root().join(".venv-testbed/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/test.sh (it creates .venv-testbed from tests-support/testbed/requirements.txt)",
        p.display()
    );
    p
}

/// A cluster and the app on it, exporting to the collector a run will
/// start on `collector`.
pub struct Bed {
    /// The database.
    pub db: Postgres,
    /// The app.
    pub app: App,
    /// The port the run's collector will listen on (OTLP/HTTP).
    pub collector: u16,
}

impl Bed {
    /// A fresh cluster and the app with `planted` settings.
    pub fn start(planted: &[(&str, &str)]) -> Self {
        let db = Postgres::start();
        let collector = free_port();
        let app = App::start(&db, collector, planted);
        Self { db, app, collector }
    }
}

/// The app, running; killed when dropped.
pub struct App {
    child: Child,
    /// Its base URL.
    pub url: String,
    /// The app's own log of unhandled exceptions: one "Type: message" line each.
    pub error_log: PathBuf,
    _dir: tempfile::TempDir,
}

impl App {
    /// Starts the app on `db`, exporting spans over OTLP/HTTP to
    /// 127.0.0.1:`collector` (the run's collector, started later), with
    /// `planted` settings (TESTBED_POOL_SIZE, TESTBED_HOLD_MS, …).
    pub fn start(db: &Postgres, collector: u16, planted: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let error_log = dir.path().join("errors.log");
        let port = free_port();
        let mut cmd = Command::new(venv_bin("opentelemetry-instrument"));
        cmd.arg(venv_bin("uvicorn"))
            .args([
                "app:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["--log-level", "warning"])
            .current_dir(workspace_root().join("tests-support/testbed"))
            .env("TESTBED_DSN", db.dsn())
            .env("TESTBED_ERROR_LOG", &error_log)
            .env("OTEL_SERVICE_NAME", "testbed")
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("OTEL_LOGS_EXPORTER", "none")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("http://127.0.0.1:{collector}/v1/traces"),
            )
            // Export often, drop nothing: every span is counted.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_BSP_MAX_QUEUE_SIZE", "200000")
            // The readiness probe and the login before the run span nothing
            // (no collector listens yet).
            .env("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "health-check,login")
            .stdout(Stdio::null())
            // Its tracebacks (planted on purpose) go to its own log, not the test output.
            .stderr(std::fs::File::create(dir.path().join("app.log")).unwrap());
        for (k, v) in planted {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let app = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            error_log,
            _dir: dir,
        };
        app.wait_ready();
        app
    }

    fn wait_ready(&self) {
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = format!("{}/api/v1/utils/health-check/", self.url);
        while Instant::now() < deadline {
            if client
                .get(&health)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the test bed did not answer {health} within 60 s");
    }

    /// A bearer token from the OAuth2 password flow.
    pub fn token(&self) -> String {
        let r = http_client()
            .post(format!("{}/api/v1/login/access-token", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=admin%40example.com&password=changethis")
            .send()
            .unwrap();
        assert!(r.status().is_success(), "login: {}", r.status());
        let body: serde_json::Value = r.json().unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The app's log of unhandled exceptions, line by line.
    pub fn logged_errors(&self) -> Vec<String> {
        std::fs::read_to_string(&self.error_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tracesplit run` against the app with the suite, a bearer token and the
/// collector on `collector`; `extra` adds flags. Returns the process output.
pub fn run(
    app: &App,
    collector: u16,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let suite = out.with_extension("toml");
    std::fs::write(&suite, SUITE).unwrap();
    let auth = format!("Authorization: Bearer {}", app.token());
    let mut flags = vec!["--header", auth.as_str()];
    flags.extend_from_slice(extra);
    run_suite(app, collector, out, &suite, &flags, &[])
}

/// `tracesplit run` of `suite` against the app, its collector on
/// `collector`, with `extra` flags and `env` in its environment.
pub fn run_suite(
    app: &App,
    collector: u16,
    out: &std::path::Path,
    suite: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut c = Command::new(crate::support::bin());
    c.args(["run", "--base-url", &app.url])
        .args(["--out", out.to_str().unwrap()])
        .args(["--suite", suite.to_str().unwrap()])
        .args(["--collector-grpc", "127.0.0.1:0"])
        .args(["--collector-http", &format!("127.0.0.1:{collector}")])
        .args(["--span-wait", "10s"])
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// summary.json's analysis of the run in `out`.
pub fn analysis(out: &std::path::Path) -> serde_json::Value {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    s["analysis"].clone()
}

/// The analysis of scenario `name`.
pub fn scenario<'a>(a: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    a["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == name)
        .unwrap_or_else(|| panic!("no scenario {name} in {a}"))
}
