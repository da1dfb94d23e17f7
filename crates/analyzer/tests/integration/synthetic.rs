//! The split of synthetic runs whose components are known exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use tracesplit_analyzer::{AnalyzeConfig, analyze};
use tracesplit_model::SpanKind;

/// The analysis of the run in `dir`, three outliers a scenario.
pub(crate) fn config(dir: &std::path::Path) -> AnalyzeConfig {
    AnalyzeConfig {
        run_dirs: vec![dir.to_owned()],
        outliers: 3,
        ..Default::default()
    }
}

/// Nineteen requests of 20..38 ms and one of 250 ms. The nearest-rank P95 is
/// the 19th (38 ms); the split beside it adds up to those 38 ms — not to the
/// mean of the slowest three (once 102.7 ms beside a P95 of 38).
#[test]
fn the_p95_split_adds_up_to_the_p95_it_stands_beside() {
    let mut all: Vec<_> = (0..19)
        .map(|i| delete(i, 20 + i64::from(i), 4, 10, 2))
        .collect();
    all.push(delete(19, 250, 4, 200, 2));
    let run = |all: &[(
        tracesplit_model::RequestRecord,
        Vec<tracesplit_model::SpanRecord>,
    )]| {
        let dir = tempfile::tempdir().unwrap();
        let requests: Vec<_> = all.iter().map(|(r, _)| r.clone()).collect();
        let spans: Vec<_> = all.iter().flat_map(|(_, s)| s.clone()).collect();
        write_run(dir.path(), &requests, &[spans], 1000.0);
        analyze(&config(dir.path())).unwrap().analysis.scenarios[0].clone()
    };
    let s = run(&all);
    assert_eq!(s.stats.p95_ms, 38.0);
    let p = s.p95_split.unwrap();
    assert_eq!((p.ranks, p.requests), ((19, 19), 1));
    let sum = p.network_ms + p.handler_ms + p.cascade_ms + p.db_other_ms;
    assert!(
        (p.total_ms - 38.0).abs() < 1e-9 && (sum - 38.0).abs() < 1e-9,
        "{p:?}"
    );
    assert!((p.cascade_ms - 10.0).abs() < 1e-9 && (p.handler_ms - 22.0).abs() < 1e-9);
    // The P95 request's spans lost: the proportions come from the matched
    // request nearest the P95 value (37 ms), scaled to the 38 ms shown.
    let mut partial = all.clone();
    partial[18].1.clear();
    let s = run(&partial);
    let p = s.p95_split.unwrap();
    assert_eq!((s.coverage.matched, s.stats.p95_ms), (19, 38.0));
    assert!((p.window_mean_ms - 37.0).abs() < 1e-9, "{p:?}");
    assert!((p.total_ms - 38.0).abs() < 1e-9);
    assert!((p.cascade_ms - 10.0 * 38.0 / 37.0).abs() < 1e-9, "{p:?}");
    let sum = p.network_ms + p.handler_ms + p.cascade_ms + p.db_other_ms;
    assert!((sum - 38.0).abs() < 1e-9);
}

#[test]
fn the_p95_split_of_known_requests_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    // totals 100..119 ms; network 10, load 5, count 80; handler = total − 95.
    let (requests, mut spans) = twenty_deletes_flat();
    // Spans arrive in any order, over several segments.
    spans.reverse();
    let (a, b) = spans.split_at(37);
    write_run(dir.path(), &requests, &[b.to_vec(), a.to_vec()], 1000.0);

    let out = analyze(&config(dir.path())).unwrap();
    let s = &out.analysis.scenarios[0];
    assert_eq!(s.scenario, "CPU_DELETE_WITH_LISTINGS_1000");
    assert_eq!(
        (
            s.stats.count,
            s.stats.p50_ms,
            s.stats.p95_ms,
            s.stats.p99_ms
        ),
        (20, 109.0, 118.0, 119.0)
    );
    assert_eq!((s.coverage.requests, s.coverage.matched), (20, 20));
    let p95 = s.p95_split.unwrap();
    assert_eq!(
        p95.ranks,
        (19, 19),
        "the P95 request itself below 100 requests"
    );
    assert!((p95.total_ms - 118.0).abs() < 1e-9);
    assert!((p95.network_ms - 10.0).abs() < 1e-9, "{p95:?}");
    assert!((p95.cascade_ms - 80.0).abs() < 1e-9);
    assert!((p95.db_other_ms - 5.0).abs() < 1e-9);
    assert!((p95.handler_ms - 23.0).abs() < 1e-9);
    assert_eq!(s.cascade_statement.as_deref(), Some(COUNT));
    assert_eq!(
        s.cascade_span_name.as_deref(),
        Some("catalog.cpu_usage_check")
    );
    assert_eq!((s.db_spans.p50, s.db_spans.max), (2, 2));
    assert_eq!(s.outliers.len(), 3);
    assert!((s.outliers[0].split.total_ms - 119.0).abs() < 1e-9);
    // Every matched request sums exactly.
    for sp in &out.splits {
        assert_eq!(
            sp.network_ns + sp.handler_ns + sp.cascade_ns + sp.db_other_ns,
            sp.total_ns
        );
    }
    let exemplar = s.exemplar.as_ref().unwrap();
    assert_eq!(exemplar.spans[0].category, "client");
    assert_eq!(exemplar.spans[1].category, "server");
    assert!(
        (exemplar.spans[1].offset_ms - 5.0).abs() < 1e-9,
        "midpoint assumption: half the network before the server span"
    );
    assert!(
        exemplar
            .spans
            .iter()
            .any(|w| w.category == "cascade" && w.statement.as_deref() == Some(COUNT))
    );
    // The cascade check dominates: a finding with the statement and a next step.
    let f = out
        .analysis
        .findings
        .iter()
        .find(|f| f.rule == "dominant_component")
        .unwrap();
    assert!(
        f.title
            .contains("cascade is 68 % of the P95 (80.0 of 118.0 ms)"),
        "{}",
        f.title
    );
    assert!(
        f.next_step
            .as_deref()
            .unwrap()
            .contains("index on listing.cpu_id"),
        "{:?}",
        f.next_step
    );
}

