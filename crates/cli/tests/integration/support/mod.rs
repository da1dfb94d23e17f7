//! Running the real `tracesplit` binary in end-to-end tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub use tracesplit_net::test_proxy as proxy;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `tracesplit run --base-url URL --out OUT` with its own collector on free
/// loopback ports and a short span wait; add the test's own flags.
pub fn run_command(url: &str, out: &std::path::Path) -> Command {
    let mut c = run_with_local_collector();
    c.args(["--base-url", url, "--out", out.to_str().unwrap()]);
    c
}

/// `tracesplit run` with its own collector on free loopback ports and a
/// short span wait; the test adds the rest.
pub fn run_with_local_collector() -> Command {
    let mut c = Command::new(bin());
    c.args([
        "run",
        "--collector-grpc",
        "127.0.0.1:0",
        "--collector-http",
        "127.0.0.1:0",
        "--span-wait",
        "200ms",
    ]);
    c
}

/// A running `tracesplit` process whose stdout lines are collected.
pub struct Proc {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tracesplit")
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_env(args, &[])
    }

    pub fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    pub fn wait_line(&mut self, prefix: &str, timeout: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return l[prefix.len()..].trim().to_owned();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => panic!(
                    "no line starting with {prefix:?} within {timeout:?}; saw {:?}",
                    self.seen
                ),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill_hard(mut self) {
        self.signal("-KILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits; returns the exit code and the remaining stdout lines.
    pub fn terminate(mut self) -> (i32, Vec<String>) {
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        let mut rest = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        (status.code().unwrap_or(-1), rest)
    }
}

impl Drop for Proc {
    /// A failing test must not leave its servers running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tracesplit serve-catalog` on loopback port 0 with `extra` flags; returns it with its base URL.
pub fn serve_catalog(extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["serve-catalog", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(&args);
    let url = p.wait_line("catalog listening on", Duration::from_secs(60));
    (p, url)
}

/// A loopback port free right now: for a collector that `run` starts later,
/// which the catalog must already know to export to.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tracesplit collect` on loopback port 0; returns it with (gRPC URL, HTTP URL).
pub fn collect(store: &std::path::Path, extra: &[&str]) -> (Proc, String, String) {
    let store = store.to_str().unwrap();
    let mut args = vec![
        "collect",
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--store",
        store,
    ];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(&args);
    let grpc = p.wait_line("OTLP/gRPC listening on", Duration::from_secs(30));
    let http = p.wait_line("OTLP/HTTP listening on", Duration::from_secs(30));
    (p, grpc, http)
}

/// The Python interpreter with the OpenTelemetry SDK (the test command creates `.venv`).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("TRACESPLIT_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/test.sh (it creates the venv from tests-support/python/requirements.txt) or set TRACESPLIT_PYTHON",
        venv.display()
    );
    venv
}

/// Runs `tests-support/python/SCRIPT ARGS…` with [`python`].
pub fn python_script<A: AsRef<std::ffi::OsStr>>(script: &str, args: &[A]) -> std::process::Output {
    std::process::Command::new(python())
        .arg(workspace_root().join("tests-support/python").join(script))
        .args(args)
        .output()
        .unwrap()
}

/// As [`python_script`], asserting that the script succeeded; its stdout.
pub fn python_ok<A: AsRef<std::ffi::OsStr>>(script: &str, args: &[A]) -> String {
    let out = python_script(script, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn http_client() -> reqwest::blocking::Client {
    tracesplit_net::client_tls::use_ring_by_default();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A finished process's stdout and stderr, for assertion messages.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A test API of another stack (Python, Node.js): it prints its port as its
/// first stdout line and, on SIGTERM, may print one JSON line of what it
/// counted. Killed when dropped.
pub struct PortServer {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    /// Its loopback port.
    pub port: u16,
}

impl PortServer {
    /// Starts `cmd` and reads its port.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines
            .next()
            .and_then(Result::ok)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("{cmd:?} printed no port"));
        Self { child, lines, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM, then the JSON line it printed of what it counted.
    pub fn stop(mut self) -> serde_json::Value {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let line = self.lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = self.child.wait();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }
}

impl Drop for PortServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A suite of one scenario `GET_OK`: a GET of `path` expecting 200.
pub fn one_get_suite(dir: &std::path::Path, path: &str) -> PathBuf {
    let suite = dir.join("one-get.toml");
    std::fs::write(
        &suite,
        format!(
            "name = \"one-get\"\n[[scenario]]\nname = \"GET_OK\"\nentity_type = \"x\"\noperation = \"GET\"\ntarget_p95_ms = 1000\nsteps = [{{ method = \"GET\", path = \"{path}\", expect = [200] }}]\n"
        ),
    )
    .unwrap();
    suite
}

/// summary.json of the run in `out` (panics with `o`'s output when there is none).
/// The run's `manifest.json` in `out`.
pub fn manifest_of(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

pub fn summary_of(out: &std::path::Path, o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}
