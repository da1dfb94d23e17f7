//! Where the time outside the server span goes: the wire, or the server
//! itself before and after its own span (a busy worker, a blocked event loop,
//! middleware before the instrumented handler, flushing after it).
//!
//! `total − server` is everything outside the server span. When the clocks
//! can be trusted — the server span lies inside the client span for nearly
//! every request, as it always does on one host — that time splits into
//! *before* the server span (the request on the wire, then waiting to be
//! handled) and *after* it (the response written, then on the wire). The
//! response leg holds no queueing, so its low end over the run, less each
//! response's transfer time, is the one-way wire latency. A request's wire
//! time is then a round trip (twice that) plus its response's transfer (last
//! byte − first byte), never more than its outside time; **network** is that,
//! and **queue** is the rest. Without trusted clocks the outside time stays
//! network, as the durations alone say, and the analysis says why.

use crate::split::RequestSplit;
use crate::table::RequestTable;
use tracesplit_model::analysis::ClockCheck;
use tracesplit_model::stats::{ms, rank_of};

/// Percentage of the answered matched requests whose server span may lie
/// outside the client span with the clocks still counted as consistent.
const STRAY_PERCENT: u64 = 5;

/// Slack of the inside test: the two clocks are read on different threads
/// (and the client's is a monotonic offset from one wall-clock reading).
const SLACK_NS: i64 = 100_000;

/// More slack at the end: a server span may end after its answer has left
/// and arrived (the framework's bookkeeping after the last send — Python's
/// ASGI stack under load ends its span up to a few hundred µs after the
/// client has read the answer). That is no clock error.
const AFTER_SLACK_NS: i64 = 2_000_000;

/// How many answered requests may lie outside their client span with the
/// clocks still trusted: 5 %, rounded up once there are 10 to check — on a
/// loaded 2-core machine one worker descheduled between its last send and
/// its span's end is enough to put one request of 17 outside, and clocks
/// that disagree put nearly all of them outside.
fn strays_allowed(checked: u64) -> u64 {
    let round_up = if checked >= 10 { 99 } else { 0 };
    (checked * STRAY_PERCENT + round_up) / 100
}

/// One matched request's legs.
struct Legs {
    before: i64,
    after: i64,
    transfer: i64,
    setup: i64,
}

/// Request `i`'s legs (`sp`: its split, matched).
fn legs(sp: &RequestSplit, t: &RequestTable, i: usize) -> Legs {
    let (c0, c1) = (t.start[i], t.start[i] + t.duration[i]);
    Legs {
        before: sp.server_start_ns - c0,
        after: c1 - (sp.server_start_ns + sp.server_ns),
        transfer: t.ttfb[i].map_or(0, |f| (t.duration[i] - f).max(0)),
        setup: t.setup.get(i).copied().unwrap_or(0),
    }
}

/// Whether request `i` answered as expected: only those tell the clocks
/// apart. A server span of a failure may end after its answer (the
/// exception is recorded and re-raised after the 500 went out), and one the
/// client gave up on ends after the client did; rows without an outcome
/// (tables built by hand) count as answered.
fn answered(t: &RequestTable, i: usize) -> bool {
    t.expected.get(i).copied().unwrap_or(true)
}

/// The answered matched requests' splits, with their rows.
fn matched_mut<'a>(
    splits: &'a mut [RequestSplit],
    t: &'a RequestTable,
) -> impl Iterator<Item = (usize, &'a mut RequestSplit)> {
    (splits.iter_mut().enumerate()).filter(move |(i, sp)| sp.matched && answered(t, *i))
}

/// Each answered matched request's legs, computed again where they are
/// needed rather than kept (40 bytes a request: 400 MB at 10 M requests).
fn each_leg(splits: &[RequestSplit], t: &RequestTable) -> impl Iterator<Item = Legs> {
    (splits.iter().enumerate())
        .filter(|(i, sp)| sp.matched && answered(t, *i))
        .map(move |(i, sp)| legs(sp, t, i))
}

