//! Shared records of tracesplit.
//!
//! Every part of the pipeline speaks in these types: the runner writes
//! [`RequestRecord`]s, the collector writes [`SpanRecord`]s, the analyzer turns
//! both into an [`analysis::Analysis`] that the report crate renders. The
//! Arrow schemas of the Parquet files live here too so that writer and readers
//! agree on column names and types.

pub mod analysis;
pub mod compare;
pub mod ids;
pub mod internal;
pub mod manifest;
pub mod request;
pub mod schema;
pub mod server_errors;
pub mod size;
pub mod span;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod tail;
pub mod verdict;

#[cfg(feature = "otlp")]
pub mod otlp;

pub use analysis::Analysis;
pub use ids::{IdError, SpanId, TraceId};
pub use manifest::RunManifest;
pub use request::RequestRecord;
pub use span::{SpanKind, SpanRecord, SpanStatus};
