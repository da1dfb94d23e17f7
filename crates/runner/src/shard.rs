//! `run --shard I/N`: one of N processes (or Kubernetes Indexed Job pods), each
//! running a disjoint share of the iterations against the same API with its
//! own fixtures; `analyze` merges their run directories.

use crate::schedule::{Schedule, Stop};

/// Shard `index` of `count` (0-based, like `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// Shards in all.
    pub count: u64,
}

/// Why a shard could not be named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// Not `I/N` with 0 ≤ I < N.
    #[error("--shard {0:?}: expected I/N with 0 ≤ I < N, e.g. 0/4")]
    Malformed(String),
    /// `--shards N` outside a Kubernetes Indexed Job.
    #[error(
        "--shards N needs JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job); use --shard I/N otherwise"
    )]
    NoJobIndex,
}

impl Shard {
    /// Parses `I/N` (0 ≤ I < N).
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let bad = || ShardError::Malformed(text.to_owned());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// `--shards N` with the index from `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job).
    pub fn from_job_index(count: u64, job_index: Option<&str>) -> Result<Self, ShardError> {
        let index = job_index.ok_or(ShardError::NoJobIndex)?;
        Self::parse(&format!("{}/{count}", index.trim()))
    }

    /// This shard's share of `total` iterations: the remainder goes to the first shards.
    pub fn iterations(&self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }

    /// The schedule of this shard: its share of the iterations and of the rate;
    /// a duration stays as it is (the shards run side by side).
    pub fn apply(&self, mut s: Schedule) -> Schedule {
        if let Stop::Iterations(n) = s.stop {
            s.stop = Stop::Iterations(self.iterations(n));
        }
        s.rate = s.rate.map(|r| r / self.count as f64);
        s
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_disjoint_and_add_up() {
        for total in [0, 1, 7, 20, 101] {
            for count in 1..6 {
                let sum: u64 = (0..count)
                    .map(|index| Shard { index, count }.iterations(total))
                    .sum();
                assert_eq!(sum, total, "{total} over {count}");
            }
        }
        let s = Shard::parse("1/4").expect("parses");
        let sched = s.apply(Schedule {
            stop: Stop::Iterations(10),
            concurrency: 2,
            max_concurrency: 8,
            rate: Some(40.0),
            warmup: 1,
        });
        assert_eq!(sched.stop, Stop::Iterations(3));
        assert_eq!(sched.rate, Some(10.0));
        for bad in ["4/4", "1", "a/b", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Shard::from_job_index(3, Some("2")),
            Ok(Shard { index: 2, count: 3 })
        );
        assert!(Shard::from_job_index(3, None).is_err());
    }
}
