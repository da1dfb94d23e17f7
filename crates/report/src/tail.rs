//! The "why slow" section, as text every format uses.

use crate::fmt_ms;
use tracesplit_model::analysis::Outlier;
use tracesplit_model::tail::{TailExplanation, TimeCluster, fmt_calls};

/// What was compared with what.
pub fn intro(t: &TailExplanation) -> String {
    match &t.not_compared {
        Some(why) => format!("not compared: {why}"),
        None => format!(
            "{} slow requests (at or above the P95, mean {} ms) against {} baseline requests (at or below the P50, mean {} ms)",
            t.slow,
            fmt_ms(t.slow_mean_ms),
            t.baseline,
            fmt_ms(t.baseline_mean_ms)
        ),
    }
}

/// The shape table's header.
pub const HEADER: [&str; 5] = [
    "span shape",
    "calls per request, slow / baseline",
    "ms per request, slow / baseline",
    "adds (ms)",
    "p",
];

/// One row per shape: shape, calls, ms, added, p-value.
pub fn rows(t: &TailExplanation) -> Vec<[String; 5]> {
    t.shapes
        .iter()
        .map(|d| {
            [
                d.shape.clone(),
                format!(
                    "{} / {}",
                    fmt_calls(d.slow_calls),
                    fmt_calls(d.baseline_calls)
                ),
                format!("{} / {}", fmt_ms(d.slow_ms), fmt_ms(d.baseline_ms)),
                if d.only_in_slow {
                    format!("+{} (only in slow)", fmt_ms(d.added_ms))
                } else {
                    format!("+{}", fmt_ms(d.added_ms))
                },
                format!("{:.0e}", d.p_value),
            ]
        })
        .collect()
}

/// The attribute table's header.
pub const ATTRIBUTE_HEADER: [&str; 4] = ["attribute = value", "slow requests", "baseline", "p"];

/// One row per over-represented attribute value: key = value, shares, p-value.
pub fn attribute_rows(t: &TailExplanation) -> Vec<[String; 4]> {
    t.attributes
        .iter()
        .map(|a| {
            [
                format!(
                    "{} = {}{}",
                    a.key,
                    a.value,
                    if a.on_request {
                        ""
                    } else {
                        " (on a span below the server span)"
                    }
                ),
                format!("{:.0} %", a.slow_share * 100.0),
                format!("{:.0} %", a.baseline_share * 100.0),
                format!("{:.0e}", a.p_value),
            ]
        })
        .collect()
}

/// An outlier's critical path on one line: `name 1.2 → name 40.1` (ms of
/// exclusive time per span); empty when it has none.
pub fn critical_path(o: &Outlier) -> String {
    o.critical_path
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                crate::waterfall::one_line(&c.name, 60),
                fmt_ms(c.exclusive_ms)
            )
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Whether the slow requests bunch in time.
pub fn clustering(c: &TimeCluster) -> String {
    format!(
        "{:.0} % of the slow requests started between {:.1} s and {:.1} s, when {:.0} % of all requests did (p = {:.0e}): {}",
        c.slow_share * 100.0,
        c.from_s,
        c.to_s,
        c.all_share * 100.0,
        c.p_value,
        if c.clustered {
            "they bunch in time"
        } else {
            "no bunching"
        }
    )
}
