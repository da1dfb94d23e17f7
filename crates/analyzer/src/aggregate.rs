//! Per-scenario statistics: the seed's numbers, the P95 split (window around
//! the P95 rank), the tail split, each component's percentiles, outliers.

use crate::split::RequestSplit;
use crate::table::RequestTable;
use std::collections::BTreeMap;
use tracesplit_model::analysis::{
    ComponentStats, Coverage, DbSpanCounts, Outlier, Percentiles, Split,
};
use tracesplit_model::stats::{LatencyStats, ms, nearest_rank, rank_of};

/// 1-based rank window, among the matched requests sorted by total, whose
/// components form the P95 split: the matched request nearest the P95 value
/// `p95_ns` and ⌊n/100⌋ ranks either side, n being
/// all measured requests. With every request matched that is the P95 rank
/// r = ⌈0.95n⌉ ± n/100 (94..96 of 100, 940..960 of 1000, just the P95
/// request itself below 100 requests, so a small run's split is not pulled
/// up by its slowest request); with some unmatched, the matched requests
/// nearest the P95 value.
pub fn p95_window(matched_totals: &[i64], p95_ns: i64, n: usize) -> (usize, usize) {
    if matched_totals.is_empty() {
        return (0, 0);
    }
    let last = matched_totals.len() - 1;
    let mut center = matched_totals.partition_point(|t| *t < p95_ns).min(last);
    // The nearer in value of the neighbours around the P95 value.
    if center > 0 && (p95_ns - matched_totals[center - 1]) < (matched_totals[center] - p95_ns).abs()
    {
        center -= 1;
    }
    let h = n / 100;
    (center.saturating_sub(h) + 1, (center + h).min(last) + 1)
}

/// The P95 split: the mean components of the window's requests, scaled so
/// that they sum to `p95_ms`, the P95 shown beside it (the window's mean
/// total is the P95 itself below 100 requests, and within the 94th..96th
/// percentiles above). Components keep their proportions; the unscaled mean
/// is kept in `window_mean_ms`.
pub fn p95_split(
    splits: &[RequestSplit],
    window: &[usize],
    ranks: (usize, usize),
    p95_ms: f64,
) -> Split {
    scaled(mean_split(splits, window, ranks), p95_ms)
}

/// `s` with its components scaled so that they sum to `total_ms` (their
/// proportions kept; the unscaled total kept in `window_mean_ms`).
fn scaled(mut s: Split, total_ms: f64) -> Split {
    s.window_mean_ms = s.total_ms;
    if s.total_ms > 0.0 {
        let f = total_ms / s.total_ms;
        for v in [
            &mut s.schedule_ms,
            &mut s.network_ms,
            &mut s.connection_setup_ms,
            &mut s.queue_ms,
            &mut s.handler_ms,
            &mut s.cascade_ms,
            &mut s.db_other_ms,
        ] {
            *v *= f;
        }
    }
    s.total_ms = total_ms;
    s
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
        queue_ms: sum(&|s| s.queue_ns),
        handler_ms: sum(&|s| s.handler_ns),
        cascade_ms: sum(&|s| s.cascade_ns),
        db_other_ms: sum(&|s| s.db_other_ns),
        requests: rows.len() as u64,
        ranks: (ranks.0 as u64, ranks.1 as u64),
        window_mean_ms: 0.0,
        connection_setup_ms: sum(&|s| s.setup_ns),
        schedule_ms: 0.0,
    }
}

