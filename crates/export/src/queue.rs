//! A queue many threads push onto and one thread drains on an interval.
//!
//! Ended spans (the catalog's SDK spans, the runner's own spans) and the
//! runner's request rows all take this path: a push takes an uncontended
//! mutex and never wakes a thread (a channel would cost a wake-up per item at
//! tens of thousands of items per second); the draining thread wakes on its
//! interval, on a flush or on stop, swaps the queue with a spare vector and
//! hands it over.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tracesplit_model::internal::{Locked, unpoisoned};

#[derive(Debug, Default)]
struct Control {
    flush_requested: u64,
    flush_done: u64,
    stopped: bool,
    /// A pusher found the queue half full (or full): drain before the interval.
    drain_now: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct DrainQueue<T> {
    items: Mutex<Vec<T>>,
    control: Mutex<Control>,
    wake: Condvar,
    /// Initial capacity of the queue and of its spare.
    capacity: usize,
    /// Items queued at most; pushes beyond it are dropped (or wait, below).
    limit: usize,
    /// With back-pressure, a push to a full queue waits this long for room
    /// (slowing the producer) before it drops.
    backpressure: Option<Duration>,
    /// Signalled when a drain made room.
    room: Condvar,
}

impl<T> DrainQueue<T> {
    /// A queue with room for `capacity` items before it grows (growing a large
    /// vector by doubling copies and page-faults it each time; untouched
    /// capacity costs address space, not memory) that holds `limit` at most.
    pub fn new(capacity: usize, limit: usize) -> Self {
        Self {
            items: Mutex::new(Vec::with_capacity(capacity)),
            control: Mutex::new(Control::default()),
            wake: Condvar::new(),
            capacity,
            limit,
            backpressure: None,
            room: Condvar::new(),
        }
    }

    /// A full queue makes pushers wait (up to `wait`) for the draining thread
    /// instead of dropping: a component that must not lose items (the
    /// reference catalog's spans) slows down instead.
    pub fn with_backpressure(mut self, wait: Duration) -> Self {
        self.backpressure = Some(wait);
        self
    }

    /// Queues `items` under one lock; those over the limit are dropped (after
    /// waiting for room, with back-pressure). Returns how many were dropped.
    /// The draining thread is woken early once the queue is half full.
    pub fn push<const N: usize>(&self, items: [T; N]) -> usize {
        let mut q = self.items.locked();
        if let Some(wait) = self.backpressure
            && q.len() + N > self.limit
        {
            self.drain_soon();
            (q, _) = unpoisoned(
                self.room
                    .wait_timeout_while(q, wait, |q| q.len() + N > self.limit),
            );
        }
        let before = q.len();
        let mut dropped = 0;
        for item in items {
            if q.len() < self.limit {
                q.push(item);
            } else {
                dropped += 1;
            }
        }
        let half = self.limit / 2;
        if before < half && q.len() >= half {
            drop(q);
            self.drain_soon();
        }
        dropped
    }

    /// Wakes the draining thread before its interval.
    fn drain_soon(&self) {
        self.control.locked().drain_now = true;
        self.wake.notify_all();
    }

    /// Asks for a drain now and waits until it is done (or the queue stopped)
    /// for at most `timeout`; `false` when the time ran out.
    pub fn flush(&self, timeout: Duration) -> bool {
        let mut c = self.control.locked();
        c.flush_requested += 1;
        let mine = c.flush_requested;
        self.wake.notify_all();
        let (_guard, t) = unpoisoned(
            self.wake
                .wait_timeout_while(c, timeout, |c| c.flush_done < mine && !c.stopped),
        );
        !t.timed_out()
    }

    /// Asks the draining thread for a last drain, after which its loop returns.
    pub fn stop(&self) {
        self.control.locked().stopped = true;
        self.wake.notify_all();
    }

