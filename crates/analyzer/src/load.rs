//! The polars part: read requests and spans, keep the spans of the runs'
//! traces, flag DB and cascade candidates, group spans by trace — then hand
//! plain columns to the split.

use crate::error::{AnalyzeError, Step};
use crate::split::{RequestInput, SpanColumns};
use polars::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tracesplit_model::schema::{request_columns as rc, span_columns as sc};

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
    /// Requests (one row each, in file order) with `req_idx`.
    pub requests: DataFrame,
    /// Spans of the requests' traces, grouped by trace, deduplicated.
    pub spans: DataFrame,
    /// The same spans as plain columns.
    pub columns: SpanColumns,
    /// Trace id → group index in `columns`.
    pub trace_index: HashMap<String, u32>,
}

fn paths(files: &[PathBuf]) -> Vec<PlRefPath> {
    files
        .iter()
        .map(|p| PlRefPath::new(p.to_string_lossy().into_owned()))
        .collect()
}

/// `requests.parquet` of each run directory (recovered from its journal after a crash).
pub fn scan_requests(run_dirs: &[PathBuf]) -> Result<LazyFrame, AnalyzeError> {
    let mut files = Vec::new();
    for dir in run_dirs {
        let file = dir.join(tracesplit_model::manifest::REQUESTS_FILE);
        tracesplit_store::recover_requests(&file)
            .map_err(|e| AnalyzeError::Input(e.to_string()))?;
        if !file.exists() {
            return Err(AnalyzeError::Input(format!(
                "{} has no requests.parquet: is it a tracesplit run directory?",
                dir.display()
            )));
        }
        tracesplit_store::check_request_file(&file)
            .map_err(|e| AnalyzeError::Input(e.to_string()))?;
        files.push(file);
    }
    LazyFrame::scan_parquet_files(paths(&files).into(), ScanArgsParquet::default())
        .step("reading requests.parquet")
}

