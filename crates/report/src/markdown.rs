//! Markdown for a GitHub step summary or a pull-request comment: the verdict
//! table with the P95 split, findings, the cascade sweep, and per scenario the
//! outliers and the P95 exemplar's span waterfall.

use crate::markup::{Cell, Markup};
use crate::{Exporter, ReportError, fmt_ms, waterfall};
use std::fmt::Write;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::{Finding, ScenarioAnalysis, Severity, Split};
use tracesplit_model::sweep::CascadeSweep;

/// Renders `report.md`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkdownExporter;

/// The components joined with `+`, the cascade check in bold.
fn split_terms(p: &tracesplit_model::analysis::Split) -> String {
    let terms: Vec<String> = p
        .components()
        .iter()
        .map(|(name, v)| match *name {
            "cascade" => format!("**{}**", fmt_ms(*v)),
            _ => fmt_ms(*v),
        })
        .collect();
    terms.join(" + ")
}

/// One colour square per component (network, queue, handler, cascade, db other).
const SQUARES: [&str; 5] = ["🟦", "🟪", "🟨", "🟥", "🟩"];
const CELLS: usize = 20;

/// A 20-cell bar of coloured squares proportional to the components.
pub fn square_bar(s: &Split) -> String {
    SQUARES
        .iter()
        .zip(crate::bar_cells(s, CELLS))
        .map(|(square, n)| square.repeat(n))
        .collect()
}

/// Escapes the characters that would break a table cell or inline code.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

fn verdict(s: &ScenarioAnalysis) -> &'static str {
    if s.passed { "✅ pass" } else { "❌ fail" }
}

fn table(out: &mut String, a: &Analysis) {
    let (corr_head, corr_rule) = if a.open_model {
        (" corrected P95 ms |", "--:|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        out,
        "| scenario | P95 ms |{corr_head} target ms | result | P95 = network + queue + handler + cascade + db other (ms) | split | spans |"
    );
    let _ = writeln!(out, "|---|--:|{corr_rule}--:|:-:|---|---|--:|");
    for s in &a.scenarios {
        let corrected = if a.open_model {
            format!(" {} |", crate::corrected_cell(s))
        } else {
            String::new()
        };
        let (numbers, bar) = match &s.p95_split {
            Some(p) => (
                format!("{} = {}", fmt_ms(p.total_ms), split_terms(p)),
                square_bar(p),
            ),
            None if s.not_measured.is_some() => ("not measured".to_owned(), String::new()),
            None if s.stats.count == 0 => ("n/a: no request measured".to_owned(), String::new()),
            None => ("no server spans".to_owned(), String::new()),
        };
        let _ = writeln!(
            out,
            "| {} | {} |{corrected} {} | {} | {numbers} | {bar} | {} |",
            s.scenario,
            crate::p95_cell(s),
            fmt_ms(s.target_ms),
            verdict(s),
            crate::coverage_cell(s)
        );
    }
    let _ = writeln!(
        out,
        "\n{} network · {} queue (outside the server span, not the wire) · {} handler · {} cascade check · {} other DB. {}",
        SQUARES[0],
        SQUARES[1],
        SQUARES[2],
        SQUARES[3],
        SQUARES[4],
        crate::SPLIT_METHOD
    );
    if a.open_model {
        let _ = writeln!(
            out,
            "\nOpen model: the corrected P95 counts each request from its scheduled start (corrected for coordinated omission); a scenario passes only when both P95s are within its target."
        );
    }
    let failing: Vec<&ScenarioAnalysis> = a.scenarios.iter().filter(|s| !s.passed).collect();
    if !failing.is_empty() {
        let _ = writeln!(out);
    }
    for s in failing {
        let _ = writeln!(out, "- ❌ **{}**: {}", s.scenario, cell(&s.verdict));
    }
}

/// The Markdown of one report, section by section ([`crate::markup::walk`]).
struct Markdown(String);

impl Markup for Markdown {
    fn begin(&mut self, a: &Analysis, passed: usize) {
        let _ = writeln!(self.0, "# tracesplit report\n");
        let _ = writeln!(
            self.0,
            "**{passed} of {} scenarios met their targets** · run `{}` against `{}` · {} of {} requests matched a server span ({})\n",
            a.scenarios.len(),
            a.run_ids.join(", "),
            a.base_url,
            a.coverage.matched,
            a.coverage.requests,
            a.span_source
        );
    }

    fn overview(&mut self, a: &Analysis) {
        table(&mut self.0, a);
    }

    fn notes(&mut self, notes: &[String]) {
        let _ = writeln!(self.0, "\n## Notes\n");
        for n in notes {
            let _ = writeln!(self.0, "- {}", cell(n));
        }
    }

    fn findings(&mut self, findings: &[Finding]) {
        let _ = writeln!(self.0, "\n## Findings\n");
        for f in findings {
            let tag = match f.severity {
                Severity::Critical => "🔴 **critical**",
                Severity::Warning => "🟠 **warning**",
                Severity::Optimization => "🔵 optimization",
                Severity::Info => "⚪ info",
            };
            let _ = writeln!(
                self.0,
                "- {tag} — {}  \n  {}",
                cell(&f.title),
                cell(&f.detail)
            );
            if let Some(n) = &f.next_step {
                let _ = writeln!(self.0, "  *Next:* {}", cell(n));
            }
        }
    }

    fn sweep(&mut self, sw: &CascadeSweep) {
        sweep(&mut self.0, sw);
    }

    fn heading(&mut self, text: &str) {
        let _ = writeln!(self.0, "\n## {text}");
    }

    fn scenario_begin(&mut self, s: &ScenarioAnalysis) {
        let _ = writeln!(
            self.0,
            "\n<details><summary><b>{}</b> — {} (target {} ms) {}</summary>",
            s.scenario,
            crate::p95_phrase(s),
            fmt_ms(s.target_ms),
            verdict(s)
        );
    }

    fn scenario_end(&mut self) {
        let _ = writeln!(self.0, "\n</details>");
    }

    fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.0, "\n{}", cell(text));
    }

    fn labelled(&mut self, label: &str, text: &str) {
        let _ = writeln!(self.0, "\n**{label}:** {}", cell(text));
    }

    fn labelled_code(&mut self, label: &str, code: &str) {
        let _ = writeln!(self.0, "\n**{label}:** {}", inline_code(code, 160));
    }

    fn lines(&mut self, lines: &[String]) {
        for l in lines {
            let _ = writeln!(self.0, "- {}", cell(l));
        }
    }

    fn table(&mut self, _class: &str, header: &[&str], rows: &[Vec<Cell<'_>>]) {
        let rule: Vec<&str> = (0..header.len())
            .map(|k| if k == 0 { "---" } else { "--:" })
            .collect();
        let _ = writeln!(self.0, "\n| {} |\n|{}|", header.join(" | "), rule.join("|"));
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::Text(t) => cell(t),
                    Cell::Code { text, max } => inline_code(text, max.unwrap_or(usize::MAX)),
                })
                .collect();
            let _ = writeln!(self.0, "| {} |", cells.join(" | "));
        }
    }

    fn slowest(&mut self, s: &ScenarioAnalysis) {
        if !s.outliers.is_empty() {
            outliers(&mut self.0, &s.outliers);
        }
        if let Some(ex) = &s.exemplar {
            let _ = writeln!(
                self.0,
                "\n**P95 exemplar** `{}` (server spans where they started when the clocks agree, else with the outside time split evenly before and after; `*` marks the critical path):\n\n```text\n{}```",
                ex.request.trace_id,
                waterfall::text(ex)
            );
        }
    }
}

