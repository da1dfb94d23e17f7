//! Runner overhead against oha on a loopback no-op endpoint.
//!
//! `cargo bench -p tracesplit-runner --bench overhead [-- SECONDS [CONCURRENCY [ROUNDS]]]`
//!
//! Starts a tiny HTTP server (hyper, its own runtime), then measures, in one
//! run and alternating: oha (`oha` on PATH or in ~/.cargo/bin; install it with
//! `cargo install oha`) and the tracesplit runner with tracing and span export
//! on (every request a CLIENT span, child of an iteration span, exported over
//! OTLP/HTTP), all at the same concurrency for the same time. The runner is measured twice:
//! exporting its spans over OTLP/HTTP to a sink that accepts and discards
//! them (the runner's own overhead, as with `--no-collect`), and with the
//! embedded collector decoding and storing every span in the same process
//! (what `tracesplit run` does by default). Prints requests/s and P50 of each
//! measurement, and per row its ratio to oha in the same round (the median
//! over rounds, default 3) and best against best. `TRACESPLIT_BENCH_NO_OHA=1` and `TRACESPLIT_BENCH_ROW=NAME`
//! narrow it down for a profiler.
//!
//! HTTPS: the same server behind TLS (a certificate made at start, rcgen),
//! oha with `--cacert` against the runner with the same CA (`oha https`,
//! `tracesplit https`), compared with each other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use http::Method;
use std::process::Command;
use std::time::Duration;
use tracesplit_runner::ApiClient;
use tracesplit_runner::{Collect, RunConfig, run, suite};
use tracesplit_runner::{Schedule, Stop};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/noop.rs"]
mod noop;
use noop::start_server;

