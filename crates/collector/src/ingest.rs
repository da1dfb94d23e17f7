//! The accept path shared by both transports: reserve buffer space, log, hand over.

use crate::error::StoreFailure;
use crate::payload::{Encoding, decode_export};
use crate::wal::{self, WalFile};
use crate::writer::{self, WriterMsg};
use crate::{CollectorConfig, IngestError, StartError};
use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use tracesplit_model::SpanRecord;
use tracesplit_model::internal::Locked;
use tracesplit_model::otlp::records_from_export;
use tracesplit_store::{list_segments, span_batch, write_span_segment};

/// Counters of a collector since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Spans in exports that were acknowledged.
    pub received_spans: u64,
    /// Spans written to complete segments.
    pub stored_spans: u64,
    /// Spans in exports that were refused (overload, bad ids); unknown for undecodable bodies.
    pub rejected_spans: u64,
    /// Export requests acknowledged.
    pub accepted_exports: u64,
    /// Export requests refused for any reason.
    pub rejected_exports: u64,
    /// Segments written.
    pub segments: u64,
    /// Segment writes that failed (their log stays on disk for the next start).
    pub store_errors: u64,
    /// Spans acknowledged and not yet in a segment.
    pub buffered_spans: u64,
}

/// Shared counters (the writer thread updates some of them).
#[derive(Default)]
pub(crate) struct Counters {
    pub received_spans: AtomicU64,
    pub stored_spans: AtomicU64,
    pub rejected_spans: AtomicU64,
    pub accepted_exports: AtomicU64,
    pub rejected_exports: AtomicU64,
    pub segments: AtomicU64,
    pub store_errors: AtomicU64,
    pub buffered: AtomicUsize,
}

/// How long an in-process payload waits for room in a full buffer.
const WAIT_FOR_ROOM: std::time::Duration = std::time::Duration::from_secs(60);

/// The log currently appended to; `None` once closed.
pub(crate) type WalSlot = Arc<Mutex<Option<WalFile>>>;

pub(crate) struct Ingest {
    wal: WalSlot,
    tx: Mutex<mpsc::Sender<WriterMsg>>,
    counters: Arc<Counters>,
    max_buffered: usize,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    server_parents: Option<Mutex<HashSet<tracesplit_model::SpanId>>>,
}

