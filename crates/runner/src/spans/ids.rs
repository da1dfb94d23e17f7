//! Trace and span ids, and their W3C hex forms.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use tracesplit_model::{SpanId, TraceId};

thread_local! {
    /// Ids need to be unique, not unpredictable: a fast generator per thread,
    /// seeded from the operating system's, instead of the cryptographic
    /// thread generator (three of its calls per request were 1 % of the runner's CPU).
    static IDS: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

fn random_u64() -> u64 {
    // Zero is not a valid id: draw again (once in 2^64).
    loop {
        let v = IDS.with(|r| r.borrow_mut().random::<u64>());
        if v != 0 {
            return v;
        }
    }
}

/// A span's place in its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds {
    /// Trace id (never 0).
    pub trace_id: u128,
    /// Span id (never 0).
    pub span_id: u64,
}

impl SpanIds {
    /// A new trace's root span (an iteration's): its id follows from the
    /// trace id ([`iteration_span_id`]), so that the spans written from the
    /// run's records after the run find their parent.
    pub fn root() -> Self {
        let trace_id = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        Self {
            trace_id,
            span_id: iteration_span_id(trace_id),
        }
    }

    /// A new child span in the same trace.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            span_id: random_u64(),
        }
    }
}

/// The id of the iteration span that roots trace `trace_id`: its two
/// halves mixed (the trace id is random, so this is too), never 0.
pub fn iteration_span_id(trace_id: u128) -> u64 {
    let mixed = (trace_id as u64) ^ ((trace_id >> 64) as u64).rotate_left(29);
    if mixed == 0 { 1 } else { mixed }
}

/// 32 lowercase hex digits (W3C trace-id).
pub fn hex_trace_id(id: u128) -> String {
    TraceId(id.to_be_bytes()).to_hex()
}

/// 16 lowercase hex digits (W3C parent-id).
pub fn hex_span_id(id: u64) -> String {
    SpanId(id.to_be_bytes()).to_hex()
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

/// The `traceparent` header of a sampled span: `00-{trace}-{span}-01`.
pub fn traceparent(ids: SpanIds) -> TraceParent {
    let mut v = *b"00-00000000000000000000000000000000-0000000000000000-01";
    // The slices have exactly twice the bytes' length: encoding cannot fail.
    let _ = hex::encode_to_slice(ids.trace_id.to_be_bytes(), &mut v[3..35]);
    let _ = hex::encode_to_slice(ids.span_id.to_be_bytes(), &mut v[36..52]);
    TraceParent(v)
}
