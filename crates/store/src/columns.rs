//! Columns of the span store and of `requests.parquet` in whatever Arrow
//! layout they were written in — by this version (ids as fixed-size bytes,
//! dictionary text), by older ones (ids as hex text), or by another tool (a
//! store rewritten by polars: other binary and text layouts). One adapter,
//! used by this crate's reader and by the analysis's scan.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// A column that is not what its reader takes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ColumnError {
    /// The column is not in the file.
    #[error("column {0} is missing")]
    Missing(String),
    /// The column has a type the reader does not take.
    #[error("column {column} has type {found}, expected {expected}")]
    Type {
        /// The column.
        column: String,
        /// Its type in the file.
        found: DataType,
        /// What the reader takes.
        expected: &'static str,
    },
}

impl ColumnError {
    /// Column `column` has type `found` where `expected` was needed.
    pub fn wrong_type(column: &str, found: &DataType, expected: &'static str) -> Self {
        Self::Type {
            column: column.to_owned(),
            found: found.clone(),
            expected,
        }
    }
}

/// A text column of any of Arrow's string layouts, or a missing one (all null).
pub enum TextColumn<'a> {
    /// `Utf8`.
    Utf8(&'a arrow_array::StringArray),
    /// `LargeUtf8`.
    Large(&'a arrow_array::LargeStringArray),
    /// `Utf8View`.
    View(&'a arrow_array::StringViewArray),
    /// Not in the batch (or of type Null): every row null.
    Missing,
}

impl<'a> TextColumn<'a> {
    /// Column `name` of `batch` (a missing column: every row null).
    pub fn of(batch: &'a RecordBatch, name: &str) -> Result<Self, ColumnError> {
        match batch.column_by_name(name) {
            Some(col) => Self::of_array(col.as_ref(), name),
            None => Ok(Self::Missing),
        }
    }

    /// `col`, named `name` in errors.
    pub fn of_array(col: &'a dyn Array, name: &str) -> Result<Self, ColumnError> {
        Ok(match col.data_type() {
            DataType::Utf8 => Self::Utf8(col.as_string::<i32>()),
            DataType::LargeUtf8 => Self::Large(col.as_string::<i64>()),
            DataType::Utf8View => Self::View(col.as_string_view()),
            DataType::Null => Self::Missing,
            other => return Err(ColumnError::wrong_type(name, other, "text")),
        })
    }

    /// Rows (0 when missing).
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Self::Utf8(a) => a.len(),
            Self::Large(a) => a.len(),
            Self::View(a) => a.len(),
            Self::Missing => 0,
        }
    }

    /// No rows.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` (`None`: null).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Self::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Self::View(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Missing => None,
        }
    }
}

/// An id column: bytes in any binary layout, or hex text.
pub enum IdColumn<'a> {
    /// `FixedSizeBinary` (what the store writes).
    Fixed(&'a arrow_array::FixedSizeBinaryArray),
    /// `Binary`.
    Binary(&'a arrow_array::BinaryArray),
    /// `LargeBinary` (polars' binary).
    LargeBinary(&'a arrow_array::LargeBinaryArray),
    /// `BinaryView`.
    BinaryView(&'a arrow_array::BinaryViewArray),
    /// Hex text (segments of older versions, files of other tools).
    Hex(TextColumn<'a>),
}

impl<'a> IdColumn<'a> {
    /// Column `name` of `batch` (a missing column: every id null).
    pub fn of(batch: &'a RecordBatch, name: &str) -> Result<Self, ColumnError> {
        match batch.column_by_name(name) {
            Some(col) => Self::of_array(col.as_ref(), name),
            None => Ok(Self::Hex(TextColumn::Missing)),
        }
    }

    /// `col`, named `name` in errors.
    pub fn of_array(col: &'a dyn Array, name: &str) -> Result<Self, ColumnError> {
        Ok(match col.data_type() {
            DataType::FixedSizeBinary(_) => Self::Fixed(col.as_fixed_size_binary()),
            DataType::Binary => Self::Binary(col.as_binary::<i32>()),
            DataType::LargeBinary => Self::LargeBinary(col.as_binary::<i64>()),
            DataType::BinaryView => Self::BinaryView(col.as_binary_view()),
            _ => Self::Hex(TextColumn::of_array(col, name).map_err(|_| {
                ColumnError::wrong_type(name, col.data_type(), "an id (bytes or hex text)")
            })?),
        })
    }

    /// Row `i`'s id as stored — its bytes, or its hex digits when
    /// [`IdColumn::is_hex`] (`None`: null): two rows hold the same id when
    /// these are equal.
    #[inline]
    pub fn stored(&self, i: usize) -> Option<&'a [u8]> {
        match self {
            Self::Fixed(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Binary(a) => a.is_valid(i).then(|| a.value(i)),
            Self::LargeBinary(a) => a.is_valid(i).then(|| a.value(i)),
            Self::BinaryView(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Hex(t) => t.get(i).map(str::as_bytes),
        }
    }

    /// Whether the ids are hex text (else bytes).
    #[inline]
    pub fn is_hex(&self) -> bool {
        matches!(self, Self::Hex(_))
    }
}
