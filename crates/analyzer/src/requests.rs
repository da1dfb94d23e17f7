//! The requests: `requests.parquet` of each run (recovered from its journal
//! when the run crashed), their traces, and their partitions.

use crate::error::{AnalyzeError, Step};
use crate::load::{ints, paths, trace_halves};
use polars::prelude::*;
use std::path::PathBuf;
use tracesplit_model::schema::request_columns as rc;

/// `requests.parquet` of each run directory (recovered from its journal
/// after a crash; what recovery did is added to `notes`).
pub fn scan_requests(
    run_dirs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<LazyFrame, AnalyzeError> {
    let mut files = Vec::new();
    for dir in run_dirs {
        let file = dir.join(tracesplit_model::manifest::REQUESTS_FILE);
        let recovered = tracesplit_store::recover_requests(&file)
            .map_err(|e| AnalyzeError::Input(e.to_string()))?;
        if let Some(r) = recovered {
            notes.push(format!(
                "{} was rebuilt from its journal ({} requests{}): the run did not finish writing it",
                file.display(),
                r.rows,
                if r.torn_last_line {
                    "; a torn last line, cut by the crash, was skipped"
                } else {
                    ""
                }
            ));
        }
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
    // Runs of older versions lack the newer columns (connection setup): read as nulls.
    let args = ScanArgsParquet {
        allow_missing_columns: true,
        ..Default::default()
    };
    LazyFrame::scan_parquet_files(paths(&files).into(), args).step("reading requests.parquet")
}

/// Reads `requests.parquet` of every run.
pub fn load_requests(
    run_dirs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<DataFrame, AnalyzeError> {
    scan_requests(run_dirs, notes)?
        .collect()
        .step("reading requests.parquet")
}

/// The requests' distinct trace ids and their time range in unix seconds,
/// widened by an hour each way (what a fetching span source asks for).
pub fn trace_scope(requests: &DataFrame) -> Result<(Vec<String>, (i64, i64)), AnalyzeError> {
    let step = "the requests' traces";
    let ids = requests
        .column(rc::TRACE_ID)
        .step(step)?
        .unique()
        .step(step)?;
    let mut ids: Vec<String> = ids
        .str()
        .step(step)?
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    ids.sort();
    let starts = ints(requests, rc::START)?;
    let ends = starts
        .iter()
        .zip(ints(requests, rc::DURATION)?)
        .map(|(s, d)| s + d);
    let lo = starts.iter().copied().min().unwrap_or(0);
    let hi = ends.max().unwrap_or(lo);
    let secs = |ns: i64| ns.div_euclid(1_000_000_000);
    Ok((ids, (secs(lo) - 3600, secs(hi) + 3600)))
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

/// The requests with their row number (`row`) and trace id halves, once
/// before the partitions take their share.
pub fn prepare_requests(requests: DataFrame) -> Result<DataFrame, AnalyzeError> {
    requests
        .lazy()
        .with_row_index("row", None)
        .with_columns(trace_halves(rc::TRACE_ID))
        .with_column(col("row").cast(DataType::UInt64))
        .collect()
        .step("request trace ids")
}

/// The requests of partition `part` of `parts`: every request of one trace
/// falls in the same partition (by the trace id's low half, which is random
/// in W3C ids; ids that are not hex go to partition 0).
pub fn partition(requests: &DataFrame, part: u64, parts: u64) -> Result<DataFrame, AnalyzeError> {
    if parts <= 1 {
        return Ok(requests.clone());
    }
    requests
        .clone()
        .lazy()
        .filter((col("t_lo").fill_null(lit(0u64)) % lit(parts)).eq(lit(part)))
        .collect()
        .step("partitioning the requests")
}

/// The requests whose row number `wanted` marks.
pub fn requests_at(requests: &DataFrame, wanted: &[bool]) -> Result<DataFrame, AnalyzeError> {
    let mask: BooleanChunked = wanted.iter().copied().collect();
    requests.filter(&mask).step("picking requests")
}
