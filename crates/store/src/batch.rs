//! Records → Arrow record batches with the schemas of `tracesplit_model::schema`.

use crate::StoreError;
use arrow_array::builder::{BooleanBuilder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use std::sync::Arc;
use tracesplit_model::schema::{request_schema, span_schema};
use tracesplit_model::{RequestRecord, SpanRecord};

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
        strings(rows.iter().map(|r| r.trace_id.as_str()), n),
        strings(rows.iter().map(|r| r.span_id.as_str()), n),
        opt_strings(rows.iter().map(|r| r.parent_span_id.as_deref()), n),
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
