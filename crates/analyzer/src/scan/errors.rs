//! The server's error spans: status ERROR, or a SERVER span that answered
//! 5xx. A row filter on the two status columns decides first, so the text
//! of the few error spans is all that is decoded of the rest.

use super::{Ids, Store, Texts, times};
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

/// Whether each row of `batch` is an error span.
fn is_error(batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
    let status = Texts::of(batch, sc::STATUS_CODE).map_err(ArrowError::SchemaError)?;
    let kind = Texts::of(batch, sc::KIND).map_err(ArrowError::SchemaError)?;
    let http = batch
        .column_by_name(sc::HTTP_STATUS_CODE)
        .and_then(|c| c.as_primitive_opt::<Int32Type>());
    Ok((0..batch.num_rows())
        .map(|i| {
            let answered_5xx = kind.get(i) == Some("SERVER")
                && http.is_some_and(|h| h.is_valid(i) && h.value(i) >= 500);
            Some(status.get(i) == Some("ERROR") || answered_5xx)
        })
        .collect())
}

/// The error spans of one batch (all of its rows passed the filter).
fn read(batch: &RecordBatch, out: &mut Vec<ErrorSpan>) -> Result<(), String> {
    let ids = Ids::of(batch, sc::TRACE_ID)?;
    let span = Ids::of(batch, sc::SPAN_ID)?;
    let name = Texts::of(batch, sc::NAME)?;
    let kind = Texts::of(batch, sc::KIND)?;
    let message = Texts::of(batch, sc::STATUS_MESSAGE)?;
    let events = Texts::of(batch, sc::EVENTS)?;
    let end = times(batch, sc::END)?;
    let http = batch
        .column_by_name(sc::HTTP_STATUS_CODE)
        .and_then(|c| c.as_primitive_opt::<Int32Type>());
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
