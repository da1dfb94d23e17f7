//! The polars part: read requests and spans, keep the spans of the runs'
//! traces, flag server, DB and cascade-candidate spans, number the traces and
//! join each request to its trace — then hand plain columns to the split.
//!
//! Memory: only ids, times and flags of the spans are collected; names and
//! statements are fetched afterwards for the few spans a report shows.

use crate::error::{AnalyzeError, Step};
use crate::split::{RequestInput, SpanColumns};
use polars::prelude::*;
use polars_core::query_result::QueryResult;
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
    /// Requests (one row each, in file order) with their trace `group`.
    pub requests: DataFrame,
    /// The spans as plain columns, grouped by trace.
    pub columns: SpanColumns,
    /// Trace id of each group.
    pub group_traces: Vec<String>,
    /// Files the spans came from (for fetching text later).
    pub span_files: Vec<PathBuf>,
}

pub(crate) fn paths(files: &[PathBuf]) -> Vec<PlRefPath> {
    files
        .iter()
        .map(|p| PlRefPath::new(p.to_string_lossy().into_owned()))
        .collect()
}

fn scan(files: &[PathBuf]) -> Result<LazyFrame, AnalyzeError> {
    LazyFrame::scan_parquet_files(paths(files).into(), ScanArgsParquet::default())
        .step("reading the span store")
}

/// A hex id (or a 16-digit half of one) as an unsigned integer; null when not hex.
fn hex_u64(e: Expr) -> Expr {
    e.str().to_integer(lit(16), Some(DataType::UInt64), false)
}

/// The trace id's two halves as integers: sorting and joining on them is
/// cheaper, in time and memory, than on 32-character strings.
pub(crate) fn trace_halves(name: &str) -> [Expr; 2] {
    [
        hex_u64(col(name).str().slice(lit(0), lit(16))).alias("t_hi"),
        hex_u64(col(name).str().slice(lit(16), lit(16))).alias("t_lo"),
    ]
}

