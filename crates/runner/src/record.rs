//! Recording requests: `requests.parquet` (written by its own thread as the
//! run goes) and per-scenario tallies for the live display and the summary.

use crate::row::{Row, StepNames, StepRef};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tracesplit_store::{RequestFileWriter, StoreError};

/// Where workers put request rows: a shared vector the writer thread swaps
/// out every 50 ms (no wake-up per request).
#[derive(Clone)]
pub struct RecordSink {
    pending: Arc<Mutex<Vec<Row>>>,
    steps: Arc<RwLock<Vec<StepNames>>>,
}

/// Initial capacity of the row queue and its spare (as the span queue's:
/// growing by doubling copies and page-faults a large vector each time).
const QUEUE_START: usize = 16 * 1024;

impl Default for RecordSink {
    fn default() -> Self {
        Self {
            pending: Arc::new(Mutex::new(Vec::with_capacity(QUEUE_START))),
            steps: Arc::default(),
        }
    }
}

impl RecordSink {
    /// Registers the strings of a step's rows.
    pub fn register(&self, names: StepNames) -> StepRef {
        let Ok(mut steps) = self.steps.write() else {
            return StepRef(u32::MAX);
        };
        steps.push(names);
        StepRef(u32::try_from(steps.len() - 1).unwrap_or(u32::MAX))
    }

    /// Queues one row for `requests.parquet`.
    pub fn push(&self, row: Row) {
        if let Ok(mut p) = self.pending.lock() {
            p.push(row);
        }
    }

    /// Swaps the queued rows into `spare` (emptied, capacity kept: a fresh
    /// vector would be regrown under the lock by the workers).
    fn take_into(&self, spare: &mut Vec<Row>) {
        spare.clear();
        if let Ok(mut p) = self.pending.lock() {
            std::mem::swap(&mut *p, spare);
        }
    }

    /// Writes the queued rows and flushes the journal.
    fn drain(
        &self,
        spare: &mut Vec<Row>,
        writer: &mut RequestFileWriter,
    ) -> Result<(), StoreError> {
        self.take_into(spare);
        if !spare.is_empty() {
            let steps = self.steps.read().map_err(|_| StoreError::Io {
                path: "requests.parquet".into(),
                source: std::io::Error::other("step names lock poisoned"),
            })?;
            let unknown = StepNames::default();
            for r in spare.drain(..) {
                let names = steps.get(r.step.0 as usize).unwrap_or(&unknown);
                writer.append(r.into_record(names))?;
            }
        }
        writer.flush_journal()
    }
}

/// Feeds `requests.parquet` from any number of workers.
pub struct Recorder {
    sink: RecordSink,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<u64, StoreError>>>,
}

impl Recorder {
    /// Starts writing `path`; queued records and the journal are flushed every 50 ms.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let mut writer = RequestFileWriter::create(path)?;
        let sink = RecordSink::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (sink.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("requests-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(QUEUE_START);
                loop {
                    let done = st.load(Ordering::Acquire);
                    s.drain(&mut batch, &mut writer)?;
                    if done {
                        return writer.finish();
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .map_err(|e| StoreError::Io {
                path: path.to_owned(),
                source: e,
            })?;
        Ok(Self {
            sink,
            stop,
            thread: Some(thread),
        })
    }

    /// The sink workers push to.
    pub fn sink(&self) -> RecordSink {
        self.sink.clone()
    }

    /// Completes `requests.parquet`; returns the row count.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(StoreError::Io {
                path: "requests.parquet".into(),
                source: std::io::Error::other("writer thread panicked"),
            }),
            None => Ok(0),
        }
    }
}

/// Everything counted for one scenario.
#[derive(Default)]
pub struct Tally {
    inner: Mutex<TallyInner>,
}

#[derive(Default)]
struct TallyInner {
    durations_ns: Vec<i64>,
    corrected_ns: Vec<i64>,
    /// By numeric status: no string per request (the snapshot names them).
    status_counts: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    failed: u64,
    live: Option<Histogram<u64>>,
    /// Client span ids of requests that got an answer (here, not in a run-wide
    /// list: one lock per request instead of two).
    responded: Vec<u64>,
}

/// A finished tally.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TallySnapshot {
    /// Client latencies of requests with an expected status.
    pub durations_ns: Vec<i64>,
    /// The same, measured from the intended start (open model).
    pub corrected_ns: Vec<i64>,
    /// Responses per status (`"0"` = none).
    pub status_counts: BTreeMap<String, u64>,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Requests that failed.
    pub failed: u64,
    /// Client span ids of the requests that got an answer (for the span wait).
    pub responded: Vec<u64>,
}

impl Tally {
    /// Counts one request.
    pub fn add(&self, r: &Row) {
        let Ok(mut t) = self.inner.lock() else { return };
        *t.status_counts.entry(r.status).or_default() += 1;
        if r.status != 0 {
            t.responded.push(r.span_id);
        }
        if r.expected {
            t.durations_ns.push(r.duration_ns);
            t.corrected_ns.push(r.corrected_duration_ns());
            if t.live.is_none() {
                // Microseconds from 1 µs to one hour, 3 significant digits.
                t.live = Histogram::new_with_bounds(1, 3_600_000_000, 3).ok();
            }
            if let Some(live) = t.live.as_mut() {
                let _ = live.record((r.duration_ns / 1000).max(1) as u64);
            }
        } else {
            t.failed += 1;
            let kind = match &r.error {
                Some(e) => e.clone(),
                None => format!("status {}", r.status),
            };
            *t.errors.entry(kind).or_default() += 1;
        }
    }

    /// `p50 x ms p95 y ms` of what was measured so far.
    pub fn live_line(&self) -> Option<String> {
        let t = self.inner.lock().ok()?;
        let h = t.live.as_ref()?;
        Some(format!(
            "p50 {:.1} ms  p95 {:.1} ms  failed {}",
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.95) as f64 / 1000.0,
            t.failed
        ))
    }

    /// Everything counted.
    pub fn snapshot(&self) -> TallySnapshot {
        let Ok(t) = self.inner.lock() else {
            return TallySnapshot::default();
        };
        TallySnapshot {
            durations_ns: t.durations_ns.clone(),
            corrected_ns: t.corrected_ns.clone(),
            status_counts: t
                .status_counts
                .iter()
                .map(|(status, n)| (status.to_string(), *n))
                .collect(),
            errors: t.errors.clone(),
            failed: t.failed,
            responded: t.responded.clone(),
        }
    }
}
