//! Counting what the exporter did, so "dropped client spans" is a number, not a log line.

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Span export counts of one component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Spans that ended (were handed to the exporter's queue).
    pub ended: u64,
    /// Spans in export requests the endpoint accepted.
    pub exported: u64,
    /// Spans in export requests that failed (endpoint down, refused).
    pub failed: u64,
}

impl ExportCounts {
    /// Spans that never reached the endpoint: failed exports plus queue overflow.
    /// Exact after `Telemetry::shutdown`; before it, spans still queued count too.
    pub fn dropped(&self) -> u64 {
        self.ended.saturating_sub(self.exported)
    }
}

/// Span export counters, shared by whoever ends spans and whoever exports them.
#[derive(Debug, Default)]
pub struct Counters {
    ended: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    /// `n` spans ended (queued for export, or dropped over the queue limit).
    pub fn add_ended(&self, n: u64) {
        self.ended.fetch_add(n, Relaxed);
    }

    /// `n` spans in an export the endpoint accepted.
    pub fn add_exported(&self, n: u64) {
        self.exported.fetch_add(n, Relaxed);
    }

    /// `n` spans in an export that failed.
    pub fn add_failed(&self, n: u64) {
        self.failed.fetch_add(n, Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> ExportCounts {
        ExportCounts {
            ended: self.ended.load(Relaxed),
            exported: self.exported.load(Relaxed),
            failed: self.failed.load(Relaxed),
        }
    }
}

/// Wraps an exporter and counts the spans of successful and failed exports.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    counters: Arc<Counters>,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        let counter = if result.is_ok() {
            &self.counters.exported
        } else {
            &self.counters.failed
        };
        counter.fetch_add(n, Relaxed);
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
