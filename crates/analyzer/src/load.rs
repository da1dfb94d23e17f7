//! Requests and spans ready for the split: the span scan (`crate::scan`)
//! keeps the spans of the runs' traces with their server, DB and
//! cascade-candidate flags, grouped by trace; each request gets its
//! trace's group — then plain columns go to the split.
//!
//! Memory: only ids, times and flags of the spans are collected; names and
//! statements are fetched afterwards for the few spans a report shows.

use crate::error::AnalyzeError;
use crate::split::{RequestInput, SpanColumns};
use crate::table::RequestTable;
use std::path::{Path, PathBuf};

/// One cascade classifier: statement regex and span-name regex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant {
    /// Regex on `db_statement`.
    pub statement: String,
    /// Regex on span names.
    pub span: String,
}

/// Requests and spans ready for the split.
pub struct Loaded {
    /// The requests loaded (their rows in the request table, ascending).
    pub rows: Vec<usize>,
    /// Each loaded request's trace group (`None`: no span of its trace).
    pub group: Vec<Option<u32>>,
    /// The spans as plain columns, grouped by trace.
    pub columns: SpanColumns,
    /// Files the spans came from (for fetching text later).
    pub span_files: Vec<PathBuf>,
}

/// Hex span id → u64 (a hash for anything that is not 16 hex digits).
pub fn id64(text: &str) -> u64 {
    if let Some(v) = <u64 as crate::table::HexId>::parse(text) {
        return v;
    }
    // FNV-1a: only reached for ids that are not W3C span ids.
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1
}

/// Puts each trace's spans in (span id, start, end) order, so that the order
/// inside a trace — which decides between duplicate copies and equal
/// lengths — does not depend on how the store's files were read or
/// partitioned. (In Rust, per trace: sorting all spans by four keys in
/// polars cost a third of the analysis.)
fn order_traces(c: &mut SpanColumns) {
    let key = |c: &SpanColumns, i: usize| (c.span_id[i], c.start[i], c.end[i]);
    let mut perm: Vec<usize> = Vec::new();
    for &(a, b) in &c.groups {
        let (a, b) = (a as usize, b as usize);
        if (a + 1..b).all(|i| key(c, i - 1) <= key(c, i)) {
            continue;
        }
        perm.clear();
        perm.extend(a..b);
        perm.sort_by_key(|&i| key(c, i));
        fn apply<T: Copy>(v: &mut [T], a: usize, perm: &[usize]) {
            let taken: Vec<T> = perm.iter().map(|&i| v[i]).collect();
            v[a..a + taken.len()].copy_from_slice(&taken);
        }
        apply(&mut c.span_id, a, &perm);
        apply(&mut c.parent, a, &perm);
        apply(&mut c.is_server, a, &perm);
        apply(&mut c.start, a, &perm);
        apply(&mut c.end, a, &perm);
        apply(&mut c.is_db, a, &perm);
        if c.statement_key.len() == c.span_id.len() {
            apply(&mut c.statement_key, a, &perm);
        }
        if c.position.len() == c.span_id.len() {
            apply(&mut c.position, a, &perm);
        }
        for v in c.statement_match.iter_mut().chain(c.name_match.iter_mut()) {
            apply(v, a, &perm);
        }
    }
}

/// A span seen twice in one trace keeps its first copy; later copies stop
/// counting. After `order_traces` a trace's copies of one span are adjacent.
fn mark_duplicates(c: &mut SpanColumns) {
    for &(a, b) in &c.groups {
        let mut kept = None;
        for i in a as usize..b as usize {
            if kept == Some(c.span_id[i]) {
                c.is_db[i] = false;
                c.is_server[i] = false;
                c.span_id[i] = 0;
            } else {
                kept = Some(c.span_id[i]);
            }
        }
    }
}

/// Checks every span file's schema (once, before the partitions read them).
pub fn check_span_files(span_files: &[PathBuf]) -> Result<(), AnalyzeError> {
    for f in span_files {
        tracesplit_store::check_span_file(f)?;
    }
    Ok(())
}

/// Spans in the files (from the Parquet footers: nothing is decoded).
pub fn count_spans(span_files: &[PathBuf]) -> Result<u64, AnalyzeError> {
    crate::scan::count_rows(span_files)
}

