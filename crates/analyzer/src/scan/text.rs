//! Names, kinds, statements and attributes of the spans of a few traces:
//! what reports and the tail explanation show. The trace id is decoded for
//! every row; the text columns only for the rows of those traces.

use super::{Store, Texts, TraceHasher};
use crate::error::AnalyzeError;
use crate::load::{SpanTextMap, SpanTextRow, TextWanted};
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::Arc;
use tracesplit_model::schema::span_columns as sc;

const COLUMNS: [&str; 7] = [
    sc::TRACE_ID,
    sc::SPAN_ID,
    sc::NAME,
    sc::KIND,
    sc::DB_STATEMENT,
    sc::ATTRIBUTES,
    sc::RESOURCE_ATTRIBUTES,
];

/// One span's text with its (trace id, span id) key.
type Keyed = ((String, String), SpanTextRow);

/// The traces asked for, as text: a trace id matches as stored (hashing
/// the text is cheaper than parsing it, for every span of the store).
type Traces = HashSet<Box<str>, BuildHasherDefault<TraceHasher>>;

/// The text of the `wanted` spans (first copy of a span wins, in file and
/// row order), keyed by (trace id, span id) as stored. Only the trace id is
/// decoded for every span; a span's texts are copied only when wanted.
pub(crate) fn span_text(
    files: &[PathBuf],
    wanted: &TextWanted,
    threads: usize,
) -> Result<SpanTextMap, AnalyzeError> {
    if files.is_empty() || wanted.is_empty() {
        return Ok(SpanTextMap::new());
    }
    let traces: Arc<Traces> = Arc::new(wanted.keys().map(|t| t.as_str().into()).collect());
    let store = Store::open(files)?;
    let read = |unit: (usize, usize)| -> Result<Vec<Keyed>, AnalyzeError> {
        let traces = traces.clone();
        let reader = store.rows(unit, &COLUMNS, move |t| {
            t.is_some_and(|t| traces.contains(t))
        })?;
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| store.error(unit.0, e))?;
            let c = COLUMNS
                .iter()
                .map(|n| Texts::of(&batch, n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| store.error(unit.0, e))?;
            let text = |k: usize, r: usize| c[k].get(r).unwrap_or("").to_owned();
            for r in 0..batch.num_rows() {
                let (trace, span) = (c[0].get(r).unwrap_or(""), c[1].get(r).unwrap_or(""));
                let kept = match wanted.get(trace) {
                    Some(Some(spans)) => spans.contains(span),
                    Some(None) => true,
                    None => false,
                };
                if !kept {
                    continue;
                }
                rows.push((
                    (text(0, r), text(1, r)),
                    SpanTextRow {
                        name: text(2, r),
                        kind: text(3, r),
                        statement: c[4].get(r).map(str::to_owned),
                        attributes: text(5, r),
                        resource: text(6, r),
                    },
                ));
            }
        }
        Ok(rows)
    };
    let mut out = SpanTextMap::new();
    for rows in store.read_all(threads, &read)? {
        for (key, row) in rows {
            out.entry(key).or_insert(row);
        }
    }
    Ok(out)
}
