//! Span export counts: ended, exported, failed — so "dropped spans" is a number.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
