//! The runner's own spans: an iteration span per iteration and a CLIENT span
//! per request, exported over OTLP/HTTP (protobuf).
//!
//! Why not `tracing` + `tracing-opentelemetry` + the SDK here: on the
//! measured path they cost about 10 µs of CPU per request (span registry,
//! span builder, SDK span data, conversion to OTLP), on the same cores as the
//! API under test; the runner then reached half of oha's throughput. A span
//! here is built from what the request already has (ids, clock readings,
//! route) and encoded straight into the OTLP wire format by the export
//! thread. The wire format and attributes are the same; the reference
//! catalog keeps the SDK (`tracesplit-telemetry`).

mod export;
mod from_records;
mod grpc;
mod ids;
mod otlp;
#[cfg(test)]
mod tests;

pub use export::{
    ExportConfig, ExportProtocol, ExportRetry, RUNNER, SpanExportError, gzip_from_env,
};
pub use from_records::{OwnSpansError, store_from_requests};
pub use ids::{SpanIds, TraceParent, hex_span_id, hex_trace_id, iteration_span_id, traceparent};
pub use tracesplit_export::ExportCounts;

use std::sync::{Arc, Mutex, RwLock};
use tracesplit_export::{Counters, DrainQueue, Drainer};
use tracesplit_model::internal::{Locked, RwLocked};

/// OTLP span kinds used by the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An iteration (`SPAN_KIND_INTERNAL`).
    Internal = 1,
    /// An HTTP request (`SPAN_KIND_CLIENT`).
    Client = 3,
}

/// A string registered once with [`ClientSpans::name`] (span names, routes,
/// methods): spans refer to it by number. A shared `Arc<str>` would have its
/// reference count bounced between cores on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name(u32);

/// A span's attributes: up to five are kept inline (a request's span has
/// five at most), so ending a span allocates nothing for them.
pub type Attributes = smallvec::SmallVec<[(&'static str, Value); 5]>;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A registered string.
    Name(Name),
    /// A string shared with the request's row (`url.full`): one allocation for both.
    Shared(Arc<str>),
    /// A string of this span only.
    Owned(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// One ended span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Trace id.
    pub trace_id: u128,
    /// Span id.
    pub span_id: u64,
    /// Parent span id (0 = root).
    pub parent_span_id: u64,
    /// Span name.
    pub name: Name,
    /// Span kind.
    pub kind: Kind,
    /// Start, ns since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, ns since the Unix epoch.
    pub end_unix_nano: u64,
    /// Attributes, by OpenTelemetry semantic-convention name.
    pub attributes: Attributes,
    /// Status ERROR (a failed request or a 4xx/5xx answer).
    pub error: bool,
}

/// Initial capacity of the span queue and of its spare (see [`DrainQueue::new`]).
const QUEUE_START: usize = 16 * 1024;

/// What workers and the export thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    queue: Arc<DrainQueue<Span>>,
    counters: Counters,
    /// The last export failure, for the run's notes.
    last_error: Mutex<Option<String>>,
    /// Registered strings, by [`Name`].
    names: RwLock<Vec<String>>,
}

/// Where the runner's spans go: a queue drained by the export thread.
#[derive(Clone, Debug)]
pub struct ClientSpans {
    shared: Arc<Shared>,
    /// The export thread; stopped after a last export by `shutdown`, or when
    /// the last handle goes on the paths that never call it (a run that
    /// failed half-way). `None`: spans are not exported while the run
    /// measures (they are written from its records afterwards).
    thread: Option<Arc<Drainer<Span, ()>>>,
}

impl Shared {
    /// Keeps `error` as the last export failure.
    fn note_error(&self, error: String) {
        *self.last_error.locked() = Some(error);
    }
}

impl ClientSpans {
    /// Starts the export thread.
    pub fn start(config: ExportConfig) -> Result<Self, SpanExportError> {
        let target = export::Target::new(&config)?;
        let queue = Arc::new(DrainQueue::new(QUEUE_START, config.max_queue));
        let shared = Arc::new(Shared {
            queue: queue.clone(),
            counters: Counters::default(),
            last_error: Mutex::new(None),
            names: RwLock::new(Vec::new()),
        });
        let s = shared.clone();
        let interval = config.interval;
        let thread = Drainer::spawn("span-export", queue, move || {
            export::run(&s, &target, interval)
        })
        .map_err(|e| SpanExportError::Thread(e.to_string()))?;
        Ok(Self {
            shared,
            thread: Some(Arc::new(thread)),
        })
    }

    /// Names only: ended spans are dropped uncounted, nothing is exported
    /// (the run's own spans are written from its records after the run).
    pub fn off() -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Arc::new(DrainQueue::new(0, 0)),
                counters: Counters::default(),
                last_error: Mutex::new(None),
                names: RwLock::new(Vec::new()),
            }),
            thread: None,
        }
    }

    /// Whether ended spans are exported (else building them is wasted work).
    pub fn on(&self) -> bool {
        self.thread.is_some()
    }

    /// Registers `text` (once; the same text gives the same name).
    pub fn name(&self, text: &str) -> Name {
        let mut names = self.shared.names.writing();
        let index = match names.iter().position(|n| n == text) {
            Some(i) => i,
            None => {
                names.push(text.to_owned());
                names.len() - 1
            }
        };
        Name(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// Queues an ended span; over the queue limit it is dropped (and counted).
    pub fn end(&self, span: Span) {
        self.end_all([span]);
    }

    /// Queues ended spans under one lock (an iteration ends its last client
    /// span and itself together).
    pub fn end_all<const N: usize>(&self, spans: [Span; N]) {
        if self.thread.is_none() {
            return;
        }
        self.shared.counters.add_ended(N as u64);
        // Dropped spans need no count of their own: ended − exported shows them.
        self.shared.queue.push(spans);
    }

    /// Spans ended / exported / failed so far.
    pub fn counts(&self) -> ExportCounts {
        self.shared.counters.snapshot()
    }

    /// The last export failure (endpoint and what happened), if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.locked().clone()
    }

    /// Exports what is queued, stops the export thread and returns the final counts (blocking).
    pub fn shutdown(&self) -> ExportCounts {
        // A panicked export thread: the counts show what it did not export.
        if let Some(thread) = &self.thread {
            let _ = thread.finish();
        }
        self.counts()
    }
}
