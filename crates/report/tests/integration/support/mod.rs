//! A fixed Analysis exercising every part of every report: a passing scenario,
//! a delete whose cascade check misses its target (with outliers, links and an
//! exemplar waterfall), one without server spans, a cascade sweep, findings.
#![allow(dead_code)]

use std::collections::BTreeMap;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::*;
use tracesplit_model::stats::LatencyStats;
use tracesplit_model::sweep::{CascadeSweep, SweepPoint, SweepSlopes};

fn split(network: f64, handler: f64, cascade: f64, db_other: f64) -> Split {
    Split {
        total_ms: network + handler + cascade + db_other,
        network_ms: network,
        handler_ms: handler,
        cascade_ms: cascade,
        db_other_ms: db_other,
        requests: 3,
        ranks: (19, 20),
        window_mean_ms: 0.0,
        queue_ms: 0.0,
        connection_setup_ms: 0.0,
        schedule_ms: 0.0,
    }
}

fn stats(count: u64, p50: f64, p95: f64) -> LatencyStats {
    LatencyStats {
        count,
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: p95 * 1.1,
        min_ms: p50 * 0.6,
        max_ms: p95 * 1.2,
        mean_ms: (p50 + p95) / 2.0,
        stddev_ms: (p95 - p50) / 3.0,
    }
}

/// Nearest-rank style distribution from min to max, bending up at the tail.
fn distribution(min: f64, p50: f64, max: f64) -> Vec<f64> {
    (0..=100)
        .map(|p| {
            let q = f64::from(p) / 100.0;
            if q <= 0.5 {
                min + (p50 - min) * q * 2.0
            } else {
                p50 + (max - p50) * ((q - 0.5) * 2.0).powi(3)
            }
        })
        .collect()
}

fn outlier(trace: &str, s: Split) -> Outlier {
    Outlier {
        trace_id: trace.into(),
        span_id: "00f067aa0ba902b7".into(),
        iteration: 7,
        step: 0,
        status: 409,
        split: Split {
            requests: 1,
            ranks: (0, 0),
            ..s
        },
        matched: true,
        links: vec![
            TraceLink {
                label: "Jaeger".into(),
                url: format!("http://localhost:16686/trace/{trace}"),
            },
            TraceLink {
                label: "Grafana".into(),
                url: format!(
                    "http://localhost:3000/explore?left=%7B%22queries%22:%5B%7B%22query%22:%22{trace}%22%7D%5D%7D"
                ),
            },
        ],
        critical_path: vec![
            step("DELETE /v1/catalog/cpus/{id}", false, 0.6),
            step("catalog.delete_cpu", false, 1.1),
            step(COUNT, true, 780.4),
            step(
                "SELECT count(*) FROM listing_archive WHERE cpu_id = ?",
                true,
                27.1,
            ),
        ],
    }
}

fn step(name: &str, db: bool, exclusive_ms: f64) -> tracesplit_model::analysis::CriticalStep {
    tracesplit_model::analysis::CriticalStep {
        name: name.into(),
        db,
        exclusive_ms,
    }
}

fn wf(
    depth: u32,
    name: &str,
    kind: &str,
    offset: f64,
    dur: f64,
    category: &str,
    statement: Option<&str>,
) -> WaterfallSpan {
    WaterfallSpan {
        depth,
        name: name.into(),
        kind: kind.into(),
        offset_ms: offset,
        duration_ms: dur,
        category: category.into(),
        statement: statement.map(Into::into),
        // The cpu lookup runs beside the usage check: not on the critical path.
        critical: name != "SELECT cpu",
        exclusive_ms: if depth == 3 { dur } else { 0.5 },
    }
}

const COUNT: &str = "SELECT count(*) FROM listing WHERE cpu_id = ?1 AND NOT EXISTS (SELECT 1 FROM listing_archive a WHERE a.listing_id = listing.id)";

