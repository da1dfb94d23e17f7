//! `tracesplit compare` output: a terminal table and Markdown.

use crate::fmt_ms;
use std::fmt::Write;
use tracesplit_model::compare::{Comparison, ScenarioChange};

fn pct(v: f64) -> String {
    format!("{:+.1}%", v * 100.0)
}

fn verdict(s: &ScenarioChange) -> &'static str {
    if s.regression {
        "REGRESSION"
    } else if s.significant && s.change < 0.0 {
        "faster"
    } else if s.significant {
        "slower"
    } else {
        "no significant change"
    }
}

/// Component deltas: `cascade +610 ms, handler +2.1 ms`, largest first.
fn components(s: &ScenarioChange) -> String {
    let mut c: Vec<_> = s
        .components
        .iter()
        .map(|c| (c.component.as_str(), c.head_ms - c.base_ms))
        .collect();
    c.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    c.iter()
        .map(|(n, d)| {
            format!(
                "{n} {}{} ms",
                if *d >= 0.0 { "+" } else { "−" },
                fmt_ms(d.abs())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn footer(c: &Comparison) -> String {
    let n = c.regressions().count();
    let mut out = format!(
        "{n} regression{} (P95 more than {:.0}% slower with p < {}; Mann-Whitney U on the raw latencies)",
        if n == 1 { "" } else { "s" },
        c.max_regression * 100.0,
        c.alpha
    );
    if !c.unpaired.is_empty() {
        let _ = write!(
            out,
            "\nin only one run (not compared): {}",
            c.unpaired.join(", ")
        );
    }
    out
}

/// The comparison as a terminal table.
pub fn compare_terminal(c: &Comparison) -> String {
    let mut out = format!("base {}\nhead {}\n\n", c.base, c.head);
    let _ = writeln!(
        out,
        "{:<34} {:>9} {:>9} {:>8} {:>8}  {:<22} components (head − base)",
        "scenario", "base P95", "head P95", "change", "p", "verdict"
    );
    for s in &c.scenarios {
        let _ = writeln!(
            out,
            "{:<34} {:>9} {:>9} {:>8} {:>8.4}  {:<22} {}",
            s.scenario,
            fmt_ms(s.base_p95_ms),
            fmt_ms(s.head_p95_ms),
            pct(s.change),
            s.p_value,
            verdict(s),
            components(s)
        );
    }
    let _ = writeln!(out, "\n{}", footer(c));
    out
}

/// The comparison as Markdown (for a pull-request comment).
pub fn compare_markdown(c: &Comparison) -> String {
    let mut out = String::from("# tracesplit compare\n\n");
    let _ = writeln!(out, "base `{}` → head `{}`\n", c.base, c.head);
    let _ = writeln!(
        out,
        "| scenario | base P95 ms | head P95 ms | change | p | verdict | components (head − base) |\n|---|--:|--:|--:|--:|---|---|"
    );
    for s in &c.scenarios {
        let mark = if s.regression { "❌ " } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.4} | {mark}{} | {} |",
            s.scenario,
            fmt_ms(s.base_p95_ms),
            fmt_ms(s.head_p95_ms),
            pct(s.change),
            s.p_value,
            verdict(s),
            components(s)
        );
    }
    let _ = writeln!(out, "\n{}", footer(c));
    out
}
