//! The P95 difference between two sets of runs, with an interval that
//! respects how latency noise comes on a shared machine: in bursts and
//! drifts, correlated in time. Requests close in time are not independent
//! samples (a test on them, like Mann-Whitney on raw latencies, finds
//! "regressions" between identical builds), so each run is cut into blocks
//! of consecutive requests and the blocks are resampled (a moving-block
//! bootstrap, Künsch 1989); with three or more runs a side, whole runs are
//! resampled first (run-to-run variation, as benchstat uses it).

/// Resamples of the bootstrap.
pub const RESAMPLES: usize = 400;
/// Blocks a run is cut into (fewer when it has few requests: at least 5 a block).
const BLOCKS: usize = 40;

/// One run's requests of one scenario: latencies (ms) in start order.
pub type Run = Vec<f64>;

/// A small, fast, deterministic generator (xorshift64*): the same runs give
/// the same interval every time.
pub struct Rng(u64);

impl Rng {
    /// Seeded (0 is replaced: xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (((x >> 32) * n as u64) >> 32) as usize
    }
}

/// Nearest-rank P95 of `v` (reordered).
pub fn p95(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let k = tracesplit_model::stats::rank_of(v.len(), 95.0) - 1;
    *v.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The blocks of `run`: `[start, end)` ranges of consecutive requests.
fn blocks(run: &Run) -> Vec<(usize, usize)> {
    let n = run.len();
    let count = BLOCKS.min(n / 5).max(1);
    (0..count)
        .map(|k| (k * n / count, (k + 1) * n / count))
        .filter(|(a, b)| b > a)
        .collect()
}

/// One resample of a side: runs (resampled when there are three or more),
/// each run's blocks resampled, concatenated into `out`.
fn resample(side: &[Run], rng: &mut Rng, out: &mut Vec<f64>) {
    out.clear();
    let whole_runs = side.len() >= 3;
    for k in 0..side.len() {
        let run = &side[if whole_runs { rng.below(side.len()) } else { k }];
        let b = blocks(run);
        for _ in 0..b.len() {
            let (start, end) = b[rng.below(b.len())];
            out.extend_from_slice(&run[start..end]);
        }
    }
}

/// A side's P95 over all its runs' requests.
pub fn side_p95(side: &[Run]) -> f64 {
    let mut all: Vec<f64> = side.iter().flatten().copied().collect();
    p95(&mut all)
}

/// A change and how sure it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// The point estimate.
    pub change: f64,
    /// Its 95 % interval.
    pub interval: (f64, f64),
    /// Two-sided bootstrap p-value: twice the share of resamples on the
    /// other side of zero (1 without resamples).
    pub p: f64,
}

impl Change {
    fn of(change: f64, mut resampled: Vec<f64>, alpha: f64) -> Self {
        let n = resampled.len().max(1) as f64;
        let below = resampled.iter().filter(|c| **c <= 0.0).count() as f64 / n;
        let above = resampled.iter().filter(|c| **c >= 0.0).count() as f64 / n;
        let p = if resampled.is_empty() {
            1.0
        } else {
            (2.0 * below.min(above)).min(1.0)
        };
        Self {
            change,
            interval: interval(&mut resampled, alpha),
            p,
        }
    }
}

/// The relative change of the P95 from `base` to `head`, (head − base) / base,
/// with its block-bootstrap 95 % interval.
pub fn p95_change(base: &[Run], head: &[Run], seed: u64) -> Change {
    p95_change_with(base, head, seed, RESAMPLES, 0.05)
}

/// As [`p95_change`] with `resamples` resamples and a 1 − `alpha` interval.
pub fn p95_change_with(
    base: &[Run],
    head: &[Run],
    seed: u64,
    resamples: usize,
    alpha: f64,
) -> Change {
    let (b0, h0) = (side_p95(base), side_p95(head));
    let change = if b0 > 0.0 { (h0 - b0) / b0 } else { 0.0 };
    let changes = resampled(base, head, seed, resamples, &|bs, hs| {
        let b = p95(bs);
        (b > 0.0).then(|| (p95(hs) - b) / b)
    });
    Change::of(change, changes, alpha)
}

/// A statistic of one resample of both sides (base, head); `None`: none.
type Statistic<'a> = dyn Fn(&mut Vec<f64>, &mut Vec<f64>) -> Option<f64> + 'a;

/// `statistic` of `resamples` resamples of both sides (those it answers).
fn resampled(
    base: &[Run],
    head: &[Run],
    seed: u64,
    resamples: usize,
    statistic: &Statistic<'_>,
) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let (mut bs, mut hs) = (Vec::new(), Vec::new());
    (0..resamples)
        .filter_map(|_| {
            resample(base, &mut rng, &mut bs);
            resample(head, &mut rng, &mut hs);
            statistic(&mut bs, &mut hs)
        })
        .collect()
}

/// The `alpha`/2 and 1 − `alpha`/2 quantiles of `v` (0, 0 when empty).
pub fn interval(v: &mut [f64], alpha: f64) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    (at(alpha / 2.0), at(1.0 - alpha / 2.0))
}

/// The difference of means (head − base) of per-request values, with its
/// block-bootstrap interval: a component of the split (ms).
pub fn mean_change(base: &[Run], head: &[Run], seed: u64) -> Change {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let all = |side: &[Run]| side.iter().flatten().copied().collect::<Vec<f64>>();
    let diff = mean(&all(head)) - mean(&all(base));
    let diffs = resampled(base, head, seed, RESAMPLES, &|bs, hs| {
        Some(mean(hs) - mean(bs))
    });
    Change::of(diff, diffs, 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_of_a_clear_shift_excludes_zero_and_of_none_holds_it() {
        let base: Run = (0..400).map(|i| 10.0 + f64::from(i % 13)).collect();
        let head: Run = base.iter().map(|v| v * 1.3).collect();
        let c = p95_change(std::slice::from_ref(&base), &[head], 7);
        assert!((c.change - 0.3).abs() < 1e-9);
        assert!(c.interval.0 > 0.2 && c.interval.1 < 0.4, "{c:?}");
        assert!(c.p < 0.01, "{c:?}");
        let one = std::slice::from_ref(&base);
        let same = p95_change(one, one, 7);
        assert_eq!(same.change, 0.0);
        assert!(same.interval.0 <= 0.0 && same.interval.1 >= 0.0, "{same:?}");
        assert!(same.p > 0.5, "{same:?}");
        let d = mean_change(&[vec![1.0; 100]], &[vec![6.0; 100]], 1);
        assert!((d.change - 5.0).abs() < 1e-9 && (d.interval.0 - 5.0).abs() < 1e-9);
    }

    #[test]
    fn the_generator_is_uniform_enough_and_deterministic() {
        let mut r = Rng::new(42);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts[r.below(10)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..1100).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(Rng::new(3).below(1000), Rng::new(3).below(1000));
    }
}
