//! Recording requests: `requests.parquet` (written by its own thread as the
//! run goes) and per-scenario tallies for the live display.

use crate::row::{Row, StepNames, StepRef};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tracesplit_export::{DrainQueue, Drainer};
use tracesplit_model::internal::{Locked, RwLocked};
use tracesplit_store::{RequestFileWriter, StoreError};

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
    pub fn register(&self, names: StepNames) -> Result<StepRef, StoreError> {
        let mut steps = self.steps.writing();
        steps.push(names);
        u32::try_from(steps.len() - 1)
            .map(StepRef)
            .map_err(|_| StoreError::Io {
                path: "requests.parquet".into(),
                source: std::io::Error::other("more than 2^32 steps"),
            })
    }

    /// Poisons the step names' lock, as a thread panicking while holding it would.
    #[cfg(test)]
    pub(crate) fn poison_for_test(&self) {
        let steps = self.steps.clone();
        let _ = std::thread::spawn(move || {
            let _guard = steps.write();
            std::panic::panic_any("poisoning the lock");
        })
        .join();
    }

    /// Queues one row for `requests.parquet`.
    pub fn push(&self, row: Row) {
        self.pending.push([row]);
    }

    /// Writes `rows` and flushes the journal.
    fn write(&self, rows: &mut Vec<Row>, writer: &mut RequestFileWriter) -> Result<(), StoreError> {
        if !rows.is_empty() {
            let steps = self.steps.reading();
            for r in rows.drain(..) {
                let names = steps.get(r.step.0 as usize).ok_or_else(|| StoreError::Io {
                    path: "requests.parquet".into(),
                    source: std::io::Error::other(format!(
                        "a request row refers to step {}, which was never registered (a bug in tracesplit)",
                        r.step.0
                    )),
                })?;
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
    tracesplit_model::internal::report("the requests.parquet writer thread panicked");
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

/// What a scenario's live progress shows: counts and an HDR histogram of the
/// measured latencies. Bounded memory whatever the run's length; the
/// statistics and the verdict come from `requests.parquet` (the analyzer).
#[derive(Default)]
pub struct Tally {
    inner: Mutex<TallyInner>,
}

#[derive(Default)]
struct TallyInner {
    measured: u64,
    failed: u64,
    /// Failures by kind: a handful of kinds (`timeout`, `status 500`, …).
    errors: BTreeMap<String, u64>,
    live: Option<Histogram<u64>>,
    started: Option<std::time::Instant>,
}

/// A scenario's live figures at its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TallySnapshot {
    /// Requests with an expected status.
    pub measured: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Live P50 and P95 (HDR histogram, 3 significant digits), ms.
    pub p50_ms: Option<f64>,
    /// See `p50_ms`.
    pub p95_ms: Option<f64>,
}

impl Tally {
    /// Counts one request.
    pub fn add(&self, r: &Row) {
        let mut t = self.inner.locked();
        t.started.get_or_insert_with(std::time::Instant::now);
        if r.expected {
            t.measured += 1;
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

    /// `1234 requests  412/s  p95 3.4 ms  errors 0` of what was measured so far.
    pub fn live_line(&self) -> Option<String> {
        let t = self.inner.locked();
        let h = t.live.as_ref()?;
        let secs = t.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let done = t.measured + t.failed;
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        Some(format!(
            "{done} requests  {rate:.0}/s  p95 {:.2} ms  errors {}",
            h.value_at_quantile(0.95) as f64 / 1000.0,
            t.failed
        ))
    }

    /// The live figures.
    pub fn snapshot(&self) -> TallySnapshot {
        let t = self.inner.locked();
        let q = |q: f64| {
            t.live
                .as_ref()
                .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        TallySnapshot {
            measured: t.measured,
            failed: t.failed,
            errors: t.errors.clone(),
            p50_ms: q(0.5),
            p95_ms: q(0.95),
        }
    }
}
