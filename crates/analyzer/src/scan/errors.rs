//! The server's error spans: status ERROR, or a SERVER span that answered
//! 5xx. A row filter on the two status columns decides first, so the text
//! of the few error spans is all that is decoded of the rest.

use super::{Ids, IdsExt, Store, Texts, times};
use crate::column::ColumnError;
use crate::error::AnalyzeError;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::ArrowError;
use std::path::PathBuf;
use tracesplit_model::schema::span_columns as sc;

/// One span that recorded an error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorSpan {
    /// Its trace.
    pub(crate) trace: u128,
    /// Its span id (8 bytes as u64).
    pub(crate) span: u64,
    /// SERVER kind.
    pub(crate) server: bool,
    /// Span name.
    pub(crate) name: String,
    /// Status message (empty when none).
    pub(crate) status_message: String,
    /// `http.response.status_code`, when recorded.
    pub(crate) http_status: Option<i32>,
    /// End (ns).
    pub(crate) end: i64,
    /// Its events as stored (a JSON array), when it had any.
    pub(crate) events: Option<String>,
}

/// The HTTP status column of `batch`, when it has one.
fn http_status(batch: &RecordBatch) -> Option<&arrow_array::Int32Array> {
    batch
        .column_by_name(sc::HTTP_STATUS_CODE)
        .and_then(|c| c.as_primitive_opt::<Int32Type>())
}

/// Whether each row of `batch` is an error span.
fn is_error(batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
    let schema = |e: ColumnError| ArrowError::SchemaError(e.to_string());
    let status = Texts::of(batch, sc::STATUS_CODE).map_err(schema)?;
    let kind = Texts::of(batch, sc::KIND).map_err(schema)?;
    let http = http_status(batch);
    Ok((0..batch.num_rows())
        .map(|i| {
            let answered_5xx = kind.get(i) == Some("SERVER")
                && http.is_some_and(|h| h.is_valid(i) && h.value(i) >= 500);
            Some(status.get(i) == Some("ERROR") || answered_5xx)
        })
        .collect())
}

/// The error spans of one batch (all of its rows passed the filter).
fn read(batch: &RecordBatch, out: &mut Vec<ErrorSpan>) -> Result<(), ColumnError> {
    let ids = Ids::of(batch, sc::TRACE_ID)?;
    let span = Ids::of(batch, sc::SPAN_ID)?;
    let name = Texts::of(batch, sc::NAME)?;
    let kind = Texts::of(batch, sc::KIND)?;
    let message = Texts::of(batch, sc::STATUS_MESSAGE)?;
    let events = Texts::of(batch, sc::EVENTS)?;
    let end = times(batch, sc::END)?;
    let http = http_status(batch);
    for i in 0..batch.num_rows() {
        let Some(trace) = ids.stored(i).and_then(|s| ids.trace(s)) else {
            continue;
        };
        out.push(ErrorSpan {
            trace,
            span: span.span(i),
            server: kind.get(i) == Some("SERVER"),
            name: name.get(i).unwrap_or("").to_owned(),
            status_message: message.get(i).unwrap_or("").to_owned(),
            http_status: http.and_then(|h| h.is_valid(i).then(|| h.value(i))),
            end: if end.is_valid(i) { end.value(i) } else { 0 },
            events: events.get(i).map(str::to_owned),
        });
    }
    Ok(())
}

/// Whether row group `unit` may hold an error span, from its footer's
/// statistics alone: a status column whose range excludes `ERROR` and an
/// HTTP status column below 500 (or all null) rule it out without decoding
/// a row. A run without errors then costs this pass almost nothing.
fn may_hold_errors(store: &Store<'_>, (file, group): (usize, usize)) -> bool {
    use parquet::file::statistics::Statistics;
    let Some(g) = store.metadata[file].metadata().row_groups().get(group) else {
        return true;
    };
    let stats = |name: &str| {
        g.columns()
            .iter()
            .find(|c| c.column_descr().name() == name)
            .and_then(|c| c.statistics())
    };
    let no_error_status = stats(sc::STATUS_CODE).is_some_and(|s| {
        let (Some(lo), Some(hi)) = (s.min_bytes_opt(), s.max_bytes_opt()) else {
            return s.null_count_opt() == Some(g.num_rows().max(0) as u64);
        };
        lo > b"ERROR".as_slice() || hi < b"ERROR".as_slice()
    });
    let no_5xx = match stats(sc::HTTP_STATUS_CODE) {
        None => g
            .columns()
            .iter()
            .all(|c| c.column_descr().name() != sc::HTTP_STATUS_CODE),
        Some(Statistics::Int32(s)) => match s.max_opt() {
            Some(max) => *max < 500,
            None => s.null_count_opt() == Some(g.num_rows().max(0) as u64),
        },
        Some(_) => false,
    };
    !(no_error_status && no_5xx)
}

/// Every error span in `files`, in file order.
pub(crate) fn error_spans(
    files: &[PathBuf],
    threads: usize,
) -> Result<Vec<ErrorSpan>, AnalyzeError> {
    let store = Store::open(files)?;
    let columns = [
        sc::TRACE_ID,
        sc::SPAN_ID,
        sc::NAME,
        sc::KIND,
        sc::END,
        sc::STATUS_CODE,
        sc::STATUS_MESSAGE,
        sc::HTTP_STATUS_CODE,
        sc::EVENTS,
    ];
    let filter = [sc::STATUS_CODE, sc::KIND, sc::HTTP_STATUS_CODE];
    let chunks = store.read_all(threads, &|unit| {
        if !may_hold_errors(&store, unit) {
            return Ok(Vec::new());
        }
        let reader = store.rows_where(unit, &columns, &filter, |b| is_error(&b))?;
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| store.error(unit.0, e))?;
            read(&batch, &mut out).map_err(|e| store.error(unit.0, e))?;
        }
        Ok(out)
    })?;
    Ok(chunks.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    /// Two row groups of two spans: the first without an error (its
    /// statistics rule it out), the second with a 503 server span.
    #[test]
    fn row_groups_without_errors_are_ruled_out_by_their_statistics() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("spans.parquet");
        let text = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let trace = "0af7651916cd43dd8448eb211c80319c";
        let batch = RecordBatch::try_from_iter([
            (sc::TRACE_ID, text(vec![trace; 4])),
            (sc::SPAN_ID, text(vec!["00f067aa0ba902b7"; 4])),
            (sc::NAME, text(vec!["GET /x"; 4])),
            (
                sc::KIND,
                text(vec!["SERVER", "CLIENT", "SERVER", "INTERNAL"]),
            ),
            (sc::STATUS_CODE, text(vec!["UNSET", "OK", "UNSET", "UNSET"])),
            (sc::STATUS_MESSAGE, text(vec![""; 4])),
            (
                sc::END,
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                sc::HTTP_STATUS_CODE,
                Arc::new(Int32Array::from(vec![Some(200), None, Some(503), None])) as ArrayRef,
            ),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        super::super::write_in_row_groups(&path, &batch, 2);
        let files = [path];
        let store = Store::open(&files).unwrap_or_else(|e| panic!("{e}"));
        assert!(!may_hold_errors(&store, (0, 0)));
        assert!(may_hold_errors(&store, (0, 1)));
        let found = error_spans(&files, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].http_status, found[0].end, found[0].server),
            (Some(503), 3, true)
        );
    }
}
