//! The export plumbing the runner and the reference catalog's telemetry
//! share, without the OpenTelemetry SDK: a bounded queue drained by a
//! thread of its own, export counts, and the OTLP endpoint and header
//! conventions.

mod counts;
mod otlp_env;
mod queue;

pub use counts::{Counters, ExportCounts};
pub use otlp_env::{parse_header_list, traces_url};
pub use queue::{DrainQueue, Drainer};
