//! Refusals stop early: a scenario whose first requests the API refuses —
//! 401/403, or another 4xx its steps do not expect — stops after a handful
//! of them instead of sending every iteration, and says what the API
//! answered. A 401/403 means the run's credentials: the run stops.

use crate::client::Outcome;
use crate::suite::Step;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use tracesplit_model::internal::Locked;

/// Refusals in a row, before any expected answer, that stop a scenario.
pub const REFUSALS: u64 = 3;

/// Whether `outcome` is a refusal of `step`: 401, 403, or a 4xx it does not expect.
pub fn is_refusal(step: &Step, outcome: &Outcome) -> bool {
    outcome.error.is_none()
        && (matches!(outcome.status, 401 | 403)
            || ((400..500).contains(&outcome.status) && !step.expect.contains(&outcome.status)))
}

/// `POST /path answered 403: {"detail":"Not authenticated"}`.
pub fn describe(step: &Step, path: &str, outcome: &Outcome) -> String {
    format!(
        "{} {path} answered {}: {}",
        step.method,
        outcome.status,
        outcome.body_excerpt().trim()
    )
}

/// One scenario's refusals so far.
#[derive(Default)]
pub struct Refusals {
    /// Set once the scenario must stop: no new iteration starts.
    pub halted: Arc<AtomicBool>,
    count: AtomicU64,
    answered: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Refusals {
    /// An expected answer arrived: the API serves this scenario.
    pub fn answered(&self) {
        // Read first: every expected answer calls this, and a store on
        // each would bounce the cache line between the workers' cores.
        if !self.answered.load(Relaxed) {
            self.answered.store(true, Relaxed);
        }
    }

    /// A refusal arrived; returns true when it stops the scenario.
    pub fn refused(&self, what: String) -> bool {
        if self.answered.load(Relaxed) {
            return false;
        }
        self.reason.locked().get_or_insert(what);
        let stop = self.count.fetch_add(1, Relaxed) + 1 >= REFUSALS;
        if stop {
            self.halted.store(true, Relaxed);
        }
        stop
    }

    /// Why the scenario stopped, when it did.
    pub fn reason(&self) -> Option<String> {
        if !self.halted.load(Relaxed) {
            return None;
        }
        self.reason.locked().clone()
    }
}
