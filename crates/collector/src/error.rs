//! Errors of starting the collector and of ingesting one export.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is invalid.
    #[error("invalid collector setting --{setting}: {problem}")]
    Config {
        /// The setting's command-line name.
        setting: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A listener could not bind.
    #[error(
        "cannot listen for OTLP/{what} on {addr}: {source} (is another collector running? use another address or port 0)"
    )]
    Bind {
        /// `gRPC` or `HTTP`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A TLS certificate, key or CA file is not usable.
    #[error(transparent)]
    Tls(#[from] tracesplit_net::ServerTlsError),
    /// The store directory or its write-ahead log could not be prepared or replayed.
    #[error("span store {path}: {message}")]
    Store {
        /// The directory or file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Why one export was refused. Maps onto gRPC codes and HTTP statuses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The payload is not valid OTLP (bad bytes, JSON, ids, compression, content type).
    #[error("{0}")]
    InvalidArgument(String),
    /// The body is larger than `--max-body`.
    #[error("request body exceeds the limit of {limit} bytes (--max-body)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// One export holds more spans than the whole buffer.
    #[error(
        "export of {spans} spans exceeds the collector buffer of {limit} spans (--max-buffered-spans); send smaller batches"
    )]
    BatchTooLarge {
        /// Spans in the export.
        spans: usize,
        /// The buffer size.
        limit: usize,
    },
    /// Missing or wrong bearer token.
    #[error("missing or wrong bearer token (the collector was started with --auth-token)")]
    Unauthenticated,
    /// The buffer is full; the client should retry later.
    #[error("collector buffer is full ({buffered} spans waiting for the store); retry later")]
    Overloaded {
        /// Spans waiting.
        buffered: usize,
    },
    /// The write-ahead log or the store failed; nothing was acknowledged.
    #[error("span store failure: {0}")]
    Store(#[source] StoreFailure),
    /// The collector is shutting down.
    #[error("collector is shutting down")]
    ShuttingDown,
}

/// What failed in the collector's own storage (its sources kept; shared,
/// because an ingest error is answered to the client and counted).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreFailure {
    /// The spans could not be put into columns.
    #[error("{0}")]
    Columns(std::sync::Arc<tracesplit_store::StoreError>),
    /// The write-ahead log could not be appended to.
    #[error("write-ahead log: {0}")]
    Log(std::sync::Arc<std::io::Error>),
    /// The segment writer thread has stopped.
    #[error("segment writer stopped")]
    WriterStopped,
    /// The segment writer thread panicked.
    #[error("segment writer panicked")]
    WriterPanicked,
    /// Waiting for the writer thread failed.
    #[error("{0}")]
    Join(std::sync::Arc<tokio::task::JoinError>),
}
