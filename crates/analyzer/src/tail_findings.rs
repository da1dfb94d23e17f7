//! The "why slow" findings: the tail explanation's strong evidence only.

use tracesplit_model::analysis::{Finding, ScenarioAnalysis, Severity};
use tracesplit_model::stats::fmt_ms;
use tracesplit_model::tail::{AttributeDelta, ShapeDelta, TailExplanation, fmt_calls};

/// A shape is named a cause when it adds at least this share of the
/// difference between a slow request and a baseline one.
const CAUSE_SHARE: f64 = 0.25;

/// The shape named a cause, when one adds enough of the gap.
fn strong_shape(tail: &TailExplanation) -> Option<&ShapeDelta> {
    let gap = tail.slow_mean_ms - tail.baseline_mean_ms;
    tail.shapes
        .first()
        .filter(|top| gap > 0.0 && top.added_ms >= CAUSE_SHARE * gap)
}

fn shape_title(scenario: &str, top: &ShapeDelta) -> String {
    if top.only_in_slow {
        format!(
            "{scenario}: only in slow requests: `{}` ({} calls per slow request, +{} ms)",
            top.shape,
            fmt_calls(top.slow_calls),
            fmt_ms(top.added_ms)
        )
    } else {
        format!(
            "{scenario}: slow requests spend +{} ms in `{}` (calls per request: {} vs {})",
            fmt_ms(top.added_ms),
            top.shape,
            fmt_calls(top.slow_calls),
            fmt_calls(top.baseline_calls)
        )
    }
}

/// The attribute under which a span's recorded exception is compared.
const EXCEPTION_TYPE: &str = "exception.type";

fn attribute_title(scenario: &str, a: &AttributeDelta) -> String {
    format!(
        "{scenario}: {:.0} % of slow requests {} `{}` = `{}` ({:.0} % of the baseline)",
        a.slow_share * 100.0,
        if a.on_request {
            "have"
        } else {
            "have a span with"
        },
        a.key,
        a.value,
        a.baseline_share * 100.0
    )
}

/// The next step when a value of the slow requests leads.
fn attribute_next(a: &AttributeDelta) -> String {
    if a.key == EXCEPTION_TYPE {
        format!(
            "open an outlier's trace at the span that raised `{}`: the exception and what surrounds it (a retry, a lock wait, a timeout) are what these requests did",
            a.value
        )
    } else {
        format!(
            "compare the requests with `{}` = `{}` with the others: the host or instance behind it, its version, its load; then open an outlier's trace",
            a.key, a.value
        )
    }
}

/// The "why slow" finding's title, evidence and next step. A property of the
/// request itself (which instance served it, which route or status) comes
/// first: it says which requests; a span shape then says what they did.
fn why_slow(s: &ScenarioAnalysis, tail: &TailExplanation) -> Option<(String, String, String)> {
    let shape = strong_shape(tail);
    // An exception recorded anywhere in the request says which requests as
    // well as a property of the request itself does.
    let request_attr = tail
        .attributes
        .iter()
        .find(|a| a.on_request || a.key == EXCEPTION_TYPE);
    let gap = tail.slow_mean_ms - tail.baseline_mean_ms;
    let sets = format!(
        "a slow request ({} at or above the P95, mean {} ms) against a baseline one ({} at or below the P50, mean {} ms)",
        tail.slow,
        fmt_ms(tail.slow_mean_ms),
        tail.baseline,
        fmt_ms(tail.baseline_mean_ms)
    );
    let shape_evidence = |top: &ShapeDelta| {
        format!(
            "`{}` adds {} of the {} ms between {sets}; Mann-Whitney p = {:.1e}",
            top.shape,
            fmt_ms(top.added_ms),
            fmt_ms(gap),
            top.p_value
        )
    };
    let attribute_evidence = |a: &AttributeDelta| {
        format!(
            "`{}` = `{}`: {:.0} % of the slow requests, {:.0} % of the baseline; Fisher exact p = {:.1e}",
            a.key,
            a.value,
            a.slow_share * 100.0,
            a.baseline_share * 100.0,
            a.p_value
        )
    };
    if let Some(a) = request_attr.filter(|_| gap > 0.0) {
        let detail = match shape {
            Some(top) => format!("{}. {}", attribute_evidence(a), shape_evidence(top)),
            None => format!("{}; {sets}", attribute_evidence(a)),
        };
        return Some((attribute_title(&s.scenario, a), detail, attribute_next(a)));
    }
    if let Some(top) = shape {
        let mut detail = shape_evidence(top);
        if let Some(a) = tail.attributes.first() {
            detail.push_str(&format!(". {}", attribute_evidence(a)));
        }
        let next = if top.db {
            "look at when this statement runs more often or longer: its plan (EXPLAIN ANALYZE), locks, and the code path that issues it"
        } else {
            "open a slow request's trace (outliers) and compare this span with a fast one's"
        };
        return Some((shape_title(&s.scenario, top), detail, next.into()));
    }
    let a = tail.attributes.first().filter(|_| gap > 0.0)?;
    Some((
        attribute_title(&s.scenario, a),
        format!("{}; {sets}", attribute_evidence(a)),
        "open an outlier's trace and find the span with this value".into(),
    ))
}

/// One finding per scenario whose slow requests have a clear cause.
pub fn tail_rules(s: &ScenarioAnalysis, out: &mut Vec<Finding>) {
    let Some(tail) = &s.tail else {
        return;
    };
    let severity = if s.passed {
        Severity::Info
    } else {
        Severity::Warning
    };
    if let Some((title, detail, next_step)) = why_slow(s, tail) {
        out.push(Finding {
            severity,
            rule: "why_slow".into(),
            scenario: Some(s.scenario.clone()),
            title,
            detail,
            next_step: Some(next_step),
        });
    }
    if let Some(c) = tail.clustering.as_ref().filter(|c| c.clustered) {
        out.push(Finding {
            severity,
            rule: "slow_in_bursts".into(),
            scenario: Some(s.scenario.clone()),
            title: format!(
                "{}: slow requests bunch in time: {:.0} % of them between {:.1} s and {:.1} s",
                s.scenario,
                c.slow_share * 100.0,
                c.from_s,
                c.to_s
            ),
            detail: format!(
                "{:.0} % of all its requests ran then; binomial p = {:.1e}",
                c.all_share * 100.0,
                c.p_value
            ),
            next_step: Some(
                "look at what else ran then: a checkpoint, vacuum, GC pause, deploy or another load".into(),
            ),
        });
    }
}
