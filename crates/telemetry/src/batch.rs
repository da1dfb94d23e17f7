//! A batch span processor that never wakes a thread per span.
//!
//! The SDK's batch processor hands every ended span to its export thread
//! through a channel, which costs a futex wake-up per span — at tens of
//! thousands of requests per second that is most of the runner's overhead.
//! Here ended spans are pushed onto a mutex-protected vector; the export
//! thread wakes on its interval (or on flush/shutdown), swaps the vector out
//! and exports it in batches. It also counts ended spans: a second
//! processor for that would make the SDK clone every span's data.

use crate::counting::Counters;
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Control {
    flush_requested: u64,
    flush_done: u64,
    shutdown: bool,
}

#[derive(Debug)]
struct Shared<E> {
    queue: Mutex<Vec<SpanData>>,
    control: Mutex<Control>,
    wake: Condvar,
    exporter: Mutex<E>,
    max_queue: usize,
    batch: usize,
    interval: Duration,
}

/// Polling batch processor; see the module documentation.
#[derive(Debug)]
pub(crate) struct PollingBatchProcessor<E> {
    shared: Arc<Shared<E>>,
    counters: Arc<Counters>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<E: SpanExporter + 'static> PollingBatchProcessor<E> {
    pub(crate) fn new(
        exporter: E,
        counters: Arc<Counters>,
        max_queue: usize,
        batch: usize,
        interval: Duration,
    ) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Vec::new()),
            control: Mutex::new(Control::default()),
            wake: Condvar::new(),
            exporter: Mutex::new(exporter),
            max_queue,
            batch: batch.max(1),
            interval,
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("span-export".into())
            .spawn(move || export_loop(&s))
            .ok();
        Self {
            shared,
            counters,
            thread: Mutex::new(thread),
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
    let mut spare = Vec::new();
    loop {
        let Ok(control) = s.control.lock() else {
            return;
        };
        let Ok((control, _)) = s.wake.wait_timeout_while(control, s.interval, |c| {
            c.flush_requested == c.flush_done && !c.shutdown
        }) else {
            return;
        };
        let (target, shutdown) = (control.flush_requested, control.shutdown);
        drop(control);
        // Swap with a spare vector that keeps its capacity: a fresh one would
        // be regrown (copied, page-faulted) by `on_end` under the queue lock.
        if let Ok(mut q) = s.queue.lock() {
            std::mem::swap(&mut *q, &mut spare);
        }
        if let Ok(exporter) = s.exporter.lock() {
            let mut spans = spare.drain(..).peekable();
            while spans.peek().is_some() {
                let chunk: Vec<SpanData> = spans.by_ref().take(s.batch).collect();
                // Failures are counted by the exporter wrapper; nothing more to do here.
                let _ = rt.block_on(exporter.export(chunk));
            }
        }
        spare.clear();
        if let Ok(mut c) = s.control.lock() {
            c.flush_done = c.flush_done.max(target);
        }
        s.wake.notify_all();
        if shutdown {
            return;
        }
    }
}

impl<E: SpanExporter + 'static> SpanProcessor for PollingBatchProcessor<E> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.counters.ended.fetch_add(1, Relaxed);
        if let Ok(mut q) = self.shared.queue.lock()
            && q.len() < self.shared.max_queue
        {
            q.push(span);
        }
        // Over the limit the span is dropped; the counts show it (ended − exported).
    }

    fn force_flush(&self) -> OTelSdkResult {
        let s = &self.shared;
        let mut c = s
            .control
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("lock poisoned".into()))?;
        c.flush_requested += 1;
        let mine = c.flush_requested;
        s.wake.notify_all();
        let (c, timeout) = s
            .wake
            .wait_timeout_while(c, Duration::from_secs(60), |c| {
                c.flush_done < mine && !c.shutdown
            })
            .map_err(|_| OTelSdkError::InternalFailure("lock poisoned".into()))?;
        drop(c);
        if timeout.timed_out() {
            Err(OTelSdkError::Timeout(Duration::from_secs(60)))
        } else {
            Ok(())
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if let Ok(mut c) = self.shared.control.lock() {
            c.shutdown = true;
            c.flush_requested += 1;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        match self.shared.exporter.lock() {
            Ok(e) => e.shutdown_with_timeout(timeout),
            Err(_) => Err(OTelSdkError::InternalFailure("lock poisoned".into())),
        }
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Ok(mut e) = self.shared.exporter.lock() {
            e.set_resource(resource);
        }
    }
}
