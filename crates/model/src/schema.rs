//! Arrow schemas of `requests.parquet` and of span store segments.
//!
//! Writers (crates/store) build record batches with exactly these fields;
//! readers (the analyzer, the notebooks) rely on the names. Times are Int64
//! nanoseconds since the Unix epoch so that every Parquet reader (polars,
//! DuckDB, pandas) reads them without unsigned-integer surprises.
//!
//! The span store keeps ids as their bytes (`FixedSizeBinary`, Parquet's
//! fixed-length byte array): it is the run's largest file, and its ids are
//! what the analysis reads most. Hex text took twice the bytes and a parse
//! per row. Segments written before kept hex text; readers accept both.
//! `requests.parquet` and `split.parquet` keep hex text: one row a request,
//! they are the tables users filter by a trace id pasted from Jaeger.

use crate::ids::{SpanId, TraceId};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

/// Column names of `requests.parquet`, in file order.
pub mod request_columns {
    #![allow(missing_docs)]
    pub const RUN_ID: &str = "run_id";
    pub const SCENARIO: &str = "scenario";
    pub const ENTITY_TYPE: &str = "entity_type";
    pub const OPERATION: &str = "operation";
    pub const ITERATION: &str = "iteration";
    pub const STEP: &str = "step";
    pub const METHOD: &str = "method";
    pub const ROUTE: &str = "route";
    pub const URL: &str = "url";
    pub const STATUS: &str = "status";
    pub const EXPECTED: &str = "expected";
    pub const ERROR: &str = "error";
    pub const TRACE_ID: &str = "trace_id";
    pub const SPAN_ID: &str = "span_id";
    pub const INTENDED_START: &str = "intended_start_unix_nano";
    pub const START: &str = "start_unix_nano";
    pub const TTFB: &str = "ttfb_ns";
    pub const DURATION: &str = "duration_ns";
    pub const REQUEST_BYTES: &str = "request_bytes";
    pub const RESPONSE_BYTES: &str = "response_bytes";
    pub const CONNECT_NS: &str = "connect_ns";
    pub const TLS_NS: &str = "tls_ns";
    pub const REUSED_CONNECTION: &str = "reused_connection";
    pub const STALL_NS: &str = "stall_ns";
}

/// Column names of span store segments, in file order.
pub mod span_columns {
    #![allow(missing_docs)]
    pub const TRACE_ID: &str = "trace_id";
    pub const SPAN_ID: &str = "span_id";
    pub const PARENT_SPAN_ID: &str = "parent_span_id";
    pub const NAME: &str = "name";
    pub const KIND: &str = "kind";
    pub const START: &str = "start_unix_nano";
    pub const END: &str = "end_unix_nano";
    pub const STATUS_CODE: &str = "status_code";
    pub const STATUS_MESSAGE: &str = "status_message";
    pub const SERVICE_NAME: &str = "service_name";
    pub const SCOPE_NAME: &str = "scope_name";
    pub const HTTP_ROUTE: &str = "http_route";
    pub const HTTP_STATUS_CODE: &str = "http_status_code";
    pub const DB_SYSTEM: &str = "db_system";
    pub const DB_STATEMENT: &str = "db_statement";
    pub const DB_OPERATION: &str = "db_operation";
    pub const ATTRIBUTES: &str = "attributes";
    pub const RESOURCE_ATTRIBUTES: &str = "resource_attributes";
    pub const EVENTS: &str = "events";
    pub const LINKS: &str = "links";
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// An id column of the span store: `bytes` bytes (16 for a trace id, 8 for a span id).
fn id(name: &str, bytes: usize, nullable: bool) -> Field {
    Field::new(name, DataType::FixedSizeBinary(bytes as i32), nullable)
}

fn int64(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}

/// Schema of `requests.parquet`.
pub fn request_schema() -> Arc<Schema> {
    use request_columns::*;
    Arc::new(Schema::new(vec![
        utf8(RUN_ID, false),
        utf8(SCENARIO, false),
        utf8(ENTITY_TYPE, false),
        utf8(OPERATION, false),
        int64(ITERATION, false),
        int64(STEP, false),
        utf8(METHOD, false),
        utf8(ROUTE, false),
        utf8(URL, false),
        Field::new(STATUS, DataType::Int32, false),
        Field::new(EXPECTED, DataType::Boolean, false),
        utf8(ERROR, true),
        utf8(TRACE_ID, false),
        utf8(SPAN_ID, false),
        int64(INTENDED_START, false),
        int64(START, false),
        int64(TTFB, true),
        int64(DURATION, false),
        int64(REQUEST_BYTES, false),
        int64(RESPONSE_BYTES, false),
        int64(CONNECT_NS, false),
        int64(TLS_NS, false),
        Field::new(REUSED_CONNECTION, DataType::Boolean, false),
        int64(STALL_NS, false),
    ]))
}

/// Schema of a span store segment (`spans/*.parquet`).
pub fn span_schema() -> Arc<Schema> {
    use span_columns::*;
    Arc::new(Schema::new(vec![
        id(TRACE_ID, TraceId::LEN, false),
        id(SPAN_ID, SpanId::LEN, false),
        id(PARENT_SPAN_ID, SpanId::LEN, true),
        utf8(NAME, false),
        utf8(KIND, false),
        int64(START, false),
        int64(END, false),
        utf8(STATUS_CODE, false),
        utf8(STATUS_MESSAGE, false),
        utf8(SERVICE_NAME, false),
        utf8(SCOPE_NAME, false),
        utf8(HTTP_ROUTE, true),
        Field::new(HTTP_STATUS_CODE, DataType::Int32, true),
        utf8(DB_SYSTEM, true),
        utf8(DB_STATEMENT, true),
        utf8(DB_OPERATION, true),
        utf8(ATTRIBUTES, false),
        utf8(RESOURCE_ATTRIBUTES, false),
        utf8(EVENTS, true),
        utf8(LINKS, true),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_have_unique_columns() {
        for schema in [request_schema(), span_schema()] {
            let mut names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n);
        }
        assert_eq!(request_schema().fields().len(), 24);
        assert_eq!(span_schema().fields().len(), 20);
    }
}
