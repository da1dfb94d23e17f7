//! What can be wrong with a column of a Parquet batch the analysis reads.

/// A column that is not what the analysis reads (the store's column error).
pub(crate) use tracesplit_store::ColumnError;

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