/// Nearest-rank P50, P95 and P99 of `values` (any order). Each rank is
/// selected, not sorted for: three selections cost a fraction of a sort, and
/// there are six of these per scenario.
fn percentiles(mut values: Vec<i64>) -> Percentiles {
    let n = values.len();
    if n == 0 {
        return Percentiles::default();
    }
    let mut pick = |p: f64, upper: usize| {
        let k = rank_of(n, p) - 1;
        // Everything at or past `upper` is ≥ what is selected below it.
        let (_, v, _) = values[..upper.max(k + 1)].select_nth_unstable(k);
        (*v, k)
    };
    let (p99, k99) = pick(99.0, n);
    let (p95, k95) = pick(95.0, k99 + 1);
    let (p50, _) = pick(50.0, k95 + 1);
    Percentiles {
        p50_ms: ms(p50),
        p95_ms: ms(p95),
        p99_ms: ms(p99),
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
    /// Open model: statistics of the latency from the intended start.
    pub corrected: Option<LatencyStats>,
    /// Open model: the split of the corrected P95.
    pub p95_corrected: Option<Split>,
    /// Answers whose body came well after their head.
    pub stall: Option<tracesplit_model::analysis::Stall>,
}

/// Latency from the intended start (the open model's correction for
/// coordinated omission): how late the request started, plus its duration.
fn corrected_stats(t: &RequestTable, expected: &[usize]) -> LatencyStats {
    let mut v: Vec<i64> = expected
        .iter()
        .map(|&i| {
            tracesplit_model::request::corrected_duration_ns(
                t.intended_start[i],
                t.start[i],
                t.duration[i],
            )
        })
        .collect();
    v.sort_unstable();
    LatencyStats::from_sorted_ns(&v)
}

/// Statuses and failure kinds of the requests `rows`, and which of them
/// answered as expected (in row order).
struct Outcomes {
    status_counts: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    failed: u64,
    expected: Vec<usize>,
}

fn outcomes(t: &RequestTable, rows: &[usize]) -> Outcomes {
    // Counted by number, named once: a text key a request cost an allocation each.
    let mut by_status = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut failed = 0;
    let mut expected = Vec::new();
    for &i in rows {
        *by_status.entry(t.status[i]).or_insert(0) += 1;
        if t.expected[i] {
            expected.push(i);
        } else {
            failed += 1;
            let kind = t
                .error
                .get(i)
                .map_or_else(|| format!("status {}", t.status[i]), str::to_owned);
            *errors.entry(kind).or_insert(0) += 1;
        }
    }
    let status_counts = by_status
        .into_iter()
        .map(|(status, n)| (status.to_string(), n))
        .collect();
    Outcomes {
        status_counts,
        errors,
        failed,
        expected,
    }
}

/// What the matched requests among `expected` (row order) give.
struct MatchedNumbers {
    coverage: Coverage,
    components: ComponentStats,
    db_spans: DbSpanCounts,
    /// The matched requests by total (ascending) and their totals.
    by_total: (Vec<i64>, Vec<usize>),
}

/// Whether request `i` reached the API: everything but a connection that
/// could not be made (refused, a name or TLS failure, no route).
fn sent(t: &RequestTable, i: usize) -> bool {
    !matches!(
        t.error.get(i),
        Some("refused" | "resolve" | "tls" | "unreachable")
    )
}

/// `(requests, joined)`: the requests of `rows` that reached the API, and
/// those of them a server span was found for — failed ones included.
fn joined(t: &RequestTable, splits: &[RequestSplit], rows: &[usize]) -> (u64, u64) {
    rows.iter()
        .filter(|&&i| sent(t, i))
        .fold((0, 0), |(n, j), &i| {
            (n + 1, j + u64::from(splits[i].server_candidates > 0))
        })
}

fn matched_numbers(splits: &[RequestSplit], expected: &[usize]) -> MatchedNumbers {
    // The splits are read in row order wherever order does not matter: in
    // total order every read was a cache miss (ten million splits, 120
    // bytes apart, at 10 M requests).
    let in_row_order: Vec<usize> = expected
        .iter()
        .copied()
        .filter(|&i| splits[i].matched)
        .collect();
    let mut by_total: Vec<(i64, usize)> = in_row_order
        .iter()
        .map(|&i| (splits[i].total_ns, i))
        .collect();
    by_total.sort_unstable();
    let count = |f: &dyn Fn(&RequestSplit) -> bool| {
        in_row_order.iter().filter(|&&i| f(&splits[i])).count() as u64
    };
    let coverage = Coverage {
        requests: expected.len() as u64,
        matched: in_row_order.len() as u64,
        clamped: count(&|s| s.clamped),
        multiple_server_spans: count(&|s| s.server_candidates > 1),
    };
    let comp = |f: &dyn Fn(&RequestSplit) -> i64| {
        percentiles(in_row_order.iter().map(|&i| f(&splits[i])).collect())
    };
    let components = ComponentStats {
        network: comp(&|s| s.network_ns),
        queue: comp(&|s| s.queue_ns),
        handler: comp(&|s| s.handler_ns),
        cascade: comp(&|s| s.cascade_ns),
        db_other: comp(&|s| s.db_other_ns),
        db: comp(&|s| s.cascade_ns + s.db_other_ns),
    };
    let mut counts: Vec<u64> = in_row_order
        .iter()
        .map(|&i| u64::from(splits[i].db_count))
        .collect();
    counts.sort_unstable();
    let n = counts.len();
    let db_spans = DbSpanCounts {
        mean: if n == 0 {
            0.0
        } else {
            counts.iter().sum::<u64>() as f64 / n as f64
        },
        p50: nearest_rank(&counts, 50.0).unwrap_or(0),
        max: counts.last().copied().unwrap_or(0),
        duplicates: in_row_order
            .iter()
            .map(|&i| u64::from(splits[i].db_duplicates))
            .sum(),
    };
    MatchedNumbers {
        coverage,
        components,
        db_spans,
        by_total: by_total.into_iter().unzip(),
    }
}

/// Numbers of the requests `rows` of one scenario (`open_model`: also the corrected latency).
pub fn numbers(
    t: &RequestTable,
    splits: &[RequestSplit],
    rows: &[usize],
    open_model: bool,
) -> ScenarioNumbers {
    let Outcomes {
        status_counts,
        errors,
        failed,
        expected,
    } = outcomes(t, rows);
    let mut totals: Vec<i64> = expected.iter().map(|&i| t.duration[i]).collect();
    totals.sort_unstable();
    let stats = LatencyStats::from_sorted_ns(&totals);
    let distribution_ms = tracesplit_model::stats::distribution_ms(&totals);
    let mut m = matched_numbers(splits, &expected);
    // Coverage counts every request sent, failed ones included.
    (m.coverage.requests, m.coverage.matched) = joined(t, splits, rows);
    let (matched_totals, matched) = m.by_total;
    let n = matched.len();
    let p95 = (n > 0).then(|| {
        let p95_ns = nearest_rank(&totals, 95.0).unwrap_or(0);
        let (lo, hi) = p95_window(&matched_totals, p95_ns, totals.len());
        let window: Vec<usize> = matched[lo - 1..hi].to_vec();
        (p95_split(splits, &window, (lo, hi), stats.p95_ms), window)
    });
    let tail = (n > 0).then(|| {
        let threshold = matched_totals[rank_of(n, 95.0) - 1];
        let first = matched_totals.partition_point(|&t| t < threshold);
        mean_split(splits, &matched[first..], (first + 1, n))
    });
    let corrected = open_model.then(|| corrected_stats(t, &expected));
    let p95_corrected = corrected
        .and_then(|c| p95_corrected_split(t, splits, &matched, (c.p95_ms, expected.len())));
    let mut by_duration: Vec<(std::cmp::Reverse<i64>, usize)> = expected
        .iter()
        .map(|&i| (std::cmp::Reverse(t.duration[i]), i))
        .collect();
    by_duration.sort_unstable();
    let mean_response_bytes = if expected.is_empty() {
        0.0
    } else {
        let bytes = expected.iter().map(|&i| t.response_bytes[i] as f64);
        bytes.sum::<f64>() / expected.len() as f64
    };
    ScenarioNumbers {
        stats,
        failed,
        status_counts,
        errors,
        coverage: m.coverage,
        p95,
        tail,
        components: m.components,
        db_spans: m.db_spans,
        matched_sorted: matched,
        slowest: by_duration.into_iter().map(|(_, i)| i).collect(),
        mean_response_bytes,
        distribution_ms,
        corrected,
        p95_corrected,
        stall: crate::transport::stall(t, splits, &expected),
    }
}

/// The wait before request `i`'s actual start (open model).
pub fn schedule_ns(t: &RequestTable, i: usize) -> i64 {
    (t.start[i] - t.intended_start[i]).max(0)
}

/// The open model's P95 split of the corrected latency (from the scheduled
/// start): the matched requests ranked by corrected total, the window
/// around `p95_ms` (the corrected P95 of all `n` expected requests), the
/// schedule wait a component beside the five, scaled to the corrected P95
/// like the measured split.
fn p95_corrected_split(
    t: &RequestTable,
    splits: &[RequestSplit],
    matched: &[usize],
    (p95_ms, n): (f64, usize),
) -> Option<Split> {
    if matched.is_empty() {
        return None;
    }
    let mut ranked: Vec<(i64, usize)> = matched
        .iter()
        .map(|&i| (schedule_ns(t, i) + splits[i].total_ns, i))
        .collect();
    ranked.sort_unstable();
    let totals: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let p95_ns = (p95_ms * 1e6).round() as i64;
    let (lo, hi) = p95_window(&totals, p95_ns, n);
    let window: Vec<usize> = ranked[lo - 1..hi].iter().map(|r| r.1).collect();
    let mut s = mean_split(splits, &window, (lo, hi));
    let n = window.len().max(1) as f64;
    s.schedule_ms = window
        .iter()
        .map(|&i| schedule_ns(t, i) as f64)
        .sum::<f64>()
        / n
        / 1e6;
    s.total_ms += s.schedule_ms;
    Some(scaled(s, p95_ms))
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
        trace_id: t.trace_id.text(i),
        span_id: t.span_id.text(i),
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
        links: links.links(&t.trace_id.text(i)),
        critical_path: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_percentiles_are_the_sorted_nearest_ranks() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for n in [1usize, 2, 3, 19, 20, 99, 100, 101, 1000, 4321] {
            // Few distinct values: ties at the ranks too.
            let values: Vec<i64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 97) as i64 * 1_000_000
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = |p| nearest_rank(&sorted, p).map(ms).unwrap_or_default();
            let want = Percentiles {
                p50_ms: rank(50.0),
                p95_ms: rank(95.0),
                p99_ms: rank(99.0),
            };
            assert_eq!(percentiles(values), want, "n = {n}");
        }
        assert_eq!(percentiles(Vec::new()), Percentiles::default());
    }

    #[test]
    fn the_p95_window_follows_the_definition() {
        // Every request matched: the P95 rank ± n/100.
        let all = |n: i64| -> (usize, usize) {
            let totals: Vec<i64> = (1..=n).collect();
            let p95 = nearest_rank(&totals, 95.0).unwrap();
            p95_window(&totals, p95, n as usize)
        };
        assert_eq!(all(100), (94, 96));
        assert_eq!(all(1000), (940, 960));
        assert_eq!(all(20), (19, 19), "the P95 request itself");
        assert_eq!(all(199), (189, 191));
        assert_eq!(all(3), (3, 3));
        assert_eq!(all(1), (1, 1));
        assert_eq!(p95_window(&[], 5, 0), (0, 0));
        // Some unmatched: the matched requests nearest the P95 value.
        assert_eq!(p95_window(&[10, 20, 30, 250], 38, 20), (3, 3));
        assert_eq!(p95_window(&[10, 20, 38, 40, 250], 38, 20), (3, 3));
    }
}
