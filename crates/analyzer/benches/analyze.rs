//! Analyzer benchmark: a synthetic run of 1,000,000 requests and 10,000,000
//! server spans, analyzed end to end (Parquet in, Analysis out).
//!
//! `cargo bench -p tracesplit-analyzer --bench analyze [-- REQUESTS [LIMIT_MIB]]`
//!
//! The analysis runs twice: in one pass (the default memory limit, half the
//! machine's), then under a memory limit (LIMIT_MIB, default 1024) that
//! partitions the spans; the split totals of the two must be identical.
//!
//! The data is generated once into `target/bench-data/` and reused (made
//! again when the store's layout changed: `bench-data-version`). The
//! analysis runs in a child process so its peak RSS is its own. Beside it, the
//! same join and split as one DuckDB SQL query (`benches/duckdb_split.py`,
//! needs `.venv/bin/pip install duckdb`), over the same files; both print the
//! total cascade time so the two can be checked against each other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_arguments,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tracesplit_analyzer::{AnalyzeConfig, analyze};
use tracesplit_model::manifest::ScenarioManifest;
use tracesplit_model::{RequestRecord, RunManifest, SpanKind, SpanRecord};
use tracesplit_store::{RequestFileWriter, SpanSegmentWriter};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MS: i64 = 1_000_000;
/// The layout of the generated data: 2 since the span store keeps ids as bytes.
const DATA_VERSION: &str = "2";
const SCENARIOS: [&str; 10] = [
    "A_PATCH",
    "B_PUT",
    "C_DELETE",
    "D_DELETE_100",
    "E_DELETE_1000",
    "F_LIST",
    "G_DETAIL",
    "H_GPU",
    "I_PROFILE",
    "J_PORTS",
];
const COUNT: &str =
    "SELECT count(listing.id) AS count_1 FROM listing WHERE listing.cpu_id = $1::INTEGER";
const LOAD: &str = "SELECT cpu.id, cpu.name, listing.id, listing.title FROM cpu LEFT OUTER JOIN listing ON cpu.id = listing.cpu_id WHERE cpu.id = $1::INTEGER";

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn span(
    trace: &str,
    id: u64,
    parent: u64,
    name: &str,
    kind: SpanKind,
    start: i64,
    end: i64,
    statement: Option<&str>,
) -> SpanRecord {
    SpanRecord {
        trace_id: trace.parse().unwrap_or_default(),
        span_id: tracesplit_model::SpanId(id.to_be_bytes()),
        parent_span_id: Some(tracesplit_model::SpanId(parent.to_be_bytes())),
        name: name.to_owned(),
        kind,
        start_unix_nano: start,
        end_unix_nano: end,
        service_name: "catalog-api".into(),
        scope_name: "opentelemetry.instrumentation.sqlalchemy".into(),
        db_system: statement.map(|_| "postgresql".to_owned()),
        db_statement: statement.map(str::to_owned),
        attributes_json: "{}".into(),
        resource_attributes_json: r#"{"service.name":"catalog-api"}"#.into(),
        ..Default::default()
    }
}

/// `per_request` (≥ 5) server spans per request: SERVER, INTERNAL handler, a
/// usage INTERNAL span with the count, and other DB statements (overlapping
/// in pairs).
fn request_spans(
    i: u64,
    trace: &str,
    client: u64,
    start: i64,
    total: i64,
    per_request: u64,
) -> Vec<SpanRecord> {
    let base = client << 8;
    let (s0, s1) = (start + MS / 2, start + total - MS / 2);
    let mut out = vec![
        span(
            trace,
            base + 1,
            client,
            "DELETE /v1/catalog/cpus/{cpu_id}",
            SpanKind::Server,
            s0,
            s1,
            None,
        ),
        span(
            trace,
            base + 2,
            base + 1,
            "catalog.delete_cpu",
            SpanKind::Internal,
            s0 + 100_000,
            s1 - 100_000,
            None,
        ),
    ];
    let cascade = (i % 7) as i64 * MS + 2 * MS;
    out.push(span(
        trace,
        base + 3,
        base + 2,
        "catalog.cpu_usage_check",
        SpanKind::Internal,
        s0 + MS,
        s0 + MS + cascade,
        None,
    ));
    out.push(span(
        trace,
        base + 4,
        base + 3,
        "SELECT dealbrain",
        SpanKind::Client,
        s0 + MS,
        s0 + MS + cascade,
        Some(COUNT),
    ));
    for k in 0..per_request.saturating_sub(4) as i64 {
        let a = s0 + MS + cascade + k * 200_000;
        out.push(span(
            trace,
            base + 5 + k as u64,
            base + 2,
            "SELECT dealbrain",
            SpanKind::Client,
            a,
            a + 300_000,
            Some(LOAD),
        ));
    }
    out
}

