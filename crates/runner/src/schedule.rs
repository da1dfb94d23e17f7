//! The schedule as data, and the one loop that runs every schedule.
//!
//! Closed model: `concurrency` workers each run iterations back to back.
//! Open model (`rate`, k6's constant-arrival-rate): iteration i is
//! *intended* to start at t0 + i/rate; at that moment it starts on its own
//! task, so the iterations in flight grow to what the rate needs, up to
//! `max_concurrency`. When that many are in flight the start waits for the
//! first to finish and counts as late (k6's dropped iterations, run late
//! here rather than dropped) — latency is then measured from the intended
//! start as well, which is the correction for coordinated omission.

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
    /// Open model: iterations in flight at most.
    pub max_concurrency: usize,
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
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            rate: None,
            warmup: 0,
        }
    }
}

/// The open model's bound on iterations in flight unless told otherwise.
pub const DEFAULT_MAX_CONCURRENCY: usize = 1000;

/// How a schedule went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Driven {
    /// Open model: measured iterations that could not start on time
    /// because `max_concurrency` iterations were in flight.
    pub late_starts: u64,
    /// Most iterations in flight at once.
    pub peak_concurrency: usize,
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
    /// Set when the scenario must stop early (the API refuses its requests).
    halted: Arc<AtomicBool>,
}

impl Dispenser {
    /// Starts the clock now; stops handing out tickets once `cancelled` or
    /// `halted` is set.
    pub fn halting(
        schedule: Schedule,
        cancelled: Arc<AtomicBool>,
        halted: Arc<AtomicBool>,
    ) -> Self {
        Self {
            schedule,
            next: AtomicU64::new(0),
            started: Instant::now(),
            cancelled,
            halted,
        }
    }

    /// The next ticket, or `None` when the schedule is done or cancelled.
    pub fn take(&self) -> Option<Ticket> {
        if self.cancelled.load(Relaxed) || self.halted.load(Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Relaxed);
        let warmup = self.schedule.warmup;
        // A start beyond what an Instant can hold (a rate of 1e-20/s) is
        // never due: the schedule ends there instead of overflowing.
        let intended = match self.schedule.rate {
            Some(r) => Some(
                Duration::try_from_secs_f64(i as f64 / r)
                    .ok()
                    .and_then(|d| self.started.checked_add(d))?,
            ),
            None => None,
        };
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
            Some(r) => Duration::try_from_secs_f64(self.schedule.warmup as f64 / r)
                .unwrap_or(Duration::MAX),
            None => Duration::ZERO,
        }
    }
}

/// Runs `iteration` for every ticket of `schedule`: on `concurrency`
/// workers (closed model), or each at its intended start (open model);
/// no new iteration starts once `cancelled` or `halted` is set. Every run
/// goes through here: closed, open, counted and timed.
pub async fn drive_until<F, Fut>(
    schedule: Schedule,
    cancelled: Arc<AtomicBool>,
    halted: Arc<AtomicBool>,
    iteration: F,
) -> Driven
where
    F: Fn(Ticket) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dispenser = Arc::new(Dispenser::halting(schedule, cancelled, halted));
    if schedule.rate.is_some() {
        return arrivals(&dispenser, schedule.max_concurrency.max(1), iteration).await;
    }
    let workers: Vec<_> = (0..schedule.concurrency.max(1))
        .map(|_| {
            let (dispenser, iteration) = (dispenser.clone(), iteration.clone());
            tokio::spawn(async move {
                while let Some(ticket) = dispenser.take() {
                    iteration(ticket).await;
                }
            })
        })
        .collect();
    let peak_concurrency = workers.len();
    for w in workers {
        if let Err(e) = w.await {
            tracing::error!("a schedule worker failed: {e}");
        }
    }
    Driven {
        late_starts: 0,
        peak_concurrency,
    }
}

/// The open model: each ticket starts at its intended time on its own task,
/// at most `max` in flight.
async fn arrivals<F, Fut>(dispenser: &Dispenser, max: usize, iteration: F) -> Driven
where
    F: Fn(Ticket) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    let mut tasks = tokio::task::JoinSet::new();
    let mut driven = Driven::default();
    let failed = |r: Result<(), tokio::task::JoinError>| {
        if let Err(e) = r {
            tracesplit_model::internal::report(format!("an iteration task failed: {e}"));
        }
    };
    while let Some(ticket) = dispenser.take() {
        if let Some(at) = ticket.intended {
            tokio::time::sleep_until(at.into()).await;
        }
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                driven.late_starts += u64::from(!ticket.warmup);
                match permits.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                }
            }
        };
        driven.peak_concurrency = driven
            .peak_concurrency
            .max(max - permits.available_permits());
        let run = iteration.clone();
        tasks.spawn(async move {
            run(ticket).await;
            drop(permit);
        });
        while let Some(r) = tasks.try_join_next() {
            failed(r);
        }
    }
    while let Some(r) = tasks.join_next().await {
        failed(r);
    }
    driven
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    async fn tickets(schedule: Schedule) -> Vec<Ticket> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        drive_until(schedule, Arc::default(), Arc::default(), move |t| {
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
            max_concurrency: 4,
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
            max_concurrency: 2,
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

    /// 20 iterations of 50 ms at 200/s: ten in flight at once.
    async fn arrivals_with(max: usize) -> Driven {
        let schedule = Schedule {
            stop: Stop::Iterations(20),
            concurrency: 1,
            max_concurrency: max,
            rate: Some(200.0),
            warmup: 0,
        };
        drive_until(schedule, Arc::default(), Arc::default(), |_| {
            tokio::time::sleep(Duration::from_millis(50))
        })
        .await
    }

    #[tokio::test]
    async fn the_open_model_provisions_the_concurrency_the_rate_needs() {
        let d = arrivals_with(1000).await;
        assert_eq!(d.late_starts, 0);
        assert!(d.peak_concurrency >= 8, "{d:?}");
        let bounded = arrivals_with(2).await;
        assert_eq!(bounded.peak_concurrency, 2);
        assert!(bounded.late_starts >= 10, "{bounded:?}");
    }

    #[test]
    fn a_rate_too_small_to_schedule_ends_the_schedule_instead_of_overflowing() {
        let d = Dispenser::halting(
            Schedule {
                stop: Stop::Iterations(5),
                rate: Some(1e-20),
                ..Schedule::default()
            },
            Arc::new(AtomicBool::new(false)),
            Arc::default(),
        );
        assert!(d.take().is_some(), "the first start is now");
        assert_eq!(d.take(), None);
    }

    #[tokio::test]
    async fn timed_runs_stop_and_cancellation_stops_at_once() {
        let t = tickets(Schedule {
            stop: Stop::Duration(Duration::from_millis(100)),
            concurrency: 1,
            max_concurrency: 1,
            rate: Some(100.0),
            warmup: 0,
        })
        .await;
        assert_eq!(t.len(), 10, "100 ms at 100/s");
        let cancelled = Arc::new(AtomicBool::new(true));
        let d = Dispenser::halting(Schedule::default(), cancelled, Arc::default());
        assert_eq!(d.take(), None);
    }
}
