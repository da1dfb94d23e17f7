//! Findings: the seed analyzer's rules, plus what the spans show.

use tracesplit_model::analysis::{ClockCheck, Finding, ScenarioAnalysis, Severity, Split};
use tracesplit_model::manifest::Words;

fn finding(
    severity: Severity,
    rule: &str,
    s: Option<&ScenarioAnalysis>,
    title: String,
    detail: String,
    next: Option<String>,
) -> Finding {
    Finding {
        severity,
        rule: rule.into(),
        scenario: s.map(|s| s.scenario.clone()),
        title,
        detail,
        next_step: next,
    }
}

/// `listings.cpu_id` from `... WHERE listings.cpu_id = ...` (the column a count filters on).
pub fn filtered_column(statement: &str) -> Option<String> {
    let lower = statement.to_ascii_lowercase();
    let after = &statement[lower.find(" where ")? + 7..];
    let column: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '"')
        .collect();
    let column = column.replace('"', "");
    (!column.is_empty()).then_some(column)
}

/// The seed's rules on the client statistics.
fn seed_rules(s: &ScenarioAnalysis, out: &mut Vec<Finding>) {
    let p95 = s.stats.p95_ms;
    if let Some(why) = &s.not_measured {
        out.push(finding(
            Severity::Critical,
            "not_measured",
            Some(s),
            format!("{}: not measured", s.scenario),
            why.clone(),
            Some("fix what stopped it (see the run's notes), then run the scenario again".into()),
        ));
        return;
    }
    let late = s
        .p95_corrected_ms
        .filter(|c| *c > s.target_ms && p95 <= s.target_ms);
    if let Some(c) = late {
        out.push(finding(
            Severity::Critical,
            "target_missed_corrected",
            Some(s),
            format!(
                "{}: P95 corrected for coordinated omission {c:.1} ms misses the {:.0} ms target (uncorrected {p95:.1} ms)",
                s.scenario, s.target_ms
            ),
            "requests started after their scheduled time because earlier ones had not finished: the API could not keep up with the rate".into(),
            Some("lower --rate, raise --concurrency, or make the API faster; the uncorrected P95 hides the wait".into()),
        ));
    }
    if s.stats.count > 0 && p95 > s.target_ms {
        out.push(finding(
            Severity::Critical,
            "target_missed",
            Some(s),
            format!(
                "{}: P95 {p95:.1} ms misses the {:.0} ms target",
                s.scenario, s.target_ms
            ),
            format!("{:.0} % of the target", p95 / s.target_ms * 100.0),
            None,
        ));
    } else if s.stats.count > 0 && p95 > 0.75 * s.target_ms {
        out.push(finding(
            Severity::Warning,
            "near_target",
            Some(s),
            format!(
                "{}: P95 {p95:.1} ms is above 75 % of the {:.0} ms target",
                s.scenario, s.target_ms
            ),
            format!("{:.0} % of the target", p95 / s.target_ms * 100.0),
            None,
        ));
    }
    if s.stats.count > 1 && s.stats.stddev_ms > 0.3 * s.stats.mean_ms {
        out.push(finding(
            Severity::Optimization,
            "high_variance",
            Some(s),
            format!(
                "{}: latency varies (stddev {:.1} ms is {:.0} % of the mean {:.1} ms)",
                s.scenario,
                s.stats.stddev_ms,
                s.stats.stddev_ms / s.stats.mean_ms * 100.0,
                s.stats.mean_ms
            ),
            "the seed's rule: stddev above 30 % of the mean".into(),
            Some("look at the slowest requests' traces (outliers) for what differs".into()),
        ));
    }
    if s.failed > 0 {
        let kinds: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        out.push(finding(
            Severity::Critical,
            "failed_requests",
            Some(s),
            format!(
                "{}: {} failed",
                s.scenario,
                tracesplit_model::stats::counted(s.failed, "request")
            ),
            kinds.join(", "),
            None,
        ));
    }
}

fn dominant(split: &Split) -> Option<(&'static str, f64, f64)> {
    if split.total_ms <= 0.0 {
        return None;
    }
    split
        .components()
        .into_iter()
        .map(|(name, v)| (name, v, v / split.total_ms))
        .filter(|(_, _, share)| *share > 0.5)
        .max_by(|a, b| a.2.total_cmp(&b.2))
}

