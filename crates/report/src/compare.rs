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

fn signed(v: f64) -> String {
    format!("{}{}", if v >= 0.0 { "+" } else { "−" }, fmt_ms(v.abs()))
}

/// Which parts moved: `handler +5.10 ms [4.60, 5.70]; network, queue
/// unchanged` from the per-request means' intervals; without them the P95
/// split's deltas, `cascade +610 ms, handler +2.1 ms`, largest first.
fn components(s: &ScenarioChange) -> String {
    if s.components.iter().any(|c| c.interval_ms.is_some()) {
        let moved: Vec<String> = s
            .components
            .iter()
            .filter(|c| c.moved())
            .map(|c| {
                let (lo, hi) = c.interval_ms.unwrap_or_default();
                format!(
                    "{} {} ms [{}, {}]",
                    c.component,
                    signed(c.mean_change_ms.unwrap_or_default()),
                    signed(lo),
                    signed(hi)
                )
            })
            .collect();
        let still: Vec<&str> = s
            .components
            .iter()
            .filter(|c| !c.moved())
            .map(|c| c.component.as_str())
            .collect();
        let mut out = moved.join("; ");
        if !still.is_empty() {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&format!("{} unchanged", still.join(", ")));
        }
        return out;
    }
    let mut c: Vec<_> = s
        .components
        .iter()
        .map(|c| (c.component.as_str(), c.head_ms - c.base_ms))
        .collect();
    c.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    c.iter()
        .map(|(n, d)| format!("{n} {} ms", signed(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What moved, and for a slower scenario the span shape that grew most:
/// `handler +5.10 ms [4.60, 5.70]; …; most grown span: SELECT … +5.02 ms
/// exclusive per slow request (0.10 → 5.12 ms)`.
fn moved(s: &ScenarioChange) -> String {
    let mut out = components(s);
    let slower = s.regression || (s.significant && s.change > 0.0);
    if let Some(g) = s.shape.as_ref().filter(|_| slower) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let calls = if (g.head_calls - g.base_calls).abs() >= 0.05 {
            format!(
                ", {} → {} calls",
                tracesplit_model::tail::fmt_calls(g.base_calls),
                tracesplit_model::tail::fmt_calls(g.head_calls)
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "most grown span: {} {} ms exclusive per slow request ({} → {} ms{calls})",
            crate::waterfall::one_line(&g.shape, 80),
            signed(g.head_ms - g.base_ms),
            fmt_ms(g.base_ms),
            fmt_ms(g.head_ms)
        );
    }
    out
}

/// `+12.0% [+4.1%, +19.8%]`.
fn change_cell(s: &ScenarioChange) -> String {
    format!(
        "{} [{}, {}]",
        pct(s.change),
        pct(s.interval.0),
        pct(s.interval.1)
    )
}

fn footer(c: &Comparison) -> String {
    let n = c.regressions().count();
    let mut out = format!(
        "{n} regression{}: P95 slower beyond noise (the {:.0} % interval of its change, from a block bootstrap over time{}, above zero), by more than {:.0} % and {} ms",
        if n == 1 { "" } else { "s" },
        (1.0 - c.alpha) * 100.0,
        if c.runs.0 >= 3 && c.runs.1 >= 3 {
            " and over runs"
        } else {
            ""
        },
        c.max_regression * 100.0,
        fmt_ms(c.floor_ms)
    );
    if c.skipped_s > 0.0 {
        let _ = write!(
            out,
            "; each scenario's first {} s dropped (warm-up)",
            c.skipped_s
        );
    }
    if let Some(v) = &c.versions {
        let _ = write!(out, "\n{v}");
    }
    for d in &c.differences {
        let _ = write!(out, "\nthe runs differ (compared with --force): {d}");
    }
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
        "{:<34} {:>9} {:>9} {:>28} {:>8}  {:<22} what moved (head − base)",
        "scenario", "base P95", "head P95", "change [interval]", "p", "verdict"
    );
    for s in &c.scenarios {
        let _ = writeln!(
            out,
            "{:<34} {:>9} {:>9} {:>28} {:>8.4}  {:<22} {}",
            s.scenario,
            fmt_ms(s.base_p95_ms),
            fmt_ms(s.head_p95_ms),
            change_cell(s),
            s.p_value,
            verdict(s),
            moved(s)
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
        "| scenario | base P95 ms | head P95 ms | change [interval] | p | verdict | what moved (head − base) |\n|---|--:|--:|--:|--:|---|---|"
    );
    for s in &c.scenarios {
        let mark = if s.regression { "❌ " } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.4} | {mark}{} | {} |",
            s.scenario,
            fmt_ms(s.base_p95_ms),
            fmt_ms(s.head_p95_ms),
            change_cell(s),
            s.p_value,
            verdict(s),
            moved(s)
        );
    }
    let _ = writeln!(out, "\n{}", footer(c));
    out
}

/// The comparison as JUnit XML for CI: a testcase per scenario, a
/// `<failure>` per regression carrying the change, its interval and what moved.
pub fn compare_junit(c: &Comparison) -> String {
    let mut out = String::new();
    let suite = format!("compare {} → {}", c.base, c.head);
    let failures = c.regressions().count();
    crate::junit::open(
        &mut out,
        ("tracesplit compare", &suite),
        c.scenarios.len(),
        failures,
        None,
    );
    for s in &c.scenarios {
        let evidence = crate::esc(&format!(
            "P95 {} → {} ms, {}; {}",
            fmt_ms(s.base_p95_ms),
            fmt_ms(s.head_p95_ms),
            change_cell(s),
            moved(s)
        ));
        let message = format!("P95 regressed {}", change_cell(s));
        let failure = s.regression.then_some((message.as_str(), "regression"));
        crate::junit::testcase(
            &mut out,
            ("tracesplit.compare", &s.scenario),
            None,
            failure,
            &evidence,
        );
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>",
        crate::esc(&footer(c))
    );
    out.push_str(crate::junit::CLOSE);
    out
}
