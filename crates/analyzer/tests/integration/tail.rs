//! Explaining the tail: planted causes come out first; a run without one
//! reports none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use tracesplit_analyzer::{AnalyzeConfig, analyze};
use tracesplit_model::analysis::Analysis;
use tracesplit_model::{RequestRecord, SpanKind, SpanRecord};

/// One call under the server span: a name, a statement for DB calls, µs.
struct Call {
    name: &'static str,
    statement: Option<String>,
    us: i64,
}

fn call(name: &'static str, statement: Option<&str>, us: i64) -> Call {
    Call {
        name,
        statement: statement.map(str::to_owned),
        us,
    }
}

/// A request starting `at_ms` after T0: `net_us` outside the server span,
/// 100 µs of handler plus `handler_us`, then `calls` one after the other.
fn request(
    i: u32,
    at_ms: i64,
    net_us: i64,
    handler_us: i64,
    calls: &[Call],
) -> (RequestRecord, Vec<SpanRecord>) {
    const US: i64 = 1_000;
    let (template, _) = delete(i, 100, 10, 80, 5);
    let trace = template.trace_id.clone();
    let client = u64::from_str_radix(&template.span_id, 16).unwrap();
    let start = T0 + at_ms * MS;
    let s0 = start + net_us / 2 * US;
    let mut cursor = s0 + 100 * US + handler_us * US;
    let mut spans = Vec::new();
    for (k, c) in calls.iter().enumerate() {
        let (a, b) = (cursor, cursor + c.us * US);
        let id = 0x10 + k as u64;
        spans.push(match &c.statement {
            Some(st) => SpanRecord {
                name: c.name.into(),
                ..db(&trace, id, 0x1, st, a, b)
            },
            None => span(&trace, id, Some(0x1), c.name, SpanKind::Internal, a, b),
        });
        cursor = b;
    }
    let s1 = cursor + 50 * US;
    let total = (s1 - s0) + net_us * US;
    spans.push(span(
        &trace,
        0x1,
        Some(client),
        "DELETE /v1/catalog/cpus/{cpu_id}",
        SpanKind::Server,
        s0,
        s1,
    ));
    let record = RequestRecord {
        start_unix_nano: start,
        intended_start_unix_nano: start,
        duration_ns: total,
        ttfb_ns: Some(total),
        ..template
    };
    (record, spans)
}

fn analyzed(all: Vec<(RequestRecord, Vec<SpanRecord>)>) -> Analysis {
    let dir = tempfile::tempdir().unwrap();
    let requests: Vec<_> = all.iter().map(|(r, _)| r.clone()).collect();
    let spans: Vec<_> = all.into_iter().flat_map(|(_, s)| s).collect();
    write_run(dir.path(), &requests, &[spans], 1000.0);
    analyze(&AnalyzeConfig {
        run_dirs: vec![dir.path().to_owned()],
        outliers: 3,
        ..Default::default()
    })
    .unwrap()
    .analysis
}

fn normal_calls(i: u32) -> Vec<Call> {
    vec![
        call(
            "SELECT dealbrain",
            Some("SELECT cpu.id FROM cpu WHERE cpu.id = $1"),
            2_000,
        ),
        call(
            "SELECT dealbrain",
            Some(COUNT),
            3_000 + i64::from(i % 7) * 10,
        ),
    ]
}

fn rules(a: &Analysis) -> Vec<String> {
    a.findings.iter().map(|f| f.rule.clone()).collect()
}

