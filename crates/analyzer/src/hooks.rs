//! Test hooks: faults no real input can cause, planted on request so the
//! tests can prove how the tool reports them. Each reads the environment
//! variable `TRACESPLIT_FAULT_INJECT` once, in the one place it acts.

use crate::split::RequestSplit;

/// `TRACESPLIT_FAULT_INJECT=worker-panic`: the thread that computes a
/// scenario's statistics panics — the command must report an internal error
/// once and exit 4 (a panic is never input's fault). docs/testing.md.
// The one panic in the product, planted on request: what it proves is how
// a panic is reported.
#[allow(clippy::panic)]
pub(crate) fn panic_a_worker_when_asked() {
    if std::env::var_os("TRACESPLIT_FAULT_INJECT").is_some_and(|v| v == "worker-panic") {
        std::panic::panic_any("planted by TRACESPLIT_FAULT_INJECT=worker-panic");
    }
}

/// `TRACESPLIT_FAULT_INJECT=split-sum`: one matched request's handler time
/// grows by 1 ns, so its split no longer sums to its total — the analysis
/// must call that an internal error (exit 4). docs/testing.md.
pub(crate) fn break_a_split_when_asked(splits: &mut [RequestSplit]) {
    if std::env::var_os("TRACESPLIT_FAULT_INJECT").is_some_and(|v| v == "split-sum")
        && let Some(s) = splits.iter_mut().find(|s| s.matched)
    {
        s.handler_ns += 1;
    }
}
