//! The segment writer thread: buffers accepted spans and writes segments.
//!
//! Rotation protocol: to write a segment the writer swaps the log for a new
//! generation *while holding the log lock* and sends itself a `Rotated`
//! marker through the same channel. Accepting threads also append and send
//! under that lock, so every batch logged in the old generation is ahead of
//! the marker. When the marker arrives the buffer holds exactly that
//! generation's spans: they become segment G and log G is deleted.

use crate::CollectorConfig;
use crate::ingest::{Counters, WalSlot};
use crate::wal::{self, WalFile};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracesplit_model::SpanRecord;
use tracesplit_store::write_span_segment;

pub(crate) enum WriterMsg {
    /// Accepted spans, in log order.
    Batch(Vec<SpanRecord>),
    /// Write a segment now and answer when it is on disk.
    Flush(oneshot::Sender<()>),
    /// Write the last segment, answer, and stop.
    Close(oneshot::Sender<()>),
    /// Marker: every batch of log `generation` has been received.
    Rotated {
        generation: u64,
        reply: Option<oneshot::Sender<()>>,
        last: bool,
    },
}

pub(crate) struct Writer {
    store: PathBuf,
    wal_dir: PathBuf,
    wal: WalSlot,
    tx: mpsc::Sender<WriterMsg>,
    counters: Arc<Counters>,
    flush_interval: Duration,
    segment_spans: usize,
    buffer: Vec<SpanRecord>,
    first_at: Option<Instant>,
    rotation_pending: bool,
}

impl Writer {
    pub(crate) fn new(
        config: &CollectorConfig,
        wal_dir: PathBuf,
        wal: WalSlot,
        tx: mpsc::Sender<WriterMsg>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            store: config.store_dir.clone(),
            wal_dir,
            wal,
            tx,
            counters,
            flush_interval: config.flush_interval,
            segment_spans: config.segment_spans,
            buffer: Vec::new(),
            first_at: None,
            rotation_pending: false,
        }
    }

    /// Swaps the log (or closes it when `last`) and queues the marker.
    fn rotate(&mut self, reply: Option<oneshot::Sender<()>>, last: bool) {
        let Ok(mut slot) = self.wal.lock() else {
            return;
        };
        let Some(old) = slot.take() else {
            // Already closed: answer at once.
            if let Some(r) = reply {
                let _ = r.send(());
            }
            return;
        };
        let generation = old.generation();
        if !last {
            match WalFile::create(&self.wal_dir, generation + 1) {
                Ok(file) => *slot = Some(file),
                Err(e) => {
                    tracing::error!(
                        "cannot start write-ahead log {}: {e}; keeping the old one",
                        generation + 1
                    );
                    *slot = Some(old);
                    self.counters.store_errors.fetch_add(1, Relaxed);
                    if let Some(r) = reply {
                        let _ = r.send(());
                    }
                    return;
                }
            }
        }
        self.rotation_pending = true;
        let _ = self.tx.send(WriterMsg::Rotated {
            generation,
            reply,
            last,
        });
    }

    fn write_segment(&mut self, generation: u64) {
        let spans = std::mem::take(&mut self.buffer);
        self.first_at = None;
        self.rotation_pending = false;
        match write_span_segment(&self.store, generation, &spans) {
            Ok(written) => {
                if written.is_some() {
                    self.counters.segments.fetch_add(1, Relaxed);
                }
                self.counters
                    .stored_spans
                    .fetch_add(spans.len() as u64, Relaxed);
                if let Err(e) = std::fs::remove_file(wal::wal_path(&self.wal_dir, generation)) {
                    tracing::warn!("cannot remove write-ahead log {generation}: {e}");
                }
            }
            Err(e) => {
                // The log stays on disk and is replayed into this segment on the next start.
                tracing::error!(
                    "cannot write span segment {generation}: {e}; its log is kept for replay"
                );
                self.counters.store_errors.fetch_add(1, Relaxed);
            }
        }
        self.counters.buffered.fetch_sub(spans.len(), Relaxed);
    }

    fn wait_time(&self) -> Duration {
        match self.first_at {
            Some(t) if !self.rotation_pending => self.flush_interval.saturating_sub(t.elapsed()),
            _ => Duration::from_secs(3600),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<WriterMsg>) {
        loop {
            match rx.recv_timeout(self.wait_time()) {
                Ok(WriterMsg::Batch(records)) => {
                    self.first_at.get_or_insert_with(Instant::now);
                    self.buffer.extend(records);
                    if self.buffer.len() >= self.segment_spans && !self.rotation_pending {
                        self.rotate(None, false);
                    }
                }
                Ok(WriterMsg::Flush(reply)) => self.rotate(Some(reply), false),
                Ok(WriterMsg::Close(reply)) => self.rotate(Some(reply), true),
                Ok(WriterMsg::Rotated {
                    generation,
                    reply,
                    last,
                }) => {
                    self.write_segment(generation);
                    if let Some(r) = reply {
                        let _ = r.send(());
                    }
                    if last {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !self.buffer.is_empty() && !self.rotation_pending {
                        self.rotate(None, false);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

pub(crate) fn spawn(
    writer: Writer,
    rx: mpsc::Receiver<WriterMsg>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("span-segment-writer".into())
        .spawn(move || writer.run(rx))
}
