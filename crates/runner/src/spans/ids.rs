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

/// A `traceparent` header value, on the stack (one per request: no allocation).
#[derive(Clone, Copy)]
pub struct TraceParent([u8; 55]);

impl TraceParent {
    /// `00-{trace}-{span}-01`.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

fn put_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
}

/// The `traceparent` header of a sampled span: `00-{trace}-{span}-01`.
pub fn traceparent(ids: SpanIds) -> TraceParent {
    let mut v = *b"00-00000000000000000000000000000000-0000000000000000-01";
    put_hex(&mut v[3..35], &ids.trace_id.to_be_bytes());
    put_hex(&mut v[36..52], &ids.span_id.to_be_bytes());
    TraceParent(v)
}
