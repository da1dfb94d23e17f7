//! The terminal table: scenario, P95, target, verdict, the P95 split as numbers
//! and a proportional bar (n network, q queue, h handler, C cascade, d other DB).

use crate::{Exporter, ReportError, fmt_ms};
use std::fmt::Write;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::{ScenarioAnalysis, Severity};

/// Plain-text table for a terminal or a CI log.
#[derive(Debug, Clone, Copy)]
pub struct TerminalExporter {
    /// Width of the proportional bar in characters.
    pub bar_width: usize,
}

impl Default for TerminalExporter {
    fn default() -> Self {
        Self { bar_width: 24 }
    }
}

/// A bar whose segments are proportional to the components.
pub fn bar(s: &ScenarioAnalysis, width: usize) -> String {
    let Some(split) = &s.p95_split else {
        return format!("{:width$}", "(no spans)");
    };
    if split.total_ms <= 0.0 {
        return " ".repeat(width);
    }
    let symbols = ['n', 'q', 'h', 'C', 'd'];
    let mut out = String::new();
    for (symbol, n) in symbols.iter().zip(crate::bar_cells(split, width)) {
        out.extend(std::iter::repeat_n(*symbol, n));
    }
    out.extend(std::iter::repeat_n(' ', width - out.chars().count()));
    out
}

fn row(out: &mut String, s: &ScenarioAnalysis, width: usize, open_model: bool) {
    let verdict = if s.passed { "PASS" } else { "FAIL" };
    let corrected = if open_model {
        format!(" {:>8}", crate::corrected_cell(s))
    } else {
        String::new()
    };
    if let Some(why) = &s.not_measured {
        let _ = writeln!(
            out,
            "{:<34} {:>8}{corrected} {:>7} {verdict}  not measured: {why}",
            s.scenario,
            "n/a",
            fmt_ms(s.target_ms)
        );
        return;
    }
    let split = s.p95_split.map(|p| {
        let parts: Vec<String> = p
            .components()
            .iter()
            .map(|(_, v)| format!("{:>7}", fmt_ms(*v)))
            .collect();
        format!("{:>7} = {}", fmt_ms(p.total_ms), parts.join(" "))
    });
    let none = if s.stats.count == 0 {
        "n/a: no request measured"
    } else {
        "no server spans"
    };
    let _ = writeln!(
        out,
        "{:<34} {:>8}{corrected} {:>7} {verdict}  {}  [{}] {:>5}",
        s.scenario,
        crate::p95_cell(s),
        fmt_ms(s.target_ms),
        split.unwrap_or_else(|| format!("{none:>41}")),
        bar(s, width),
        crate::coverage_cell(s).replace(' ', "")
    );
}

impl Exporter for TerminalExporter {
    fn render(&self, a: &Analysis) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        self.header(&mut out, a.open_model);
        for s in &a.scenarios {
            row(&mut out, s, self.bar_width, a.open_model);
        }
        let _ = writeln!(out, "({})", crate::SPLIT_METHOD);
        if let Some(line) = crate::setup_line(&a.scenarios) {
            let _ = writeln!(
                out,
                "(network includes opening connections — TCP connect and TLS handshake — in the P95 split of: {line})"
            );
        }
        if a.open_model {
            let _ = writeln!(
                out,
                "(open model: corr P95 counts each request from its scheduled start, corrected for coordinated omission; a scenario passes only when both P95s are within target)"
            );
        }
        for s in &a.scenarios {
            for (label, line) in crate::scenario_extras(s) {
                let _ = writeln!(out, "{} {}: {line}", s.scenario, label.to_lowercase());
            }
        }
        for s in a.scenarios.iter().filter(|s| !s.passed) {
            let _ = writeln!(out, "FAIL {}: {}", s.scenario, s.verdict);
        }
        let passed = a.scenarios.iter().filter(|s| s.passed).count();
        let _ = writeln!(
            out,
            "\n{passed} of {} scenarios met their targets; {} of {} requests matched a server span ({})",
            a.scenarios.len(),
            a.coverage.matched,
            a.coverage.requests,
            a.span_source
        );
        if let Some(sw) = &a.cascade_sweep {
            let _ = writeln!(out, "\ncascade sweep: {}", crate::sweep_sentence(sw));
        }
        if !a.notes.is_empty() {
            let _ = writeln!(out, "\nnotes:");
        }
        for n in &a.notes {
            let _ = writeln!(out, "  {n}");
        }
        findings(&mut out, a);
        Ok(out.into_bytes())
    }
}

impl TerminalExporter {
    /// The table's column names.
    fn header(&self, out: &mut String, open_model: bool) {
        let h = [
            "scenario",
            "P95 ms",
            "target",
            "split",
            "network",
            "queue",
            "handler",
            "cascade",
            "db other",
            "n q h C d",
            "spans",
        ];
        let corrected = if open_model {
            format!(" {:>8}", "corr P95")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<34} {:>8}{corrected} {:>7}       {:>7}   {:>7} {:>7} {:>7} {:>7} {:>7}  {:<w$}   {}",
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            h[5],
            h[6],
            h[7],
            h[8],
            h[9],
            h[10],
            w = self.bar_width + 2
        );
    }
}

/// The findings a terminal shows (warnings and worse), with their next steps.
fn findings(out: &mut String, a: &Analysis) {
    let shown: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.severity <= Severity::Warning)
        .collect();
    if !shown.is_empty() {
        let _ = writeln!(out, "\nfindings:");
    }
    for f in shown {
        let tag = match f.severity {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING ",
            Severity::Optimization => "OPTIMIZE",
            Severity::Info => "INFO    ",
        };
        let _ = writeln!(out, "  {tag} {}", f.title);
        let _ = writeln!(out, "           {}", f.detail);
        if let Some(n) = &f.next_step {
            let _ = writeln!(out, "           next: {n}");
        }
    }
}
