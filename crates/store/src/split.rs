//! `RUN/split.parquet`: one row per request with its split, written by
//! `analyze` for notebooks and other tools (nanoseconds; unmatched requests
//! have nulls in the server-side columns).

use crate::StoreError;
use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder, UInt32Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// One request's split.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplitRow {
    /// Scenario.
    pub scenario: String,
    /// Trace id (32 hex).
    pub trace_id: String,
    /// Client span id (16 hex).
    pub span_id: String,
    /// Iteration.
    pub iteration: u32,
    /// Step within the iteration.
    pub step: u32,
    /// Status in the expected set.
    pub expected: bool,
    /// Start (unix ns).
    pub start_unix_nano: i64,
    /// Client-observed total.
    pub total_ns: i64,
    /// `Some` when a server span matched: (server, network, queue, handler, cascade, db_other).
    pub parts: Option<[i64; 6]>,
    /// DB spans under the server span.
    pub db_spans: u32,
    /// The part of `network_ns` spent opening the connection (TCP + TLS), when matched.
    pub connection_setup_ns: Option<i64>,
    /// Open model: the wait between the scheduled and the actual start (0
    /// otherwise); the corrected latency is `schedule_ns + total_ns`.
    pub schedule_ns: i64,
}

fn schema() -> Arc<Schema> {
    let ns = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        Field::new("scenario", DataType::Utf8, false),
        Field::new("trace_id", DataType::Utf8, false),
        Field::new("span_id", DataType::Utf8, false),
        Field::new("iteration", DataType::UInt32, false),
        Field::new("step", DataType::UInt32, false),
        Field::new("expected", DataType::Boolean, false),
        Field::new("matched", DataType::Boolean, false),
        Field::new("start_unix_nano", DataType::Int64, false),
        Field::new("total_ns", DataType::Int64, false),
        ns("server_ns"),
        ns("network_ns"),
        ns("queue_ns"),
        ns("handler_ns"),
        ns("cascade_ns"),
        ns("db_other_ns"),
        Field::new("db_spans", DataType::UInt32, false),
        ns("connection_setup_ns"),
        Field::new("schedule_ns", DataType::Int64, false),
    ]))
}

fn batch(rows: &[SplitRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = rows.len();
    let text = |f: fn(&SplitRow) -> &str| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        rows.iter().for_each(|r| b.append_value(f(r)));
        Arc::new(b.finish())
    };
    let u32s = |f: fn(&SplitRow) -> u32| -> ArrayRef {
        let mut b = UInt32Builder::with_capacity(n);
        rows.iter().for_each(|r| b.append_value(f(r)));
        Arc::new(b.finish())
    };
    let bools = |f: fn(&SplitRow) -> bool| -> ArrayRef {
        let mut b = BooleanBuilder::with_capacity(n);
        rows.iter().for_each(|r| b.append_value(f(r)));
        Arc::new(b.finish())
    };
    let i64s = |f: &dyn Fn(&SplitRow) -> Option<i64>| -> ArrayRef {
        let mut b = Int64Builder::with_capacity(n);
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    };
    let mut columns = vec![
        text(|r| &r.scenario),
        text(|r| &r.trace_id),
        text(|r| &r.span_id),
        u32s(|r| r.iteration),
        u32s(|r| r.step),
        bools(|r| r.expected),
        bools(|r| r.parts.is_some()),
        i64s(&|r| Some(r.start_unix_nano)),
        i64s(&|r| Some(r.total_ns)),
    ];
    for k in 0..6 {
        columns.push(i64s(&|r: &SplitRow| r.parts.map(|p| p[k])));
    }
    columns.push(u32s(|r| r.db_spans));
    columns.push(i64s(&|r| r.connection_setup_ns));
    columns.push(i64s(&|r| Some(r.schedule_ns)));
    RecordBatch::try_new(schema(), columns)
}

/// Writes `path` (under a temporary name, renamed when complete), taking
/// the rows 64k at a time: ten million requests never exist as rows at once.
pub fn write_split_file(
    path: &Path,
    rows: impl IntoIterator<Item = SplitRow>,
) -> Result<(), StoreError> {
    const CHUNK: usize = 64 * 1024;
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let mut w =
        ArrowWriter::try_new(file, schema(), None).map_err(|e| StoreError::parquet(&tmp, e))?;
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunk.clear();
        chunk.extend(rows.by_ref().take(CHUNK));
        let b = batch(&chunk).map_err(|e| StoreError::parquet(&tmp, e.into()))?;
        w.write(&b).map_err(|e| StoreError::parquet(&tmp, e))?;
    }
    w.close().map_err(|e| StoreError::parquet(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rows_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("split.parquet");
        let rows = vec![
            SplitRow {
                scenario: "A".into(),
                trace_id: "t1".into(),
                span_id: "s1".into(),
                total_ns: 10,
                parts: Some([8, 2, 0, 3, 4, 1]),
                db_spans: 2,
                expected: true,
                ..Default::default()
            },
            SplitRow {
                scenario: "A".into(),
                trace_id: "t2".into(),
                span_id: "s2".into(),
                total_ns: 7,
                ..Default::default()
            },
        ];
        write_split_file(&path, rows.clone()).unwrap_or_else(|e| panic!("{e}"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .unwrap_or_else(|e| panic!("{e}"));
        let batches: Vec<RecordBatch> = reader
            .map(|b| b.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        let b = &batches[0];
        let cascade = b
            .column_by_name("cascade_ns")
            .unwrap_or_else(|| panic!("column"));
        assert_eq!(cascade.null_count(), 1);
        assert!(!path.with_extension("parquet.tmp").exists());
    }
}
