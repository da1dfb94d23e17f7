//! Id columns of the span store as the scan reads them: bytes (what the
//! store writes), another binary layout (a store rewritten by polars), or
//! hex text (segments of older versions, files written by other tools).

use super::hex_word;

/// One batch's id column (the store's adapter), read as integers here.
pub(crate) use tracesplit_store::IdColumn as Ids;

/// The integers the scan joins on.
pub(crate) trait IdsExt {
    /// A stored trace id (from [`Ids::stored`]) as an integer: 16 bytes, or
    /// 32 hex digits (`None` for anything else, which no request names).
    fn trace(&self, stored: &[u8]) -> Option<u128>;
    /// Row `i`'s span id as an integer: 1 to 8 bytes, or 1 to 16 hex
    /// digits (0 for a null or anything else: no span has id 0).
    fn span(&self, i: usize) -> u64;
}

impl IdsExt for Ids<'_> {
    fn trace(&self, stored: &[u8]) -> Option<u128> {
        if self.is_hex() {
            return hex128(stored);
        }
        Some(u128::from_be_bytes(stored.try_into().ok()?))
    }

    fn span(&self, i: usize) -> u64 {
        let Some(stored) = self.stored(i) else {
            return 0;
        };
        if self.is_hex() {
            return hex64(stored);
        }
        if stored.is_empty() || stored.len() > 8 {
            return 0;
        }
        let mut word = [0u8; 8];
        word[8 - stored.len()..].copy_from_slice(stored);
        u64::from_be_bytes(word)
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
    use arrow_array::{
        ArrayRef, BinaryViewArray, FixedSizeBinaryArray, LargeBinaryArray, RecordBatch, StringArray,
    };
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
