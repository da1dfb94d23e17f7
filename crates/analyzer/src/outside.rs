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

/// Percentage of the answered matched requests whose server span may start
/// before the client sent the request with the clocks still counted as
/// consistent.
const STRAY_PERCENT: u64 = 5;

/// Slack of the inside test: the two clocks are read on different threads
/// (and the client's is a monotonic offset from one wall-clock reading).
const SLACK_NS: i64 = 100_000;

/// More slack at the end: a server span may end after its answer has left
/// and arrived (the framework's bookkeeping after the last send — Python's
/// ASGI stack under load ends its span up to a few hundred µs after the
/// client has read the answer). That is no clock error.
const AFTER_SLACK_NS: i64 = 2_000_000;

/// How many answered requests may start before their client span with the
/// clocks still trusted: 5 %, rounded up once there are 10 to check. A
/// server cannot receive a request before it was sent, so on one clock no
/// span starts early; a server clock behind the client's puts nearly all of
/// them early.
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

/// Request `i`'s response leg: from its server span's end to the client's
/// last byte (negative when the span ended after the answer arrived).
pub fn after_span(sp: &RequestSplit, t: &RequestTable, i: usize) -> i64 {
    t.start[i] + t.duration[i] - (sp.server_start_ns + sp.server_ns)
}

/// Request `i`'s legs (`sp`: its split, matched).
fn legs(sp: &RequestSplit, t: &RequestTable, i: usize) -> Legs {
    Legs {
        before: sp.server_start_ns - t.start[i],
        after: after_span(sp, t, i),
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

impl Legs {
    /// The part of the response's transfer that came after the server span
    /// ended (bytes held in the kernel: a large body, Nagle). A body the
    /// server wrote late, while its span was open (a busy event loop
    /// between the head and the body), is the server's time, not the wire's.
    fn transfer_outside(&self, one_way: i64) -> i64 {
        self.transfer.min((self.after - one_way).max(0))
    }

    /// The server span starts before the client sent the request.
    fn early(&self) -> bool {
        self.before < -SLACK_NS
    }

    /// The server span ends after the client read the answer, beyond slack.
    fn late(&self) -> bool {
        self.after < -SLACK_NS - AFTER_SLACK_NS
    }
}

/// The clock check over the answered matched requests (`None`: none).
///
/// Starts and ends are judged apart, because only the start is causal: a
/// server span cannot start before its request was sent, so early starts
/// beyond 5 % mean the server's clock is behind. A span may end after the
/// answer arrived, though — the framework closes it after its last send,
/// and under load its event loop runs other requests first (a FastAPI app
/// at 200/s ended 1–11 % of its spans over 2 ms late on one host). A server clock
/// ahead of the client's makes the *typical* request end late, so the ends
/// break the clocks only when more than half of them are late.
fn check_clocks(splits: &[RequestSplit], t: &RequestTable) -> Option<ClockCheck> {
    let mut check = ClockCheck::default();
    for l in each_leg(splits, t) {
        check.checked += 1;
        check.started_early += u64::from(l.early());
        check.ended_late += u64::from(l.late());
        check.inside += u64::from(!l.early() && !l.late());
    }
    if check.checked == 0 {
        return None;
    }
    check.consistent = check.started_early <= strays_allowed(check.checked)
        && check.ended_late * 2 <= check.checked;
    Some(check)
}

/// Splits every matched request's outside time into network and queue (in
/// place; the components still sum to the total) and says how the clocks
/// looked (`None` without matched requests).
pub fn locate(splits: &mut [RequestSplit], t: &RequestTable) -> Option<ClockCheck> {
    let mut check = check_clocks(splits, t)?;
    if !check.consistent {
        for (i, sp) in matched_mut(splits, t) {
            sp.setup_ns = legs(sp, t, i).setup.min(sp.network_ns);
        }
        return Some(check);
    }
    // The low end (5th percentile, robust to a clock hiccup) of the response
    // leg without its transfer; a span that ended late says nothing of the
    // wire (at most half of them, as checked).
    let mut floors: Vec<i64> = each_leg(splits, t)
        .filter(|l| !l.late())
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
        let wire = outside.min(l.setup + 2 * one_way + l.transfer_outside(one_way));
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
    fn spans_that_end_late_keep_the_clocks_and_the_wire() {
        // 20 answered, their answers 2 ms on the wire; 9 of their spans end
        // 3–7 ms after the client read the answer (a busy event loop).
        let mut reqs = vec![(4_000_000, 1_000_000, 2_000_000, 4_000_000); 20];
        for (k, r) in reqs.iter_mut().take(9).enumerate() {
            *r = (
                4_000_000,
                1_000_000,
                7_000_000 + k as i64 * 500_000,
                4_000_000,
            );
        }
        let (mut splits, t) = fixture(&reqs);
        let m = locate(&mut splits, &t).unwrap();
        assert_eq!((m.inside, m.ended_late, m.started_early), (11, 9, 0));
        assert!(m.consistent);
        // The wire is read from the spans that ended in time: 2 ms one way.
        assert_eq!(m.one_way_ms, Some(2.0));
        // Half of them ending late still holds; more is a clock ahead.
        reqs[10] = reqs[0];
        let (mut splits, t) = fixture(&reqs);
        assert!(locate(&mut splits, &t).unwrap().consistent);
        reqs[12] = reqs[0];
        let (mut splits, t) = fixture(&reqs);
        let m = locate(&mut splits, &t).unwrap();
        assert_eq!((m.ended_late, m.consistent), (11, false));
    }

    #[test]
    fn a_body_written_late_inside_the_span_is_not_wire() {
        // 10 ms waiting before the span; the head goes out at 12 ms, the
        // body 20 ms later at 32 ms, the span ends at 32.05 ms, the last byte
        // arrives at 32.1 ms: the 20 ms are the server's, and so are the
        // 10 ms before its span.
        let reqs: Vec<_> = (0..20)
            .map(|_| (32_100_000, 10_000_000, 32_050_000, 12_100_000))
            .collect();
        let (mut splits, t) = fixture(&reqs);
        locate(&mut splits, &t);
        let sp = splits[0];
        assert!(sp.network_ns <= 100_000, "{sp:?}");
        assert!(sp.queue_ns >= 9_900_000, "{sp:?}");
        // Held in the kernel after the span ended (Nagle): the wire's.
        let reqs: Vec<_> = (0..20)
            .map(|_| (52_100_000, 10_000_000, 12_050_000, 12_100_000))
            .collect();
        let (mut splits, t) = fixture(&reqs);
        locate(&mut splits, &t);
        let sp = splits[0];
        assert!(sp.network_ns >= 40_000_000, "{sp:?}");
        assert_eq!(sp.network_ns + sp.queue_ns + sp.handler_ns, sp.total_ns);
    }

    #[test]
    fn one_early_start_in_a_small_sample_keeps_the_clocks() {
        // 17 answered, one of which "started" 1 ms before it was sent.
        let mut reqs = vec![(3_000_000, 1_000_000, 2_000_000, 3_000_000); 17];
        reqs[5] = (3_000_000, -1_000_000, 2_000_000, 3_000_000);
        let (mut splits, t) = fixture(&reqs);
        let m = locate(&mut splits, &t).unwrap();
        assert_eq!((m.inside, m.checked, m.started_early), (16, 17, 1));
        assert!(m.consistent);
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
