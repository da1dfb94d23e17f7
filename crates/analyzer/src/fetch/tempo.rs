//! Tempo's query API → OTLP messages. `GET /api/traces/{id}` answers
//! `{"batches": [...]}` and `GET /api/v2/traces/{id}` `{"trace": {"resourceSpans": [...]}}`;
//! both are protobuf JSON, so ids are base64 and enums may be names. Normalized
//! here into the OTLP/JSON the proto types read (hex ids, numeric enums).

use super::{IdProblem, TraceFormatError};
use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{Map, Value};

/// An id as Tempo returns it (base64, or already hex) → hex.
fn hex_id(v: &str, bytes: usize) -> Result<String, TraceFormatError> {
    if v.len() == bytes * 2 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(v.to_ascii_lowercase());
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v)
        .map_err(|_| TraceFormatError::id(v, IdProblem::NotHexNorBase64))?;
    if raw.len() != bytes {
        let problem = IdProblem::Length {
            found: raw.len(),
            expected: bytes,
        };
        return Err(TraceFormatError::id(v, problem));
    }
    Ok(hex::encode(raw))
}

fn enum_number(v: &Value, names: &[&str]) -> Value {
    match v.as_str() {
        Some(s) => Value::from(names.iter().position(|n| *n == s).unwrap_or(0)),
        None => v.clone(),
    }
}

const KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

fn span(s: &mut Map<String, Value>) -> Result<(), TraceFormatError> {
    for (key, bytes) in [("traceId", 16), ("spanId", 8), ("parentSpanId", 8)] {
        if let Some(Value::String(id)) = s.get(key) {
            let id = if id.is_empty() {
                String::new()
            } else {
                hex_id(id, bytes)?
            };
            s.insert(key.into(), Value::String(id));
        }
    }
    if let Some(k) = s.get("kind") {
        s.insert("kind".into(), enum_number(k, &KINDS));
    }
    if let Some(Value::Object(status)) = s.get_mut("status")
        && let Some(c) = status.get("code")
    {
        let c = enum_number(c, &CODES);
        status.insert("code".into(), c);
    }
    Ok(())
}

fn rename(m: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = m.remove(from) {
        m.insert(to.into(), v);
    }
}

/// One Tempo response (v1 or v2) → one OTLP export request.
pub fn to_export(body: &[u8]) -> Result<ExportTraceServiceRequest, TraceFormatError> {
    let mut v: Value = serde_json::from_slice(body).map_err(TraceFormatError::Json)?;
    let resource_spans = match v.get_mut("trace").unwrap_or(&mut Value::Null) {
        Value::Object(t) => t.remove("resourceSpans").or_else(|| t.remove("batches")),
        _ => None,
    }
    .or_else(|| v.get_mut("batches").map(Value::take))
    .or_else(|| v.get_mut("resourceSpans").map(Value::take))
    .ok_or(TraceFormatError::Tempo(
        "not a Tempo trace response (no batches or resourceSpans)",
    ))?;
    let Value::Array(mut batches) = resource_spans else {
        return Err(TraceFormatError::Tempo("batches is not an array"));
    };
    for b in &mut batches {
        let Value::Object(b) = b else { continue };
        rename(b, "instrumentationLibrarySpans", "scopeSpans");
        let Some(Value::Array(scopes)) = b.get_mut("scopeSpans") else {
            continue;
        };
        for sc in scopes {
            let Value::Object(sc) = sc else { continue };
            rename(sc, "instrumentationLibrary", "scope");
            let Some(Value::Array(spans)) = sc.get_mut("spans") else {
                continue;
            };
            for s in spans {
                if let Value::Object(s) = s {
                    span(s)?;
                }
            }
        }
    }
    let request = serde_json::json!({ "resourceSpans": batches });
    serde_json::from_value(request).map_err(TraceFormatError::Otlp)
}
