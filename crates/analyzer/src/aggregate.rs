//! Per-scenario statistics: the seed's numbers, the P95 split (window around
//! the P95 rank), the tail split, each component's percentiles, outliers.

use crate::split::RequestSplit;
use crate::table::RequestTable;
use std::collections::BTreeMap;
use tracesplit_model::analysis::{
    ComponentStats, Coverage, DbSpanCounts, Outlier, Percentiles, Split,
};
use tracesplit_model::stats::{LatencyStats, ms, nearest_rank, rank_of};

/// 1-based rank window whose mean components form the P95 split: ranks
/// ⌈0.94n⌉..⌈0.96n⌉, widened to the 3 ranks nearest the P95 rank when smaller.
pub fn p95_window(n: usize) -> (usize, usize) {
    if n == 0 {
        return (0, 0);
    }
    let (mut lo, mut hi) = (rank_of(n, 94.0), rank_of(n, 96.0));
    if hi + 1 - lo < 3 {
        let p = rank_of(n, 95.0);
        lo = p.saturating_sub(1).max(1);
        hi = (lo + 2).min(n);
        lo = hi.saturating_sub(2).max(1);
    }
    (lo, hi)
}

/// Mean split over `rows` (indices into `splits`); ranks as given.
pub fn mean_split(splits: &[RequestSplit], rows: &[usize], ranks: (usize, usize)) -> Split {
    let n = rows.len().max(1) as f64;
    let sum = |f: &dyn Fn(&RequestSplit) -> i64| {
        rows.iter().map(|&i| f(&splits[i]) as f64).sum::<f64>() / n / 1e6
    };
    Split {
        total_ms: sum(&|s| s.total_ns),
        network_ms: sum(&|s| s.network_ns),
        handler_ms: sum(&|s| s.handler_ns),
        cascade_ms: sum(&|s| s.cascade_ns),
        db_other_ms: sum(&|s| s.db_other_ns),
        requests: rows.len() as u64,
        ranks: (ranks.0 as u64, ranks.1 as u64),
    }
}

fn percentiles(mut values: Vec<i64>) -> Percentiles {
    values.sort_unstable();
    let pick = |p| nearest_rank(&values, p).map(ms).unwrap_or_default();
    Percentiles {
        p50_ms: pick(50.0),
        p95_ms: pick(95.0),
        p99_ms: pick(99.0),
    }
}

/// Everything numeric about one scenario's requests.
pub struct ScenarioNumbers {
    /// Client statistics over expected requests.
    pub stats: LatencyStats,
    /// Failed requests.
    pub failed: u64,
    /// Statuses.
    pub status_counts: BTreeMap<String, u64>,
    /// Failure kinds.
    pub errors: BTreeMap<String, u64>,
    /// Coverage.
    pub coverage: Coverage,
    /// P95 split with the request rows in its window.
    pub p95: Option<(Split, Vec<usize>)>,
    /// Tail split.
    pub tail: Option<Split>,
    /// Component percentiles.
    pub components: ComponentStats,
    /// DB spans per request.
    pub db_spans: DbSpanCounts,
    /// Matched expected requests sorted by total (ascending).
    pub matched_sorted: Vec<usize>,
    /// Expected requests sorted by total, slowest first.
    pub slowest: Vec<usize>,
    /// Mean response size.
    pub mean_response_bytes: f64,
    /// Client totals at percentiles 0..=100 (ms).
    pub distribution_ms: Vec<f64>,
}

