//! The runner's memory does not grow with the run's length.
//!
//! `cargo bench -p tracesplit-runner --bench memory [-- REQUESTS [CONCURRENCY]]`
//!
//! Runs a timed scenario (`--duration`, closed model, CONCURRENCY = 64)
//! against a loopback no-op endpoint, with client spans exported to a sink,
//! and reads the process's peak RSS (VmHWM) and current RSS (VmRSS) at every
//! tenth of REQUESTS (default 1,000,000) answered; then stops the run.
//! Prints the readings and the ratio of the last peak to the first (the
//! goal: within 10 %; docs/benchmarks.md says why it is not met). The
//! endpoint runs in the same process; its memory is bounded by the
//! concurrency, so growth between the two readings is the runner's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/noop.rs"]
mod noop;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tracesplit_runner::{Collect, RunConfig, run, suite};
use tracesplit_runner::{Schedule, Stop};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A `/proc/self/status` field in KiB: `VmHWM` (the peak resident set so
/// far) or `VmRSS` (now).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(1_000_000);
    let concurrency = args.get(1).copied().unwrap_or(64) as usize;
    let served = Arc::new(AtomicU64::new(0));
    let (addr, _server) = noop::start_counting_server(served.clone());
    let base = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let text = "name = \"bench\"\n[[scenario]]\nname = \"NOOP\"\nentity_type = \"X\"\noperation = \"GET\"\ntarget_p95_ms = 1000\nsteps = [{ method = \"GET\", path = \"/noop\", expect = [200] }]\n";
    let cancelled = Arc::new(AtomicBool::new(false));
    let config = RunConfig {
        timeout: Duration::from_secs(10),
        schedule: Schedule {
            stop: Stop::Duration(Duration::from_secs(3600)),
            concurrency,
            ..Schedule::default()
        },
        run_id: "memory".into(),
        setup_concurrency: 1,
        cancelled: cancelled.clone(),
        ..RunConfig::new(
            &base,
            suite::parse(text, "bench").unwrap(),
            dir.path().join("run"),
            Collect::external(Some(base.clone())),
        )
    };
    // A reading at every tenth: the peak's ratio compares the first and the
    // last; the ones between show whether memory creeps or jumps.
    let marks: Vec<u64> = (1..=10).map(|k| total * k / 10).collect();
    let readings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let monitor = {
        let (served, cancelled, readings) = (served.clone(), cancelled.clone(), readings.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            for mark in marks {
                while served.load(Relaxed) < mark {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let n = served.load(Relaxed);
                readings.lock().unwrap().push((
                    n,
                    peak_rss_kib(),
                    status_kib("VmRSS:"),
                    started.elapsed(),
                ));
            }
            cancelled.store(true, Relaxed);
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(run(config)).unwrap();
    monitor.join().unwrap();
    let readings = readings.lock().unwrap().clone();
    println!(
        "runner peak RSS (VmHWM) at concurrency {concurrency}, no-op endpoint, spans to a sink:"
    );
    for (n, peak, now, t) in &readings {
        println!(
            "  after {n:>9} requests ({:>5.1} s): peak {:>7.1} MiB, now {:>7.1} MiB",
            t.as_secs_f64(),
            *peak as f64 / 1024.0,
            *now as f64 / 1024.0
        );
    }
    let (first, last) = (&readings[0], &readings[readings.len() - 1]);
    let ratio = last.1 as f64 / first.1 as f64;
    println!(
        "  ratio {ratio:.3} (goal ≤ 1.10); requests.parquet has {} rows",
        outcome.requests
    );
}