/// `text` as inline code on one line, at most `max` characters.
fn inline_code(text: &str, max: usize) -> String {
    let line = if max == usize::MAX {
        text.to_owned()
    } else {
        waterfall::one_line(text, max)
    };
    format!("`{}`", line.replace('`', "'"))
}

/// The sweep as a table, one row per listing count, with the fitted growth.
pub fn sweep(out: &mut String, sw: &CascadeSweep) {
    let _ = writeln!(out, "\n## Cascade sweep\n");
    let _ = writeln!(
        out,
        "| listings | P95 ms | network | queue | handler | cascade | db other |\n|--:|--:|--:|--:|--:|--:|--:|"
    );
    for p in &sw.points {
        let c = p.split.unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            p.listings,
            fmt_ms(p.p95_ms),
            crate::component_cells(&c, " | ")
        );
    }
    let _ = writeln!(out, "\n{}", crate::sweep_sentence(sw));
}

/// The slowest requests with their links and splits, then their critical paths.
fn outliers(out: &mut String, outliers: &[tracesplit_model::analysis::Outlier]) {
    let _ = writeln!(
        out,
        "\n| slowest | trace | total | network | queue | handler | cascade | db other |\n|--:|---|--:|--:|--:|--:|--:|--:|"
    );
    for (k, o) in outliers.iter().enumerate() {
        let links: Vec<String> = o
            .links
            .iter()
            .map(|l| format!("[{}]({})", l.label, l.url))
            .collect();
        let p = o.split;
        let _ = writeln!(
            out,
            "| {} | `{}` {} | {} | {} |",
            k + 1,
            o.trace_id,
            links.join(" "),
            fmt_ms(p.total_ms),
            crate::component_cells(&p, " | ")
        );
    }
    let paths: Vec<(usize, String)> = outliers
        .iter()
        .map(crate::tail::critical_path)
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if !paths.is_empty() {
        let _ = writeln!(out, "\nCritical paths (exclusive ms per span):\n");
        for (k, p) in paths {
            let _ = writeln!(out, "{}. `{}`", k + 1, p.replace('`', "'"));
        }
    }
}

impl Exporter for MarkdownExporter {
    fn render(&self, a: &Analysis) -> Result<Vec<u8>, ReportError> {
        let mut m = Markdown(String::new());
        crate::markup::walk(a, &mut m);
        Ok(m.0.into_bytes())
    }
}
