//! The schedule as data, and the one loop that runs every schedule.
//!
//! Closed model: `concurrency` workers each run iterations back to back.
//! Open model (`rate`): iteration i is *intended* to start at t0 + i/rate;
//! a worker waits for that moment, and when every worker is busy the start is
//! late — latency is then measured from the intended start as well, which is
//! the correction for coordinated omission.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many measured iterations.
    Iterations(u64),
    /// When this much time has passed since the first measured iteration was due.
    Duration(Duration),
}

/// How a scenario is driven.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Stop condition.
    pub stop: Stop,
    /// Iterations in flight at most.
    pub concurrency: usize,
    /// Iterations started per second (open model); `None` = closed model.
    pub rate: Option<f64>,
    /// Unmeasured iterations first.
    pub warmup: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            stop: Stop::Iterations(20),
            concurrency: 1,
            rate: None,
            warmup: 0,
        }
    }
}

/// One iteration to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    /// Measured iteration number (warm-up iterations count from 0 too).
    pub iteration: u64,
    /// Part of the warm-up (not recorded).
    pub warmup: bool,
    /// When the open model intended it to start.
    pub intended: Option<Instant>,
}

/// Hands out tickets; shared by the workers.
pub struct Dispenser {
    schedule: Schedule,
    next: AtomicU64,
    started: Instant,
    cancelled: Arc<AtomicBool>,
}

impl Dispenser {
    /// Starts the clock now.
    pub fn new(schedule: Schedule, cancelled: Arc<AtomicBool>) -> Self {
        Self {
            schedule,
            next: AtomicU64::new(0),
            started: Instant::now(),
            cancelled,
        }
    }

    /// The next ticket, or `None` when the schedule is done or cancelled.
    pub fn take(&self) -> Option<Ticket> {
        if self.cancelled.load(Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Relaxed);
        let warmup = self.schedule.warmup;
        let intended = self
            .schedule
            .rate
            .map(|r| self.started + Duration::from_secs_f64(i as f64 / r));
        let measured = i.checked_sub(warmup);
        match (self.schedule.stop, measured) {
            (_, None) => Some(Ticket {
                iteration: i,
                warmup: true,
                intended,
            }),
            (Stop::Iterations(n), Some(m)) if m >= n => None,
            (Stop::Duration(d), Some(_)) => {
                let due = intended.unwrap_or_else(Instant::now);
                if due.duration_since(self.started) >= d + self.warmup_time() {
                    None
                } else {
                    Some(Ticket {
                        iteration: i - warmup,
                        warmup: false,
                        intended,
                    })
                }
            }
            (_, Some(m)) => Some(Ticket {
                iteration: m,
                warmup: false,
                intended,
            }),
        }
    }

    /// Time the open model spends on warm-up (zero in the closed model: the duration then counts from the start).
    fn warmup_time(&self) -> Duration {
        match self.schedule.rate {
            Some(r) => Duration::from_secs_f64(self.schedule.warmup as f64 / r),
            None => Duration::ZERO,
        }
    }
}

/// Runs `iteration` for every ticket of `schedule` on `concurrency` workers.
/// This is the only driving loop: closed, open, counted and timed runs all go through it.
pub async fn drive<F, Fut>(schedule: Schedule, cancelled: Arc<AtomicBool>, iteration: F)
where
    F: Fn(Ticket) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let dispenser = Arc::new(Dispenser::new(schedule, cancelled));
    let workers: Vec<_> = (0..schedule.concurrency.max(1))
        .map(|_| {
            let (dispenser, iteration) = (dispenser.clone(), iteration.clone());
            tokio::spawn(async move {
                while let Some(ticket) = dispenser.take() {
                    if let Some(at) = ticket.intended {
                        tokio::time::sleep_until(at.into()).await;
                    }
                    iteration(ticket).await;
                }
            })
        })
        .collect();
    for w in workers {
        if let Err(e) = w.await {
            tracing::error!("a schedule worker failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    async fn tickets(schedule: Schedule) -> Vec<Ticket> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        drive(schedule, Arc::new(AtomicBool::new(false)), move |t| {
            let s = s.clone();
            async move { s.lock().unwrap().push(t) }
        })
        .await;
        let mut v = seen.lock().unwrap().clone();
        v.sort_by_key(|t| (!t.warmup, t.iteration));
        v
    }

    #[tokio::test]
    async fn counted_runs_with_warmup_and_concurrency() {
        let t = tickets(Schedule {
            stop: Stop::Iterations(20),
            concurrency: 4,
            rate: None,
            warmup: 3,
        })
        .await;
        assert_eq!(t.iter().filter(|t| t.warmup).count(), 3);
        let measured: Vec<u64> = t
            .iter()
            .filter(|t| !t.warmup)
            .map(|t| t.iteration)
            .collect();
        assert_eq!(measured, (0..20).collect::<Vec<_>>());
        assert!(t.iter().all(|t| t.intended.is_none()));
    }

    #[tokio::test]
    async fn open_model_spaces_intended_starts_by_the_rate() {
        let t = tickets(Schedule {
            stop: Stop::Iterations(10),
            concurrency: 2,
            rate: Some(1000.0),
            warmup: 0,
        })
        .await;
        let starts: Vec<Instant> = t.iter().map(|t| t.intended.unwrap()).collect();
        for w in starts.windows(2) {
            let gap = w[1].duration_since(w[0]);
            assert!((gap.as_secs_f64() - 0.001).abs() < 1e-6, "{gap:?}");
        }
    }

    #[tokio::test]
    async fn timed_runs_stop_and_cancellation_stops_at_once() {
        let t = tickets(Schedule {
            stop: Stop::Duration(Duration::from_millis(100)),
            concurrency: 1,
            rate: Some(100.0),
            warmup: 0,
        })
        .await;
        assert_eq!(t.len(), 10, "100 ms at 100/s");
        let cancelled = Arc::new(AtomicBool::new(true));
        let d = Dispenser::new(Schedule::default(), cancelled);
        assert_eq!(d.take(), None);
    }
}
