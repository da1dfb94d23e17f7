//! Latency statistics as the seed tooling defines them (nearest-rank percentiles).

use serde::{Deserialize, Serialize};

/// Nearest-rank percentile of an ascending slice: the value at rank ⌈p/100 · n⌉
/// (1-based). Always one of the observed values; `None` for an empty slice.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// 1-based rank of the P`p` value in `n` sorted values.
pub fn rank_of(n: usize, p: f64) -> usize {
    (((p / 100.0) * n as f64).ceil() as usize).clamp(1, n.max(1))
}

/// Client-observed latency statistics of one scenario, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LatencyStats {
    /// Values measured.
    pub count: u64,
    /// Nearest-rank P50.
    pub p50_ms: f64,
    /// Nearest-rank P95.
    pub p95_ms: f64,
    /// Nearest-rank P99.
    pub p99_ms: f64,
    /// Smallest value.
    pub min_ms: f64,
    /// Largest value.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Sample standard deviation (n − 1); 0 for fewer than two values.
    pub stddev_ms: f64,
}

/// Nearest-rank values (ms) at percentiles 0, 1, …, 100 of ascending
/// durations in nanoseconds (percentile 0 is the minimum); empty for no values.
pub fn distribution_ms(sorted_ns: &[i64]) -> Vec<f64> {
    if sorted_ns.is_empty() {
        return Vec::new();
    }
    (0..=100)
        .filter_map(|p| nearest_rank(sorted_ns, f64::from(p)).map(ms))
        .collect()
}

/// Nanoseconds → milliseconds.
pub fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

impl LatencyStats {
    /// Statistics of durations in nanoseconds (any order).
    pub fn from_ns(values: &[i64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        Self::from_sorted_ns(&sorted)
    }

    /// Statistics of ascending durations in nanoseconds.
    pub fn from_sorted_ns(sorted: &[i64]) -> Self {
        let n = sorted.len();
        if n == 0 {
            return Self::default();
        }
        let mean = sorted.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
        let var = if n > 1 {
            sorted
                .iter()
                .map(|v| (*v as f64 - mean).powi(2))
                .sum::<f64>()
                / (n - 1) as f64
        } else {
            0.0
        };
        let pick = |p| nearest_rank(sorted, p).map(ms).unwrap_or_default();
        Self {
            count: n as u64,
            p50_ms: pick(50.0),
            p95_ms: pick(95.0),
            p99_ms: pick(99.0),
            min_ms: ms(sorted[0]),
            max_ms: ms(sorted[n - 1]),
            mean_ms: mean / 1e6,
            stddev_ms: var.sqrt() / 1e6,
        }
    }
}

/// A count with its noun: `1 request`, `3 requests` (nouns that take an s).
pub fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Milliseconds as every output writes them: `0.42`, `12.3`, `812`.
pub fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(
            (
                counted(1, "request"),
                counted(0, "request"),
                counted(3, "request")
            ),
            ("1 request".into(), "0 requests".into(), "3 requests".into())
        );
    }

    #[test]
    fn nearest_rank_matches_the_definition() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 50.0), Some(10));
        assert_eq!(nearest_rank(&v, 95.0), Some(19));
        assert_eq!(nearest_rank(&v, 99.0), Some(20));
        assert_eq!(nearest_rank(&v, 0.0), Some(1));
        assert_eq!(nearest_rank::<i64>(&[], 50.0), None);
        assert_eq!(rank_of(100, 95.0), 95);
        assert_eq!(rank_of(1, 95.0), 1);
    }

    #[test]
    fn stats_in_milliseconds() {
        let s = LatencyStats::from_ns(&[3_000_000, 1_000_000, 2_000_000]);
        assert_eq!(
            (s.count, s.p50_ms, s.min_ms, s.max_ms, s.mean_ms),
            (3, 2.0, 1.0, 3.0, 2.0)
        );
        assert!((s.stddev_ms - 1.0).abs() < 1e-9);
    }
}