#[test]
fn a_statement_run_ten_times_only_in_slow_requests_is_the_first_explanation() {
    let all = (0..200u32)
        .map(|i| {
            let mut calls = normal_calls(i);
            if i % 18 == 5 {
                for _ in 0..10 {
                    let audit = format!("SELECT * FROM audit_log WHERE cpu_id = {i}");
                    calls.push(call("SELECT dealbrain", Some(&audit), 3_000));
                }
            }
            request(i, i64::from(i) * 100, 400, 0, &calls)
        })
        .collect();
    let a = analyzed(all);
    let tail = a.scenarios[0].tail.as_ref().unwrap();
    assert_eq!((tail.slow, tail.baseline), (11, 100), "{tail:?}");
    let top = &tail.shapes[0];
    assert_eq!(top.shape, "SELECT * FROM audit_log WHERE cpu_id = ?");
    assert!(top.only_in_slow && top.db, "{top:?}");
    assert!((top.slow_calls - 10.0).abs() < 1e-9, "{top:?}");
    assert!((top.added_ms - 30.0).abs() < 0.5, "{top:?}");
    assert!(
        top.baseline_ms == 0.0 && (top.slow_ms - 30.0).abs() < 0.5,
        "{top:?}"
    );
    // The means of the client totals: the planted 30 ms apart (the count's
    // 0–60 µs jitter aside), both from the planted 5.55 ms request.
    let gap = tail.slow_mean_ms - tail.baseline_mean_ms;
    assert!((gap - 30.0).abs() < 0.1, "{tail:?}");
    assert!((tail.baseline_mean_ms - 5.55).abs() < 0.07, "{tail:?}");
    let why = a.findings.iter().find(|f| f.rule == "why_slow").unwrap();
    assert!(
        why.title
            .contains("only in slow requests: `SELECT * FROM audit_log"),
        "{}",
        why.title
    );
    assert!(!rules(&a).contains(&"slow_in_bursts".to_owned()));
}

#[test]
fn a_pause_that_holds_every_request_in_two_seconds_is_found_in_time() {
    // One request every 100 ms for 20 s; those starting in 8–10 s wait 200 ms in the handler.
    let all = (0..200u32)
        .map(|i| {
            let paused = (80..100).contains(&i);
            let handler = if paused {
                200_000
            } else {
                i64::from(i % 5) * 20
            };
            request(i, i64::from(i) * 100, 400, handler, &normal_calls(i))
        })
        .collect();
    let a = analyzed(all);
    let c = a.scenarios[0]
        .tail
        .as_ref()
        .and_then(|t| t.clustering.clone())
        .unwrap();
    assert!(c.clustered, "{c:?}");
    assert!((c.slow_share - 1.0).abs() < 1e-9, "{c:?}");
    assert!(c.all_share <= 0.11, "{c:?}");
    assert!(c.from_s >= 8.0 - 1e-9 && c.to_s <= 10.0 + 0.1, "{c:?}");
    // All 11 slow requests in a window holding a tenth of the requests:
    // P(X ≥ 11) for X ~ B(11, all_share).
    let expected = c.all_share.powi(11);
    assert!(
        (c.p_value / expected - 1.0).abs() < 1e-6,
        "{c:?} vs {expected}"
    );
    let burst = a
        .findings
        .iter()
        .find(|f| f.rule == "slow_in_bursts")
        .unwrap();
    assert!(
        burst.title.contains("100 % of them between 8.0 s"),
        "{}",
        burst.title
    );
}

#[test]
fn a_run_whose_slowness_is_outside_the_server_names_no_cause() {
    // The network varies (0–36 ms, scattered in time); the spans vary a
    // little and independently of it.
    let all = (0..200u32)
        .map(|i| {
            let net = i64::from((i * 7919) % 37) * 1_000;
            request(
                i,
                i64::from(i) * 100,
                net,
                i64::from((i * 31) % 11) * 30,
                &normal_calls(i * 3),
            )
        })
        .collect();
    let a = analyzed(all);
    let r = rules(&a);
    assert!(!r.contains(&"why_slow".to_owned()), "{:?}", a.findings);
    assert!(
        !r.contains(&"slow_in_bursts".to_owned()),
        "{:?}",
        a.findings
    );
    let tail = a.scenarios[0].tail.as_ref().unwrap();
    assert!(tail.slow_mean_ms > tail.baseline_mean_ms + 20.0, "{tail:?}");
}

#[test]
fn too_few_requests_say_so_instead_of_guessing() {
    let all = (0..40u32)
        .map(|i| request(i, i64::from(i) * 100, 400, 0, &normal_calls(i)))
        .collect();
    let a = analyzed(all);
    let tail = a.scenarios[0].tail.as_ref().unwrap();
    assert!(tail.shapes.is_empty());
    assert!(
        tail.not_compared
            .as_deref()
            .is_some_and(|w| w.contains("at least 5 slow requests")),
        "{tail:?}"
    );
}