    /// The draining thread's loop: on every wake (the interval, a flush, a
    /// stop) hands what is queued to `drain`, in a vector whose capacity is
    /// kept (a fresh one would be regrown by the pushers under the lock).
    /// `drain` may leave items in it: they are dropped. Returns after the
    /// drain that follows [`DrainQueue::stop`].
    pub fn drain_loop(&self, interval: Duration, mut drain: impl FnMut(&mut Vec<T>)) {
        let mut spare = Vec::with_capacity(self.capacity);
        loop {
            let control = self.control.locked();
            let (mut control, _) =
                unpoisoned(self.wake.wait_timeout_while(control, interval, |c| {
                    c.flush_requested == c.flush_done && !c.stopped && !c.drain_now
                }));
            control.drain_now = false;
            let (flush, stopped) = (control.flush_requested, control.stopped);
            drop(control);
            std::mem::swap(&mut *self.items.locked(), &mut spare);
            self.room.notify_all();
            drain(&mut spare);
            spare.clear();
            {
                let mut c = self.control.locked();
                c.flush_done = c.flush_done.max(flush);
            }
            self.wake.notify_all();
            if stopped {
                return;
            }
        }
    }
}

/// The thread that drains a [`DrainQueue`]. [`Drainer::finish`] stops the
/// queue and waits for the thread's last drain; dropping the drainer does the
/// same, so a component that ends early (a run failing half-way) still hands
/// over what was queued and leaves no thread waking every interval.
#[derive(Debug)]
pub struct Drainer<T, R> {
    queue: Arc<DrainQueue<T>>,
    thread: Mutex<Option<JoinHandle<R>>>,
}

impl<T, R: Send + 'static> Drainer<T, R> {
    /// Runs `body` on a thread named `name`; `body` drains `queue` (with
    /// [`DrainQueue::drain_loop`]) until it is stopped.
    pub fn spawn(
        name: &str,
        queue: Arc<DrainQueue<T>>,
        body: impl FnOnce() -> R + Send + 'static,
    ) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new().name(name.into()).spawn(body)?;
        Ok(Self {
            queue,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl<T, R> Drainer<T, R> {
    /// Stops the queue and waits for the thread's last drain: the thread's
    /// result (`Err` when it panicked) the first time, `None` after.
    pub fn finish(&self) -> Option<std::thread::Result<R>> {
        self.queue.stop();
        let thread = self.thread.locked().take()?;
        Some(thread.join())
    }
}

impl<T, R> Drop for Drainer<T, R> {
    fn drop(&mut self) {
        // Whoever needs the result calls `finish` first; here it is too late to report.
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_from_many_threads_are_drained_once_flush_waits_and_stop_ends_the_loop() {
        let q = Arc::new(DrainQueue::new(4, usize::MAX));
        let (drainer, seen) = {
            let q = q.clone();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let s = seen.clone();
            let t = std::thread::spawn(move || {
                q.drain_loop(Duration::from_secs(3600), |v| {
                    s.lock().unwrap().append(v);
                })
            });
            (t, seen)
        };
        let pushers: Vec<_> = (0..4u64)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        assert_eq!(q.push([t * 1000 + i]), 0);
                    }
                })
            })
            .collect();
        pushers.into_iter().for_each(|t| t.join().unwrap());
        // The interval is an hour: only the flush can have drained them.
        assert!(q.flush(Duration::from_secs(10)));
        assert_eq!(seen.lock().unwrap().len(), 2000);
        q.push([7, 8]);
        q.stop();
        drainer.join().unwrap();
        let mut all = seen.lock().unwrap().clone();
        all.sort_unstable();
        let mut expected: Vec<u64> = (0..4u64)
            .flat_map(|t| (0..500).map(move |i| t * 1000 + i))
            .chain([7, 8])
            .collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
        assert!(
            q.flush(Duration::from_secs(1)),
            "a stopped queue does not hold flushes up"
        );
    }

    #[test]
    fn with_back_pressure_a_slow_drain_slows_the_pushers_and_loses_nothing() {
        let q = Arc::new(DrainQueue::new(0, 16).with_backpressure(Duration::from_secs(30)));
        let seen = Arc::new(Mutex::new(0usize));
        let drainer = {
            let (q, seen) = (q.clone(), seen.clone());
            std::thread::spawn(move || {
                q.drain_loop(Duration::from_secs(3600), |v| {
                    // A slow exporter: a millisecond per drain.
                    std::thread::sleep(Duration::from_millis(1));
                    *seen.lock().unwrap() += v.len();
                })
            })
        };
        let pushers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || (0..2000).map(|i| q.push([i])).sum::<usize>())
            })
            .collect();
        let dropped: usize = pushers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(dropped, 0);
        q.stop();
        drainer.join().unwrap();
        assert_eq!(*seen.lock().unwrap(), 6000);
    }

    #[test]
    fn pushes_over_the_limit_are_dropped_and_counted() {
        let q = DrainQueue::new(0, 3);
        assert_eq!(q.push([1, 2]), 0);
        assert_eq!(q.push([3, 4, 5]), 2);
    }
}