/// Splits every matched request's outside time into network and queue (in
/// place; the components still sum to the total) and says how the clocks
/// looked (`None` without matched requests).
pub fn locate(splits: &mut [RequestSplit], t: &RequestTable) -> Option<ClockCheck> {
    let (mut inside, mut checked) = (0u64, 0u64);
    for l in each_leg(splits, t) {
        checked += 1;
        inside += u64::from(l.before >= -SLACK_NS && l.after >= -SLACK_NS - AFTER_SLACK_NS);
    }
    if checked == 0 {
        return None;
    }
    let mut check = ClockCheck {
        consistent: checked - inside <= strays_allowed(checked),
        inside,
        checked,
        one_way_ms: None,
    };
    if !check.consistent {
        for (i, sp) in matched_mut(splits, t) {
            sp.setup_ns = legs(sp, t, i).setup.min(sp.network_ns);
        }
        return Some(check);
    }
    // The low end (5th percentile, robust to a clock hiccup) of the response
    // leg without its transfer.
    let mut floors: Vec<i64> = each_leg(splits, t)
        .map(|l| (l.after - l.transfer).max(0))
        .collect();
    let k = rank_of(floors.len(), 5.0) - 1;
    let one_way = floors.select_nth_unstable(k).1.to_owned();
    drop(floors);
    check.one_way_ms = Some(ms(one_way));
    for (i, sp) in matched_mut(splits, t) {
        // Opening the connection (TCP, TLS) happens before the request is
        // sent, outside the server span: it is wire, measured by the
        // client, not queue.
        let l = legs(sp, t, i);
        let outside = sp.network_ns;
        let wire = outside.min(l.setup + 2 * one_way + l.transfer);
        sp.network_ns = wire;
        sp.setup_ns = l.setup.min(wire);
        sp.queue_ns = outside - wire;
        sp.before_ns = Some(l.before.clamp(0, outside.max(0)));
    }
    Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request: client [0, total], server [start, end], first byte at ttfb.
    fn fixture(reqs: &[(i64, i64, i64, i64)]) -> (Vec<RequestSplit>, RequestTable) {
        let mut t = RequestTable::default();
        let mut splits = Vec::new();
        for &(total, start, end, ttfb) in reqs {
            t.start.push(0);
            t.duration.push(total);
            t.ttfb.push(Some(ttfb));
            t.setup.push(0);
            let server = end - start;
            splits.push(RequestSplit {
                matched: true,
                total_ns: total,
                server_ns: server,
                server_start_ns: start,
                network_ns: total - server,
                handler_ns: server,
                ..Default::default()
            });
        }
        (splits, t)
    }

    #[test]
    fn a_wait_before_the_server_span_is_queue_not_network() {
        // 30 ms before the span, 1 ms handler, 50 µs back.
        let reqs: Vec<_> = (0..20)
            .map(|_| {
                (
                    31_100_000,
                    31_000_000 - 1_000_000 + 50_000,
                    31_050_000,
                    31_090_000,
                )
            })
            .collect();
        let (mut splits, t) = fixture(&reqs);
        let m = locate(&mut splits, &t);
        assert!(m.unwrap().consistent);
        let sp = splits[0];
        assert_eq!(sp.network_ns + sp.queue_ns + sp.handler_ns, sp.total_ns);
        assert!(sp.network_ns < 200_000, "{sp:?}");
        assert!(sp.queue_ns > 29_800_000, "{sp:?}");
    }

    #[test]
    fn a_symmetric_wire_delay_is_network() {
        // 10 ms each way, 1 ms handler, nothing else.
        let reqs: Vec<_> = (0..20)
            .map(|_| (21_000_000, 10_000_000, 11_000_000, 21_000_000))
            .collect();
        let (mut splits, t) = fixture(&reqs);
        locate(&mut splits, &t);
        let sp = splits[3];
        assert_eq!((sp.network_ns, sp.queue_ns), (20_000_000, 0));
    }

    #[test]
    fn opening_the_connection_is_network_not_queue() {
        // A 4 ms TLS handshake before the request; the server answers at once.
        let reqs: Vec<_> = (0..20)
            .map(|_| (5_200_000, 4_100_000, 5_100_000, 5_200_000))
            .collect();
        let (mut splits, mut t) = fixture(&reqs);
        t.setup = vec![4_000_000; 20];
        locate(&mut splits, &t);
        let sp = splits[0];
        assert_eq!(sp.setup_ns, 4_000_000, "{sp:?}");
        assert!(
            sp.network_ns >= 4_000_000 && sp.queue_ns <= 100_000,
            "{sp:?}"
        );
        assert_eq!(sp.network_ns + sp.queue_ns + sp.handler_ns, sp.total_ns);
    }

    #[test]
    fn one_stray_request_in_a_small_sample_keeps_the_clocks() {
        // 17 answered, one of which ended 3 ms after the client read it.
        let mut reqs = vec![(3_000_000, 1_000_000, 2_000_000, 3_000_000); 17];
        reqs[5] = (3_000_000, 2_900_000, 5_500_000, 3_000_000);
        let (mut splits, t) = fixture(&reqs);
        let m = locate(&mut splits, &t).unwrap();
        assert_eq!((m.inside, m.checked, m.consistent), (16, 17, true));
        // Two of 17 are too many; 1 of 5 too.
        reqs[6] = reqs[5];
        let (mut splits, t) = fixture(&reqs);
        assert!(!locate(&mut splits, &t).unwrap().consistent);
        let (mut splits, t) = fixture(&reqs[4..9]);
        assert!(!locate(&mut splits, &t).unwrap().consistent);
        assert_eq!(
            (strays_allowed(9), strays_allowed(10), strays_allowed(100)),
            (0, 1, 5)
        );
    }

    #[test]
    fn clocks_that_disagree_leave_the_outside_time_to_network() {
        // The server clock runs 5 ms ahead: its span starts "after" the client's end.
        let reqs: Vec<_> = (0..20)
            .map(|_| (3_000_000, 6_000_000, 7_000_000, 3_000_000))
            .collect();
        let (mut splits, t) = fixture(&reqs);
        let m = locate(&mut splits, &t);
        assert!(!m.unwrap().consistent);
        assert_eq!((splits[0].network_ns, splits[0].queue_ns), (2_000_000, 0));
    }
}
