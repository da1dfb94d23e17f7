//! OTLP `ExportTraceServiceRequest` protobuf encoding of [`Span`]s.
//!
//! Written by hand from `opentelemetry/proto/trace/v1/trace.proto` so that a
//! span goes from its record to the wire without intermediate messages:
//! every length is computed first, then each byte is written once. The
//! tests decode the output with the generated `opentelemetry-proto` types.

use super::{Name, Span, Value};

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

/// What every span of one export shares: resource and instrumentation scope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    /// Resource attributes (`service.name`, …).
    pub resource: Vec<(String, Value)>,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, field: u8, wire: u8) {
    // Every field used here is below 16: its tag is one byte.
    out.push((field << 3) | wire);
}

/// Bytes of a length-delimited field whose payload is `len` bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    put_tag(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The registered strings of one export; an unknown name reads as "".
struct Names<'a>(&'a [String]);

impl Names<'_> {
    fn get(&self, n: Name) -> &str {
        self.0.get(n.0 as usize).map_or("", String::as_str)
    }
}

fn value_len(names: &Names<'_>, v: &Value) -> usize {
    match v {
        Value::Name(n) => field_len(names.get(*n).len()),
        Value::Shared(s) => field_len(s.len()),
        Value::Owned(s) => field_len(s.len()),
        Value::Int(i) => 1 + varint_len(*i as u64),
        Value::Bool(_) => 2,
    }
}

fn key_value_len(names: &Names<'_>, key: &str, value: &Value) -> usize {
    field_len(key.len()) + field_len(value_len(names, value))
}

fn put_key_value(out: &mut Vec<u8>, names: &Names<'_>, field: u8, key: &str, value: &Value) {
    put_tag(out, field, LEN);
    put_varint(out, key_value_len(names, key, value) as u64);
    put_bytes(out, 1, key.as_bytes());
    put_tag(out, 2, LEN);
    put_varint(out, value_len(names, value) as u64);
    // AnyValue: string_value = 1, bool_value = 2, int_value = 3.
    match value {
        Value::Name(n) => put_bytes(out, 1, names.get(*n).as_bytes()),
        Value::Shared(s) => put_bytes(out, 1, s.as_bytes()),
        Value::Owned(s) => put_bytes(out, 1, s.as_bytes()),
        Value::Bool(b) => {
            put_tag(out, 2, VARINT);
            out.push(u8::from(*b));
        }
        Value::Int(i) => {
            put_tag(out, 3, VARINT);
            put_varint(out, *i as u64);
        }
    }
}

fn span_len(names: &Names<'_>, s: &Span) -> usize {
    let ids = field_len(16)
        + field_len(8)
        + if s.parent_span_id != 0 {
            field_len(8)
        } else {
            0
        };
    let times = 2 * (1 + 8);
    let kind = 2;
    let attributes: usize = s
        .attributes
        .iter()
        .map(|(k, v)| field_len(key_value_len(names, k, v)))
        .sum();
    // Status { code = STATUS_CODE_ERROR (2) }: field 15, two payload bytes.
    let status = if s.error { 4 } else { 0 };
    ids + field_len(names.get(s.name).len()) + kind + times + attributes + status
}

fn put_span(out: &mut Vec<u8>, names: &Names<'_>, s: &Span, len: usize) {
    put_tag(out, 2, LEN);
    put_varint(out, len as u64);
    put_bytes(out, 1, &s.trace_id.to_be_bytes());
    put_bytes(out, 2, &s.span_id.to_be_bytes());
    if s.parent_span_id != 0 {
        put_bytes(out, 4, &s.parent_span_id.to_be_bytes());
    }
    put_bytes(out, 5, names.get(s.name).as_bytes());
    put_tag(out, 6, VARINT);
    out.push(s.kind as u8);
    put_tag(out, 7, FIXED64);
    out.extend_from_slice(&s.start_unix_nano.to_le_bytes());
    put_tag(out, 8, FIXED64);
    out.extend_from_slice(&s.end_unix_nano.to_le_bytes());
    for (k, v) in &s.attributes {
        put_key_value(out, names, 9, k, v);
    }
    if s.error {
        put_tag(out, 15, LEN);
        out.push(2);
        put_tag(out, 3, VARINT);
        out.push(2);
    }
}

/// Appends one `ExportTraceServiceRequest` holding `spans` to `out`; `names`
/// are the registered strings, `lens` scratch space (kept between exports).
pub(crate) fn encode(
    envelope: &Envelope,
    names: &[String],
    spans: &[Span],
    lens: &mut Vec<usize>,
    out: &mut Vec<u8>,
) {
    let names = &Names(names);
    lens.clear();
    lens.extend(spans.iter().map(|s| span_len(names, s)));
    let scope = field_len(envelope.scope_name.len()) + field_len(envelope.scope_version.len());
    let scope_spans = field_len(scope) + lens.iter().map(|l| field_len(*l)).sum::<usize>();
    let resource: usize = envelope
        .resource
        .iter()
        .map(|(k, v)| field_len(key_value_len(names, k, v)))
        .sum();
    let resource_spans = field_len(resource) + field_len(scope_spans);
    out.reserve(field_len(resource_spans));
    // ExportTraceServiceRequest.resource_spans = 1
    put_tag(out, 1, LEN);
    put_varint(out, resource_spans as u64);
    // ResourceSpans.resource = 1 { attributes = 1 }
    put_tag(out, 1, LEN);
    put_varint(out, resource as u64);
    for (k, v) in &envelope.resource {
        put_key_value(out, names, 1, k, v);
    }
    // ResourceSpans.scope_spans = 2 { scope = 1 { name = 1, version = 2 }, spans = 2 }
    put_tag(out, 2, LEN);
    put_varint(out, scope_spans as u64);
    put_tag(out, 1, LEN);
    put_varint(out, scope as u64);
    put_bytes(out, 1, envelope.scope_name.as_bytes());
    put_bytes(out, 2, envelope.scope_version.as_bytes());
    for (s, len) in spans.iter().zip(lens.iter()) {
        put_span(out, names, s, *len);
    }
}