/// Request `i`'s trace id as one integer; `None` when it is not 32 hex digits.
pub(crate) fn trace_of(t: &RequestTable, i: usize) -> Option<u128> {
    t.trace_id
        .value(i)
        .or_else(|| crate::scan::hex128(t.trace_id.text(i).as_bytes()))
}

/// Reads the spans of the traces of the requests `rows` and prepares the split's columns.
pub fn load(
    table: &RequestTable,
    rows: Vec<usize>,
    span_files: &[PathBuf],
    variants: &[Variant],
) -> Result<Loaded, AnalyzeError> {
    if span_files.is_empty() {
        return Ok(Loaded {
            group: vec![None; rows.len()],
            rows,
            columns: SpanColumns {
                statement_match: vec![Vec::new(); variants.len()],
                name_match: vec![Vec::new(); variants.len()],
                ..Default::default()
            },
            span_files: Vec::new(),
        });
    }
    // The requests' traces, in trace-id order: their ranks are the slots the
    // scan groups the spans by.
    let timer = crate::scratch::Timer::new();
    let request_traces: Vec<Option<u128>> = rows.iter().map(|&i| trace_of(table, i)).collect();
    let mut traces: Vec<u128> = request_traces.iter().flatten().copied().collect();
    traces.sort_unstable();
    traces.dedup();
    let slots: crate::scan::TraceSlots = traces
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i as u32))
        .collect();
    let slots = std::sync::Arc::new(slots);
    let scanned = crate::scan::scan_spans(
        span_files,
        slots.clone(),
        traces.len(),
        variants,
        crate::parallel::threads(),
    )?;
    timer.mark("  span scan");
    let group = request_traces
        .iter()
        .map(|t| {
            let slot = slots.get(&(*t)?)?;
            scanned.group_of_slot.get(*slot as usize).copied().flatten()
        })
        .collect();
    let mut columns = scanned.columns;
    order_traces(&mut columns);
    mark_duplicates(&mut columns);
    timer.mark("  requests joined, traces ordered");
    Ok(Loaded {
        rows,
        group,
        columns,
        span_files: span_files.to_vec(),
    })
}

/// The split inputs of the loaded requests (`variant_of` gives each scenario's classifier variant).
pub fn request_inputs(
    loaded: &Loaded,
    table: &RequestTable,
    variant_of: &dyn Fn(&str) -> usize,
) -> Vec<RequestInput> {
    let variants: Vec<usize> = table.scenarios.iter().map(|s| variant_of(s)).collect();
    loaded
        .rows
        .iter()
        .zip(&loaded.group)
        .map(|(&i, &group)| RequestInput {
            group,
            client_span: table.client_span(i),
            total_ns: table.duration[i],
            variant: variants[table.scenario[i] as usize],
        })
        .collect()
}

/// What reports and the tail explanation read of one span.
#[derive(Debug, Clone, Default)]
pub struct SpanTextRow {
    /// Span name.
    pub name: String,
    /// `SERVER`, `CLIENT`, …
    pub kind: String,
    /// DB statement, when any.
    pub statement: Option<String>,
    /// Span attributes as a JSON object.
    pub attributes: String,
    /// Resource attributes as a JSON object.
    pub resource: String,
    /// The types of the exceptions its events recorded.
    pub exceptions: Vec<String>,
}

/// Span text by where the scan found the span (a packed
/// [`crate::split::Position`]).
pub(crate) type SpanTextMap = crate::scan::FastMap<u64, SpanTextRow>;

/// Fetches names, kinds, statements and attributes of the spans `wanted`
/// (indices into `columns`), from where the scan found them: only those rows
/// are read, no trace id is scanned again.
pub(crate) fn span_text(
    files: &[PathBuf],
    columns: &SpanColumns,
    wanted: &[usize],
) -> Result<SpanTextMap, AnalyzeError> {
    let positions: Vec<u64> = wanted
        .iter()
        .filter_map(|&k| columns.position.get(k).copied())
        .collect();
    crate::scan::span_text_at(files, positions, crate::parallel::threads())
}

/// Path of the per-request split table written beside the run.
pub fn split_table_path(run_dir: &Path) -> PathBuf {
    run_dir.join("split.parquet")
}