/// Numbers of the requests `rows` of one scenario.
pub fn numbers(t: &RequestTable, splits: &[RequestSplit], rows: &[usize]) -> ScenarioNumbers {
    let mut status_counts = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut failed = 0;
    let mut expected = Vec::new();
    for &i in rows {
        *status_counts.entry(t.status[i].to_string()).or_insert(0) += 1;
        if t.expected[i] {
            expected.push(i);
        } else {
            failed += 1;
            let kind = t.error[i]
                .clone()
                .unwrap_or_else(|| format!("status {}", t.status[i]));
            *errors.entry(kind).or_insert(0) += 1;
        }
    }
    let mut totals: Vec<i64> = expected.iter().map(|&i| t.duration[i]).collect();
    totals.sort_unstable();
    let stats = LatencyStats::from_sorted_ns(&totals);
    let distribution_ms = tracesplit_model::stats::distribution_ms(&totals);
    let mut matched: Vec<usize> = expected
        .iter()
        .copied()
        .filter(|&i| splits[i].matched)
        .collect();
    matched.sort_by_key(|&i| (splits[i].total_ns, i));
    let coverage = Coverage {
        requests: expected.len() as u64,
        matched: matched.len() as u64,
        clamped: matched.iter().filter(|&&i| splits[i].clamped).count() as u64,
        multiple_server_spans: matched
            .iter()
            .filter(|&&i| splits[i].server_candidates > 1)
            .count() as u64,
    };
    let n = matched.len();
    let p95 = (n > 0).then(|| {
        let (lo, hi) = p95_window(n);
        let window: Vec<usize> = matched[lo - 1..hi].to_vec();
        (mean_split(splits, &window, (lo, hi)), window)
    });
    let tail = (n > 0).then(|| {
        let p = rank_of(n, 95.0);
        let threshold = splits[matched[p - 1]].total_ns;
        let first = matched
            .iter()
            .position(|&i| splits[i].total_ns >= threshold)
            .unwrap_or(p - 1);
        mean_split(splits, &matched[first..], (first + 1, n))
    });
    let comp = |f: &dyn Fn(&RequestSplit) -> i64| {
        percentiles(matched.iter().map(|&i| f(&splits[i])).collect())
    };
    let components = ComponentStats {
        network: comp(&|s| s.network_ns),
        handler: comp(&|s| s.handler_ns),
        cascade: comp(&|s| s.cascade_ns),
        db_other: comp(&|s| s.db_other_ns),
        db: comp(&|s| s.cascade_ns + s.db_other_ns),
    };
    let mut counts: Vec<u64> = matched
        .iter()
        .map(|&i| u64::from(splits[i].db_count))
        .collect();
    counts.sort_unstable();
    let db_spans = DbSpanCounts {
        mean: if n == 0 {
            0.0
        } else {
            counts.iter().sum::<u64>() as f64 / n as f64
        },
        p50: nearest_rank(&counts, 50.0).unwrap_or(0),
        max: counts.last().copied().unwrap_or(0),
    };
    let mut slowest = expected.clone();
    slowest.sort_by_key(|&i| (std::cmp::Reverse(t.duration[i]), i));
    let mean_response_bytes = if expected.is_empty() {
        0.0
    } else {
        expected
            .iter()
            .map(|&i| t.response_bytes[i] as f64)
            .sum::<f64>()
            / expected.len() as f64
    };
    ScenarioNumbers {
        stats,
        failed,
        status_counts,
        errors,
        coverage,
        p95,
        tail,
        components,
        db_spans,
        matched_sorted: matched,
        slowest,
        mean_response_bytes,
        distribution_ms,
    }
}

/// An outlier entry for request `i`.
pub fn outlier(
    t: &RequestTable,
    splits: &[RequestSplit],
    i: usize,
    links: &crate::links::LinkConfig,
) -> Outlier {
    let s = &splits[i];
    Outlier {
        trace_id: t.trace_id[i].clone(),
        span_id: t.span_id[i].clone(),
        iteration: t.iteration[i],
        step: t.step[i],
        status: t.status[i],
        split: if s.matched {
            mean_split(splits, &[i], (0, 0))
        } else {
            Split {
                total_ms: ms(t.duration[i]),
                requests: 1,
                ..Default::default()
            }
        },
        matched: s.matched,
        links: links.links(&t.trace_id[i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p95_window_follows_the_definition() {
        assert_eq!(p95_window(100), (94, 96));
        assert_eq!(p95_window(1000), (940, 960));
        assert_eq!(
            p95_window(20),
            (18, 20),
            "19..20 widened to 3 around rank 19"
        );
        assert_eq!(p95_window(3), (1, 3));
        assert_eq!(p95_window(2), (1, 2));
        assert_eq!(p95_window(1), (1, 1));
        assert_eq!(p95_window(0), (0, 0));
    }
}
