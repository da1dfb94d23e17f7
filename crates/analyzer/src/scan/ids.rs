//! Id columns of the span store as the scan reads them: bytes (what the
//! store writes), another binary layout (a store rewritten by polars), or
//! hex text (segments of older versions, files written by other tools).

use super::{Texts, hex_word};
use crate::column::ColumnError;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

/// One batch's id column.
pub(crate) enum Ids<'a> {
    Fixed(&'a arrow_array::FixedSizeBinaryArray),
    Binary(&'a arrow_array::BinaryArray),
    LargeBinary(&'a arrow_array::LargeBinaryArray),
    BinaryView(&'a arrow_array::BinaryViewArray),
    Hex(Texts<'a>),
}

impl<'a> Ids<'a> {
    /// Column `name` of `batch` (a missing column: every id null).
    pub(crate) fn of(batch: &'a RecordBatch, name: &str) -> Result<Self, ColumnError> {
        match batch.column_by_name(name) {
            Some(col) => Self::of_array(col, name),
            None => Ok(Self::Hex(Texts::Missing)),
        }
    }

    fn of_array(col: &'a ArrayRef, name: &str) -> Result<Self, ColumnError> {
        Ok(match col.data_type() {
            DataType::FixedSizeBinary(_) => Self::Fixed(col.as_fixed_size_binary()),
            DataType::Binary => Self::Binary(col.as_binary::<i32>()),
            DataType::LargeBinary => Self::LargeBinary(col.as_binary::<i64>()),
            DataType::BinaryView => Self::BinaryView(col.as_binary_view()),
            _ => Self::Hex(Texts::of_array(col, name).map_err(|_| {
                ColumnError::wrong_type(name, col.data_type(), "an id (bytes or hex text)")
            })?),
        })
    }

    /// Row `i`'s id as stored (`None`: null): two rows hold the same id
    /// when these are equal.
    pub(crate) fn stored(&self, i: usize) -> Option<&'a [u8]> {
        match self {
            Self::Fixed(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Binary(a) => a.is_valid(i).then(|| a.value(i)),
            Self::LargeBinary(a) => a.is_valid(i).then(|| a.value(i)),
            Self::BinaryView(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Hex(t) => t.get(i).map(str::as_bytes),
        }
    }

    /// A stored trace id (from [`Ids::stored`]) as an integer: 16 bytes, or
    /// 32 hex digits (`None` for anything else, which no request names).
    pub(crate) fn trace(&self, stored: &[u8]) -> Option<u128> {
        match self {
            Self::Hex(_) => hex128(stored),
            _ => Some(u128::from_be_bytes(stored.try_into().ok()?)),
        }
    }

    /// Row `i`'s span id as an integer: 1 to 8 bytes, or 1 to 16 hex
    /// digits (0 for a null or anything else: no span has id 0).
    pub(crate) fn span(&self, i: usize) -> u64 {
        let Some(stored) = self.stored(i) else {
            return 0;
        };
        match self {
            Self::Hex(_) => hex64(stored),
            _ if stored.is_empty() || stored.len() > 8 => 0,
            _ => {
                let mut word = [0u8; 8];
                word[8 - stored.len()..].copy_from_slice(stored);
                u64::from_be_bytes(word)
            }
        }
    }
}

/// A 32-digit hex trace id.
pub(crate) fn hex128(digits: &[u8]) -> Option<u128> {
    if digits.len() != 32 {
        return None;
    }
    Some(u128::from(hex_word(&digits[..16])?) << 64 | u128::from(hex_word(&digits[16..])?))
}

/// A hex span id of 1 to 16 digits (0 for anything else, as no span has id 0).
pub(crate) fn hex64(digits: &[u8]) -> u64 {
    if digits.is_empty() || digits.len() > 16 {
        return 0;
    }
    hex_word(digits).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BinaryViewArray, FixedSizeBinaryArray, LargeBinaryArray, StringArray};
    use std::sync::Arc;

    #[test]
    fn hex_ids_parse_like_the_request_side_and_junk_is_no_id() {
        let trace = |s: &str| hex128(s.as_bytes());
        assert_eq!(
            trace("0af7651916cd43dd8448eb211c80319c"),
            Some(0x0af7651916cd43dd8448eb211c80319c)
        );
        assert_eq!(
            trace("0AF7651916CD43DD8448EB211C80319C"),
            trace("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(trace("0af7651916cd43dd8448eb211c80319"), None);
        assert_eq!(trace("0af7651916cd43dd8448eb211c80319g"), None);
        let span = |s: &str| hex64(s.as_bytes());
        assert_eq!(span("00f067aa0ba902b7"), 0x00f067aa0ba902b7);
        assert_eq!(
            span("00f067aa0ba902b7"),
            crate::load::id64("00f067aa0ba902b7")
        );
        assert_eq!(span("abc"), 0xabc);
        assert_eq!(
            (span(""), span("xyz"), span("00f067aa0ba902b7ff")),
            (0, 0, 0)
        );
    }

    /// The same ids as bytes, as binary of the other layouts and as hex
    /// text give the same integers; a null is no id.
    #[test]
    fn ids_of_every_layout_read_as_the_same_integers() {
        let trace: [u8; 16] = 0x0af7651916cd43dd8448eb211c80319c_u128.to_be_bytes();
        let span: [u8; 8] = 0x00f067aa0ba902b7_u64.to_be_bytes();
        let rows = |id: &[u8]| vec![Some(id.to_vec()), None];
        let hex = |id: &[u8]| -> ArrayRef {
            let text: String = id.iter().map(|b| format!("{b:02X}")).collect();
            Arc::new(StringArray::from(vec![Some(text), None]))
        };
        let layouts = |id: &[u8]| -> Vec<ArrayRef> {
            vec![
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        rows(id).into_iter(),
                        id.len() as i32,
                    )
                    .unwrap_or_else(|e| panic!("{e}")),
                ),
                Arc::new(arrow_array::BinaryArray::from_iter(rows(id))),
                Arc::new(LargeBinaryArray::from_iter(rows(id))),
                Arc::new(BinaryViewArray::from_iter(rows(id))),
                hex(id),
            ]
        };
        for (traces, spans) in layouts(&trace).iter().zip(layouts(&span)) {
            let batch = RecordBatch::try_from_iter([("t", traces.clone()), ("s", spans)])
                .unwrap_or_else(|e| panic!("{e}"));
            let t = Ids::of(&batch, "t").unwrap_or_else(|e| panic!("{e}"));
            let s = Ids::of(&batch, "s").unwrap_or_else(|e| panic!("{e}"));
            let first = t.stored(0).and_then(|v| t.trace(v));
            assert_eq!(
                first,
                Some(0x0af7651916cd43dd8448eb211c80319c),
                "{}",
                traces.data_type()
            );
            assert_eq!(t.stored(1), None);
            assert_eq!((s.span(0), s.span(1)), (0x00f067aa0ba902b7, 0));
            // A span id is no trace id.
            assert_eq!(s.stored(0).and_then(|v| s.trace(v)), None);
        }
        let batch = RecordBatch::try_from_iter([(
            "n",
            Arc::new(arrow_array::Int64Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap_or_else(|e| panic!("{e}"));
        let err = Ids::of(&batch, "n").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("column n has type Int64, expected an id (bytes or hex text)")
        );
        assert_eq!(Ids::of(&batch, "absent").map(|ids| ids.span(0)), Ok(0));
    }
}
