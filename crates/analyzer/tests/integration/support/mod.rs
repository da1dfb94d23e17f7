//! Synthetic run directories with known splits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use tracesplit_model::manifest::ScenarioManifest;
use tracesplit_model::{RequestRecord, RunManifest, SpanKind, SpanRecord};
use tracesplit_store::{RequestFileWriter, write_span_segment};

pub const MS: i64 = 1_000_000;
pub const T0: i64 = 1_764_000_000_000_000_000;

pub fn span(
    trace: &str,
    id: u64,
    parent: Option<u64>,
    name: &str,
    kind: SpanKind,
    start: i64,
    end: i64,
) -> SpanRecord {
    SpanRecord {
        trace_id: trace.parse().expect("a trace id"),
        span_id: tracesplit_model::SpanId(id.to_be_bytes()),
        parent_span_id: parent.map(|p| tracesplit_model::SpanId(p.to_be_bytes())),
        name: name.into(),
        kind,
        start_unix_nano: start,
        end_unix_nano: end,
        service_name: "catalog".into(),
        attributes_json: "{}".into(),
        resource_attributes_json: "{}".into(),
        ..Default::default()
    }
}

pub fn db(trace: &str, id: u64, parent: u64, statement: &str, start: i64, end: i64) -> SpanRecord {
    SpanRecord {
        db_system: Some("postgresql".into()),
        db_statement: Some(statement.into()),
        ..span(
            trace,
            id,
            Some(parent),
            "SELECT dealbrain",
            SpanKind::Client,
            start,
            end,
        )
    }
}

pub const COUNT: &str = "SELECT count(listing.id) FROM listing WHERE listing.cpu_id = $1";

/// Twenty deletes with totals 100..119 ms: network 10, a cascade count of 80,
/// a load of 5, the rest handler (total − 95). Each with its spans.
pub fn twenty_deletes() -> Vec<(RequestRecord, Vec<SpanRecord>)> {
    (0..20)
        .map(|i| delete(i, 100 + i64::from(i), 10, 80, 5))
        .collect()
}

/// The requests of [`twenty_deletes`] and all their spans.
pub fn twenty_deletes_flat() -> (Vec<RequestRecord>, Vec<SpanRecord>) {
    let (requests, spans): (Vec<_>, Vec<_>) = twenty_deletes().into_iter().unzip();
    (requests, spans.concat())
}

/// One delete request with: network `net`, a usage span holding a `cascade` count
/// query, a `other` ms load query, the rest handler. Returns (request, spans).
pub fn delete(
    i: u32,
    total_ms: i64,
    net_ms: i64,
    cascade_ms: i64,
    other_ms: i64,
) -> (RequestRecord, Vec<SpanRecord>) {
    let trace = format!("{:032x}", 0xabc000 + u64::from(i));
    let client = 0x1000 + u64::from(i);
    let start = T0 + i64::from(i) * 1000 * MS;
    let server = (
        start + net_ms * MS / 2,
        start + (total_ms - net_ms / 2) * MS - (net_ms % 2) * MS,
    );
    let (s0, s1) = server;
    let load = (s0 + MS, s0 + MS + other_ms * MS);
    let check = (load.1 + MS, load.1 + MS + cascade_ms * MS);
    let request = RequestRecord {
        run_id: "synthetic".into(),
        scenario: "CPU_DELETE_WITH_LISTINGS_1000".into(),
        entity_type: "CPU".into(),
        operation: "DELETE".into(),
        iteration: i,
        method: "DELETE".into(),
        route: "/v1/catalog/cpus/{id}".into(),
        url: "http://api/v1/catalog/cpus/7".into(),
        status: 409,
        expected: true,
        trace_id: trace.clone(),
        span_id: format!("{client:016x}"),
        intended_start_unix_nano: start,
        start_unix_nano: start,
        ttfb_ns: Some(total_ms * MS),
        duration_ns: total_ms * MS,
        response_bytes: 60,
        ..Default::default()
    };
    let spans = vec![
        span(
            &trace,
            0x1,
            Some(client),
            "DELETE /v1/catalog/cpus/{cpu_id}",
            SpanKind::Server,
            s0,
            s1,
        ),
        span(
            &trace,
            0x2,
            Some(0x1),
            "catalog.delete_cpu",
            SpanKind::Internal,
            s0 + MS / 2,
            s1 - MS / 2,
        ),
        db(
            &trace,
            0x3,
            0x2,
            "SELECT cpu.id, listing.id FROM cpu LEFT OUTER JOIN listing ON ...",
            load.0,
            load.1,
        ),
        span(
            &trace,
            0x4,
            Some(0x2),
            "catalog.cpu_usage_check",
            SpanKind::Internal,
            check.0,
            check.1,
        ),
        db(&trace, 0x5, 0x4, COUNT, check.0, check.1),
        // The client span itself, as the runner exports it.
        span(
            &trace,
            client,
            None,
            "DELETE /v1/catalog/cpus/{id}",
            SpanKind::Client,
            start,
            start + total_ms * MS,
        ),
    ];
    (request, spans)
}

pub fn write_run(
    dir: &Path,
    requests: &[RequestRecord],
    segments: &[Vec<SpanRecord>],
    target_ms: f64,
) {
    std::fs::create_dir_all(dir.join("spans")).unwrap();
    let mut scenarios = BTreeMap::new();
    for r in requests {
        scenarios
            .entry(r.scenario.clone())
            .or_insert(ScenarioManifest {
                entity_type: r.entity_type.clone(),
                operation: r.operation.clone(),
                target_ms,
                fixture_listings: Some(1000),
                ..Default::default()
            });
    }
    let manifest = RunManifest {
        run_id: "synthetic".into(),
        base_url: "http://api".into(),
        scenarios,
        runs_per_test: Some(20),
        ..Default::default()
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();
    let mut w = RequestFileWriter::create(&dir.join("requests.parquet")).unwrap();
    for r in requests {
        w.append(r.clone()).unwrap();
    }
    w.finish().unwrap();
    for (g, seg) in segments.iter().enumerate() {
        write_span_segment(&dir.join("spans"), g as u64 + 1, seg).unwrap();
    }
}
