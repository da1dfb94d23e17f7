//! Errors of reading and writing tracesplit's Parquet files.

use std::path::PathBuf;

/// Why a Parquet file or journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Parquet encoding or decoding error on a named file.
    #[error("{path}: not a readable Parquet file of this kind: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow error while building or reading a batch.
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: arrow_schema::ArrowError,
    },
    /// A file has the wrong columns or column types.
    #[error("{path}: column `{column}` {problem}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// What is wrong, e.g. "is missing" or "has type Utf8, expected Int64".
        problem: String,
    },
    /// A stored id is not an id (a file written or rewritten by another tool).
    #[error("{path}: span {row}: {column}: {source}")]
    Id {
        /// The file.
        path: PathBuf,
        /// The span's row in its batch.
        row: usize,
        /// The id column.
        column: &'static str,
        /// What is wrong with it.
        source: tracesplit_model::ids::IdError,
    },
    /// A journal line could not be decoded.
    #[error("{path}:{line}: unreadable journal entry: {message}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        Self::Parquet {
            path: path.into(),
            source,
        }
    }
}
