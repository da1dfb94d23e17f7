//! The requests: `requests.parquet` of each run (recovered from its journal
//! when the run crashed), their traces, and their partitions.

use crate::error::AnalyzeError;
use crate::table::RequestTable;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use std::fs::File;
use std::path::PathBuf;
use tracesplit_model::schema::request_columns as rc;

/// `requests.parquet` of each run directory (recovered from its journal
/// after a crash; what recovery did is added to `notes`), checked.
fn request_files(
    run_dirs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<Vec<PathBuf>, AnalyzeError> {
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
    Ok(files)
}

/// The columns of `requests.parquet` the analysis uses: not the URL, run id
/// or request size (at ten million requests the URLs alone are a gigabyte).
const USED: [&str; 19] = [
    rc::SCENARIO,
    rc::ENTITY_TYPE,
    rc::OPERATION,
    rc::ITERATION,
    rc::STEP,
    rc::METHOD,
    rc::ROUTE,
    rc::STATUS,
    rc::EXPECTED,
    rc::ERROR,
    rc::TRACE_ID,
    rc::SPAN_ID,
    rc::INTENDED_START,
    rc::START,
    rc::TTFB,
    rc::DURATION,
    rc::RESPONSE_BYTES,
    rc::CONNECT_NS,
    rc::TLS_NS,
];

/// The text columns the request table reads as dictionaries (interned).
const INTERNED: [&str; 6] = [
    rc::SCENARIO,
    rc::ENTITY_TYPE,
    rc::OPERATION,
    rc::METHOD,
    rc::ROUTE,
    rc::ERROR,
];

/// Reads the requests of every run, in file order, into one table (a batch
/// at a time: the files' strings never exist all at once).
pub fn load_requests(
    run_dirs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<RequestTable, AnalyzeError> {
    let mut table = RequestTable::default();
    for path in request_files(run_dirs, notes)? {
        let fail =
            |e: &dyn std::fmt::Display| crate::scan::unreadable(&path, e, "requests.parquet");
        let file = File::open(&path).map_err(|e| fail(&e))?;
        let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
            .map_err(|e| fail(&e))?;
        // One reader a row group: a batch that ran into the next row group
        // would mix two dictionaries, which the reader merges by hashing
        // every value. The repeated texts are read as the dictionaries the
        // runner's writer encodes them with: each distinct value is
        // interned once.
        for group in 0..plain.metadata().num_row_groups() {
            let metadata =
                crate::scan::row_group_metadata(&plain, group, &INTERNED).map_err(|e| fail(&e))?;
            let handle = file.try_clone().map_err(|e| fail(&e))?;
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata);
            // Files of older versions lack the connection columns (read as zeros).
            let mask = crate::scan::projection(builder.parquet_schema(), &USED);
            let reader = builder
                .with_row_groups(vec![group])
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()
                .map_err(|e| fail(&e))?;
            for batch in reader {
                table
                    .append(&batch.map_err(|e| fail(&e))?)
                    .map_err(|e| fail(&e))?;
            }
        }
    }
    Ok(table)
}

/// The requests' distinct trace ids and their time range in unix seconds,
/// widened by an hour each way (what a fetching span source asks for).
pub fn trace_scope(t: &RequestTable) -> (Vec<String>, (i64, i64)) {
    let mut ids: Vec<String> = (0..t.len()).map(|i| t.trace_id.text(i)).collect();
    ids.sort();
    ids.dedup();
    let lo = t.start.iter().copied().min().unwrap_or(0);
    let hi = t
        .start
        .iter()
        .zip(&t.duration)
        .map(|(s, d)| s + d)
        .max()
        .unwrap_or(lo);
    let secs = |ns: i64| ns.div_euclid(1_000_000_000);
    (ids, (secs(lo) - 3600, secs(hi) + 3600))
}

/// The requests of partition `part` of `parts`: every request of one trace
/// falls in the same partition (by the trace id's low half, which is random
/// in W3C ids; ids that are not hex go to partition 0).
pub fn partition(t: &RequestTable, part: u64, parts: u64) -> Vec<usize> {
    let parts = parts.max(1);
    (0..t.len())
        .filter(|&i| (crate::load::trace_of(t, i).unwrap_or(0) as u64) % parts == part)
        .collect()
}
