//! Test support: a programmable fake API that can die on cue, and run configs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod hold;
pub mod widgets;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracesplit_runner::{Collect, RunConfig, suite};
use tracesplit_runner::{Schedule, Stop};

/// What the fake API does; shared with the test.
#[derive(Default)]
pub struct FakeState {
    /// `METHOD path` of every request, in order.
    pub log: Mutex<Vec<String>>,
    /// Ids handed out by creates.
    pub created: Mutex<Vec<i64>>,
    /// Ids deleted.
    pub deleted: Mutex<Vec<i64>>,
    next_id: AtomicI64,
    /// After this many `GET /v1/ok`, the server dies (0 = never).
    pub die_after_ok: AtomicU64,
    ok_count: AtomicU64,
    /// Listing creates succeed this many times, then answer 500 (0 = always succeed).
    pub listings_ok: AtomicU64,
    listings_seen: AtomicU64,
    mixed: AtomicU64,
    /// Set when the server died.
    pub dead: AtomicBool,
}

pub struct FakeApi {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
    kill: Arc<Notify>,
}

fn json(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

async fn handle(
    state: Arc<FakeState>,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if state.dead.load(SeqCst) {
        // Dead: answer nothing until the kill drops this connection (the kill
        // task may run a moment later than the request that triggered it).
        std::future::pending::<()>().await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // Creates answer with the body they were sent plus an id, as real APIs do.
    let echo = |id: i64| {
        let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("id".into(), id.into());
        }
        v.to_string()
    };
    state.log.lock().unwrap().push(format!("{method} {path}"));
    let id_of = |p: &str| p.rsplit('/').next().and_then(|s| s.parse::<i64>().ok());
    let response = match (method.as_str(), path.as_str()) {
        ("GET", "/health") => json(200, r#"{"status":"ok"}"#),
        ("POST", "/v1/listings/") => {
            let n = state.listings_seen.fetch_add(1, SeqCst) + 1;
            let limit = state.listings_ok.load(SeqCst);
            if limit > 0 && n > limit {
                json(
                    500,
                    r#"{"detail":"Database error occurred. Please try again later."}"#,
                )
            } else {
                let id = state.next_id.fetch_add(1, SeqCst) + 1;
                state.created.lock().unwrap().push(id);
                json(201, &echo(id))
            }
        }
        ("POST", p) if p.starts_with("/v1/catalog/") => {
            let id = state.next_id.fetch_add(1, SeqCst) + 1;
            state.created.lock().unwrap().push(id);
            json(201, &echo(id))
        }
        // Lists (the cleanup's sweep): everything created was deleted by then.
        ("GET", p) if p.starts_with("/v1/catalog/") => json(200, "[]"),
        ("DELETE", p) => {
            if let Some(id) = id_of(p) {
                state.deleted.lock().unwrap().push(id);
            }
            json(204, "")
        }
        ("GET", "/v1/ok") => {
            let n = state.ok_count.fetch_add(1, SeqCst) + 1;
            let limit = state.die_after_ok.load(SeqCst);
            if limit > 0 && n >= limit {
                state.dead.store(true, SeqCst);
                kill.notify_one();
            }
            json(200, "{}")
        }
        ("GET", "/v1/mixed") => {
            let codes = [200, 500, 404, 503];
            json(codes[(state.mixed.fetch_add(1, SeqCst) % 4) as usize], "{}")
        }
        ("GET", "/v1/slow") => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            json(200, "{}")
        }
        _ => json(404, r#"{"detail":"Not Found"}"#),
    };
    Ok(response)
}

impl FakeApi {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(FakeState::default());
        let kill = Arc::new(Notify::new());
        let (st, k) = (state.clone(), kill.clone());
        tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    _ = k.notified() => {
                        // Dying: drop the listener and every open connection.
                        conns.shutdown().await;
                        return;
                    }
                    Ok((stream, _)) = listener.accept() => {
                        let (st, k) = (st.clone(), k.clone());
                        conns.spawn(async move {
                            let service = service_fn(move |req| handle(st.clone(), k.clone(), req));
                            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                }
            }
        });
        Self { addr, state, kill }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kill(&self) {
        self.kill.notify_one();
    }
}

/// A run config with test defaults: silent; client spans go to a closed port
/// (tests about spans start a collector with [`with_collector`]).
/// A test suite for the catalog API: the built-in suite's kinds and health
/// path added when the text declares none (a suite starts from nothing).
pub fn for_catalog(suite_text: &str) -> String {
    let catalog = suite::CATALOG_SUITE;
    let kinds = match (catalog.find("[[kind]]"), catalog.find("[[scenario]]")) {
        (Some(a), Some(b)) => &catalog[a..b],
        _ => "",
    };
    let mut text = suite_text.to_owned();
    if !text.contains("health =") {
        let first = text.find('\n').map_or(text.len(), |i| i + 1);
        text.insert_str(first, "health = \"/health\"\n");
    }
    if !text.contains("[[kind]]") {
        text.push('\n');
        text.push_str(kinds);
    }
    text
}

pub fn config(base_url: &str, suite_text: &str, dir: &Path, runs: u64) -> RunConfig {
    RunConfig {
        timeout: Duration::from_secs(5),
        schedule: Schedule {
            stop: Stop::Iterations(runs),
            ..Schedule::default()
        },
        run_id: "ts-test".into(),
        setup_concurrency: 4,
        span_wait: Duration::from_millis(300),
        ..RunConfig::new(
            base_url,
            suite::parse(&for_catalog(suite_text), "test-suite.toml").unwrap(),
            dir.join("run"),
            Collect::external(Some("http://127.0.0.1:1".into())),
        )
    }
}

/// A one-scenario suite: `GET path` expecting 200, optionally with a fixture of `listings` listings.
pub fn suite_get(path: &str, fixture_listings: Option<u64>) -> String {
    let fixture = match fixture_listings {
        Some(n) => format!(
            "fixture = {{ entity = \"gpus\", listings = {n}, listing_field = \"gpu_id\", body = {{ name = \"f {{run_id}} {{n}}\" }} }}\n"
        ),
        None => String::new(),
    };
    format!(
        "name = \"t\"\n[[scenario]]\nname = \"S\"\nentity_type = \"GPU\"\noperation = \"GET\"\ntarget_p95_ms = 1000\n{fixture}steps = [{{ method = \"GET\", path = \"{path}\", expect = [200] }}]\n"
    )
}

/// Every row of every table of a catalog database file.
pub fn db_rows(db: &Path) -> tracesplit_catalog_demo::dump::Rows {
    tracesplit_catalog_demo::dump::rows(db).unwrap()
}

/// Fails naming the first table that differs and the rows added or removed.
pub fn assert_same_rows(
    before: &tracesplit_catalog_demo::dump::Rows,
    after: &tracesplit_catalog_demo::dump::Rows,
) {
    if let Some(d) = tracesplit_catalog_demo::dump::difference(before, after) {
        panic!("{d}");
    }
}

/// Starts a collector storing in the run's `spans/` (as `tracesplit run`
/// does) and points the run's client spans and span wait at it.
pub async fn with_collector(cfg: &mut RunConfig) -> tracesplit_collector::CollectorHandle {
    let collector = tracesplit_collector::Collector::start(tracesplit_collector::CollectorConfig {
        grpc_addr: ([127, 0, 0, 1], 0).into(),
        http_addr: ([127, 0, 0, 1], 0).into(),
        store_dir: cfg.run_dir.join("spans"),
        track_server_parents: true,
        ..Default::default()
    })
    .await
    .unwrap();
    cfg.collect = Collect::embedded(collector.span_index(), collector.own_span_sink());
    collector
}

/// What `requests.parquet` recorded for one scenario.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    /// Requests with an expected status.
    pub measured: u64,
    /// The others.
    pub failed: u64,
    /// Requests per status (0 = no answer).
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// Failed requests by kind (`timeout`, `status 500`).
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// Per scenario, what the run recorded (the runner records; it does not judge).
pub fn recorded(
    outcome: &tracesplit_runner::RunOutcome,
) -> std::collections::BTreeMap<String, Recorded> {
    let rows = tracesplit_store::read_requests(&outcome.run_dir.join("requests.parquet")).unwrap();
    let mut out: std::collections::BTreeMap<String, Recorded> = Default::default();
    for r in rows {
        let e = out.entry(r.scenario.clone()).or_default();
        *e.statuses.entry(r.status).or_default() += 1;
        if r.expected {
            e.measured += 1;
        } else {
            e.failed += 1;
            let kind = r.error.unwrap_or_else(|| format!("status {}", r.status));
            *e.errors.entry(kind).or_default() += 1;
        }
    }
    out
}

/// Whether a note of the run contains `text`.
pub fn has_note(outcome: &tracesplit_runner::RunOutcome, text: &str) -> bool {
    outcome.manifest.notes.iter().any(|n| n.contains(text))
}
