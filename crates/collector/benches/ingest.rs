//! Collector ingest benchmark: OTLP/gRPC exports of 512 spans with realistic
//! attributes, sent by in-process senders, into the span store.
//!
//! `cargo bench -p tracesplit-collector --bench ingest [-- SECONDS]`
//!
//! Prints spans/s (acknowledged and stored) and peak RSS. It runs twice, for
//! SECONDS and for 3×SECONDS: a bounded collector has the same peak RSS for
//! both, however long it runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tracesplit_collector::{Collector, CollectorConfig};

// The same allocator as the `tracesplit` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS_PER_REQUEST: usize = 512;
const SENDERS: usize = 8;

#[derive(Clone, Copy)]
struct Raw;
impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}
impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

/// One request: 64 traces of 8 spans (a SERVER span, an INTERNAL span, six DB spans).
fn request(seed: u64) -> Bytes {
    let mut spans = Vec::with_capacity(SPANS_PER_REQUEST);
    for t in 0..(SPANS_PER_REQUEST / 8) as u64 {
        let trace_id = [seed.to_be_bytes(), (t + 1).to_be_bytes()].concat();
        let start = 1_764_000_000_000_000_000u64 + seed * 1_000_000 + t * 1_000;
        for i in 0..8u64 {
            let (name, kind, attributes) = match i {
                0 => (
                    "DELETE /v1/catalog/cpus/{cpu_id}",
                    2,
                    vec![
                        kv("http.request.method", s("DELETE")),
                        kv("http.route", s("/v1/catalog/cpus/{cpu_id}")),
                        kv("url.path", s("/v1/catalog/cpus/1234")),
                        kv("http.response.status_code", Value::IntValue(409)),
                        kv("server.address", s("catalog.internal")),
                        kv("network.protocol.version", s("1.1")),
                    ],
                ),
                1 => (
                    "catalog.delete_cpu",
                    1,
                    vec![kv("code.function", s("delete_cpu"))],
                ),
                _ => (
                    "SELECT catalog",
                    3,
                    vec![
                        kv("db.system.name", s("postgresql")),
                        kv("db.namespace", s("catalog")),
                        kv("db.operation.name", s("SELECT")),
                        kv(
                            "db.query.text",
                            s(
                                "SELECT count(listings.id) AS count_1 FROM listings WHERE listings.cpu_id = $1::INTEGER",
                            ),
                        ),
                        kv("server.port", Value::IntValue(5432)),
                    ],
                ),
            };
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: (seed << 32 | t << 8 | (i + 1)).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 {
                    vec![]
                } else {
                    (seed << 32 | t << 8 | 1).to_be_bytes().to_vec()
                },
                name: name.into(),
                kind,
                start_time_unix_nano: start + i * 10,
                end_time_unix_nano: start + 900 - i,
                attributes,
                ..Default::default()
            });
        }
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("catalog-api")),
                    kv("service.version", s("2.4.1")),
                    kv("deployment.environment.name", s("staging")),
                    kv("telemetry.sdk.language", s("python")),
                    kv("host.name", s("catalog-7f9c")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry.instrumentation.asgi".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Bytes::from(req.encode_to_vec())
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn run(seconds: f64, pool: Arc<Vec<Bytes>>) -> (f64, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(CollectorConfig::ephemeral(dir.path()))
        .await
        .unwrap();
    let endpoint = collector.grpc_endpoint();
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let (endpoint, sent, stop, pool) =
            (endpoint.clone(), sent.clone(), stop.clone(), pool.clone());
        tasks.push(tokio::spawn(async move {
            let channel = tonic::transport::Channel::from_shared(endpoint)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel);
            let path = http::uri::PathAndQuery::from_static(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            );
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let body = pool[(sender * 31 + seq as usize) % pool.len()].clone();
                grpc.ready().await.unwrap();
                match grpc
                    .unary(tonic::Request::new(body), path.clone(), Raw)
                    .await
                {
                    Ok(_) => {
                        sent.fetch_add(SPANS_PER_REQUEST as u64, Ordering::Relaxed);
                    }
                    // Backpressure is part of the protocol: wait as a client would.
                    Err(s) if s.code() == tonic::Code::Unavailable => {
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                    Err(s) => panic!("export failed: {s}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let stats = collector.shutdown().await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(
        stats.stored_spans,
        sent.load(Ordering::Relaxed),
        "every acknowledged span is stored"
    );
    (
        stats.stored_spans as f64 / elapsed,
        stats.stored_spans,
        stats.rejected_exports,
    )
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Senders replay a pool of distinct pre-encoded requests (131,072 distinct
    // spans), as an SDK's encoding happens in another process in production.
    let pool: Arc<Vec<Bytes>> = Arc::new((1..=256).map(request).collect());
    println!(
        "collector ingest: OTLP/gRPC, {SPANS_PER_REQUEST} spans/request, {SENDERS} concurrent senders in-process"
    );
    for secs in [seconds, seconds * 3.0] {
        let (rate, stored, refused) = rt.block_on(run(secs, pool.clone()));
        println!(
            "  {secs:>5.1} s: {rate:>10.0} spans/s stored ({stored} spans, {refused} exports refused for backpressure), peak RSS so far {:.0} MiB",
            peak_rss_mib()
        );
    }
}
