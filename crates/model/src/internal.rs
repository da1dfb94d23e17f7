//! Internal faults: a lock poisoned by a thread that panicked while holding
//! it, a worker's panic. They are bugs in tracesplit, not bad input. The first
//! is logged once (stderr) with where it happened; the work goes on with what
//! the lock holds, so nothing already collected is lost; and the command
//! exits 4 at the end (the binary asks [`first`]).

use std::sync::{Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

static FIRST: OnceLock<String> = OnceLock::new();

/// Records an internal fault; only the first is logged.
pub fn report(what: impl std::fmt::Display) {
    let text = what.to_string();
    if FIRST.set(text.clone()).is_ok() {
        eprintln!(
            "error: internal error: {text} — tracesplit goes on with what it has and exits 4; \
             please report it (https://github.com/tracesplit/tracesplit/issues) with this line"
        );
    }
}

/// The first internal fault of this process, if there was one.
pub fn first() -> Option<&'static str> {
    FIRST.get().map(String::as_str)
}

/// What a lock operation returned (a guard, or a condition variable's guard
/// and timeout), poisoned or not: a poisoned one is reported ([`report`])
/// with the caller's file and line (the lock methods below pass theirs on).
#[track_caller]
pub fn unpoisoned<G>(result: std::sync::LockResult<G>) -> G {
    let at = std::panic::Location::caller();
    result.unwrap_or_else(|p| {
        report(format!(
            "a lock at {}:{} was poisoned (a thread panicked while holding it)",
            at.file(),
            at.line()
        ));
        p.into_inner()
    })
}

/// Locking that treats a poisoned lock as an internal fault ([`report`])
/// and carries on with its contents, instead of dropping work silently.
pub trait Locked<T: ?Sized> {
    /// The guard of a mutex, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> Locked<T> for Mutex<T> {
    #[track_caller]
    fn locked(&self) -> MutexGuard<'_, T> {
        unpoisoned(self.lock())
    }
}

/// [`Locked`] for readers-writer locks.
pub trait RwLocked<T: ?Sized> {
    /// A read guard, poisoned or not.
    fn reading(&self) -> RwLockReadGuard<'_, T>;
    /// A write guard, poisoned or not.
    fn writing(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLocked<T> for RwLock<T> {
    #[track_caller]
    fn reading(&self) -> RwLockReadGuard<'_, T> {
        unpoisoned(self.read())
    }

    #[track_caller]
    fn writing(&self) -> RwLockWriteGuard<'_, T> {
        unpoisoned(self.write())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_lock_keeps_its_contents_and_is_reported_once() {
        let m = Arc::new(Mutex::new(vec![1, 2]));
        let held = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = held.lock().unwrap();
            g.push(3);
            std::panic::panic_any("poisoning the lock");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*m.locked(), vec![1, 2, 3]);
        let first = first().expect("reported").to_owned();
        assert!(first.contains("internal.rs:"), "{first}");
        assert!(first.contains("poisoned"), "{first}");
        let rw = Arc::new(RwLock::new(7));
        let held = rw.clone();
        let _ = std::thread::spawn(move || {
            let _g = held.write().unwrap();
            std::panic::panic_any("poisoning the lock");
        })
        .join();
        assert_eq!(*rw.reading(), 7);
        *rw.writing() = 8;
        assert_eq!(*rw.reading(), 8);
        // Only the first fault is kept.
        assert_eq!(super::first(), Some(first.as_str()));
    }
}
