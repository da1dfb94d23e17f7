//! The segment writer thread: encodes accepted spans into the open segment
//! as they arrive (memory holds one Parquet row group, not the segment) and
//! completes the segment at each rotation.
//!
//! Rotation protocol: to write a segment the writer swaps the log for a new
//! generation *while holding the log lock* and sends itself a `Rotated`
//! marker through the same channel. Accepting threads also append and send
//! under that lock, so every batch logged in the old generation is ahead of
//! the marker. When the marker arrives the open segment holds exactly that
//! generation's spans: segment G is renamed into place and log G deleted.

use crate::CollectorConfig;
use crate::ingest::{Counters, WalSlot};
use crate::wal::{self, WalFile};
use arrow_array::RecordBatch;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracesplit_model::internal::Locked;
use tracesplit_store::SpanSegmentWriter;

pub(crate) enum WriterMsg {
    /// Accepted spans as columns, in log order.
    Batch(RecordBatch),
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
    /// Generation whose batches are arriving now.
    generation: u64,
    /// The open segment of `generation` (opened at its first batch).
    segment: Option<SpanSegmentWriter>,
    /// A write to this generation's segment failed: its log is kept for replay.
    failed: bool,
    first_at: Option<Instant>,
    rotation_pending: bool,
}

impl Writer {
    pub(crate) fn new(
        config: &CollectorConfig,
        wal_dir: PathBuf,
        wal: WalSlot,
        generation: u64,
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
            generation,
            segment: None,
            failed: false,
            first_at: None,
            rotation_pending: false,
        }
    }

    /// Swaps the log (or closes it when `last`) and queues the marker.
    fn rotate(&mut self, reply: Option<oneshot::Sender<()>>, last: bool) {
        let mut slot = self.wal.locked();
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

    fn store_error(&mut self, what: &str, e: impl std::fmt::Display) {
        tracing::error!(
            "span segment {}: {what}: {e}; its write-ahead log is kept for replay",
            self.generation
        );
        self.counters.store_errors.fetch_add(1, Relaxed);
        self.failed = true;
        self.segment = None;
    }

    /// Encodes one accepted batch into the open segment.
    fn append(&mut self, batch: RecordBatch) {
        self.first_at.get_or_insert_with(Instant::now);
        if !self.failed && self.segment.is_none() {
            match SpanSegmentWriter::create(&self.store, self.generation) {
                Ok(w) => self.segment = Some(w),
                Err(e) => self.store_error("cannot create", e),
            }
        }
        if let Some(segment) = self.segment.as_mut()
            && let Err(e) = segment.write_batch(&batch)
        {
            self.store_error("cannot write", e);
        }
        // The spans are encoded (or, on failure, safe in the log): their buffer space is free.
        self.counters.buffered.fetch_sub(batch.num_rows(), Relaxed);
    }

    fn pending_rows(&self) -> u64 {
        self.segment.as_ref().map_or(0, SpanSegmentWriter::rows)
    }

    /// Completes segment `generation` and removes its log.
    fn complete(&mut self, generation: u64) {
        debug_assert_eq!(generation, self.generation);
        self.first_at = None;
        self.rotation_pending = false;
        let rows = self.pending_rows();
        let finished = match self.segment.take() {
            Some(segment) => segment.finish().map(|p| p.is_some()),
            None => Ok(false),
        };
        match finished {
            Ok(written) if !self.failed => {
                self.counters
                    .segments
                    .fetch_add(u64::from(written), Relaxed);
                self.counters.stored_spans.fetch_add(rows, Relaxed);
                if let Err(e) = std::fs::remove_file(wal::wal_path(&self.wal_dir, generation)) {
                    tracing::warn!("cannot remove write-ahead log {generation}: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => self.store_error("cannot complete", e),
        }
        self.failed = false;
        self.generation = generation + 1;
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
                Ok(WriterMsg::Batch(batch)) => {
                    self.append(batch);
                    if self.pending_rows() >= self.segment_spans as u64 && !self.rotation_pending {
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
                    self.complete(generation);
                    if let Some(r) = reply {
                        let _ = r.send(());
                    }
                    if last {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.first_at.is_some() && !self.rotation_pending {
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
