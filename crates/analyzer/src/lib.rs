//! Joins a run's requests with the server's spans and splits every request's
//! latency into network, handler, cascade check and other database time —
//! exactly as docs/design.md defines it — then aggregates per scenario and derives
//! findings. The result is a plain [`tracesplit_model::Analysis`].

mod aggregate;
mod analyze;
mod attributes;
pub mod bootstrap;
mod column;
pub mod compare;
mod dedup;
mod error;
pub mod fetch;
mod findings;
mod hooks;
mod inputs;
pub mod intervals;
mod like;
pub mod links;
pub mod load;
mod order;
pub mod outside;
mod parallel;
pub mod partition;
mod requests;
mod scan;
mod scenario;
mod scratch;
mod server_errors;
mod shown;
pub mod source;
pub mod split;
pub mod sweep;
mod table;
pub mod tail;
mod tail_findings;
mod transport;
mod waterfall;

pub use aggregate::p95_window;
pub use analyze::{AnalyzeConfig, AnalyzeOutput, DEFAULT_SPAN, DEFAULT_STATEMENT, analyze};
pub use error::{AnalyzeError, Cause};
pub use findings::filtered_column;
pub use links::LinkConfig;
pub use source::SpanSource;
pub use table::RequestTable;
