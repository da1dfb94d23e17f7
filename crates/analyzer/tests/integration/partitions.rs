//! Bounded memory: a run analyzed in many partitions of its trace ids gives
//! exactly what one pass gives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::sync::{Arc, Mutex};
use tracesplit_analyzer::partition::{Progress, ProgressFn};
use tracesplit_analyzer::{AnalyzeConfig, analyze};

fn config(dir: &std::path::Path, memory_limit: Option<u64>) -> AnalyzeConfig {
    AnalyzeConfig {
        run_dirs: vec![dir.to_owned()],
        outliers: 3,
        memory_limit,
        ..Default::default()
    }
}

#[test]
fn a_tiny_memory_limit_partitions_the_spans_and_changes_no_number() {
    let dir = tempfile::tempdir().unwrap();
    // 150 deletes of different lengths and cascade times, their spans spread
    // over three store segments (a trace's spans in different files).
    let all: Vec<_> = (0..150u32)
        .map(|i| {
            let cascade = 5 + i64::from(i * 37 % 90);
            delete(
                i,
                20 + cascade + i64::from(i % 7),
                2 + i64::from(i % 3),
                cascade,
                3,
            )
        })
        .collect();
    let requests: Vec<_> = all.iter().map(|(r, _)| r.clone()).collect();
    let mut segments = vec![Vec::new(); 3];
    for (r, spans) in &all {
        for (k, s) in spans.iter().enumerate() {
            segments[(r.iteration as usize + k) % 3].push(s.clone());
        }
    }
    write_run(dir.path(), &requests, &segments, 80.0);

    let whole = analyze(&config(dir.path(), None)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let tiny = analyze(&AnalyzeConfig {
        progress: ProgressFn(Some(Arc::new(move |p: &Progress| {
            sink.lock().unwrap().push(p.clone())
        }))),
        ..config(dir.path(), Some(1))
    })
    .unwrap();

    let seen = seen.lock().unwrap();
    let Some(Progress::Planned {
        partitions, spans, ..
    }) = seen.first().cloned()
    else {
        panic!("no plan reported: {seen:?}")
    };
    assert!(
        partitions > 100,
        "a 1-byte limit cuts the spans small: {partitions}"
    );
    let total: usize = segments.iter().map(Vec::len).sum();
    assert_eq!(spans, total as u64);
    let done = seen
        .iter()
        .filter(|p| matches!(p, Progress::PartitionDone { .. }))
        .count() as u64;
    assert_eq!(done, partitions);
    assert!(matches!(
        seen.last(),
        Some(Progress::PartitionDone { spans_read, .. }) if *spans_read == total as u64
    ));

    // The analysis, byte for byte, and every request's split.
    assert_eq!(
        serde_json::to_string_pretty(&tiny.analysis).unwrap(),
        serde_json::to_string_pretty(&whole.analysis).unwrap()
    );
    let numbers = |s: &[tracesplit_analyzer::split::RequestSplit]| {
        s.iter().map(|s| s.forget_spans()).collect::<Vec<_>>()
    };
    assert_eq!(numbers(&tiny.splits), numbers(&whole.splits));
    // Something real was split: the planted cascade times are there.
    let s = &whole.analysis.scenarios[0];
    assert_eq!(s.coverage.matched, 150);
    assert!(s.exemplar.as_ref().is_some_and(|e| !e.spans.is_empty()));
    assert!(s.cascade_statement.is_some());
}