fn next_step_for(s: &ScenarioAnalysis, component: &str, words: &Words) -> (String, Option<String>) {
    let check = &words.check;
    // Without a declared check, all database time is "other": say so
    // rather than name a check the suite does not have.
    let db_time = if s.classifier.statement.is_empty() && s.classifier.span.is_empty() {
        "database time (the suite declares no dependency check)".to_string()
    } else {
        format!("database time outside the {check}")
    };
    match component {
        "cascade" => {
            let statement = s.cascade_statement.clone().unwrap_or_default();
            let span = s.cascade_span_name.clone().map(|n| format!(" in {n}")).unwrap_or_default();
            let index = filtered_column(&statement).map(|c| format!("add an index on {c} (the column the check filters on); "));
            (
                format!("the {check}{span}: `{statement}`"),
                Some(format!("{}answer the check with EXISTS (stop at the first referencing row) instead of counting them all", index.unwrap_or_default())),
            )
        }
        "db other" if s.slowest_db_without_statement => (
            format!("{db_time}; the slowest DB span has no statement: `{}` (getting a connection: a pool checkout or a new connection)", s.slowest_db_statement.clone().unwrap_or_default()),
            Some("requests wait for a database connection: raise the pool size or lower the concurrency, and keep connections out of slow work".into()),
        ),
        "db other" => (
            format!("{db_time}; slowest statement: `{}`", s.slowest_db_statement.clone().unwrap_or_default()),
            Some("EXPLAIN that statement and check its indexes; several statements per request suggest N+1 loading".into()),
        ),
        "queue" => (
            format!(
                "requests wait ~{:.1} ms outside the server's span — before it starts or after it ends — beyond what the wire takes: the server is saturated or its instrumentation starts late",
                s.p95_split.map_or(0.0, |p| p.queue_ms)
            ),
            Some("add workers (or processes), look for blocking code in the event loop, and instrument the middleware so the span starts when the request arrives".into()),
        ),
        "handler" => (
            format!("time in the handler outside any database span ({} DB spans per request)", s.db_spans.p50),
            Some(if s.server_errors.is_empty() {
                "profile the handler: object loading, serialization and waiting on locks or pools outside any DB span show up here".into()
            } else {
                "fix the server's errors first (the findings above): a failing handler's time is not its normal work; then profile the handler".into()
            }),
        ),
        _ => (
            format!("time on the wire: round trips and transfer (response {:.1} KB on average)", s.mean_response_bytes / 1024.0),
            Some("reduce the payload (pagination, fewer fields, compression), keep connections alive, or move the client closer".into()),
        ),
    }
}

/// Span-based rules for one scenario.
fn span_rules(s: &ScenarioAnalysis, words: &Words, out: &mut Vec<Finding>) {
    if let Some(split) = &s.p95_split
        && let Some((component, value, share)) = dominant(split)
    {
        let (evidence, next) = next_step_for(s, component, words);
        // A share matters when the scenario is near or over its target (the
        // seed's 75 % rule); far below it, a 54 % share of 0.4 ms is context.
        let p95 = s.p95_corrected_ms.unwrap_or(0.0).max(s.stats.p95_ms);
        let severity = if p95 > s.target_ms {
            Severity::Critical
        } else if p95 > 0.75 * s.target_ms {
            Severity::Warning
        } else {
            Severity::Info
        };
        out.push(finding(
            severity,
            "dominant_component",
            Some(s),
            format!(
                "{}: {component} is {:.0} % of the P95 ({value:.1} of {:.1} ms)",
                s.scenario,
                share * 100.0,
                split.total_ms
            ),
            evidence,
            next,
        ));
    }
    if s.db_spans.p50 > 20 {
        out.push(finding(
            Severity::Warning,
            "n_plus_one",
            Some(s),
            format!(
                "{}: {} DB statements per request (median)",
                s.scenario, s.db_spans.p50
            ),
            format!("up to {} statements in one request", s.db_spans.max),
            Some(
                "load related rows in one query (join or IN list) instead of one query per row"
                    .into(),
            ),
        ));
    }
    let c = &s.coverage;
    if c.requests > 0 && c.matched < c.requests {
        out.push(finding(
            Severity::Warning,
            "unmatched_requests",
            Some(s),
            format!("{}: {} of {} requests have no server span", s.scenario, c.unmatched(), c.requests),
            unmatched_causes(c.unmatched(), c.requests),
            Some("see the likely causes above, most likely first; the run's notes say whether the span wait ended with spans still missing".into()),
        ));
    }
    if c.clamped > 0 {
        out.push(finding(
            Severity::Info,
            "clamped",
            Some(s),
            format!(
                "{}: {} had a server span longer than the client saw",
                s.scenario,
                tracesplit_model::stats::counted(c.clamped, "request")
            ),
            "network was clamped to 0 for them: the server ended its span after the answer had arrived (frameworks close it after their last send, later under load), or the clocks differ".into(),
            None,
        ));
    }
    if c.multiple_server_spans > 0 {
        out.push(finding(
            Severity::Info,
            "multiple_server_spans",
            Some(s),
            format!(
                "{}: {} requests had several server spans under their client span",
                s.scenario, c.multiple_server_spans
            ),
            "the longest was used as the server entry".into(),
            None,
        ));
    }
}