/// Spans of the requests' traces with flags, sorted by trace, numbered by trace.
///
/// The join comes first, so the regexes run only on the spans kept. The
/// order inside a trace is fixed afterwards (`order_traces`).
fn span_frame(
    files: &[PathBuf],
    traces: LazyFrame,
    variants: &[Variant],
) -> Result<LazyFrame, AnalyzeError> {
    let [hi, lo] = trace_halves(sc::TRACE_ID);
    let mut raw = vec![
        hi,
        lo,
        hex_u64(col(sc::SPAN_ID)).alias("sid"),
        hex_u64(col(sc::PARENT_SPAN_ID)).alias("pid"),
        col(sc::START),
        col(sc::END),
        col(sc::KIND).eq(lit("SERVER")).alias("is_server"),
        col(sc::DB_SYSTEM).is_not_null().alias("is_db"),
    ];
    if !variants.is_empty() {
        raw.extend([col(sc::DB_STATEMENT), col(sc::NAME)]);
    }
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
    let changed = |c: &str| col(c).neq(col(c).shift(lit(1)));
    let new_trace = (changed("t_hi").or(changed("t_lo")))
        .fill_null(lit(true))
        .cast(DataType::UInt32);
    let mut frame = scan(files)?.select(raw).join(
        traces,
        [col("t_hi"), col("t_lo")],
        [col("t_hi"), col("t_lo")],
        JoinArgs::new(JoinType::Semi),
    );
    if !variants.is_empty() {
        frame = frame
            .with_columns(flags)
            .drop(cols([sc::DB_STATEMENT, sc::NAME]));
    }
    Ok(frame
        .sort(
            ["t_hi", "t_lo"],
            SortMultipleOptions::default().with_multithreaded(true),
        )
        .with_columns([(new_trace.cum_sum(false) - lit(1u32)).alias("group")]))
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

pub(crate) fn ints(df: &DataFrame, name: &str) -> Result<Vec<i64>, AnalyzeError> {
    Ok(df
        .column(name)
        .step("span times")?
        .i64()
        .step("span times")?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

fn ids(df: &DataFrame, name: &str) -> Result<Vec<u64>, AnalyzeError> {
    Ok(df
        .column(name)
        .step("span ids")?
        .u64()
        .step("span ids")?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// Plain columns from the sorted, numbered span frame.
fn columns(df: &DataFrame, variants: usize) -> Result<SpanColumns, AnalyzeError> {
    let group = df
        .column("group")
        .step("trace groups")?
        .u32()
        .step("trace groups")?;
    let mut c = SpanColumns {
        span_id: ids(df, "sid")?,
        parent: ids(df, "pid")?,
        is_server: bools(df, "is_server")?,
        start: ints(df, sc::START)?,
        end: ints(df, sc::END)?,
        is_db: bools(df, "is_db")?,
        statement_match: (0..variants)
            .map(|k| bools(df, &format!("stmt_{k}")))
            .collect::<Result<_, _>>()?,
        name_match: (0..variants)
            .map(|k| bools(df, &format!("name_{k}")))
            .collect::<Result<_, _>>()?,
        groups: Vec::new(),
    };
    let mut start = 0u32;
    let mut current = None;
    for (i, g) in group.iter().enumerate() {
        if current != g {
            if current.is_some() {
                c.groups.push((start, i as u32));
            }
            current = g;
            start = i as u32;
        }
    }
    if current.is_some() {
        c.groups.push((start, group.len() as u32));
    }
    order_traces(&mut c);
    mark_duplicates(&mut c);
    Ok(c)
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

/// Runs a query on polars' streaming engine, which keeps the scan's memory bounded.
fn collect(lf: LazyFrame, step: &'static str) -> Result<DataFrame, AnalyzeError> {
    lf.collect_with_engine(Engine::Streaming)
        .step(step)
        .map(|r| match r {
            QueryResult::Single(df) => df,
            QueryResult::Multiple(mut dfs) => dfs.pop().unwrap_or_default(),
        })
}

/// Checks every span file's schema (once, before the partitions read them).
pub fn check_span_files(span_files: &[PathBuf]) -> Result<(), AnalyzeError> {
    for f in span_files {
        tracesplit_store::check_span_file(f).map_err(|e| AnalyzeError::Input(e.to_string()))?;
    }
    Ok(())
}

/// Spans in the files (from the Parquet footers: nothing is decoded).
pub fn count_spans(span_files: &[PathBuf]) -> Result<u64, AnalyzeError> {
    if span_files.is_empty() {
        return Ok(0);
    }
    let df = scan(span_files)?
        .select([len().alias("n")])
        .collect()
        .step("counting spans")?;
    let n = df.column("n").step("counting spans")?;
    Ok(n.get(0).ok().and_then(|v| v.extract::<u64>()).unwrap_or(0))
}

/// The row number (in `requests.parquet` order) of each loaded request.
pub fn row_numbers(loaded: &Loaded) -> Result<Vec<usize>, AnalyzeError> {
    Ok(loaded
        .requests
        .column("row")
        .step("request rows")?
        .u64()
        .step("request rows")?
        .iter()
        .map(|r| r.unwrap_or(0) as usize)
        .collect())
}

/// Reads the spans of the (prepared) requests' traces and prepares the split's columns.
pub fn load(
    requests: DataFrame,
    span_files: &[PathBuf],
    variants: &[Variant],
) -> Result<Loaded, AnalyzeError> {
    let empty = || SpanColumns {
        statement_match: vec![Vec::new(); variants.len()],
        name_match: vec![Vec::new(); variants.len()],
        ..Default::default()
    };
    if span_files.is_empty() {
        let requests = requests
            .lazy()
            .with_column(lit(NULL).cast(DataType::UInt32).alias("group"))
            .collect()
            .step("requests")?;
        return Ok(Loaded {
            requests,
            columns: empty(),
            group_traces: Vec::new(),
            span_files: Vec::new(),
        });
    }
    let traces = requests
        .clone()
        .lazy()
        .select([col("t_hi"), col("t_lo")])
        .unique(None, UniqueKeepStrategy::Any);
    let spans = collect(
        span_frame(span_files, traces, variants)?,
        "joining spans to the run's traces",
    )?;
    // One row per trace with its group number; each request is joined to its trace's group.
    let groups = spans
        .clone()
        .lazy()
        .select([col("t_hi"), col("t_lo"), col("group")])
        .unique_stable(None, UniqueKeepStrategy::First);
    let groups = groups
        .sort(["group"], SortMultipleOptions::default())
        .collect()
        .step("numbering traces")?;
    let mut left = JoinArgs::new(JoinType::Left);
    left.maintain_order = MaintainOrderJoin::Left;
    let requests = requests
        .lazy()
        .join(
            groups.clone().lazy(),
            [col("t_hi"), col("t_lo")],
            [col("t_hi"), col("t_lo")],
            left,
        )
        .collect()
        .step("joining requests to their traces")?;
    let columns = if spans.height() == 0 {
        empty()
    } else {
        columns(&spans, variants.len())?
    };
    drop(spans);
    let hi = groups
        .column("t_hi")
        .step("trace ids")?
        .u64()
        .step("trace ids")?;
    let lo = groups
        .column("t_lo")
        .step("trace ids")?
        .u64()
        .step("trace ids")?;
    let group_traces = hi
        .iter()
        .zip(lo.iter())
        .map(|(h, l)| format!("{:016x}{:016x}", h.unwrap_or(0), l.unwrap_or(0)))
        .collect();
    Ok(Loaded {
        requests,
        columns,
        group_traces,
        span_files: span_files.to_vec(),
    })
}

/// The split inputs of every request (`variant_of` gives each scenario's classifier variant).
pub fn request_inputs(
    loaded: &Loaded,
    variant_of: &dyn Fn(&str) -> usize,
) -> Result<Vec<RequestInput>, AnalyzeError> {
    let df = &loaded.requests;
    let group = df
        .column("group")
        .step("request groups")?
        .u32()
        .step("request groups")?;
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
    Ok(group
        .iter()
        .zip(span.iter())
        .zip(scenario.iter())
        .zip(duration)
        .map(|(((group, span), scenario), total_ns)| RequestInput {
            group,
            client_span: span.map_or(0, id64),
            total_ns,
            variant: variant_of(scenario.unwrap_or("")),
        })
        .collect())
}

/// Text of a few spans: (trace id, span id hex) → (name, kind, statement).
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
}

/// Span text by (trace id, span id), both lowercase hex.
pub type SpanTextMap = std::collections::HashMap<(String, String), SpanTextRow>;

/// Fetches names, kinds, statements and attributes of the spans of `traces`
/// (a second, filtered scan: reports show a handful of spans, not millions).
pub fn span_text(files: &[PathBuf], traces: &[String]) -> Result<SpanTextMap, AnalyzeError> {
    if files.is_empty() || traces.is_empty() {
        return Ok(SpanTextMap::new());
    }
    let wanted = Series::new("t".into(), traces.to_vec());
    let names = [
        sc::TRACE_ID,
        sc::SPAN_ID,
        sc::NAME,
        sc::KIND,
        sc::DB_STATEMENT,
        sc::ATTRIBUTES,
        sc::RESOURCE_ATTRIBUTES,
    ];
    let df = scan(files)?
        .filter(col(sc::TRACE_ID).is_in(lit(wanted).implode(false), false))
        .select(names.map(col))
        .collect()
        .step("reading span names")?;
    let columns: Option<Vec<StringChunked>> = names
        .iter()
        .map(|n| df.column(n).ok().and_then(|c| c.str().ok().cloned()))
        .collect();
    let Some(c) = columns else {
        return Ok(SpanTextMap::new());
    };
    let text = |k: usize, r: usize| c[k].get(r).unwrap_or("").to_owned();
    let mut out = SpanTextMap::new();
    for r in 0..df.height() {
        out.entry((text(0, r), text(1, r)))
            .or_insert_with(|| SpanTextRow {
                name: text(2, r),
                kind: text(3, r),
                statement: c[4].get(r).map(str::to_owned),
                attributes: text(5, r),
                resource: text(6, r),
            });
    }
    Ok(out)
}

/// Path of the per-request split table written beside the run.
pub fn split_table_path(run_dir: &Path) -> PathBuf {
    run_dir.join("split.parquet")
}