#[test]
fn the_exemplar_marks_only_the_longer_of_two_parallel_calls_critical() {
    let all = (0..20u32)
        .map(|i| {
            let (r, mut spans) = request(i, i64::from(i) * 100, 400, 0, &normal_calls(i));
            // The count (3 ms) starts with the lookup (2 ms): they run side by side.
            let lookup_start = spans[0].start_unix_nano;
            let count = &mut spans[1];
            let len = count.end_unix_nano - count.start_unix_nano;
            count.start_unix_nano = lookup_start;
            count.end_unix_nano = lookup_start + len;
            (r, spans)
        })
        .collect();
    let a = analyzed(all);
    let spans = &a.scenarios[0].exemplar.as_ref().unwrap().spans;
    let by_statement = |needle: &str| {
        spans
            .iter()
            .find(|s| s.statement.as_deref().is_some_and(|q| q.contains(needle)))
            .unwrap()
    };
    assert!(by_statement("count(listing.id)").critical, "{spans:?}");
    assert!(!by_statement("FROM cpu WHERE").critical, "{spans:?}");
    assert!(
        spans
            .iter()
            .filter(|s| s.kind == "SERVER")
            .all(|s| s.critical)
    );
}

/// Every span of a request served by `instance` carries it as a resource attribute.
fn served_by(
    (r, spans): (RequestRecord, Vec<SpanRecord>),
    instance: &str,
) -> (RequestRecord, Vec<SpanRecord>) {
    let resource = format!(r#"{{"service.name":"catalog","service.instance.id":"{instance}"}}"#);
    let spans = spans
        .into_iter()
        .map(|s| SpanRecord {
            resource_attributes_json: resource.clone(),
            ..s
        })
        .collect();
    (r, spans)
}

#[test]
fn an_instance_serving_most_slow_requests_is_the_first_explanation() {
    // The 11 slow requests (+30 ms in the handler): 9 on api-2. Of the
    // rest, every tenth is on api-2.
    let all = (0..200u32)
        .map(|i| {
            let slow = i % 18 == 5;
            let handler = if slow { 30_000 } else { i64::from(i % 5) * 20 };
            let on_2 = if slow { i < 150 } else { (i / 5) % 10 == 0 };
            let r = request(i, i64::from(i) * 100, 400, handler, &normal_calls(i));
            served_by(r, if on_2 { "api-2" } else { "api-1" })
        })
        .collect();
    let a = analyzed(all);
    let tail = a.scenarios[0].tail.as_ref().unwrap();
    let top = &tail.attributes[0];
    assert_eq!(
        (top.key.as_str(), top.value.as_str()),
        ("service.instance.id", "api-2"),
        "{tail:?}"
    );
    assert!(
        top.on_request && (top.slow_share - 9.0 / 11.0).abs() < 1e-9,
        "{top:?}"
    );
    assert!((0.05..=0.15).contains(&top.baseline_share), "{top:?}");
    assert_eq!(
        tail.attributes.len(),
        1,
        "only api-2 is over-represented: {tail:?}"
    );
    let why = a.findings.iter().find(|f| f.rule == "why_slow").unwrap();
    assert!(
        why.title
            .contains("82 % of slow requests have `service.instance.id` = `api-2`"),
        "{}",
        why.title
    );
}

/// The statement of request `r` (its first DB span) recorded an exception.
fn raised(
    (r, spans): (RequestRecord, Vec<SpanRecord>),
    exception_type: &str,
) -> (RequestRecord, Vec<SpanRecord>) {
    let mut spans = spans;
    let events = serde_json::json!([{
        "name": "exception",
        "time_unix_nano": spans[0].end_unix_nano,
        "attributes": {"exception.type": exception_type, "exception.message": "lock timeout"}
    }]);
    spans[0].events_json = Some(events.to_string());
    (r, spans)
}

#[test]
fn an_exception_the_slow_requests_raise_is_named_by_the_attribution() {
    // The 11 slow requests (+30 ms in the handler): 9 of them had their
    // statement raise psycopg's LockNotAvailable; of the rest, every
    // twentieth did.
    let all = (0..200u32)
        .map(|i| {
            let slow = i % 18 == 5;
            let handler = if slow { 30_000 } else { i64::from(i % 5) * 20 };
            let r = request(i, i64::from(i) * 100, 400, handler, &normal_calls(i));
            let raises = if slow { i < 150 } else { i % 20 == 0 };
            if raises {
                raised(r, "psycopg.errors.LockNotAvailable")
            } else {
                r
            }
        })
        .collect();
    let a = analyzed(all);
    let tail = a.scenarios[0].tail.as_ref().unwrap();
    let named = tail
        .attributes
        .iter()
        .find(|d| d.key == "exception.type")
        .unwrap_or_else(|| panic!("no exception.type: {tail:?}"));
    assert_eq!(named.value, "psycopg.errors.LockNotAvailable");
    assert!(
        !named.on_request && (named.slow_share - 9.0 / 11.0).abs() < 1e-9,
        "a child span raised it: {named:?}"
    );
    let why = a.findings.iter().find(|f| f.rule == "why_slow").unwrap();
    assert!(
        why.title.contains(
            "82 % of slow requests have a span with `exception.type` = `psycopg.errors.LockNotAvailable`"
        ),
        "{}",
        why.title
    );
    assert!(
        why.next_step
            .as_deref()
            .is_some_and(|n| n.contains("the span that raised")),
        "{why:?}"
    );
}

#[test]
fn a_small_difference_in_instances_is_not_a_cause() {
    // Every request is equally likely to be slow on either instance.
    let all = (0..200u32)
        .map(|i| {
            let slow = i % 18 == 5;
            let handler = if slow { 30_000 } else { i64::from(i % 5) * 20 };
            let r = request(i, i64::from(i) * 100, 400, handler, &normal_calls(i));
            served_by(r, if (i / 2) % 2 == 0 { "api-2" } else { "api-1" })
        })
        .collect();
    let a = analyzed(all);
    let tail = a.scenarios[0].tail.as_ref().unwrap();
    assert!(tail.attributes.is_empty(), "{tail:?}");
    let why = a.findings.iter().find(|f| f.rule == "why_slow").unwrap();
    assert!(!why.title.contains("api-"), "{}", why.title);
}

#[test]
fn each_outlier_carries_its_critical_path_with_exclusive_times() {
    let all = (0..40u32)
        .map(|i| {
            let mut calls = normal_calls(i);
            if i == 7 {
                calls.push(call(
                    "SELECT dealbrain",
                    Some("SELECT * FROM audit_log WHERE cpu_id = 7"),
                    45_000,
                ));
            }
            let (r, mut spans) = request(i, i64::from(i) * 100, 400, 0, &calls);
            // The lookup (2 ms) runs beside the count (3 ms): off the path.
            let count_start = spans[1].start_unix_nano;
            spans[0].start_unix_nano = count_start;
            spans[0].end_unix_nano = count_start + 2_000_000;
            (r, spans)
        })
        .collect();
    let a = analyzed(all);
    let worst = &a.scenarios[0].outliers[0];
    let names: Vec<&str> = worst
        .critical_path
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "DELETE /v1/catalog/cpus/{cpu_id}",
            "SELECT count(listing.id) FROM listing WHERE listing.cpu_id = ?",
            "SELECT * FROM audit_log WHERE cpu_id = ?"
        ],
        "{worst:?}"
    );
    let audit = &worst.critical_path[2];
    assert!(
        audit.db && (audit.exclusive_ms - 45.0).abs() < 1e-6,
        "{audit:?}"
    );
    // The server span's own time: 100 µs of handler, the 2 ms the lookup
    // left when it moved beside the count, 50 µs after the calls.
    let server = worst.critical_path[0].exclusive_ms;
    assert!((server - 2.15).abs() < 1e-6, "{server}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    #[test]
    fn a_planted_time_difference_in_one_shape_is_reported_within_ten_percent(
        x_us in 1_500i64..150_000,
        // Every `every`-th request is planted: at least the 11 requests at or
        // above the P95 of 200.
        every in 10u32..=18,
    ) {
        let all = (0..200u32)
            .map(|i| {
                let mut calls = normal_calls(i);
                if i % every == 5 {
                    calls[1].us += x_us;
                }
                request(i, i64::from(i) * 100, 400, 0, &calls)
            })
            .collect();
        let a = analyzed(all);
        let top = a.scenarios[0].tail.as_ref().unwrap().shapes[0].clone();
        let x = x_us as f64 / 1000.0;
        proptest::prop_assert!(top.shape.contains("count(listing.id)"), "{:?}", top);
        proptest::prop_assert!((top.added_ms - x).abs() <= 0.1 * x, "planted {} ms: {:?}", x, top);
    }
}

