//! The runner's own HTTP/2 client and gRPC span exporter against hyper's
//! HTTP/2 client and a tonic exporter, on loopback, alternating in one run.
//!
//! `cargo bench -p tracesplit-runner --bench h2_clients [-- SECONDS [CONCURRENCY [ROUNDS]]]`
//!
//! HTTP/2 requests: an h2c server (hyper, its own runtime) answers `GET
//! /noop` with `{}`; `CONCURRENCY` tasks send requests for `SECONDS` over one
//! connection — through `ApiClient::with_http2` (the runner's client over the
//! `h2` crate: `--http2`), and through `hyper::client::conn::http2` (the same
//! `h2` underneath, hyper's request and body types on top; a per-request
//! timeout on both, as a load tool has). Prints requests/s
//! and the process's CPU per request (client and server share the process:
//! the server's part is the same on both rows).
//!
//! gRPC export: a sink that reads each `TraceService/Export` call's body and
//! answers `grpc-status: 0` (so the exporters, not a collector, are
//! measured); 1,000,000 spans of five attributes each — through the runner's
//! exporter (`ClientSpans` with `ExportProtocol::Grpc`: spans encoded straight
//! into the wire format, unary calls over its `h2` connection) and through
//! tonic's generated `TraceServiceClient` (the same spans as prost messages,
//! encoded by prost, sent by tonic). Prints spans/s and CPU per span.
//!
//! Each figure is compared as a ratio to the other in the same round; the
//! median over rounds (default 3) is printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tracesplit_runner::ApiClient;
use tracesplit_runner::spans::{
    ClientSpans, ExportConfig, ExportProtocol, Kind, Span, Value, iteration_span_id,
};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/noop.rs"]
mod noop;
use noop::start_h2_server;

/// Spans per export measurement.
const SPANS: usize = 1_000_000;
/// Spans per export call (the runner's default batch).
const BATCH: usize = 2048;

/// The process's CPU time so far (user + system), from /proc/self/stat.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ")".
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 here.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// (requests/s, CPU µs per request) of `concurrency` tasks calling `one`
/// for `secs`.
fn drive<F, Fut>(rt: &tokio::runtime::Runtime, secs: u64, concurrency: usize, one: F) -> (f64, f64)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let (began, cpu0) = (Instant::now(), cpu());
    let until = began + Duration::from_secs(secs);
    rt.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (one, done) = (one.clone(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < until {
                        assert!(one().await, "a request failed");
                        done.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let n = done.load(Relaxed) as f64;
    let (wall, used) = (began.elapsed().as_secs_f64(), (cpu() - cpu0).as_secs_f64());
    (n / wall, used / n * 1e6)
}

fn ours_h2(rt: &tokio::runtime::Runtime, addr: SocketAddr, secs: u64, c: usize) -> (f64, f64) {
    let tls = tracesplit_runner::TlsOptions::default();
    let url = format!("http://{addr}");
    let client = ApiClient::with_http2(
        &url,
        http::HeaderMap::new(),
        Duration::from_secs(10),
        c,
        &tls,
    )
    .unwrap();
    let client = Arc::new(client);
    drive(rt, secs, c, move || {
        let client = client.clone();
        async move {
            let o = client.send(http::Method::GET, "/noop", None, None).await;
            o.status == 200 && &o.body[..] == b"{}"
        }
    })
}

fn hyper_h2(rt: &tokio::runtime::Runtime, addr: SocketAddr, secs: u64, c: usize) -> (f64, f64) {
    let sender = rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        sender
    });
    let uri: http::Uri = format!("http://{addr}/noop").parse().unwrap();
    drive(rt, secs, c, move || {
        let (mut sender, uri) = (sender.clone(), uri.clone());
        async move {
            // The same header the runner's client sends.
            let request = hyper::Request::get(uri)
                .header(http::header::USER_AGENT, tracesplit_runner::USER_AGENT)
                .body(Empty::<Bytes>::new())
                .unwrap();
            // A per-request timeout, as the runner's client has.
            let exchange = async {
                let response = sender.send_request(request).await.ok()?;
                let ok = response.status() == 200;
                let body = response.into_body().collect().await.ok()?.to_bytes();
                Some(ok && &body[..] == b"{}")
            };
            let answer = tokio::time::timeout(Duration::from_secs(10), exchange).await;
            answer.ok().flatten().unwrap_or(false)
        }
    })
}

/// The spans both exporters send: a request's CLIENT span, five attributes.
fn span(k: usize, names: [tracesplit_runner::spans::Name; 3]) -> Span {
    let trace_id = 0x5eed_0000_0000_0000_0000_0000_0000_0000 | k as u128;
    let start = 1_700_000_000_000_000_000 + k as u64 * 1000;
    Span {
        trace_id,
        span_id: 0x1000 + k as u64,
        parent_span_id: iteration_span_id(trace_id),
        name: names[0],
        kind: Kind::Client,
        start_unix_nano: start,
        end_unix_nano: start + 900_000,
        attributes: [
            ("http.request.method", Value::Name(names[1])),
            (
                "url.full",
                Value::Owned(format!("http://127.0.0.1:8000/noop/{k}")),
            ),
            ("http.route", Value::Name(names[2])),
            ("http.response.status_code", Value::Int(200)),
            ("server.port", Value::Int(8000)),
        ]
        .into_iter()
        .collect(),
        error: false,
    }
}

