//! OTLP attribute values → JSON text, written directly (no intermediate `Value` tree).

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use std::fmt::Write;

/// Writes `s` as a JSON string literal, copying unescaped runs whole.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut run_start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run_start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

fn write_value(out: &mut String, value: Option<&AnyValue>) {
    match value.and_then(|v| v.value.as_ref()) {
        None => out.push_str("null"),
        Some(Value::StringValue(s)) => write_str(out, s),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) if d.is_finite() => {
            let _ = write!(out, "{d:?}");
        }
        // JSON has no NaN or infinity; keep the value as text rather than drop it.
        Some(Value::DoubleValue(d)) => write_str(out, &d.to_string()),
        Some(Value::BytesValue(b)) => write_str(out, &hex::encode(b)),
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, Some(v));
            }
            out.push(']');
        }
        Some(Value::KvlistValue(kv)) => write_object(out, &kv.values),
        // Only profiles use string tables; keep the index visible rather than drop it.
        Some(Value::StringValueStrindex(i)) => {
            let _ = write!(out, "{{\"strindex\":{i}}}");
        }
    }
}

fn write_object(out: &mut String, attrs: &[KeyValue]) {
    out.push('{');
    for (i, kv) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, &kv.key);
        out.push(':');
        write_value(out, kv.value.as_ref());
    }
    out.push('}');
}

/// Attributes as one JSON object text, e.g. `{"http.route":"/x","n":3}`.
pub fn attributes_to_json(attrs: &[KeyValue]) -> String {
    let mut out = String::with_capacity(32 * attrs.len() + 2);
    write_object(&mut out, attrs);
    out
}

/// One attribute value as JSON text.
pub fn any_value_to_json(value: &AnyValue) -> String {
    let mut out = String::new();
    write_value(&mut out, Some(value));
    out
}

/// Events as a JSON array, or `None` when there are none.
pub(super) fn events_to_json(events: &[Event]) -> Option<String> {
    if events.is_empty() {
        return None;
    }
    let mut out = String::from("[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        write_str(&mut out, &e.name);
        let _ = write!(
            out,
            ",\"time_unix_nano\":{},\"attributes\":",
            e.time_unix_nano
        );
        write_object(&mut out, &e.attributes);
        out.push('}');
    }
    out.push(']');
    Some(out)
}

/// Links as a JSON array, or `None` when there are none.
pub(super) fn links_to_json(links: &[Link]) -> Option<String> {
    if links.is_empty() {
        return None;
    }
    let mut out = String::from("[");
    for (i, l) in links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"trace_id\":\"{}\",\"span_id\":\"{}\",\"attributes\":",
            hex::encode(&l.trace_id),
            hex::encode(&l.span_id)
        );
        write_object(&mut out, &l.attributes);
        out.push('}');
    }
    out.push(']');
    Some(out)
}