/// Every DB span gets a twin beside it (an ORM's span and its driver's, same
/// statement, one inside the other's interval), and the slow requests make
/// an outbound call spanned twice (requests around urllib3): each counts as
/// one call, and the time added is the planted time, not twice it.
#[test]
fn statements_and_calls_spanned_twice_are_one_call_in_the_tail() {
    let all = (0..200u32)
        .map(|i| {
            let mut calls = normal_calls(i);
            let slow = i % 18 == 5;
            if slow {
                for _ in 0..10 {
                    calls.push(call(
                        "SELECT dealbrain",
                        Some("SELECT * FROM audit_log WHERE id = $1"),
                        3_000,
                    ));
                }
            }
            let (record, mut spans) = request(i, i64::from(i) * 100, 400, 0, &calls);
            let trace = record.trace_id.clone();
            let twins: Vec<SpanRecord> = spans
                .iter()
                .filter(|s| s.db_statement.is_some())
                .map(|s| SpanRecord {
                    span_id: tracesplit_model::SpanId(
                        (u64::from_be_bytes(s.span_id.0) + 0x100).to_be_bytes(),
                    ),
                    name: "SELECT".into(),
                    start_unix_nano: s.start_unix_nano + 10_000,
                    end_unix_nano: s.end_unix_nano - 10_000,
                    ..s.clone()
                })
                .collect();
            spans.extend(twins);
            if slow {
                // 20 ms outbound, inside the handler's planted time.
                let server = spans
                    .iter()
                    .find(|s| s.kind == SpanKind::Server)
                    .unwrap()
                    .clone();
                let (a, b) = (
                    server.start_unix_nano + 10_000,
                    server.start_unix_nano + 20_010_000,
                );
                spans.push(span(
                    &trace,
                    0x900,
                    Some(0x1),
                    "GET",
                    SpanKind::Client,
                    a,
                    b,
                ));
                spans.push(span(
                    &trace,
                    0x901,
                    Some(0x900),
                    "GET",
                    SpanKind::Client,
                    a + 5_000,
                    b - 5_000,
                ));
                let grown = SpanRecord {
                    end_unix_nano: server.end_unix_nano + 20 * MS,
                    ..server
                };
                spans.retain(|s| s.kind != SpanKind::Server);
                spans.push(grown);
                let record = RequestRecord {
                    duration_ns: record.duration_ns + 20 * MS,
                    ttfb_ns: record.ttfb_ns.map(|t| t + 20 * MS),
                    ..record
                };
                return (record, spans);
            }
            (record, spans)
        })
        .collect();
    let a = analyzed(all);
    let s = &a.scenarios[0];
    assert_eq!(s.db_spans.p50, 2, "{:?}", s.db_spans);
    assert!(
        s.db_spans.duplicates >= 2 * s.coverage.matched,
        "{:?}",
        s.db_spans
    );
    let tail = s.tail.as_ref().unwrap();
    let audit = tail
        .shapes
        .iter()
        .find(|d| d.shape.starts_with("SELECT * FROM audit_log"))
        .unwrap();
    assert!((audit.slow_calls - 10.0).abs() < 1e-9, "{audit:?}");
    assert!((audit.added_ms - 30.0).abs() < 0.5, "{audit:?}");
    let get = tail.shapes.iter().find(|d| d.shape == "GET").unwrap();
    assert!((get.slow_calls - 1.0).abs() < 1e-9, "{get:?}");
    assert!((get.added_ms - 20.0).abs() < 0.5, "{get:?}");
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule == "overlapping_instrumentation")
    );
}
