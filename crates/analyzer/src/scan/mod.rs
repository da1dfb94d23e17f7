//! The span scan: the span store's Parquet files read with arrow-rs, row
//! groups in parallel, the trace id decoded first and the other columns
//! only for the rows of the wanted traces.
//!
//! This was polars' lazy engine (scan, hex parse, semi join, sort by trace)
//! and took three quarters of the analysis. Here the ids are read once
//! into integers as the rows are read ([`ids`]: the store's bytes, or the
//! hex text of older segments), nothing but the kept rows'
//! integers and flags is materialized, and the spans are grouped by a
//! counting sort over the traces, whose order is known before the scan
//! (the requests name them). [`columns`] reads what the split needs,
//! [`text`] the names and statements of the few traces a report shows.

mod columns;
mod errors;
mod ids;
mod store;
mod text;

pub(crate) use columns::scan_spans;
pub(crate) use errors::{ErrorSpan, error_spans};
pub(crate) use ids::hex128;
use ids::{Ids, IdsExt};
use store::Store;
#[cfg(test)]
pub(crate) use store::write_in_row_groups;
pub(crate) use store::{count_rows, projection, row_group_metadata};
pub(crate) use text::span_text_at;

use crate::column::ColumnError;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// A fast hasher for the scan's keys: trace ids (their halves mixed: W3C
/// trace ids are random; the multiplication spreads ids that are not) and
/// texts (eight bytes at a time). No protection against chosen keys is
/// needed: the keys come from the run's own files.
#[derive(Default)]
pub(crate) struct TraceHasher(u64);

impl Hasher for TraceHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(MIX);
        }
        let mut b = [0u8; 8];
        b[..words.remainder().len()].copy_from_slice(words.remainder());
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(MIX);
    }

    fn write_u8(&mut self, v: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(v)).wrapping_mul(MIX);
    }

    fn write_usize(&mut self, v: usize) {
        self.0 = (self.0.rotate_left(5) ^ v as u64).wrapping_mul(MIX);
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = ((v as u64) ^ ((v >> 64) as u64)).wrapping_mul(MIX);
    }
}

/// A hash map with the scan's hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<TraceHasher>>;

/// Trace id → its slot (the trace's rank among the wanted traces).
pub(crate) type TraceSlots = FastMap<u128, u32>;

/// Hex digit values; 0xff for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Up to 16 hex digits as an integer; `None` when any is not a hex digit.
pub(crate) fn hex_word(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut bad = 0u8;
    for &d in digits {
        let n = HEX[d as usize];
        bad |= n;
        v = v << 4 | u64::from(n & 0x0f);
    }
    // A valid digit is < 16: any 0xff entry sets the high bits.
    (bad < 16).then_some(v)
}

/// A text column of any of Arrow's string layouts (the store's adapter).
pub(crate) use tracesplit_store::TextColumn as Texts;

/// A text column the scan classifies row by row: read as a dictionary, each
/// distinct value is tested once; read plain, each row is.
pub(crate) enum Labels<'a> {
    Dictionary {
        keys: &'a arrow_array::Int32Array,
        values: Texts<'a>,
    },
    Plain(Texts<'a>),
}

impl<'a> Labels<'a> {
    pub(crate) fn of(batch: &'a RecordBatch, name: &str) -> Result<Self, ColumnError> {
        let Some(col) = batch.column_by_name(name) else {
            return Ok(Self::Plain(Texts::Missing));
        };
        match col.as_dictionary_opt::<Int32Type>() {
            Some(d) => Ok(Self::Dictionary {
                keys: d.keys(),
                values: Texts::of_array(d.values().as_ref(), name)?,
            }),
            None => Texts::of_array(col.as_ref(), name).map(Self::Plain),
        }
    }

