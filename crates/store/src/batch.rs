//! Records → Arrow record batches with the schemas of `tracesplit_model::schema`.

use crate::StoreError;
use arrow_array::builder::{
    BooleanBuilder, FixedSizeBinaryBuilder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use std::sync::Arc;
use tracesplit_model::schema::{request_schema, span_schema};
use tracesplit_model::{RequestRecord, SpanId, SpanRecord, TraceId};

fn strings<'a>(values: impl Iterator<Item = &'a str>, cap: usize) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(cap, cap * 16);
    values.for_each(|v| b.append_value(v));
    Arc::new(b.finish())
}

fn opt_strings<'a>(values: impl Iterator<Item = Option<&'a str>>, cap: usize) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(cap, cap * 16);
    values.for_each(|v| b.append_option(v));
    Arc::new(b.finish())
}

/// An id column of the span store: each hex id as its `width` bytes. An
/// empty id is null (OTLP's "no parent"); any other text that is not
/// `width` bytes of hex is an error naming the span and column (the
/// collector checks ids when it decodes them, so this is a caller's bug).
fn ids<'a>(values: impl Iterator<Item = Option<&'a [u8]>>, width: usize, cap: usize) -> ArrayRef {
    let mut b = FixedSizeBinaryBuilder::with_capacity(cap, width as i32);
    for value in values {
        // Typed ids have their width: appending cannot fail.
        match value {
            Some(bytes) if b.append_value(bytes).is_ok() => {}
            _ => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

fn ints(values: impl Iterator<Item = i64>, cap: usize) -> ArrayRef {
    let mut b = Int64Builder::with_capacity(cap);
    values.for_each(|v| b.append_value(v));
    Arc::new(b.finish())
}

fn opt_ints(values: impl Iterator<Item = Option<i64>>, cap: usize) -> ArrayRef {
    let mut b = Int64Builder::with_capacity(cap);
    values.for_each(|v| b.append_option(v));
    Arc::new(b.finish())
}

fn arrow_err(context: &str) -> impl FnOnce(arrow_schema::ArrowError) -> StoreError + '_ {
    move |source| StoreError::Arrow {
        context: context.to_owned(),
        source,
    }
}

/// Builds one `requests.parquet` batch.
pub fn request_batch(rows: &[RequestRecord]) -> Result<RecordBatch, StoreError> {
    let n = rows.len();
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut status = Int32Builder::with_capacity(n);
    let mut expected = BooleanBuilder::with_capacity(n);
    for r in rows {
        status.append_value(i32::from(r.status));
        expected.append_value(r.expected);
    }
    let mut reused = BooleanBuilder::with_capacity(n);
    rows.iter()
        .for_each(|r| reused.append_value(r.reused_connection));
    let columns: Vec<ArrayRef> = vec![
        strings(rows.iter().map(|r| r.run_id.as_str()), n),
        strings(rows.iter().map(|r| r.scenario.as_str()), n),
        strings(rows.iter().map(|r| r.entity_type.as_str()), n),
        strings(rows.iter().map(|r| r.operation.as_str()), n),
        ints(rows.iter().map(|r| i64::from(r.iteration)), n),
        ints(rows.iter().map(|r| i64::from(r.step)), n),
        strings(rows.iter().map(|r| r.method.as_str()), n),
        strings(rows.iter().map(|r| r.route.as_str()), n),
        strings(rows.iter().map(|r| r.url.as_str()), n),
        Arc::new(status.finish()),
        Arc::new(expected.finish()),
        opt_strings(rows.iter().map(|r| r.error.as_deref()), n),
        strings(rows.iter().map(|r| r.trace_id.as_str()), n),
        strings(rows.iter().map(|r| r.span_id.as_str()), n),
        ints(rows.iter().map(|r| r.intended_start_unix_nano), n),
        ints(rows.iter().map(|r| r.start_unix_nano), n),
        opt_ints(rows.iter().map(|r| r.ttfb_ns), n),
        ints(rows.iter().map(|r| r.duration_ns), n),
        ints(rows.iter().map(|r| clamp(r.request_bytes)), n),
        ints(rows.iter().map(|r| clamp(r.response_bytes)), n),
        ints(rows.iter().map(|r| r.connect_ns), n),
        ints(rows.iter().map(|r| r.tls_ns), n),
        Arc::new(reused.finish()),
        ints(rows.iter().map(|r| r.stall_ns), n),
    ];
    RecordBatch::try_new(request_schema(), columns).map_err(arrow_err("building a request batch"))
}

/// Builds one span store batch.
pub fn span_batch(rows: &[SpanRecord]) -> Result<RecordBatch, StoreError> {
    let n = rows.len();
    let mut http_status = Int32Builder::with_capacity(n);
    rows.iter()
        .for_each(|r| http_status.append_option(r.http_status_code));
    let columns: Vec<ArrayRef> = vec![
        ids(
            rows.iter().map(|r| Some(r.trace_id.0.as_slice())),
            TraceId::LEN,
            n,
        ),
        ids(
            rows.iter().map(|r| Some(r.span_id.0.as_slice())),
            SpanId::LEN,
            n,
        ),
        ids(
            rows.iter()
                .map(|r| r.parent_span_id.as_ref().map(|p| p.0.as_slice())),
            SpanId::LEN,
            n,
        ),
        strings(rows.iter().map(|r| r.name.as_str()), n),
        strings(rows.iter().map(|r| r.kind.as_str()), n),
        ints(rows.iter().map(|r| r.start_unix_nano), n),
        ints(rows.iter().map(|r| r.end_unix_nano), n),
        strings(rows.iter().map(|r| r.status_code.as_str()), n),
        strings(rows.iter().map(|r| r.status_message.as_str()), n),
        strings(rows.iter().map(|r| r.service_name.as_str()), n),
        strings(rows.iter().map(|r| r.scope_name.as_str()), n),
        opt_strings(rows.iter().map(|r| r.http_route.as_deref()), n),
        Arc::new(http_status.finish()),
        opt_strings(rows.iter().map(|r| r.db_system.as_deref()), n),
        opt_strings(rows.iter().map(|r| r.db_statement.as_deref()), n),
        opt_strings(rows.iter().map(|r| r.db_operation.as_deref()), n),
        strings(rows.iter().map(|r| r.attributes_json.as_str()), n),
        strings(rows.iter().map(|r| r.resource_attributes_json.as_str()), n),
        opt_strings(rows.iter().map(|r| r.events_json.as_deref()), n),
        opt_strings(rows.iter().map(|r| r.links_json.as_deref()), n),
    ];
    RecordBatch::try_new(span_schema(), columns).map_err(arrow_err("building a span batch"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    fn record(trace: &str, span: &str, parent: Option<&str>) -> SpanRecord {
        SpanRecord {
            trace_id: trace.parse().unwrap(),
            span_id: span.parse().unwrap(),
            parent_span_id: parent.map(|p| p.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn ids_are_stored_as_their_bytes_and_no_parent_is_null() {
        let rows = [
            record("0AF7651916cd43dd8448eb211c80319c", "00f067aa0ba902b7", None),
            record("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", None),
            record(
                "0af7651916cd43dd8448eb211c80319c",
                "0000000000000001",
                Some("00f067aa0ba902b7"),
            ),
        ];
        let batch = span_batch(&rows).unwrap();
        let trace = batch.column(0).as_fixed_size_binary();
        assert_eq!(trace.value_length(), 16);
        assert_eq!(trace.value(0), trace.value(1));
        assert_eq!(trace.value(0)[..3], [0x0a, 0xf7, 0x65]);
        let span = batch.column(1).as_fixed_size_binary();
        assert_eq!(span.value(2), [0, 0, 0, 0, 0, 0, 0, 1]);
        let parent = batch.column(2).as_fixed_size_binary();
        assert_eq!((parent.is_null(0), parent.is_null(1)), (true, true));
        assert_eq!(parent.value(2), span.value(0));
    }
}
