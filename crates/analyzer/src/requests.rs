//! The requests: `requests.parquet` of each run (recovered from its journal
//! when the run crashed), their traces, and their partitions.

use crate::error::{AnalyzeError, Cause};
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
        let recovered = tracesplit_store::recover_requests(&file)?;
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
            return Err(AnalyzeError::NoRequests(dir.clone()));
        }
        tracesplit_store::check_request_file(&file)?;
        files.push(file);
    }
    Ok(files)
}

/// The columns of `requests.parquet` the analysis uses: not the URL, run id
/// or request size (at ten million requests the URLs alone are a gigabyte).
const USED: [&str; 20] = [
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
    rc::STALL_NS,
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

/// Reads the requests of every run, in file order, into one table (a few
/// row groups at a time: the files' strings never exist all at once).
pub fn load_requests(
    run_dirs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<RequestTable, AnalyzeError> {
    load_requests_on(run_dirs, notes, crate::parallel::threads())
}

/// [`load_requests`] on `threads` threads: each reads a row group into a
/// table of its own, and the tables are appended in file order (the same
/// table as one thread reading the rows in turn).
fn load_requests_on(
    run_dirs: &[PathBuf],
    notes: &mut Vec<String>,
    threads: usize,
) -> Result<RequestTable, AnalyzeError> {
    let mut table = RequestTable::default();
    for path in request_files(run_dirs, notes)? {
        let fail = |e: Cause| AnalyzeError::unreadable(&path, e, "requests.parquet");
        let file = File::open(&path).map_err(|e| AnalyzeError::file(&path, e))?;
        let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
            .map_err(|e| fail(e.into()))?;
        let groups: Vec<usize> = (0..plain.metadata().num_row_groups()).collect();
        let rows = plain.metadata().file_metadata().num_rows();
        table.reserve(usize::try_from(rows).unwrap_or_default());
        for window in groups.chunks(threads.max(1) * 2) {
            let read = |&group: &usize| read_row_group(&path, &plain, group);
            for part in crate::parallel::map_in_order(window, threads, &read) {
                table.append_table(part.map_err(|e| fail(e.into()))?);
            }
        }
    }
    Ok(table)
}

/// Row group `group` of a `requests.parquet` as a table of its own.
fn read_row_group(
    path: &std::path::Path,
    plain: &ArrowReaderMetadata,
    group: usize,
) -> Result<RequestTable, crate::column::BatchError> {
    // One reader a row group: a batch that ran into the next row group
    // would mix two dictionaries, which the reader merges by hashing every
    // value. The repeated texts are read as the dictionaries the runner's
    // writer encodes them with: each distinct value is interned once.
    let metadata = crate::scan::row_group_metadata(plain, group, &INTERNED)?;
    // A handle of its own: a cloned one shares the file position, which
    // the reader seeks, with the other threads'.
    let handle = File::open(path)?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata);
    // Files of older versions lack the connection columns (read as zeros).
    let mask = crate::scan::projection(builder.parquet_schema(), &USED);
    let reader = builder
        .with_row_groups(vec![group])
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()?;
    let mut table = RequestTable::default();
    for batch in reader {
        table.append(&batch?)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracesplit_model::RequestRecord;

    /// Row `i` of a run whose scenarios, routes and error kinds first appear
    /// in different row groups, with some ids that are not lowercase hex.
    fn request(i: u64) -> RequestRecord {
        RequestRecord {
            scenario: format!("S{}", (i / 9) % 4),
            entity_type: format!("E{}", (i / 9) % 4),
            route: format!("/r/{}", i % 5),
            method: if i.is_multiple_of(2) { "GET" } else { "DELETE" }.into(),
            error: (i % 7 == 3).then(|| format!("kind{}", i % 3)),
            status: 200,
            expected: i % 7 != 3,
            trace_id: match i % 11 {
                4 => format!("{i:032X}"),
                5 => format!("t{i}"),
                _ => format!("{:032x}", i + 1),
            },
            span_id: if i % 13 == 6 {
                "x".into()
            } else {
                format!("{:016x}", i + 1)
            },
            start_unix_nano: i as i64,
            duration_ns: 1000 + i as i64,
            ttfb_ns: (!i.is_multiple_of(3)).then_some(500),
            connect_ns: (i % 10) as i64,
            ..Default::default()
        }
    }

    /// Row groups read on several threads make the same table as one
    /// thread reading the rows in turn.
    #[test]
    fn row_groups_read_in_parallel_make_the_table_one_thread_makes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<RequestRecord> = (0..100).map(request).collect();
        let batch = tracesplit_store::request_batch(&rows).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("requests.parquet");
        crate::scan::write_in_row_groups(&path, &batch, 7);
        let load = |threads| {
            load_requests_on(&[dir.path().to_owned()], &mut Vec::new(), threads)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let one = load(1);
        assert_eq!(one.len(), 100);
        assert_eq!(one.scenarios, ["S0", "S1", "S2", "S3"]);
        assert_eq!(one.entity_type, ["E0", "E1", "E2", "E3"]);
        for threads in [2, 3, 8] {
            assert!(load(threads) == one, "{threads} threads");
        }
        for (i, r) in rows.iter().enumerate() {
            let scenario = &one.scenarios[one.scenario[i] as usize];
            assert_eq!(scenario, &r.scenario);
            assert_eq!(one.error.get(i), r.error.as_deref());
            assert_eq!(one.route.text(i), r.route);
            assert_eq!(one.trace_id.text(i), r.trace_id);
            assert_eq!(one.span_id.text(i), r.span_id);
            assert_eq!(one.ttfb[i], r.ttfb_ns);
            assert_eq!(one.setup[i], r.connect_ns);
        }
    }
}