    /// Appends `f` of each of the first `rows` rows' text (`None`: null);
    /// read as a dictionary, `f` sees each value a row uses once.
    pub(crate) fn map<T: Copy>(
        &self,
        rows: usize,
        mut f: impl FnMut(Option<&'a str>) -> T,
        out: &mut Vec<T>,
    ) {
        match self {
            Self::Dictionary { keys, values } => {
                // Only the values rows use are looked at (a spilled
                // dictionary can hold a batch's every value), and null only
                // when a row is null: `f` may record what it is shown.
                let mut answers: Vec<Option<T>> = vec![None; values.len()];
                let mut null = None;
                out.extend((0..rows).map(|i| {
                    let k = keys
                        .is_valid(i)
                        .then(|| usize::try_from(keys.value(i)).ok())
                        .flatten()
                        .filter(|&k| k < answers.len());
                    let answer = match k {
                        Some(k) => &mut answers[k],
                        None => &mut null,
                    };
                    *answer.get_or_insert_with(|| f(k.and_then(|k| values.get(k))))
                }));
            }
            Self::Plain(texts) => out.extend((0..rows).map(|i| f(texts.get(i)))),
        }
    }

    /// Row `i`'s text (`None`: null).
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Self::Dictionary { keys, values } => {
                let k = usize::try_from(keys.value(i)).ok()?;
                keys.is_valid(i).then(|| values.get(k)).flatten()
            }
            Self::Plain(texts) => texts.get(i),
        }
    }
}

fn times<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a arrow_array::Int64Array, ColumnError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| ColumnError::Missing(name.to_owned()))?;
    col.as_primitive_opt::<Int64Type>()
        .ok_or_else(|| ColumnError::wrong_type(name, col.data_type(), "Int64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_of_every_arrow_layout_read_alike_and_a_missing_one_is_null() {
        use arrow_array::{ArrayRef, LargeStringArray, StringArray, StringViewArray};
        use std::sync::Arc;
        let values = [
            Some("SERVER"),
            None,
            Some("a longer value than twelve bytes"),
        ];
        let batch = RecordBatch::try_from_iter([
            (
                "utf8",
                Arc::new(StringArray::from(values.to_vec())) as ArrayRef,
            ),
            (
                "large",
                Arc::new(LargeStringArray::from(values.to_vec())) as ArrayRef,
            ),
            (
                "view",
                Arc::new(StringViewArray::from(values.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        for name in ["utf8", "large", "view"] {
            let t = Texts::of(&batch, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (0..3).map(|i| t.get(i)).collect::<Vec<_>>(),
                values,
                "{name}"
            );
        }
        let missing = Texts::of(&batch, "db_statement").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(missing.get(0), None);
    }

    #[test]
    fn labels_read_as_a_dictionary_answer_like_plain_text_testing_each_used_value_once() {
        use arrow_array::{ArrayRef, DictionaryArray, StringArray};
        use std::sync::Arc;
        let rows = [Some("SERVER"), None, Some("CLIENT"), Some("SERVER"), None];
        // "INTERNAL" is in the dictionary but no row uses it.
        let dictionary: DictionaryArray<Int32Type> = DictionaryArray::new(
            arrow_array::Int32Array::from(vec![Some(0), None, Some(2), Some(0), None]),
            Arc::new(StringArray::from(vec!["SERVER", "INTERNAL", "CLIENT"])),
        );
        let batch = RecordBatch::try_from_iter([
            ("dictionary", Arc::new(dictionary) as ArrayRef),
            (
                "plain",
                Arc::new(StringArray::from(rows.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let answers = |name: &str| {
            let labels = Labels::of(&batch, name).unwrap_or_else(|e| panic!("{e}"));
            let (mut seen, mut out) = (Vec::new(), Vec::new());
            labels.map(
                rows.len(),
                |t| {
                    seen.push(t);
                    t == Some("SERVER")
                },
                &mut out,
            );
            (out, seen)
        };
        let (dictionary, tested) = answers("dictionary");
        let (plain, _) = answers("plain");
        assert_eq!(dictionary, vec![true, false, false, true, false]);
        assert_eq!(dictionary, plain);
        assert_eq!(tested, vec![Some("SERVER"), None, Some("CLIENT")]);
        let (missing, _) = answers("kind");
        assert_eq!(missing, vec![false; rows.len()]);
        // Without a null row, `f` never sees null (it may record what it sees).
        let (_, tested) = {
            let labels = Labels::of(&batch, "dictionary").unwrap_or_else(|e| panic!("{e}"));
            let (mut seen, mut out) = (Vec::new(), Vec::new());
            labels.map(
                1,
                |t| {
                    seen.push(t);
                    false
                },
                &mut out,
            );
            (out, seen)
        };
        assert_eq!(tested, vec![Some("SERVER")]);
    }
}