/// Why requests lack a server span, most likely first: when only some are
/// missing, the API's exporter dropping spans under load comes before a
/// wiring problem (wiring loses all of them).
fn unmatched_causes(unmatched: u64, requests: u64) -> String {
    let some = unmatched < requests;
    let causes = [
        "the API's span exporter dropped spans under load: OpenTelemetry SDKs drop what does not fit their batch queue (2048 spans by default; raise OTEL_BSP_MAX_QUEUE_SIZE, or lower the load)",
        "the spans arrived after the span wait ended (raise --span-wait) or were still in the API's exporter when the run stopped",
        "the API samples some requests out (traceparent flag 01 is sent; a sampler that ignores the parent drops spans)",
        "the API does not continue the incoming traceparent on some routes (the server span starts a new trace)",
        "the API does not export its spans to this collector at all (OTEL_EXPORTER_OTLP_ENDPOINT)",
    ];
    let order: &[usize] = if some {
        &[0, 1, 2, 3, 4]
    } else {
        &[4, 3, 2, 1, 0]
    };
    let listed: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(k, &i)| format!("{}. {}", k + 1, causes[i]))
        .collect();
    format!(
        "their time is in the client statistics but not split. Likely causes: {}",
        listed.join(" ")
    )
}

/// N+1 across scenarios: the same operation with more fixture listings issues more statements.
fn growth_rules(scenarios: &[ScenarioAnalysis], words: &Words, out: &mut Vec<Finding>) {
    let children = &words.children;
    let child = children.strip_suffix('s').unwrap_or(children);
    for a in scenarios {
        for b in scenarios {
            let (Some(la), Some(lb)) = (a.fixture_listings, b.fixture_listings) else {
                continue;
            };
            let same_op = a.entity_type == b.entity_type && a.operation == b.operation;
            if same_op
                && lb >= la.max(1) * 5
                && b.db_spans.mean > a.db_spans.mean * 1.5
                && b.db_spans.mean - a.db_spans.mean >= 2.0
            {
                out.push(finding(
                    Severity::Warning,
                    "n_plus_one_growth",
                    Some(b),
                    format!("{}: DB statements grow with the {children} ({:.1} with {la} {children} → {:.1} with {lb})", b.scenario, a.db_spans.mean, b.db_spans.mean),
                    format!("compared with {}", a.scenario),
                    Some(format!("one statement per {child}: load them in one query, or not at all when only their count matters")),
                ));
            }
        }
    }
}

/// When the server's clock disagrees with the client's, the time outside
/// the server span cannot be placed: it all stays network.
fn clock_rule(clocks: Option<&ClockCheck>, out: &mut Vec<Finding>) {
    let Some(c) = clocks.filter(|c| !c.consistent) else {
        return;
    };
    out.push(finding(
        Severity::Warning,
        "clocks_disagree",
        None,
        "the server's clock disagrees with the client's: network includes the server's own time outside its spans".into(),
        format!(
            "{}, so the time outside them cannot be split into wire and queue; durations alone give network = total − server",
            clock_evidence(c)
        ),
        Some("run the client on the API's host, or synchronize both clocks (chrony/NTP) for the split of network and queue".into()),
    ));
}

/// What showed the clocks disagree: most spans ending well after the
/// answer arrived (the server's clock ahead), and spans starting before
/// their request was sent (behind) — one of the two always, as the check
/// breaks on nothing else.
fn clock_evidence(c: &ClockCheck) -> String {
    let mut said = Vec::new();
    if c.ended_late * 2 > c.checked {
        said.push(format!(
            "{} of {} server spans end more than 2 ms after their client read the answer (the server's clock runs ahead)",
            c.ended_late, c.checked
        ));
    }
    if c.started_early > 0 {
        said.push(format!(
            "{} of {} server spans start before their client sent the request (the server's clock runs behind)",
            c.started_early, c.checked
        ));
    }
    said.join("; ")
}

