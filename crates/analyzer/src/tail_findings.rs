//! The "why slow" findings: the tail explanation's strong evidence only.

use tracesplit_model::analysis::{Finding, ScenarioAnalysis, Severity};
use tracesplit_model::stats::fmt_ms;
use tracesplit_model::tail::fmt_calls;

/// A shape is named a cause when it adds at least this share of the
/// difference between a slow request and a baseline one.
const CAUSE_SHARE: f64 = 0.25;

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
    let gap = tail.slow_mean_ms - tail.baseline_mean_ms;
    if let Some(top) = tail.shapes.first()
        && gap > 0.0
        && top.added_ms >= CAUSE_SHARE * gap
    {
        let title = if top.only_in_slow {
            format!(
                "{}: only in slow requests: `{}` ({} calls per slow request, +{} ms)",
                s.scenario,
                top.shape,
                fmt_calls(top.slow_calls),
                fmt_ms(top.added_ms)
            )
        } else {
            format!(
                "{}: slow requests spend +{} ms in `{}` (calls per request: {} vs {})",
                s.scenario,
                fmt_ms(top.added_ms),
                top.shape,
                fmt_calls(top.slow_calls),
                fmt_calls(top.baseline_calls)
            )
        };
        out.push(Finding {
            severity,
            rule: "why_slow".into(),
            scenario: Some(s.scenario.clone()),
            title,
            detail: format!(
                "{} of the {} ms between a slow request ({} at or above the P95, mean {} ms) and a baseline one ({} at or below the P50, mean {} ms); Mann-Whitney p = {:.1e}",
                fmt_ms(top.added_ms),
                fmt_ms(gap),
                tail.slow,
                fmt_ms(tail.slow_mean_ms),
                tail.baseline,
                fmt_ms(tail.baseline_mean_ms),
                top.p_value
            ),
            next_step: Some(if top.db {
                "look at when this statement runs more often or longer: its plan (EXPLAIN ANALYZE), locks, and the code path that issues it".into()
            } else {
                "open a slow request's trace (outliers) and compare this span with a fast one's".into()
            }),
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
