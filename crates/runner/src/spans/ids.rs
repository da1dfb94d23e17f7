//! Trace and span ids, and their W3C hex forms.

use rand::Rng;

/// A span's place in its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds {
    /// Trace id (never 0).
    pub trace_id: u128,
    /// Span id (never 0).
    pub span_id: u64,
}

impl SpanIds {
    /// A new trace's root span.
    pub fn root() -> Self {
        let mut rng = rand::rng();
        Self {
            trace_id: rng.random_range(1..=u128::MAX),
            span_id: rng.random_range(1..=u64::MAX),
        }
    }

    /// A new child span in the same trace.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            span_id: rand::rng().random_range(1..=u64::MAX),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// 32 lowercase hex digits (W3C trace-id).
pub fn hex_trace_id(id: u128) -> String {
    let mut s = String::with_capacity(32);
    push_hex(&mut s, &id.to_be_bytes());
    s
}

/// 16 lowercase hex digits (W3C parent-id).
pub fn hex_span_id(id: u64) -> String {
    let mut s = String::with_capacity(16);
    push_hex(&mut s, &id.to_be_bytes());
    s
}

/// The `traceparent` header of a sampled span: `00-{trace}-{span}-01`.
pub fn traceparent(ids: SpanIds) -> String {
    let mut s = String::with_capacity(55);
    s.push_str("00-");
    push_hex(&mut s, &ids.trace_id.to_be_bytes());
    s.push('-');
    push_hex(&mut s, &ids.span_id.to_be_bytes());
    s.push_str("-01");
    s
}