/// All findings, most severe first.
pub fn findings(
    scenarios: &[ScenarioAnalysis],
    clocks: Option<&ClockCheck>,
    abandoned: Option<&tracesplit_model::server_errors::Abandoned>,
    words: &Words,
) -> Vec<Finding> {
    let mut out = crate::server_errors::rules(scenarios, abandoned);
    clock_rule(clocks, &mut out);
    out.extend(crate::transport::rules(scenarios, clocks));
    for s in scenarios {
        seed_rules(s, &mut out);
        span_rules(s, words, &mut out);
        crate::tail_findings::tail_rules(s, &mut out);
    }
    growth_rules(scenarios, words, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

/// What the span sources said: traces they did not deliver, or no source at all.
pub(crate) fn source_findings(notes: Vec<String>, no_source: bool) -> Vec<Finding> {
    let mut out: Vec<Finding> = notes
        .into_iter()
        .map(|note| Finding {
            severity: Severity::Warning,
            rule: "traces_missing".into(),
            scenario: None,
            title: "some traces were not found in the span source".into(),
            detail: note,
            next_step: Some(
                "wait longer for the backend to flush (--span-wait), or check sampling".into(),
            ),
        })
        .collect();
    if no_source {
        out.push(Finding {
            severity: Severity::Warning,
            rule: "no_spans".into(),
            scenario: None,
            title: "no span source: nothing could be split".into(),
            detail: "the run has no spans/ directory (was it run with --no-collect?)".into(),
            next_step: Some("name the spans with --spans DIR or --otlp-json FILE".into()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog_words() -> Words {
        Words {
            check: "usage check".into(),
            children: "listings".into(),
        }
    }

    fn cascade_heavy(p95: f64, target: f64) -> ScenarioAnalysis {
        ScenarioAnalysis {
            scenario: "S".into(),
            target_ms: target,
            stats: tracesplit_model::stats::LatencyStats {
                count: 20,
                p95_ms: p95,
                ..Default::default()
            },
            coverage: tracesplit_model::analysis::Coverage {
                requests: 20,
                matched: 20,
                ..Default::default()
            },
            p95_split: Some(Split {
                total_ms: p95,
                cascade_ms: p95 * 0.54,
                handler_ms: p95 * 0.46,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_clock_finding_says_which_end_broke() {
        let said = |c: ClockCheck| {
            let mut out = Vec::new();
            clock_rule(Some(&c), &mut out);
            out.pop().map(|f| f.detail).unwrap_or_default()
        };
        let ahead = ClockCheck {
            checked: 20,
            ended_late: 15,
            inside: 5,
            ..Default::default()
        };
        let detail = said(ahead);
        assert!(
            detail.starts_with("15 of 20 server spans end more than 2 ms after their client read the answer (the server's clock runs ahead)"),
            "{detail}"
        );
        let behind = ClockCheck {
            checked: 20,
            started_early: 18,
            ended_late: 3,
            inside: 2,
            ..Default::default()
        };
        let detail = said(behind);
        assert!(
            detail.starts_with("18 of 20 server spans start before their client sent the request"),
            "{detail}"
        );
        assert!(
            !detail.contains("ahead"),
            "3 of 20 late is no clock: {detail}"
        );
        let agreeing = ClockCheck {
            consistent: true,
            checked: 20,
            inside: 20,
            ..Default::default()
        };
        assert_eq!(said(agreeing), "");
    }

    #[test]
    fn a_share_matters_only_near_or_over_the_target() {
        let severity = |s: &ScenarioAnalysis| {
            findings(std::slice::from_ref(s), None, None, &catalog_words())
                .into_iter()
                .find(|f| f.rule == "dominant_component")
                .map(|f| f.severity)
        };
        // 54 % of 0.4 ms against 1000 ms: context, not a warning.
        assert_eq!(severity(&cascade_heavy(0.4, 1000.0)), Some(Severity::Info));
        assert_eq!(
            severity(&cascade_heavy(800.0, 1000.0)),
            Some(Severity::Warning)
        );
        assert_eq!(
            severity(&cascade_heavy(1200.0, 1000.0)),
            Some(Severity::Critical)
        );
        // Far under target by its own P95, but the open model's corrected P95 is over it.
        let mut late = cascade_heavy(0.4, 1000.0);
        late.p95_corrected_ms = Some(1500.0);
        assert_eq!(severity(&late), Some(Severity::Critical));
        assert!(
            findings(&[late], None, None, &catalog_words())
                .iter()
                .any(|f| f.rule == "target_missed_corrected")
        );
    }

    #[test]
    fn unmatched_requests_list_the_queue_first_when_only_some_are_missing() {
        let some = unmatched_causes(3, 100);
        assert!(
            some.starts_with("their time") && some.contains("1. the API's span exporter dropped"),
            "{some}"
        );
        assert!(some.contains("OTEL_BSP_MAX_QUEUE_SIZE"));
        let all = unmatched_causes(100, 100);
        assert!(
            all.contains("1. the API does not export its spans to this collector"),
            "{all}"
        );
    }

    #[test]
    fn the_filtered_column_of_a_count() {
        assert_eq!(
            filtered_column(
                "SELECT count(listings.id) AS count_1 FROM listings WHERE listings.cpu_id = ?"
            )
            .as_deref(),
            Some("listings.cpu_id")
        );
        assert_eq!(
            filtered_column("select count(*) from \"listing\" where \"listing\".\"cpu_id\" = $1")
                .as_deref(),
            Some("listing.cpu_id")
        );
        assert_eq!(filtered_column("SELECT 1"), None);
    }
}