fn generate(dir: &Path, requests: u64, per_request: u64) {
    let spans_dir = dir.join("spans");
    std::fs::create_dir_all(&spans_dir).unwrap();
    let scenarios = SCENARIOS
        .iter()
        .map(|s| {
            (
                s.to_string(),
                ScenarioManifest {
                    entity_type: "CPU".into(),
                    operation: "DELETE".into(),
                    target_ms: 500.0,
                    ..Default::default()
                },
            )
        })
        .collect();
    let manifest = RunManifest {
        run_id: "bench".into(),
        base_url: "http://api".into(),
        scenarios,
        runs_per_test: Some(requests / 10),
        ..Default::default()
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();
    let mut req = RequestFileWriter::create(&dir.join("requests.parquet")).unwrap();
    let per_segment = 100_000u64;
    let mut segment = SpanSegmentWriter::create(&spans_dir, 1).unwrap();
    let mut buffer = Vec::new();
    for i in 0..requests {
        let trace = format!("{:016x}{:016x}", 0x5eed_u64, i + 1);
        let client = i + 1;
        let start = 1_764_000_000_000_000_000 + i as i64 * 10 * MS;
        let total = 20 * MS + (i % 97) as i64 * MS;
        req.append(RequestRecord {
            run_id: "bench".into(),
            scenario: SCENARIOS[(i % 10) as usize].into(),
            entity_type: "CPU".into(),
            operation: "DELETE".into(),
            iteration: (i / 10) as u32,
            method: "DELETE".into(),
            route: "/v1/catalog/cpus/{id}".into(),
            url: "http://api/v1/catalog/cpus/1".into(),
            status: 409,
            expected: true,
            trace_id: trace.clone(),
            span_id: format!("{client:016x}"),
            intended_start_unix_nano: start,
            start_unix_nano: start,
            ttfb_ns: Some(total),
            duration_ns: total,
            response_bytes: 64,
            ..Default::default()
        })
        .unwrap();
        buffer.extend(request_spans(i, &trace, client, start, total, per_request));
        if buffer.len() as u64 >= per_segment {
            segment.write(&buffer).unwrap();
            buffer.clear();
        }
        if (i + 1) % 100_000 == 0 {
            segment.finish().unwrap();
            segment = SpanSegmentWriter::create(&spans_dir, (i + 1) / 100_000 + 1).unwrap();
            eprint!("\r  generating: {} requests", i + 1);
        }
    }
    segment.write(&buffer).unwrap();
    segment.finish().unwrap();
    req.finish().unwrap();
    eprintln!();
}

fn analyze_only(dir: &Path, limit_mib: Option<u64>) {
    let t = Instant::now();
    let out = analyze(&AnalyzeConfig {
        run_dirs: vec![dir.to_owned()],
        outliers: 5,
        memory_limit: limit_mib.map(|m| m << 20),
        ..Default::default()
    })
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let sum = |f: fn(&tracesplit_analyzer::split::RequestSplit) -> i64| -> i64 {
        out.splits.iter().map(f).sum()
    };
    let matched = out.splits.iter().filter(|s| s.matched).count();
    println!(
        "RESULT {secs:.3} {:.0} {matched} {} {} {} {} {}",
        peak_rss_mib(),
        sum(|s| s.cascade_ns),
        sum(|s| s.network_ns),
        sum(|s| s.queue_ns),
        sum(|s| s.handler_ns),
        sum(|s| s.db_other_ns),
    );
}

/// Runs the analysis in a child process (its own peak RSS): time, peak MiB, matched, component sums.
fn child(dir: &Path, limit_mib: Option<u64>) -> Vec<f64> {
    let me = std::env::current_exe().unwrap();
    let mut cmd = Command::new(me);
    cmd.args(["--analyze-only", dir.to_str().unwrap()]);
    if let Some(m) = limit_mib {
        cmd.arg(m.to_string());
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "analysis failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--analyze-only") {
        let limit = args.get(pos + 2).and_then(|m| m.parse().ok());
        analyze_only(Path::new(&args[pos + 1]), limit);
        return;
    }
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    // `--large`: 10 M requests × 6 spans, analyzed under a 4 GiB limit and
    // then in small partitions (1 GiB); no DuckDB beside it.
    let large = args.iter().any(|a| a == "--large");
    let (default_requests, per_request, first_limit, default_small) = if large {
        (10_000_000, 6, Some(4096), 1024)
    } else {
        (1_000_000, 10, None, 1024)
    };
    let requests = numbers.first().copied().unwrap_or(default_requests);
    let limit_mib = numbers.get(1).copied().unwrap_or(default_small);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    let dir = root.join(if per_request == 10 {
        format!("analyze-{requests}")
    } else {
        format!("analyze-{requests}x{per_request}")
    });
    // Data of an older layout (ids as hex text before format 2) is made again.
    let version = dir.join("bench-data-version");
    let current = std::fs::read_to_string(&version).unwrap_or_default();
    if !dir.join("requests.parquet").exists() || current.trim() != DATA_VERSION {
        eprintln!(
            "generating {requests} requests × {per_request} spans in {}",
            dir.display()
        );
        let _ = std::fs::remove_dir_all(&dir);
        generate(&dir, requests, per_request);
        std::fs::write(&version, DATA_VERSION).unwrap();
    }
    println!(
        "analyzer: {requests} requests, {} server spans ({})",
        requests * per_request,
        dir.display()
    );
    let result = child(&dir, first_limit);
    println!(
        "  tracesplit{}: {:.2} s wall, peak RSS {:.0} MiB, {} matched, cascade total {} ns",
        first_limit.map_or(String::new(), |m| format!(" --memory-limit {m}MiB")),
        result[0],
        result[1],
        result[2],
        result[3]
    );
    let limited = child(&dir, Some(limit_mib));
    println!(
        "  tracesplit --memory-limit {limit_mib}MiB: {:.2} s wall, peak RSS {:.0} MiB; split totals {}",
        limited[0],
        limited[1],
        if limited[2..] == result[2..] {
            "identical"
        } else {
            "DIFFER"
        }
    );
    if large {
        return;
    }
    // The trace-level query first: it is the quicker one, and the subtree
    // query needs ~13 GiB.
    for (mode, label) in [
        ("trace", "DuckDB, trace-level query"),
        ("subtree", "DuckDB, the analyzer's subtree"),
    ] {
        duckdb(&dir, mode, label, &result);
    }
}

/// Runs the DuckDB version of the split (`benches/duckdb_split.py MODE`) and
/// prints it beside tracesplit's `result`.
fn duckdb(dir: &Path, mode: &str, label: &str, result: &[f64]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_split.py");
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    match Command::new(&python)
        .arg(&script)
        .arg(dir)
        .arg(mode)
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let d: Vec<f64> = text
                .lines()
                .find_map(|l| l.strip_prefix("RESULT "))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if d.len() >= 4 {
                println!(
                    "  {label}: {:.2} s wall, peak RSS {:.0} MiB, {} matched, cascade total {} ns",
                    d[0], d[1], d[2], d[3]
                );
                println!(
                    "  ratio tracesplit / {label} time: {:.2}  (cascade totals {})",
                    result[0] / d[0],
                    if (d[3] - result[3]).abs() < 1.0 {
                        "agree"
                    } else {
                        "DIFFER"
                    }
                );
            }
        }
        Ok(o) => println!(
            "  {label} failed: {} (install it: .venv/bin/pip install duckdb)",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("  {label} skipped: {e}"),
    }
}
