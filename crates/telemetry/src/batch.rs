//! A batch span processor that never wakes a thread per span.
//!
//! The SDK's batch processor hands every ended span to its export thread
//! through a channel, which costs a futex wake-up per span — at tens of
//! thousands of requests per second that is most of the runner's overhead.
//! Here ended spans go onto a [`DrainQueue`] that the export thread drains on
//! its interval (or on flush/shutdown) in batches. It also counts ended
//! spans: a second processor for that would make the SDK clone every span's data.

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracesplit_export::{Counters, DrainQueue, Drainer};
use tracesplit_model::internal::Locked;

/// How long an ended span may wait for room before it is dropped (and counted).
const BACKPRESSURE_WAIT: Duration = Duration::from_secs(30);

/// How long a flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Shared<E> {
    queue: Arc<DrainQueue<SpanData>>,
    exporter: Mutex<E>,
    batch: usize,
    interval: Duration,
}

/// Polling batch processor; see the module documentation.
#[derive(Debug)]
pub(crate) struct PollingBatchProcessor<E> {
    shared: Arc<Shared<E>>,
    counters: Arc<Counters>,
    /// `None` when the thread could not be started: spans then stay queued
    /// (up to the limit) and the counts show them as not exported.
    drainer: Option<Drainer<SpanData, ()>>,
}

impl<E: SpanExporter + 'static> PollingBatchProcessor<E> {
    pub(crate) fn new(
        exporter: E,
        counters: Arc<Counters>,
        max_queue: usize,
        batch: usize,
        interval: Duration,
    ) -> Self {
        // Back-pressure: a span that does not fit waits for the export thread
        // (the handler ending it slows down) rather than vanishing — a run
        // against the reference catalog must not lose the spans it splits.
        let queue = Arc::new(DrainQueue::new(0, max_queue).with_backpressure(BACKPRESSURE_WAIT));
        let shared = Arc::new(Shared {
            queue: queue.clone(),
            exporter: Mutex::new(exporter),
            batch: batch.max(1),
            interval,
        });
        let s = shared.clone();
        let drainer = Drainer::spawn("span-export", queue, move || export_loop(&s)).ok();
        Self {
            shared,
            counters,
            drainer,
        }
    }
}

fn export_loop<E: SpanExporter>(s: &Shared<E>) {
    // The OTLP/HTTP exporter's hyper client needs a Tokio reactor: this thread
    // has its own small one, driven only while an export runs.
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    s.queue.drain_loop(s.interval, |spans| {
        let exporter = s.exporter.locked();
        let mut spans = spans.drain(..).peekable();
        while spans.peek().is_some() {
            let chunk: Vec<SpanData> = spans.by_ref().take(s.batch).collect();
            // Failures are counted by the exporter wrapper; nothing more to do here.
            let _ = rt.block_on(exporter.export(chunk));
        }
    });
}

impl<E: SpanExporter + 'static> SpanProcessor for PollingBatchProcessor<E> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.counters.add_ended(1);
        // Over the limit the span is dropped; the counts show it (ended − exported).
        self.shared.queue.push([span]);
    }

    fn force_flush(&self) -> OTelSdkResult {
        if self.shared.queue.flush(FLUSH_TIMEOUT) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(FLUSH_TIMEOUT))
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if let Some(drainer) = &self.drainer {
            // A panicked export thread leaves nothing more to export.
            let _ = drainer.finish();
        }
        self.shared.exporter.locked().shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.shared.exporter.locked().set_resource(resource);
    }
}
