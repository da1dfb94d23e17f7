//! Transport stalls: answers whose body came long after their head. A
//! server that writes head and body in two sends with Nagle's algorithm on
//! holds the body until the client acknowledges the head, and the client
//! delays that ACK (40 ms on Linux): every answer waits. The split is right
//! to call it network (the bytes waited in the server's kernel); this names
//! the cause.

use crate::table::RequestTable;
use tracesplit_model::analysis::{ClockCheck, Finding, ScenarioAnalysis, Severity, Stall};

/// A body this much later than its head is stalled (ns).
const STALLED_NS: i64 = 5_000_000;
/// The share of answers that must stall for a finding.
const SHARE: f64 = 0.10;

/// The stall of the requests `expected` (None: none stalled).
pub fn stall(t: &RequestTable, expected: &[usize]) -> Option<Stall> {
    let mut waits: Vec<i64> = expected
        .iter()
        .filter_map(|&i| t.stall.get(i).copied())
        .filter(|&s| s >= STALLED_NS)
        .collect();
    if waits.is_empty() {
        return None;
    }
    let k = waits.len() / 2;
    let median = *waits.select_nth_unstable(k).1;
    Some(Stall {
        requests: waits.len() as u64,
        of: expected.len() as u64,
        median_ms: tracesplit_model::stats::ms(median),
    })
}

/// A finding per scenario whose answers stall, with the likely cause.
pub fn rules(scenarios: &[ScenarioAnalysis], clocks: Option<&ClockCheck>) -> Vec<Finding> {
    let rtt = clocks
        .and_then(|c| c.one_way_ms)
        .map(|one_way| format!("a {:.2} ms round trip", 2.0 * one_way))
        .unwrap_or_else(|| "the round trip".into());
    scenarios
        .iter()
        .filter_map(|s| Some((s, s.stall?)))
        .filter(|(_, st)| st.requests as f64 >= SHARE * st.of.max(1) as f64)
        .map(|(s, st)| {
            let delayed_ack = (35.0..=50.0).contains(&st.median_ms) || (190.0..=220.0).contains(&st.median_ms);
            let (cause, next) = if delayed_ack {
                (
                    "Nagle's algorithm on the server meets the client's delayed ACK (the wait is the delayed-ACK timer)",
                    "set TCP_NODELAY on the server's sockets, or write each answer's head and body in one send",
                )
            } else {
                (
                    "the server sends the head, then makes the client wait for the body",
                    "look at what the server does between writing the head and the body (a streamed body computed late, Nagle's algorithm: TCP_NODELAY)",
                )
            };
            Finding {
                severity: Severity::Warning,
                rule: "transport_stall".into(),
                scenario: Some(s.scenario.clone()),
                title: format!(
                    "{}: answers stall {:.1} ms between head and body on {rtt}: {cause}",
                    s.scenario, st.median_ms
                ),
                detail: format!(
                    "{} of {} answers came with their body ≥ 5 ms after their head (median {:.1} ms); that time is network in the split: the bytes waited in the server's kernel",
                    st.requests, st.of, st.median_ms
                ),
                next_step: Some(next.into()),
            }
        })
        .collect()
}