fn delete_1000() -> ScenarioAnalysis {
    let p95 = split(1.2, 3.1, 780.4, 27.5);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    ScenarioAnalysis {
        scenario: "CPU_DELETE_WITH_LISTINGS_1000".into(),
        entity_type: "CPU".into(),
        operation: "DELETE".into(),
        target_ms: 500.0,
        stats: stats(20, 640.0, 812.2),
        distribution_ms: distribution(402.0, 640.0, 974.6),
        failed: 0,
        passed: false,
        verdict: "P95 812 ms misses the 500 ms target".into(),
        not_measured: None,
        p95_corrected_ms: Some(1204.5),
        p99_corrected_ms: Some(1390.0),
        status_counts: BTreeMap::from([("409".into(), 20)]),
        errors: BTreeMap::new(),
        coverage: Coverage {
            requests: 20,
            matched: 20,
            clamped: 0,
            multiple_server_spans: 0,
        },
        p95_split: Some(p95),
        p95_corrected_split: Some(Split {
            schedule_ms: 40.0,
            total_ms: p95.total_ms + 40.0,
            ..p95
        }),
        tail_split: Some(split(1.3, 3.0, 801.0, 28.0)),
        components: ComponentStats::default(),
        db_spans: DbSpanCounts {
            mean: 3.0,
            p50: 3,
            max: 3,
            duplicates: 60,
        },
        cascade_statement: Some(COUNT.into()),
        cascade_span_name: Some("catalog.cpu_usage_count".into()),
        slowest_db_statement: Some("SELECT id FROM cpu WHERE id = ?1".into()),
        slowest_db_without_statement: false,
        mean_response_bytes: 88.0,
        fixture_listings: Some(1000),
        setup: Some(tracesplit_model::manifest::SetupSummary {
            seconds: 12.5,
            created: 1001,
            reconciled: 20,
            retries: 20,
            made_during_measuring: 0,
            existing_rows: Vec::new(),
        }),
        outliers: vec![outlier(trace, split(1.4, 3.3, 938.0, 31.9))],
        exemplar: Some(Exemplar {
            request: outlier(trace, p95),
            spans: vec![
                wf(
                    0,
                    "DELETE /v1/catalog/cpus/{id}",
                    "CLIENT",
                    0.0,
                    812.2,
                    "client",
                    None,
                ),
                wf(
                    1,
                    "DELETE /v1/catalog/cpus/{id}",
                    "SERVER",
                    0.6,
                    811.0,
                    "server",
                    None,
                ),
                wf(
                    2,
                    "catalog.delete_cpu",
                    "INTERNAL",
                    1.1,
                    810.0,
                    "internal",
                    None,
                ),
                wf(
                    3,
                    "SELECT cpu",
                    "CLIENT",
                    2.0,
                    0.4,
                    "db",
                    Some("SELECT id FROM cpu WHERE id = ?1"),
                ),
                wf(
                    3,
                    "SELECT listing",
                    "CLIENT",
                    1.9,
                    780.4,
                    "cascade",
                    Some(COUNT),
                ),
                wf(
                    3,
                    "SELECT listing_archive",
                    "CLIENT",
                    782.5,
                    27.1,
                    "db",
                    Some("SELECT count(*) FROM listing_archive WHERE cpu_id = ?1"),
                ),
            ],
        }),
        classifier: Classifier {
            statement: "(?i)select\\s+count\\(".into(),
            span: "(?i)usage|cascade|in_use|dependen".into(),
        },
        tail: Some(why_slow()),
        stall: None,
        server_errors: vec![tracesplit_model::server_errors::ServerErrorGroup {
            exception_type: "sqlalchemy.exc.TimeoutError".into(),
            message:
                "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 0.20"
                    .into(),
            fingerprint:
                "QueuePool limit of size … overflow … reached, connection timed out, timeout …"
                    .into(),
            first_frame: Some("File \"/app/db.py\", line 9, in checkout".into()),
            requests: 2,
            abandoned: 1,
            trace_ids: vec!["5eed0000000000000000000000000003".into()],
            cause: Some("the connection pool is exhausted".into()),
            next_step: Some("raise the pool size or lower the concurrency".into()),
        }],
    }
}

/// Slow deletes that count more and run an audit query the fast ones don't, in a burst.
fn why_slow() -> tracesplit_model::tail::TailExplanation {
    use tracesplit_model::tail::{AttributeDelta, ShapeDelta, TailExplanation, TimeCluster};
    TailExplanation {
        slow: 11,
        baseline: 100,
        slow_mean_ms: 871.3,
        baseline_mean_ms: 590.2,
        not_compared: None,
        shapes: vec![
            ShapeDelta {
                shape: "SELECT count(*) FROM listing WHERE cpu_id = ? AND NOT EXISTS (SELECT ? FROM listing_archive a WHERE a.listing_id = listing.id)".into(),
                db: true,
                slow_calls: 1.0,
                baseline_calls: 1.0,
                slow_ms: 812.5,
                baseline_ms: 560.0,
                added_ms: 252.5,
                p_value: 2.1e-7,
                only_in_slow: false,
            },
            ShapeDelta {
                shape: "SELECT * FROM audit_log WHERE cpu_id = ?".into(),
                db: true,
                slow_calls: 9.1,
                baseline_calls: 0.0,
                slow_ms: 27.3,
                baseline_ms: 0.0,
                added_ms: 27.3,
                p_value: 3.4e-9,
                only_in_slow: true,
            },
        ],
        attributes: vec![AttributeDelta {
            key: "service.instance.id".into(),
            value: "api-2".into(),
            on_request: true,
            slow_share: 9.0 / 11.0,
            baseline_share: 0.1,
            p_value: 8.4e-7,
        }],
        clustering: Some(TimeCluster {
            from_s: 8.0,
            to_s: 10.0,
            slow_share: 0.82,
            all_share: 0.1,
            p_value: 4.0e-8,
            clustered: true,
        }),
        slow_profile: Vec::new(),
    }
}

