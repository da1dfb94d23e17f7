//! Recording requests: `requests.parquet` (written by its own thread as the
//! run goes) and per-scenario tallies for the live display and the summary.

use crate::row::{Row, StepNames, StepRef};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tracesplit_store::{RequestFileWriter, StoreError};
use tracesplit_telemetry::{DrainQueue, Drainer};

/// Where workers put request rows: a queue the writer thread drains every
/// 50 ms (no wake-up per request).
#[derive(Clone)]
pub struct RecordSink {
    pending: Arc<DrainQueue<Row>>,
    steps: Arc<RwLock<Vec<StepNames>>>,
}

/// Initial capacity of the row queue and its spare (see [`DrainQueue::new`]).
const QUEUE_START: usize = 16 * 1024;

/// How often queued rows are written and the journal flushed.
const WRITE_INTERVAL: Duration = Duration::from_millis(50);

impl Default for RecordSink {
    fn default() -> Self {
        Self {
            // Rows are never dropped: no limit.
            pending: Arc::new(DrainQueue::new(QUEUE_START, usize::MAX)),
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
        self.pending.push([row]);
    }

    /// Writes `rows` and flushes the journal.
    fn write(&self, rows: &mut Vec<Row>, writer: &mut RequestFileWriter) -> Result<(), StoreError> {
        if !rows.is_empty() {
            let steps = self.steps.read().map_err(|_| StoreError::Io {
                path: "requests.parquet".into(),
                source: std::io::Error::other("step names lock poisoned"),
            })?;
            let unknown = StepNames::default();
            for r in rows.drain(..) {
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
    writer: Drainer<Row, Result<u64, StoreError>>,
}

impl Recorder {
    /// Starts writing `path`; queued records and the journal are flushed every 50 ms.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let mut writer = RequestFileWriter::create(path)?;
        let sink = RecordSink::default();
        let s = sink.clone();
        let writer = Drainer::spawn("requests-writer", sink.pending.clone(), move || {
            let mut result = Ok(());
            s.pending.drain_loop(WRITE_INTERVAL, |rows| {
                // After a failure nothing more is written; `finish` reports it.
                if result.is_ok() {
                    result = s.write(rows, &mut writer);
                }
            });
            result?;
            writer.finish()
        })
        .map_err(|e| StoreError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        Ok(Self { sink, writer })
    }

    /// The sink workers push to.
    pub fn sink(&self) -> RecordSink {
        self.sink.clone()
    }

    /// Completes `requests.parquet`; returns the row count.
    pub fn finish(self) -> Result<u64, StoreError> {
        match self.writer.finish() {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(writer_panicked()),
            None => Ok(0),
        }
    }
}

fn writer_panicked() -> StoreError {
    StoreError::Io {
        path: "requests.parquet".into(),
        source: std::io::Error::other("writer thread panicked"),
    }
}

/// A run that ends by an error between `start` and `finish` still gets a
/// complete `requests.parquet` of what was measured (the rows queued are
/// written, the footer too), and no writer thread is left waiting.
impl Drop for Recorder {
    fn drop(&mut self) {
        // After `finish` there is nothing left to do here.
        let error = match self.writer.finish() {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => writer_panicked(),
            Some(Ok(Ok(_))) | None => return,
        };
        // The run's own error is what the caller reports; this one would be
        // lost without a log line (the journal keeps the rows).
        tracing::error!("requests.parquet not completed: {error}");
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
