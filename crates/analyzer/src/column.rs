//! What can be wrong with a column of a Parquet batch the analysis reads.

use arrow_schema::DataType;

/// A column that is not what the analysis reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ColumnError {
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
    pub(crate) fn wrong_type(column: &str, found: &DataType, expected: &'static str) -> Self {
        Self::Type {
            column: column.to_owned(),
            found: found.clone(),
            expected,
        }
    }
}

/// Reading one batch of a file: a bad column, or the file's reader failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    /// A column is not what the analysis reads.
    #[error(transparent)]
    Column(#[from] ColumnError),
    /// Arrow or Parquet could not read the batch.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Parquet could not open the file or a row group.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The file could not be opened.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
