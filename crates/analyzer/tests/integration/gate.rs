//! The regression gate's error rates, by simulation: A/A pairs of runs with
//! the noise of a shared machine — a slow drift, bursts that slow many
//! requests in a row, a small offset between whole runs — and the same pairs
//! with the head 5 % slower. The gate must flag at most 5 % of the A/A pairs
//! and at least 80 % of the shifted ones; both rates are printed
//! (`cargo test -p tracesplit-analyzer --test integration gate -- --nocapture`)
//! and recorded in docs/analysis.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tracesplit_analyzer::bootstrap::{Rng, Run};
use tracesplit_analyzer::compare::{Gate, is_regression};

/// Standard normal by Box-Muller from two uniform draws.
fn normal(rng: &mut Rng) -> f64 {
    let u = |rng: &mut Rng| (rng.below(1 << 30) as f64 + 0.5) / f64::from(1u32 << 30);
    let (a, b) = (u(rng), u(rng));
    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
}

/// One run of `n` requests in start order: lognormal latencies around 10 ms
/// (σ 0.2), a drift of ±3 % over the run with a random phase, a whole-run
/// offset of ±0.5 %, and bursts (0–2 a run, 25 requests long) that make half
/// the requests in them 1.3–2× slower; all times `shift`.
fn run(rng: &mut Rng, n: usize, shift: f64) -> Run {
    let phase = rng.below(1000) as f64 / 1000.0 * std::f64::consts::TAU;
    let offset = 1.0 + (rng.below(1001) as f64 - 500.0) / 100_000.0;
    let bursts: Vec<(usize, f64)> = (0..rng.below(3))
        .map(|_| (rng.below(n), 1.3 + rng.below(700) as f64 / 1000.0))
        .collect();
    (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            let drift = 1.0 + 0.03 * (std::f64::consts::TAU * t + phase).sin();
            let mut v = 10.0 * (0.2 * normal(rng)).exp() * drift * offset * shift;
            for &(at, factor) in &bursts {
                if (at..at + 25).contains(&i) && rng.below(2) == 0 {
                    v *= factor;
                }
            }
            v
        })
        .collect()
}

/// Flags among `pairs` base/head pairs (head `shift` times slower).
fn flagged(pairs: u64, shift: f64, gate: &Gate, seed: u64) -> u64 {
    let mut rng = Rng::new(seed);
    (0..pairs)
        .filter(|k| {
            let (base, head) = (run(&mut rng, 2500, 1.0), run(&mut rng, 2500, shift));
            let c = tracesplit_analyzer::bootstrap::p95_change_with(
                std::slice::from_ref(&base),
                std::slice::from_ref(&head),
                *k + 1,
                200,
                gate.alpha,
            );
            let (b, h) = (
                tracesplit_analyzer::bootstrap::side_p95(&[base]),
                tracesplit_analyzer::bootstrap::side_p95(&[head]),
            );
            is_regression(c.change, c.interval, (b, h), gate)
        })
        .count() as u64
}

#[test]
fn the_gate_keeps_its_false_positive_rate_and_finds_a_five_percent_shift() {
    let gate = Gate {
        max_regression: 0.02,
        floor_ms: 0.0,
        alpha: 0.05,
    };
    let pairs = 200;
    let false_positives = flagged(pairs, 1.0, &gate, 11);
    let detected = flagged(pairs, 1.05, &gate, 12);
    println!(
        "A/A: {false_positives} of {pairs} flagged ({:.1} %); +5 % P95: {detected} of {pairs} detected ({:.1} %)",
        100.0 * false_positives as f64 / pairs as f64,
        100.0 * detected as f64 / pairs as f64
    );
    assert!(
        false_positives * 20 <= pairs,
        "false positives {false_positives} of {pairs}"
    );
    assert!(detected * 5 >= pairs * 4, "detected {detected} of {pairs}");
}
