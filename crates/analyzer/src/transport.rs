//! Transport stalls: answers whose body came long after their head. A
//! server that writes head and body in two sends with Nagle's algorithm on
//! holds the body until the client acknowledges the head, and the client
//! delays that ACK (40 ms on Linux): every answer waits. The split is right
//! to call it network (the bytes waited in the server's kernel); this names
//! the cause. When the clocks agree, a stall during which the server span
//! was still open is told apart: the server wrote the body late (a busy
//! event loop between its two sends, a body computed late), and the split
//! counts that time in the server, not on the wire.

use crate::split::RequestSplit;
use crate::table::RequestTable;
use tracesplit_model::analysis::{ClockCheck, Finding, ScenarioAnalysis, Severity, Stall};

/// A body this much later than its head is stalled (ns).
const STALLED_NS: i64 = 5_000_000;
/// The share of answers that must stall for a finding.
const SHARE: f64 = 0.10;

/// The stall of the requests `expected` (None: none stalled).
pub fn stall(t: &RequestTable, splits: &[RequestSplit], expected: &[usize]) -> Option<Stall> {
    let stalled: Vec<(usize, i64)> = expected
        .iter()
        .filter_map(|&i| Some((i, t.stall.get(i).copied()?)))
        .filter(|&(_, s)| s >= STALLED_NS)
        .collect();
    if stalled.is_empty() {
        return None;
    }
    let in_server = stalled
        .iter()
        .filter(|&&(i, wait)| {
            splits
                .get(i)
                .is_some_and(|sp| held_by_server(t, sp, i, wait))
        })
        .count();
    let mut waits: Vec<i64> = stalled.iter().map(|&(_, s)| s).collect();
    let k = waits.len() / 2;
    let median = *waits.select_nth_unstable(k).1;
    Some(Stall {
        requests: waits.len() as u64,
        of: expected.len() as u64,
        median_ms: tracesplit_model::stats::ms(median),
        in_server: in_server as u64,
    })
}

/// Whether request `i`'s body waited (`wait` ns) mostly while its server
/// span was open: the span ended less than half the wait before the last
/// byte arrived. Only with agreeing clocks (`before_ns` is set then).
fn held_by_server(t: &RequestTable, sp: &RequestSplit, i: usize, wait: i64) -> bool {
    sp.matched && sp.before_ns.is_some() && crate::outside::after_span(sp, t, i) < wait / 2
}

/// A finding per scenario whose answers stall, with the likely cause.
pub fn rules(scenarios: &[ScenarioAnalysis], clocks: Option<&ClockCheck>) -> Vec<Finding> {
    let rtt = clocks
        .and_then(|c| c.one_way_ms)
        .map(|one_way| match 2.0 * one_way {
            // Loopback: "a 0.00 ms round trip" reads like a missing value.
            rtt if rtt < 0.005 => "a round trip under 0.01 ms".to_string(),
            rtt => format!("a {rtt:.2} ms round trip"),
        })
        .unwrap_or_else(|| "the round trip".into());
    scenarios
        .iter()
        .filter_map(|s| Some((s, s.stall?)))
        .filter(|(_, st)| st.requests as f64 >= SHARE * st.of.max(1) as f64)
        .map(|(s, st)| {
            let (cause, next, split) = cause_of(&st);
            Finding {
                severity: Severity::Warning,
                rule: "transport_stall".into(),
                scenario: Some(s.scenario.clone()),
                title: format!(
                    "{}: answers stall {:.1} ms between head and body on {rtt}: {cause}",
                    s.scenario, st.median_ms
                ),
                detail: format!(
                    "{} of {} answers came with their body ≥ 5 ms after their head (median {:.1} ms); {split}",
                    st.requests, st.of, st.median_ms
                ),
                next_step: Some(next.into()),
            }
        })
        .collect()
}

/// The stall's likely cause, the next step, and where the split puts it.
fn cause_of(st: &Stall) -> (&'static str, &'static str, String) {
    if st.in_server * 2 > st.requests {
        return (
            "the server writes the body late, its span still open",
            "look at what runs between the head and the body: an event loop or worker busy with other requests (add workers or processes), or a streamed body computed late",
            format!(
                "for {} of them the server span was still open while the body waited: that time is the server's in the split, not network",
                st.in_server
            ),
        );
    }
    let kernel =
        "that time is network in the split: the bytes waited in the server's kernel".to_string();
    if (35.0..=50.0).contains(&st.median_ms) || (190.0..=220.0).contains(&st.median_ms) {
        (
            "Nagle's algorithm on the server meets the client's delayed ACK (the wait is the delayed-ACK timer)",
            "set TCP_NODELAY on the server's sockets, or write each answer's head and body in one send",
            kernel,
        )
    } else {
        (
            "the server sends the head, then makes the client wait for the body",
            "look at what the server does between writing the head and the body (a streamed body computed late, Nagle's algorithm: TCP_NODELAY)",
            kernel,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten answers whose body waited 20 ms; the server span ends at `end`
    /// (client: 0 → 30 ms); `trusted`: the clocks agreed.
    fn stalled(end: i64, trusted: bool) -> Stall {
        let mut t = RequestTable::default();
        let mut splits = Vec::new();
        for _ in 0..10 {
            t.start.push(0);
            t.duration.push(30_000_000);
            t.stall.push(20_000_000);
            splits.push(RequestSplit {
                matched: true,
                server_start_ns: 1_000_000,
                server_ns: end - 1_000_000,
                before_ns: trusted.then_some(1_000_000),
                ..Default::default()
            });
        }
        stall(&t, &splits, &(0..10).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_stall_is_the_servers_while_its_span_was_open() {
        // The span ended with the body: the server wrote it late.
        let late_body = stalled(29_900_000, true);
        assert_eq!((late_body.requests, late_body.in_server), (10, 10));
        let (cause, _, split) = cause_of(&late_body);
        assert!(cause.contains("span still open"), "{cause}");
        assert!(split.contains("not network"), "{split}");
        // The span ended with the head: the body waited in the kernel.
        let kernel = stalled(10_000_000, true);
        assert_eq!(kernel.in_server, 0);
        assert!(cause_of(&kernel).2.contains("server's kernel"));
        // Without agreeing clocks the span's end says nothing.
        assert_eq!(stalled(29_900_000, false).in_server, 0);
    }
}
