//! Bounded memory: the spans are read and split in partitions of the trace
//! ids, so that peak memory depends on the partition, not on the run.
//!
//! A request's split needs only its own trace's spans, and every span of a
//! trace falls in the trace's partition, so the per-request splits — and
//! everything computed from them — are the same for any number of partitions.
//! Only the few traces a report shows in detail (P95 windows, exemplars) are
//! read once more, together, after the partitions.

use crate::error::AnalyzeError;
use crate::load::{Loaded, Variant, load};
use crate::requests::partition;
use crate::split::{RequestInput, RequestSplit, split_all, split_all_on};
use crate::table::RequestTable;
use std::path::PathBuf;
use std::sync::Arc;

/// Peak bytes one span costs while its partition is read, grouped and split
/// (measured with the analyzer bench: ~1.2 GB for 10 M spans with their
/// positions in the store, rounded up).
pub const BYTES_PER_SPAN: u64 = 120;
/// Bytes one request costs for the whole analysis: its columns, its split,
/// the statistics' orderings (measured: ~340 during the partitions, ~520
/// at the end with 1 M requests, rounded).
pub const BYTES_PER_REQUEST: u64 = 400;
/// At most this many partitions (each one scans the span store once).
pub const MAX_PARTITIONS: u64 = 256;

/// What the analysis reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The plan, before the first partition.
    Planned {
        /// Spans in the store.
        spans: u64,
        /// Requests.
        requests: u64,
        /// Partitions of the trace ids.
        partitions: u64,
        /// The memory limit (bytes).
        limit: u64,
    },
    /// One partition split.
    PartitionDone {
        /// 1-based.
        done: u64,
        /// Of this many.
        partitions: u64,
        /// Spans of the run's traces read so far.
        spans_read: u64,
    },
}

/// A function that receives progress.
pub type OnProgress = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A progress callback (the CLI prints; tests collect).
#[derive(Clone, Default)]
pub struct ProgressFn(pub Option<OnProgress>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressFn(Some)"
        } else {
            "ProgressFn(None)"
        })
    }
}

impl ProgressFn {
    pub(crate) fn report(&self, p: &Progress) {
        if let Some(f) = &self.0 {
            f(p);
        }
    }
}

/// Half of this machine's memory (`MemTotal` of /proc/meminfo); 4 GiB where
/// that cannot be read.
pub fn default_memory_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4 << 30, |kb| kb * 1024 / 2)
}

/// How many partitions keep `spans` spans and `requests` requests within `limit` bytes.
pub fn partitions_for(spans: u64, requests: u64, limit: u64) -> u64 {
    // The requests stay for the whole analysis; the spans of one partition
    // get what is left (at least a quarter of the limit, so a limit below
    // the requests' own need still partitions sensibly).
    let for_spans = limit
        .saturating_sub(requests.saturating_mul(BYTES_PER_REQUEST))
        .max(limit / 4)
        .max(1);
    // More partitions than requests (traces) would only scan for nothing.
    spans
        .saturating_mul(BYTES_PER_SPAN)
        .div_ceil(for_spans)
        .clamp(1, MAX_PARTITIONS.min(requests.max(1)))
}

/// What [`split_partitioned`] needs.
pub struct PartitionJob<'a> {
    /// The requests.
    pub requests: &'a RequestTable,
    /// Span store files.
    pub span_files: &'a [PathBuf],
    /// Classifier variants.
    pub variants: &'a [Variant],
    /// The inputs of the loaded requests of one partition.
    pub inputs: &'a dyn Fn(&Loaded) -> Vec<RequestInput>,
    /// Partitions.
    pub partitions: u64,
    /// Where progress goes.
    pub progress: &'a ProgressFn,
}

/// Splits every request, one partition at a time; the splits come back in
/// `requests.parquet` order. With one partition the loaded spans are
/// returned too (the report's detail comes from them); with several, the
/// splits hold no span indices (`RequestSplit::forget_spans`) until
/// [`detail_pass`] gives the shown requests theirs back.
pub fn split_partitioned(
    job: &PartitionJob<'_>,
) -> Result<(Vec<RequestSplit>, Option<Loaded>), AnalyzeError> {
    let parts = job.partitions.max(1);
    let mut ordered = vec![RequestSplit::default(); job.requests.len()];
    let mut spans_read = 0u64;
    for part in 0..parts {
        let rows = if parts == 1 {
            (0..job.requests.len()).collect()
        } else {
            partition(job.requests, part, parts)
        };
        let loaded = load(job.requests, rows, job.span_files, job.variants)?;
        spans_read += loaded.columns.span_id.len() as u64;
        let splits = split_all_on(
            &loaded.columns,
            &(job.inputs)(&loaded),
            crate::parallel::threads(),
        );
        for (&row, s) in loaded.rows.iter().zip(splits) {
            ordered[row] = if parts == 1 { s } else { s.forget_spans() };
        }
        if parts == 1 {
            return Ok((ordered, Some(loaded)));
        }
        job.progress.report(&Progress::PartitionDone {
            done: part + 1,
            partitions: parts,
            spans_read,
        });
    }
    Ok((ordered, None))
}

/// Reads the spans of the `shown` requests' traces once more, all together,
/// and gives their splits back their span indices (the numbers are the same:
/// the same trace's spans, in the same order).
pub fn detail_pass(
    job: &PartitionJob<'_>,
    shown: &[usize],
    splits: &mut [RequestSplit],
) -> Result<Loaded, AnalyzeError> {
    let mut rows = shown.to_vec();
    rows.sort_unstable();
    rows.dedup();
    let detail = load(job.requests, rows, job.span_files, job.variants)?;
    let detail_splits = split_all(&detail.columns, &(job.inputs)(&detail));
    for (&row, d) in detail.rows.iter().zip(detail_splits) {
        if let Some(s) = splits.get_mut(row) {
            s.server_span = d.server_span;
            s.top_cascade = d.top_cascade;
            s.top_db_other = d.top_db_other;
        }
    }
    Ok(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_fits_is_one_partition_and_a_big_one_is_cut_to_fit() {
        assert_eq!(partitions_for(10_000_000, 1_000_000, 12 << 30), 1);
        // 60 M spans × 120 B = 7.2 GB in a 4 GiB limit with 4 GB of requests:
        // the spans get a quarter of the limit.
        let p = partitions_for(60_000_000, 10_000_000, 4 << 30);
        assert_eq!(p, (60_000_000u64 * BYTES_PER_SPAN).div_ceil(1 << 30));
        assert_eq!(partitions_for(u64::MAX / 2, 1_000, 1), MAX_PARTITIONS);
        assert_eq!(
            partitions_for(1_000_000, 20, 1),
            20,
            "no more than the requests"
        );
        assert_eq!(partitions_for(0, 0, 0), 1);
    }
}