fn patch() -> ScenarioAnalysis {
    ScenarioAnalysis {
        scenario: "GPU_PATCH_SINGLE_FIELD".into(),
        entity_type: "GPU".into(),
        operation: "PATCH".into(),
        target_ms: 500.0,
        stats: stats(20, 1.9, 3.4),
        distribution_ms: distribution(1.2, 1.9, 4.1),
        passed: true,
        verdict: "P95 3.40 ms (corrected 3.52 ms) within the 500 ms target".into(),
        p95_corrected_ms: Some(3.52),
        p99_corrected_ms: Some(3.9),
        status_counts: BTreeMap::from([("200".into(), 20)]),
        coverage: Coverage {
            requests: 20,
            matched: 20,
            clamped: 0,
            multiple_server_spans: 0,
        },
        // 0.6 ms waited before the server span began: queue, not network.
        // 0.3 ms of its 0.4 ms network opened a TLS connection.
        p95_split: Some(Split {
            queue_ms: 0.6,
            handler_ms: 1.0,
            connection_setup_ms: 0.3,
            ..split(0.4, 1.6, 0.0, 1.4)
        }),
        db_spans: DbSpanCounts {
            mean: 2.0,
            p50: 2,
            max: 2,
            duplicates: 0,
        },
        tail: Some(tracesplit_model::tail::TailExplanation {
            not_compared: Some("20 requests with server spans, 2 at or above the P95: a fair comparison needs at least 5 slow requests (about 100 in all)".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn unmatched() -> ScenarioAnalysis {
    ScenarioAnalysis {
        scenario: "PORTS_PROFILE_PUT_FULL_UPDATE".into(),
        entity_type: "PORTS_PROFILE".into(),
        operation: "PUT".into(),
        target_ms: 500.0,
        stats: stats(18, 2.5, 4.0),
        distribution_ms: distribution(1.9, 2.5, 4.4),
        failed: 2,
        passed: false,
        verdict: "2 of 20 requests failed".into(),
        status_counts: BTreeMap::from([("200".into(), 18), ("500".into(), 2)]),
        errors: BTreeMap::from([("status 500".into(), 2)]),
        coverage: Coverage {
            requests: 18,
            matched: 0,
            clamped: 0,
            multiple_server_spans: 0,
        },
        ..Default::default()
    }
}

/// A scenario the run never measured (its setup failed).
fn not_measured() -> ScenarioAnalysis {
    ScenarioAnalysis {
        scenario: "PORTS_PROFILE_LIST".into(),
        entity_type: "PORTS_PROFILE".into(),
        operation: "LIST".into(),
        target_ms: 2000.0,
        passed: false,
        verdict: "not measured: setup failed: creating a ports-profiles fixture: 500".into(),
        not_measured: Some("setup failed: creating a ports-profiles fixture: 500".into()),
        ..Default::default()
    }
}

fn sweep_point(listings: u64, cascade: f64) -> ScenarioAnalysis {
    let s = split(0.5, 1.5, cascade, 2.0);
    ScenarioAnalysis {
        scenario: format!("CASCADE_SWEEP_{listings}"),
        entity_type: "CPU".into(),
        operation: "DELETE".into(),
        target_ms: 1000.0,
        stats: stats(10, s.total_ms * 0.9, s.total_ms),
        distribution_ms: distribution(s.total_ms * 0.5, s.total_ms * 0.9, s.total_ms * 1.1),
        passed: true,
        verdict: format!("P95 {} ms within the 1000 ms target", s.total_ms),
        coverage: Coverage {
            requests: 10,
            matched: 10,
            clamped: 0,
            multiple_server_spans: 0,
        },
        p95_split: Some(s),
        fixture_listings: Some(listings),
        ..Default::default()
    }
}

/// The fixed analysis every snapshot renders.
pub fn analysis() -> Analysis {
    let mut scenarios = vec![patch(), delete_1000(), unmatched(), not_measured()];
    scenarios.extend(
        [(0, 0.3), (100, 8.1), (1000, 78.0), (10000, 781.0)].map(|(n, c)| sweep_point(n, c)),
    );
    // The analyzer fits the sweep; a report renders whatever it is given.
    let points = scenarios
        .iter()
        .filter_map(|s| {
            Some(SweepPoint {
                listings: s.scenario.strip_prefix("CASCADE_SWEEP_")?.parse().ok()?,
                scenario: s.scenario.clone(),
                p95_ms: s.stats.p95_ms,
                split: s.p95_split,
            })
        })
        .collect();
    let slopes = |cascade: f64, other: f64| SweepSlopes {
        p95_ms: cascade,
        network_ms: other,
        queue_ms: other,
        handler_ms: other,
        cascade_ms: cascade,
        db_other_ms: other,
    };
    let cascade_sweep = Some(CascadeSweep {
        points,
        slope_per_1000: slopes(78.08, -0.004),
        stderr_per_1000: Some(slopes(0.06, 0.01)),
    });
    Analysis {
        run_ids: vec!["20261127-101500-ab12".into()],
        base_url: "http://127.0.0.1:8000".into(),
        span_source: "store run/spans".into(),
        coverage: Coverage { requests: 98, matched: 80, clamped: 0, multiple_server_spans: 0 },
        scenarios,
        findings: vec![
            Finding {
                severity: Severity::Critical,
                rule: "server_errors".into(),
                scenario: Some("CPU_DELETE_WITH_LISTINGS_1000".into()),
                title: "CPU_DELETE_WITH_LISTINGS_1000: 2 of 22 requests failed on the server: sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached — the connection pool is exhausted".into(),
                detail: "the server recorded this error in 2 of the scenario's traces (e.g. 5eed0000000000000000000000000003)".into(),
                next_step: Some("raise the pool size or lower the concurrency".into()),
            },
            Finding {
                severity: Severity::Warning,
                rule: "why_slow".into(),
                scenario: Some("CPU_DELETE_WITH_LISTINGS_1000".into()),
                title: "CPU_DELETE_WITH_LISTINGS_1000: slow requests spend +252 ms in `SELECT count(*) FROM listing WHERE cpu_id = ? …` (calls per request: 1 vs 1)".into(),
                detail: "252 of the 281 ms between a slow request (11 at or above the P95, mean 871 ms) and a baseline one (100 at or below the P50, mean 590 ms); Mann-Whitney p = 2.1e-7".into(),
                next_step: Some("look at when this statement runs more often or longer: its plan (EXPLAIN ANALYZE), locks, and the code path that issues it".into()),
            },
            Finding {
                severity: Severity::Critical,
                rule: "target_missed".into(),
                scenario: Some("CPU_DELETE_WITH_LISTINGS_1000".into()),
                title: "CPU_DELETE_WITH_LISTINGS_1000: P95 812 ms misses the 500 ms target; the cascade check is 96 % of it".into(),
                detail: "812 ms = network 1.20 + handler 3.10 + cascade 780 + db other 27.5".into(),
                next_step: Some("index listing(cpu_id), or check existence with `SELECT 1 … LIMIT 1` instead of counting".into()),
            },
            Finding {
                severity: Severity::Warning,
                rule: "no_server_spans".into(),
                scenario: Some("PORTS_PROFILE_PUT_FULL_UPDATE".into()),
                title: "PORTS_PROFILE_PUT_FULL_UPDATE: no request has a server span <missing>".into(),
                detail: "is the route instrumented & exporting?".into(),
                next_step: None,
            },
        ],
        cascade_defaults: Classifier { statement: "(?i)select\\s+count\\(".into(), span: "(?i)usage|cascade|in_use|dependen".into() },
        cascade_sweep,
        notes: vec!["the API at http://127.0.0.1:8000 stopped answering mid-run; the remaining requests were counted as errors (api_unreachable)".into()],
        open_model: true,
        clocks: Some(ClockCheck {
            consistent: true,
            inside: 80,
            checked: 80,
            one_way_ms: Some(0.05),
            ..Default::default()
        }),
        abandoned: Some(tracesplit_model::server_errors::Abandoned {
            requests: 1,
            finished_on_server: 1,
            mean_later_ms: 1200.0,
            with_error: 1,
        }),
    }
}
