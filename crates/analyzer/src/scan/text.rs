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

const COLUMNS: [&str; 6] = [
    sc::NAME,
    sc::KIND,
    sc::DB_STATEMENT,
    sc::ATTRIBUTES,
    sc::RESOURCE_ATTRIBUTES,
    sc::EVENTS,
];

/// The text of the spans at `positions` (packed [`Position`]s, any order),
/// keyed by position. Only the rows at those positions are read, and not
/// their ids: the scan has them (the id columns are the store's largest).
pub(crate) fn span_text_at(
    files: &[PathBuf],
    mut positions: Vec<u64>,
    threads: usize,
) -> Result<SpanTextMap, AnalyzeError> {
    if files.is_empty() || positions.is_empty() {
        return Ok(SpanTextMap::default());
    }
    positions.sort_unstable();
    positions.dedup();
    let mut rows_of: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for p in positions {
        let (file, group, row) = Position::unpack(p);
        rows_of.entry((file, group)).or_default().push(row);
    }
    let store = Store::open(files)?;
    let read = |unit: (usize, usize)| -> Result<Vec<(u64, SpanTextRow)>, AnalyzeError> {
        let Some(rows) = rows_of.get(&unit) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut at = rows.iter();
        for batch in store.rows_at(unit, &COLUMNS, rows)? {
            let batch = batch.map_err(|e| store.error(unit.0, e))?;
            let c = COLUMNS
                .iter()
                .map(|n| Texts::of(&batch, n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| store.error(unit.0, e))?;
            let text = |k: usize, r: usize| c[k].get(r).unwrap_or("").to_owned();
            for (r, &row) in (0..batch.num_rows()).zip(&mut at) {
                out.push((
                    Position::pack(unit.0, unit.1, row as u32),
                    SpanTextRow {
                        name: text(0, r),
                        kind: text(1, r),
                        statement: c[2].get(r).map(str::to_owned),
                        attributes: text(3, r),
                        resource: text(4, r),
                        exceptions: c[5]
                            .get(r)
                            .map(crate::server_errors::exception_types)
                            .unwrap_or_default(),
                    },
                ));
            }
        }
        Ok(out)
    };
    Ok(store
        .read_all(threads, &read)?
        .into_iter()
        .flatten()
        .collect())
}