fn span_frame(
    files: &[PathBuf],
    traces: LazyFrame,
    variants: &[Variant],
) -> Result<LazyFrame, AnalyzeError> {
    let cols = [
        sc::TRACE_ID,
        sc::SPAN_ID,
        sc::PARENT_SPAN_ID,
        sc::NAME,
        sc::KIND,
        sc::START,
        sc::END,
        sc::DB_SYSTEM,
        sc::DB_STATEMENT,
    ];
    let mut lf = LazyFrame::scan_parquet_files(paths(files).into(), ScanArgsParquet::default())
        .step("reading the span store")?
        .select(cols.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .semi_join(traces, col(sc::TRACE_ID), col(rc::TRACE_ID));
    let mut flags = Vec::new();
    for (k, v) in variants.iter().enumerate() {
        flags.push(
            col(sc::DB_STATEMENT)
                .str()
                .contains(lit(v.statement.clone()), false)
                .fill_null(lit(false))
                .alias(format!("stmt_{k}")),
        );
        flags.push(
            col(sc::NAME)
                .str()
                .contains(lit(v.span.clone()), false)
                .fill_null(lit(false))
                .alias(format!("name_{k}")),
        );
    }
    lf = lf.with_columns(flags).sort(
        [sc::TRACE_ID],
        SortMultipleOptions::default().with_multithreaded(true),
    );
    Ok(lf)
}

/// Hex span id → u64 (a hash for anything that is not 16 hex digits).
pub fn id64(text: &str) -> u64 {
    if text.len() == 16
        && let Ok(v) = u64::from_str_radix(text, 16)
    {
        return v;
    }
    // FNV-1a: only reached for ids that are not W3C span ids.
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>, AnalyzeError> {
    Ok(df
        .column(name)
        .step("span flags")?
        .bool()
        .step("span flags")?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}

fn ints(df: &DataFrame, name: &str) -> Result<Vec<i64>, AnalyzeError> {
    Ok(df
        .column(name)
        .step("span times")?
        .i64()
        .step("span times")?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// Plain columns from the sorted span frame; duplicate spans (same trace and
/// span id, e.g. an export retried) are marked so the split ignores them.
fn columns(
    df: &DataFrame,
    variants: usize,
) -> Result<(SpanColumns, HashMap<String, u32>), AnalyzeError> {
    let trace = df
        .column(sc::TRACE_ID)
        .step("span ids")?
        .str()
        .step("span ids")?;
    let span = df
        .column(sc::SPAN_ID)
        .step("span ids")?
        .str()
        .step("span ids")?;
    let parent = df
        .column(sc::PARENT_SPAN_ID)
        .step("span ids")?
        .str()
        .step("span ids")?;
    let kind = df
        .column(sc::KIND)
        .step("span kinds")?
        .str()
        .step("span kinds")?;
    let db = df.column(sc::DB_SYSTEM).step("db system")?;
    let mut c = SpanColumns {
        span_id: span.iter().map(|s| s.map_or(0, id64)).collect(),
        parent: parent.iter().map(|s| s.map_or(0, id64)).collect(),
        is_server: kind
            .iter()
            .map(|k| k.is_some_and(|k| k.eq_ignore_ascii_case("SERVER")))
            .collect(),
        start: ints(df, sc::START)?,
        end: ints(df, sc::END)?,
        is_db: db
            .is_not_null()
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect(),
        statement_match: (0..variants)
            .map(|k| bools(df, &format!("stmt_{k}")))
            .collect::<Result<_, _>>()?,
        name_match: (0..variants)
            .map(|k| bools(df, &format!("name_{k}")))
            .collect::<Result<_, _>>()?,
        groups: Vec::new(),
    };
    let mut index = HashMap::new();
    let mut start = 0u32;
    let mut current: Option<&str> = None;
    for (i, t) in trace.iter().enumerate() {
        let t = t.unwrap_or("");
        if current != Some(t) {
            if let Some(prev) = current {
                index.insert(prev.to_owned(), c.groups.len() as u32);
                c.groups.push((start, i as u32));
            }
            current = Some(t);
            start = i as u32;
        }
    }
    if let Some(prev) = current {
        index.insert(prev.to_owned(), c.groups.len() as u32);
        c.groups.push((start, trace.len() as u32));
    }
    mark_duplicates(&mut c);
    Ok((c, index))
}

/// A span seen twice in one trace keeps its first copy; later copies stop counting.
fn mark_duplicates(c: &mut SpanColumns) {
    for &(a, b) in &c.groups {
        let (a, b) = (a as usize, b as usize);
        for i in a + 1..b {
            if c.span_id[a..i].contains(&c.span_id[i]) {
                c.is_db[i] = false;
                c.is_server[i] = false;
                c.span_id[i] = 0;
            }
        }
    }
}

/// Reads `requests.parquet` of every run (row index `req_idx`).
pub fn load_requests(run_dirs: &[PathBuf]) -> Result<DataFrame, AnalyzeError> {
    scan_requests(run_dirs)?
        .with_row_index("req_idx", None)
        .collect()
        .step("reading requests.parquet")
}

/// Distinct scenario names in order of first appearance.
pub fn scenario_names(requests: &DataFrame) -> Result<Vec<String>, AnalyzeError> {
    let col = requests
        .column(rc::SCENARIO)
        .step("request scenarios")?
        .str()
        .step("request scenarios")?;
    let mut out: Vec<String> = Vec::new();
    for name in col.iter().flatten() {
        if out.last().is_none_or(|l| l != name) && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Reads the spans of the requests' traces and prepares the split's columns.
pub fn load(
    requests: DataFrame,
    span_files: &[PathBuf],
    variants: &[Variant],
) -> Result<Loaded, AnalyzeError> {
    for f in span_files {
        tracesplit_store::check_span_file(f).map_err(|e| AnalyzeError::Input(e.to_string()))?;
    }
    let spans = if span_files.is_empty() {
        DataFrame::empty()
    } else {
        let traces = requests
            .clone()
            .lazy()
            .select([col(rc::TRACE_ID)])
            .unique(None, UniqueKeepStrategy::Any);
        span_frame(span_files, traces, variants)?
            .collect()
            .step("joining spans to the run's traces")?
    };
    let (columns, trace_index) = if spans.height() == 0 {
        let empty = SpanColumns {
            statement_match: vec![Vec::new(); variants.len()],
            name_match: vec![Vec::new(); variants.len()],
            ..Default::default()
        };
        (empty, HashMap::new())
    } else {
        columns(&spans, variants.len())?
    };
    Ok(Loaded {
        requests,
        spans,
        columns,
        trace_index,
    })
}

/// The split inputs of every request (`variant_of` gives each scenario's classifier variant).
pub fn request_inputs(
    loaded: &Loaded,
    variant_of: &dyn Fn(&str) -> usize,
) -> Result<Vec<RequestInput>, AnalyzeError> {
    let df = &loaded.requests;
    let trace = df
        .column(rc::TRACE_ID)
        .step("request ids")?
        .str()
        .step("request ids")?;
    let span = df
        .column(rc::SPAN_ID)
        .step("request ids")?
        .str()
        .step("request ids")?;
    let scenario = df
        .column(rc::SCENARIO)
        .step("request scenarios")?
        .str()
        .step("request scenarios")?;
    let duration = ints(df, rc::DURATION)?;
    Ok((0..df.height())
        .map(|i| RequestInput {
            group: trace
                .get(i)
                .and_then(|t| loaded.trace_index.get(t).copied()),
            client_span: span.get(i).map_or(0, id64),
            total_ns: duration[i],
            variant: variant_of(scenario.get(i).unwrap_or("")),
        })
        .collect())
}

/// Path of the per-request split table written beside the run.
pub fn split_table_path(run_dir: &Path) -> PathBuf {
    run_dir.join("split.parquet")
}