#[test]
fn unmatched_clamped_and_multiple_server_spans_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    let mut spans = Vec::new();
    for i in 0..10 {
        let (r, mut s) = delete(i, 100, 10, 50, 5);
        match i {
            0 => s.retain(|x| x.kind != SpanKind::Server), // no server span
            1 => {
                // The server claims 130 ms of a 100 ms request.
                let server = s.iter_mut().find(|x| x.kind == SpanKind::Server).unwrap();
                server.end_unix_nano = server.start_unix_nano + 130 * MS;
            }
            2 => {
                // A second, shorter server span under the same client span (a retry inside a proxy).
                let mut extra = s[0].clone();
                extra.span_id = tracesplit_model::SpanId(0x99u64.to_be_bytes());
                extra.end_unix_nano = extra.start_unix_nano + 20 * MS;
                s.push(extra);
            }
            _ => {}
        }
        requests.push(r);
        spans.extend(s);
    }
    write_run(dir.path(), &requests, &[spans], 1000.0);
    let out = analyze(&config(dir.path())).unwrap();
    let c = out.analysis.scenarios[0].coverage;
    assert_eq!(
        (c.requests, c.matched, c.clamped, c.multiple_server_spans),
        (10, 9, 1, 1)
    );
    assert!(!out.splits[0].matched);
    assert_eq!(out.splits[1].network_ns, 0);
    assert_eq!(
        out.splits[1].network_ns
            + out.splits[1].handler_ns
            + out.splits[1].cascade_ns
            + out.splits[1].db_other_ns,
        100 * MS
    );
    assert_eq!(
        out.splits[2].server_ns,
        90 * MS,
        "the longest server span is the entry"
    );
    let rules: Vec<&str> = out
        .analysis
        .findings
        .iter()
        .map(|f| f.rule.as_str())
        .collect();
    for r in ["unmatched_requests", "clamped", "multiple_server_spans"] {
        assert!(rules.contains(&r), "{r} in {rules:?}");
    }
}

#[test]
fn classifier_overrides_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (r, s) = delete(0, 100, 10, 50, 5);
    write_run(dir.path(), &[r], &[s], 1000.0);
    // Name the load query as the cascade instead: statement regex on `LEFT OUTER JOIN`, span regex that matches nothing.
    let mut cfg = config(dir.path());
    cfg.cascade_statement = Some("LEFT OUTER JOIN".into());
    cfg.cascade_span = Some("^nothing$".into());
    let default = analyze(&config(dir.path()))
        .unwrap()
        .analysis
        .cascade_defaults;
    let out = analyze(&cfg).unwrap();
    let p = out.analysis.scenarios[0].p95_split.unwrap();
    assert!(
        (p.cascade_ms - 5.0).abs() < 1e-9 && (p.db_other_ms - 50.0).abs() < 1e-9,
        "{p:?}"
    );
    // The built-in classifier is named as the default only where it applied:
    // this run recorded none, so without the command line's it did.
    assert_eq!(default.statement, tracesplit_analyzer::DEFAULT_STATEMENT);
    assert_eq!(out.analysis.cascade_defaults.statement, "");
    assert_eq!(out.analysis.cascade_defaults.span, "");
    cfg.cascade_statement = Some("(unclosed".into());
    let err = analyze(&cfg).err().unwrap().to_string();
    assert!(err.contains("invalid cascade regex"), "{err}");
}

/// Overwrites the middle of a Parquet file's data pages, leaving its footer
/// (the metadata, its length and the closing magic) intact.
fn corrupt_middle(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let data_end = n - 8 - footer;
    let (a, b) = (4 + (data_end - 4) / 4, 4 + 3 * (data_end - 4) / 4);
    for byte in &mut bytes[a..b] {
        *byte = 0xa5;
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_pages_behind_a_valid_footer_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (r, s) = delete(0, 100, 10, 50, 5);
    write_run(dir.path(), &[r], &[s], 1000.0);
    let spans = std::fs::read_dir(dir.path().join("spans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    corrupt_middle(&spans);
    let err = analyze(&config(dir.path())).err().unwrap().to_string();
    let name = spans.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains(&name), "{err}");
    corrupt_middle(&dir.path().join("requests.parquet"));
    let err = analyze(&config(dir.path())).err().unwrap().to_string();
    assert!(err.contains("requests.parquet"), "{err}");
}

#[test]
fn malformed_inputs_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (r, s) = delete(0, 100, 10, 50, 5);
    write_run(dir.path(), &[r], &[s], 1000.0);
    std::fs::write(
        dir.path().join("spans/spans-000000000009.parquet"),
        b"not parquet",
    )
    .unwrap();
    let err = analyze(&config(dir.path())).err().unwrap().to_string();
    assert!(
        err.contains("spans-000000000009.parquet") && err.contains("Parquet"),
        "{err}"
    );

    std::fs::write(dir.path().join("requests.parquet"), b"garbage").unwrap();
    let err = analyze(&config(dir.path())).err().unwrap().to_string();
    assert!(err.contains("requests.parquet"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = analyze(&config(empty.path())).err().unwrap().to_string();
    assert!(
        err.contains("manifest.json") && err.contains("run directory"),
        "{err}"
    );
}