fn oha_path() -> Option<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    ["oha".to_string(), format!("{home}/.cargo/bin/oha")]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// (requests/s, P50 ms) of oha (`cacert`: trust this CA for https).
fn run_oha(
    oha: &str,
    url: &str,
    secs: u64,
    concurrency: usize,
    cacert: Option<&std::path::Path>,
) -> (f64, f64) {
    let mut cmd = Command::new(oha);
    if let Some(ca) = cacert {
        cmd.arg("--cacert").arg(ca);
    }
    let out = cmd
        .args([
            "-z",
            &format!("{secs}s"),
            "-c",
            &concurrency.to_string(),
            "--no-tui",
            "--output-format",
            "json",
            url,
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("oha output: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    let rps = v["summary"]["requestsPerSec"].as_f64().unwrap();
    let p50 = v["latencyPercentiles"]["p50"].as_f64().unwrap() * 1000.0;
    (rps, p50)
}

/// (requests/s, P50 ms) of the runner.
fn run_runner(
    rt: &tokio::runtime::Runtime,
    base: &str,
    secs: u64,
    concurrency: usize,
    embedded_collector: bool,
    tls: &tracesplit_runner::TlsOptions,
    sink: &str,
) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    // `tracesplit run` starts the embedded collector beside the runner.
    let collector = embedded_collector.then(|| {
        rt.block_on(tracesplit_collector::Collector::start(
            tracesplit_collector::CollectorConfig {
                grpc_addr: ([127, 0, 0, 1], 0).into(),
                http_addr: ([127, 0, 0, 1], 0).into(),
                store_dir: dir.path().join("run").join("spans"),
                track_server_parents: true,
                ..Default::default()
            },
        ))
        .unwrap()
    });
    let collect = match &collector {
        Some(c) => Collect::embedded(c.span_index(), c.own_span_sink()),
        None => Collect::external(Some(sink.to_owned())),
    };
    let text = "name = \"bench\"\n[[scenario]]\nname = \"NOOP\"\nentity_type = \"X\"\noperation = \"GET\"\ntarget_p95_ms = 1000\nsteps = [{ method = \"GET\", path = \"/noop\", expect = [200] }]\n";
    let config = RunConfig {
        timeout: Duration::from_secs(10),
        schedule: Schedule {
            stop: Stop::Duration(Duration::from_secs(secs)),
            concurrency,
            ..Schedule::default()
        },
        run_id: "bench".into(),
        setup_concurrency: 1,
        span_wait: Duration::from_millis(100),
        tls: tls.clone(),
        ..RunConfig::new(
            base,
            suite::parse(text, "bench").unwrap(),
            dir.path().join("run"),
            collect,
        )
    };
    let began = std::time::Instant::now();
    let outcome = rt.block_on(run(config)).unwrap();
    // Setup, the span wait and (with the embedded collector) storing the
    // run's own spans from its records: what the run costs beyond its
    // measured seconds.
    let beyond = began.elapsed().as_secs_f64() - secs as f64;
    let file = outcome.run_dir.join("requests.parquet");
    let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
    let requests = tracesplit_store::read_requests(&file).unwrap();
    let first = requests.iter().map(|r| r.start_unix_nano).min().unwrap();
    let last = requests
        .iter()
        .map(|r| r.start_unix_nano + r.duration_ns)
        .max()
        .unwrap();
    let rps = requests.len() as f64 / ((last - first) as f64 / 1e9);
    let mut expected: Vec<i64> = requests
        .iter()
        .filter(|r| r.expected)
        .map(|r| r.duration_ns)
        .collect();
    expected.sort_unstable();
    let p50_ms = tracesplit_model::stats::nearest_rank(&expected, 50.0).unwrap_or(0) as f64 / 1e6;
    let stored = collector.map_or(0, |c| rt.block_on(c.shutdown()).unwrap().stored_spans);
    let c = outcome.client_spans;
    assert_eq!(c.dropped(), 0, "every client span exported: {c:?}");
    println!(
        "    ({} requests, requests.parquet {:.1} MB; client spans ended {}, exported {}, dropped {}; collector stored {}; run took {beyond:.2} s beyond its measured time)",
        requests.len(),
        bytes as f64 / 1e6,
        c.ended,
        c.exported,
        c.dropped(),
        stored
    );
    (rps, p50_ms)
}

/// (requests/s, P50 ms) of the runner's HTTP client alone: no spans, no
/// records — the floor under the runner's figures.
fn run_client_only(
    rt: &tokio::runtime::Runtime,
    base: &str,
    secs: u64,
    concurrency: usize,
) -> (f64, f64) {
    let client = ApiClient::new(
        base,
        Default::default(),
        Duration::from_secs(10),
        concurrency,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let until = started + Duration::from_secs(secs);
    let mut latencies: Vec<u128> = rt.block_on(async {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut own = Vec::new();
                    while std::time::Instant::now() < until {
                        let o = client.send(Method::GET, "/noop", None, None).await;
                        assert_eq!(o.status, 200, "{:?}", o.error);
                        own.push(o.duration.as_nanos());
                    }
                    own
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        all
    });
    let rps = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (rps, latencies[latencies.len() / 2] as f64 / 1e6)
}

/// The runner's HTTP client alone.
const CLIENT_ONLY: &str = "client only";
/// The runner exporting its spans to a sink (its own overhead).
const RUNNER: &str = "tracesplit";
/// The runner with the embedded collector storing its spans.
const WITH_COLLECTOR: &str = "tracesplit+collector";
/// oha over HTTPS.
const OHA_TLS: &str = "oha https";
/// oha against nginx.
const OHA_NGINX: &str = "oha nginx";
/// The default run (embedded collector) against nginx.
const RUNNER_NGINX: &str = "tracesplit+collector nginx";
/// The runner over HTTPS, spans to the sink.
const RUNNER_TLS: &str = "tracesplit https";

/// The test PKI (crates/net, rcgen) in `dir`; the server's acceptor for localhost.
fn test_tls(dir: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    tracesplit_net::test_pki::write_test_pki(dir).unwrap();
    let files = tracesplit_net::TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_ca: None,
    };
    // HTTP/1.1 only: oha and the runner both speak it by default.
    files.acceptor_for(&[b"http/1.1"]).unwrap()
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let secs = args.first().copied().unwrap_or(10);
    let concurrency = args.get(1).copied().unwrap_or(64) as usize;
    let rounds = args.get(2).copied().unwrap_or(3);
    let (addr, _server) = start_server();
    let base = format!("http://{addr}");
    let pki = tempfile::tempdir().unwrap();
    let (tls_addr, _tls_server) = noop::start_tls_server(test_tls(pki.path()));
    let tls_base = format!("https://localhost:{}", tls_addr.port());
    let trust = tracesplit_runner::TlsOptions {
        cacert: Some(pki.path().join("ca.pem")),
        ..Default::default()
    };
    let plain = tracesplit_runner::TlsOptions::default();
    // A real server beside the no-op one, when nginx is installed.
    let nginx_dir = tempfile::tempdir().unwrap();
    let nginx = nginx::start(nginx_dir.path());
    let nginx_base = nginx.as_ref().map(|n| n.base.clone());
    let runner_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "runner overhead: GET /noop on a loopback hyper server, concurrency {concurrency}, {secs} s per measurement"
    );
    // TRACESPLIT_BENCH_NO_OHA=1 measures the runner alone (for profiling).
    let oha = if std::env::var_os("TRACESPLIT_BENCH_NO_OHA").is_some() {
        None
    } else {
        oha_path()
    };
    let mut rows = Vec::new();
    for round in 0..rounds {
        let only = |who: &str| std::env::var("TRACESPLIT_BENCH_ROW").is_ok_and(|o| o != who);
        if let Some(oha) = &oha {
            let nginx_row = nginx_base
                .as_ref()
                .map(|b| (OHA_NGINX, format!("{b}/noop"), None));
            for (who, url, ca) in [
                ("oha", format!("{base}/noop"), None),
                (
                    OHA_TLS,
                    format!("{tls_base}/noop"),
                    Some(pki.path().join("ca.pem")),
                ),
            ]
            .into_iter()
            .chain(nginx_row)
            {
                if only(who) {
                    continue;
                }
                let (rps, p50) = run_oha(oha, &url, secs, concurrency, ca.as_deref());
                println!("  round {round}: {who:<21} {rps:>10.0} req/s   p50 {p50:.3} ms");
                rows.push((round, who, rps, p50));
            }
        }
        for (who, embedded) in [
            (RUNNER, false),
            (WITH_COLLECTOR, true),
            (CLIENT_ONLY, false),
            (RUNNER_TLS, false),
            (RUNNER_NGINX, true),
        ] {
            // TRACESPLIT_BENCH_ROW=NAME measures that row alone (for profiling).
            if only(who) || (who == RUNNER_NGINX && nginx_base.is_none()) {
                continue;
            }
            let (rps, p50) = match who {
                CLIENT_ONLY => run_client_only(&runner_rt, &base, secs, concurrency),
                RUNNER_TLS => run_runner(
                    &runner_rt,
                    &tls_base,
                    secs,
                    concurrency,
                    false,
                    &trust,
                    &base,
                ),
                RUNNER_NGINX => run_runner(
                    &runner_rt,
                    nginx_base.as_deref().unwrap_or(&base),
                    secs,
                    concurrency,
                    true,
                    &plain,
                    &base,
                ),
                _ => run_runner(
                    &runner_rt,
                    &base,
                    secs,
                    concurrency,
                    embedded,
                    &plain,
                    &base,
                ),
            };
            println!("  round {round}: {who:<21} {rps:>10.0} req/s   p50 {p50:.3} ms");
            rows.push((round, who, rps, p50));
        }
    }
    if nginx.is_none() {
        println!("  nginx not found: `apt-get install nginx` for the real-server rows");
    }
    if oha.is_none() {
        println!("  oha not found: `cargo install oha` to compare");
        return;
    }
    summarize(&rows);
}

/// One measurement: round, who, requests/s, P50 ms.
type Measurement = (u64, &'static str, f64, f64);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Each row against oha of the same round (the machine drifts between
/// rounds), then the median over rounds; the best figures beside it.
fn summarize(rows: &[Measurement]) {
    let of = |round: u64, who: &str| rows.iter().find(|r| r.0 == round && r.1 == who);
    for (who, peer) in [
        (RUNNER, "oha"),
        (WITH_COLLECTOR, "oha"),
        (CLIENT_ONLY, "oha"),
        (RUNNER_TLS, OHA_TLS),
        (RUNNER_NGINX, OHA_NGINX),
    ] {
        let pairs: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.1 == who)
            .filter_map(|r| of(r.0, peer).map(|o| (r.2 / o.2, r.3 / o.3)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let each: Vec<String> = pairs.iter().map(|p| format!("{:.2}x", p.0)).collect();
        let of_who = |who: &'static str| rows.iter().filter(move |r| r.1 == who);
        // Best throughput is the highest, best P50 the lowest.
        let best_rps = |who| of_who(who).map(|r| r.2).fold(f64::MIN, f64::max);
        let best_p50 = |who| of_who(who).map(|r| r.3).fold(f64::MAX, f64::min);
        println!(
            "  {who}/{peer}: throughput {:.2}x (median of rounds {}), p50 {:+.1} %; best vs best {:.2}x, p50 {:+.1} %",
            median(pairs.iter().map(|p| p.0).collect()),
            each.join(" "),
            (median(pairs.iter().map(|p| p.1).collect()) - 1.0) * 100.0,
            best_rps(who) / best_rps(peer),
            (best_p50(who) / best_p50(peer) - 1.0) * 100.0,
        );
    }
}