/// Whether the span `parent` (hex) has a SERVER child in `set`.
fn has_child(set: &HashSet<tracesplit_model::SpanId>, parent: &str) -> bool {
    tracesplit_model::SpanId::from_hex(parent).is_ok_and(|p| set.contains(&p))
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> StartError {
    StartError::Store {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Replays logs left by a previous process into segments; returns (spans replayed, next generation).
fn replay(store: &Path, wal_dir: &Path) -> Result<(u64, u64), StartError> {
    let segments = list_segments(store).map_err(|e| store_err(store, e))?;
    let done: BTreeSet<u64> = segments.iter().map(|(g, _)| *g).collect();
    let wals = wal::list_wals(wal_dir).map_err(|e| store_err(wal_dir, e))?;
    let mut next = done
        .iter()
        .chain(wals.iter().map(|(g, _)| g))
        .max()
        .map_or(1, |g| g + 1);
    let mut replayed = 0u64;
    for (generation, path) in wals {
        if !done.contains(&generation) {
            let (frames, _torn) = wal::read_frames(&path).map_err(|e| store_err(&path, e))?;
            let mut records: Vec<SpanRecord> = Vec::new();
            for (encoding, payload) in frames {
                records
                    .extend(decode_records(&payload, encoding).map_err(|e| store_err(&path, e))?);
            }
            replayed += records.len() as u64;
            write_span_segment(store, generation, &records).map_err(|e| store_err(store, e))?;
        }
        fs::remove_file(&path).map_err(|e| store_err(&path, e))?;
        next = next.max(generation + 1);
    }
    Ok((replayed, next))
}

/// Decodes and validates one payload into records.
pub(crate) fn decode_records(
    payload: &[u8],
    encoding: Encoding,
) -> Result<Vec<SpanRecord>, IngestError> {
    let request = decode_export(payload, encoding)?;
    records_from_export(request).map_err(|e| IngestError::InvalidArgument(e.to_string()))
}

impl Ingest {
    pub(crate) fn open(config: &CollectorConfig) -> Result<(Self, u64), StartError> {
        let store = config.store_dir.clone();
        let wal_dir: PathBuf = store.join("wal");
        fs::create_dir_all(&wal_dir).map_err(|e| store_err(&wal_dir, e))?;
        let (replayed, next) = replay(&store, &wal_dir)?;
        let file = WalFile::create(&wal_dir, next).map_err(|e| store_err(&wal_dir, e))?;
        let wal: WalSlot = Arc::new(Mutex::new(Some(file)));
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::channel();
        let thread = writer::spawn(
            writer::Writer::new(
                config,
                wal_dir,
                wal.clone(),
                next,
                tx.clone(),
                counters.clone(),
            ),
            rx,
        )
        .map_err(|e| store_err(&store, e))?;
        let ingest = Self {
            wal,
            tx: Mutex::new(tx),
            counters,
            max_buffered: config.max_buffered_spans,
            writer: Mutex::new(Some(thread)),
            server_parents: config
                .track_server_parents
                .then(|| Mutex::new(HashSet::new())),
        };
        Ok((ingest, replayed))
    }

    /// Records a refused export.
    pub(crate) fn reject(&self, spans: usize) {
        self.counters.rejected_exports.fetch_add(1, Relaxed);
        self.counters
            .rejected_spans
            .fetch_add(spans as u64, Relaxed);
    }

    /// Accepts decoded records: reserves buffer space, appends the payload to
    /// the log, hands the records to the writer. Only then may the caller answer success.
    pub(crate) fn accept(
        &self,
        encoding: Encoding,
        payload: &[u8],
        records: Vec<SpanRecord>,
    ) -> Result<(), IngestError> {
        let n = records.len();
        let result = self.try_accept(encoding, payload, records);
        self.count(&result, n);
        result
    }

    /// Counts an export of `n` spans as accepted or refused.
    fn count(&self, result: &Result<(), IngestError>, n: usize) {
        match result {
            Ok(()) => {
                self.counters.accepted_exports.fetch_add(1, Relaxed);
                self.counters.received_spans.fetch_add(n as u64, Relaxed);
            }
            Err(_) => self.reject(n),
        }
    }

    /// Accepts an OTLP protobuf payload from this process, waiting while the
    /// buffer is full (the writer drains it) instead of refusing it.
    pub(crate) fn accept_waiting(&self, payload: &[u8]) -> Result<(), IngestError> {
        let started = std::time::Instant::now();
        loop {
            let records = decode_records(payload, Encoding::Protobuf)?;
            let n = records.len();
            // Room first: a refusal would count as a rejected export.
            while self.counters.buffered.load(Relaxed) + n > self.max_buffered
                && n <= self.max_buffered
                && started.elapsed() < WAIT_FOR_ROOM
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            match self.try_accept(Encoding::Protobuf, payload, records) {
                // Another export took the room meanwhile: wait again.
                Err(IngestError::Overloaded { .. }) if started.elapsed() < WAIT_FOR_ROOM => {}
                result => {
                    self.count(&result, n);
                    return result;
                }
            }
        }
    }

    fn try_accept(
        &self,
        encoding: Encoding,
        payload: &[u8],
        records: Vec<SpanRecord>,
    ) -> Result<(), IngestError> {
        let n = records.len();
        if n == 0 {
            return Ok(());
        }
        if n > self.max_buffered {
            return Err(IngestError::BatchTooLarge {
                spans: n,
                limit: self.max_buffered,
            });
        }
        let before = self.counters.buffered.fetch_add(n, Relaxed);
        if before + n > self.max_buffered {
            self.counters.buffered.fetch_sub(n, Relaxed);
            return Err(IngestError::Overloaded { buffered: before });
        }
        let release = |e: IngestError| {
            self.counters.buffered.fetch_sub(n, Relaxed);
            e
        };
        self.note_server_parents(&records);
        // Columns are built here, on the accepting thread, so the single writer
        // thread only encodes: the expensive part scales with the workers.
        let batch = span_batch(&records)
            .map_err(|e| release(IngestError::Store(StoreFailure::Columns(e.into()))))?;
        drop(records);
        // The log lock is held across append and send so that the writer sees
        // batches in log order; rotation markers rely on it.
        let mut slot = self.wal.locked();
        let Some(wal) = slot.as_mut() else {
            return Err(release(IngestError::ShuttingDown));
        };
        wal.append(encoding, payload)
            .map_err(|e| release(IngestError::Store(StoreFailure::Log(e.into()))))?;
        let tx = self.tx.locked();
        tx.send(WriterMsg::Batch(batch))
            .map_err(|_| release(IngestError::Store(StoreFailure::WriterStopped)))
    }

    fn note_server_parents(&self, records: &[SpanRecord]) {
        let Some(set) = &self.server_parents else {
            return;
        };
        let mut set = set.locked();
        for r in records
            .iter()
            .filter(|r| r.kind == tracesplit_model::SpanKind::Server)
        {
            if let Some(p) = r.parent_span_id {
                set.insert(p);
            }
        }
    }

    /// How many of `parents` (hex, as `requests.parquet` keeps them) have no
    /// SERVER child span yet (`None` when not tracking); one that is no id has none.
    pub(crate) fn missing_server_children(&self, parents: &[String]) -> Option<usize> {
        let set = self.server_parents.as_ref()?.locked();
        Some(parents.iter().filter(|p| !has_child(&set, p)).count())
    }

    pub(crate) fn without_server_children(&self, mut parents: Vec<String>) -> Option<Vec<String>> {
        let set = self.server_parents.as_ref()?.locked();
        parents.retain(|p| !has_child(&set, p));
        Some(parents)
    }

    pub(crate) fn stats(&self) -> CollectorStats {
        let c = &self.counters;
        CollectorStats {
            received_spans: c.received_spans.load(Relaxed),
            stored_spans: c.stored_spans.load(Relaxed),
            rejected_spans: c.rejected_spans.load(Relaxed),
            accepted_exports: c.accepted_exports.load(Relaxed),
            rejected_exports: c.rejected_exports.load(Relaxed),
            segments: c.segments.load(Relaxed),
            store_errors: c.store_errors.load(Relaxed),
            buffered_spans: c.buffered.load(Relaxed) as u64,
        }
    }

    async fn request(
        &self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<()>) -> WriterMsg,
    ) -> Result<(), IngestError> {
        let (reply, done) = tokio::sync::oneshot::channel();
        {
            let tx = self.tx.locked();
            tx.send(make(reply))
                .map_err(|_| IngestError::Store(StoreFailure::WriterStopped))?;
        }
        done.await
            .map_err(|_| IngestError::Store(StoreFailure::WriterStopped))
    }

    /// Writes buffered spans as a segment and waits for it.
    pub(crate) async fn flush(&self) -> Result<(), IngestError> {
        self.request(WriterMsg::Flush).await
    }

    /// Writes the last segment, removes the log and stops the writer thread.
    pub(crate) async fn close(&self) -> Result<(), IngestError> {
        let thread = self.writer.locked().take();
        let Some(thread) = thread else { return Ok(()) };
        self.request(WriterMsg::Close).await?;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| IngestError::Store(StoreFailure::Join(e.into())))?
            .map_err(|_| {
                tracesplit_model::internal::report("the segment writer thread panicked");
                IngestError::Store(StoreFailure::WriterPanicked)
            })
    }
}

#[cfg(test)]
mod tests;
