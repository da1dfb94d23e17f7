//! Names, kinds, statements and attributes of a few spans — what reports
//! and the tail explanation show — read back from where the span scan found
//! them: only those rows are decoded.

use super::{Store, Texts};
use crate::error::AnalyzeError;
use crate::load::{SpanTextMap, SpanTextRow};
use crate::split::Position;
use std::collections::HashMap;
use std::path::PathBuf;
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

/// The text of the spans at `positions` (packed [`Position`]s, any order),
/// keyed by (trace id, span id) as stored; the first copy of a span wins, in
/// store order. Only the rows at those positions are read.
pub(crate) fn span_text_at(
    files: &[PathBuf],
    mut positions: Vec<u64>,
    threads: usize,
) -> Result<SpanTextMap, AnalyzeError> {
    if files.is_empty() || positions.is_empty() {
        return Ok(SpanTextMap::new());
    }
    positions.sort_unstable();
    positions.dedup();
    let mut rows_of: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for p in positions {
        let (file, group, row) = Position::unpack(p);
        rows_of.entry((file, group)).or_default().push(row);
    }
    let store = Store::open(files)?;
    let read = |unit: (usize, usize)| -> Result<Vec<Keyed>, AnalyzeError> {
        let Some(rows) = rows_of.get(&unit) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(rows.len());
        for batch in store.rows_at(unit, &COLUMNS, rows)? {
            let batch = batch.map_err(|e| store.error(unit.0, e))?;
            let c = COLUMNS
                .iter()
                .map(|n| Texts::of(&batch, n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| store.error(unit.0, e))?;
            let text = |k: usize, r: usize| c[k].get(r).unwrap_or("").to_owned();
            for r in 0..batch.num_rows() {
                out.push((
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
        Ok(out)
    };
    let mut out = SpanTextMap::new();
    for rows in store.read_all(threads, &read)? {
        for (key, row) in rows {
            out.entry(key).or_insert(row);
        }
    }
    Ok(out)
}