/// (spans/s, CPU µs per span) of the runner's gRPC exporter.
fn ours_grpc(addr: SocketAddr) -> (f64, f64) {
    let config = ExportConfig {
        protocol: ExportProtocol::Grpc,
        batch: BATCH,
        gzip: false,
        ..ExportConfig::new(Some(format!("http://{addr}")))
    };
    let spans = ClientSpans::start(config).unwrap();
    let names = [
        spans.name("GET /noop"),
        spans.name("GET"),
        spans.name("/noop/{id}"),
    ];
    let (began, cpu0) = (Instant::now(), cpu());
    for k in 0..SPANS {
        spans.end(span(k, names));
    }
    let counts = spans.shutdown();
    assert_eq!(counts.exported, SPANS as u64, "{counts:?}");
    let (wall, used) = (began.elapsed().as_secs_f64(), (cpu() - cpu0).as_secs_f64());
    (SPANS as f64 / wall, used / SPANS as f64 * 1e6)
}

/// (spans/s, CPU µs per span) of tonic's generated client, sending the same
/// spans as prost messages, one call per batch as the runner does.
fn tonic_grpc(rt: &tokio::runtime::Runtime, addr: SocketAddr) -> (f64, f64) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as Proto};
    let text = |k: &str, v: String| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    };
    let int = |k: &str, v: i64| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    };
    let (began, cpu0) = (Instant::now(), cpu());
    rt.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        for first in (0..SPANS).step_by(BATCH) {
            let spans = (first..(first + BATCH).min(SPANS))
                .map(|k| {
                    let trace_id = 0x5eed_0000_0000_0000_0000_0000_0000_0000u128 | k as u128;
                    let start = 1_700_000_000_000_000_000 + k as u64 * 1000;
                    Proto {
                        trace_id: trace_id.to_be_bytes().to_vec(),
                        span_id: (0x1000 + k as u64).to_be_bytes().to_vec(),
                        parent_span_id: iteration_span_id(trace_id).to_be_bytes().to_vec(),
                        name: "GET /noop".into(),
                        kind: 3,
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + 900_000,
                        attributes: vec![
                            text("http.request.method", "GET".into()),
                            text("url.full", format!("http://127.0.0.1:8000/noop/{k}")),
                            text("http.route", "/noop/{id}".into()),
                            int("http.response.status_code", 200),
                            int("server.port", 8000),
                        ],
                        ..Default::default()
                    }
                })
                .collect();
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![text("service.name", "tracesplit-runner".into())],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            client.export(request).await.unwrap();
        }
    });
    let (wall, used) = (began.elapsed().as_secs_f64(), (cpu() - cpu0).as_secs_f64());
    (SPANS as f64 / wall, used / SPANS as f64 * 1e6)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let secs = args.first().copied().unwrap_or(5);
    let concurrency = args.get(1).copied().unwrap_or(64) as usize;
    let rounds = args.get(2).copied().unwrap_or(3);
    let (addr, _server) = start_h2_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "HTTP/2 GET /noop over one h2c connection, {concurrency} concurrent, {secs} s; gRPC export of {SPANS} spans to a sink"
    );
    let (mut requests, mut export) = (Vec::new(), Vec::new());
    // `TRACESPLIT_BENCH_ROW=ours-h2` (or hyper-h2, ours-grpc, tonic-grpc)
    // runs that row alone, for a profiler.
    if let Ok(row) = std::env::var("TRACESPLIT_BENCH_ROW") {
        let figures = match row.as_str() {
            "ours-h2" => ours_h2(&rt, addr, secs, concurrency),
            "hyper-h2" => hyper_h2(&rt, addr, secs, concurrency),
            "ours-grpc" => ours_grpc(addr),
            "tonic-grpc" => tonic_grpc(&rt, addr),
            other => panic!("no row {other}"),
        };
        println!("{row}: {:.0}/s, {:.2} µs CPU each", figures.0, figures.1);
        return;
    }
    for round in 1..=rounds {
        let ours = ours_h2(&rt, addr, secs, concurrency);
        let hyper = hyper_h2(&rt, addr, secs, concurrency);
        println!(
            "round {round}: requests/s tracesplit {:.0} ({:.1} µs CPU/request) · hyper {:.0} ({:.1} µs)",
            ours.0, ours.1, hyper.0, hyper.1
        );
        let ours_x = ours_grpc(addr);
        let tonic = tonic_grpc(&rt, addr);
        println!(
            "round {round}: spans/s tracesplit {:.0} ({:.2} µs CPU/span) · tonic {:.0} ({:.2} µs)",
            ours_x.0, ours_x.1, tonic.0, tonic.1
        );
        requests.push((ours.0 / hyper.0, ours.1 / hyper.1));
        export.push((ours_x.0 / tonic.0, ours_x.1 / tonic.1));
    }
    let med = |v: &[(f64, f64)], k: usize| {
        median(v.iter().map(|p| if k == 0 { p.0 } else { p.1 }).collect())
    };
    println!(
        "tracesplit/hyper HTTP/2: throughput {:.2}x, CPU per request {:.2}x (medians of {rounds} rounds)",
        med(&requests, 0),
        med(&requests, 1)
    );
    println!(
        "tracesplit/tonic gRPC export: throughput {:.2}x, CPU per span {:.2}x (medians of {rounds} rounds)",
        med(&export, 0),
        med(&export, 1)
    );
}
