//! Markdown for a GitHub step summary or a pull-request comment: the verdict
//! table with the P95 split, findings, the cascade sweep, and per scenario the
//! outliers and the P95 exemplar's span waterfall.

use crate::{Exporter, ReportError, fmt_ms, split_sentence, waterfall};
use std::fmt::Write;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::{ScenarioAnalysis, Severity, Split};
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

fn notes(out: &mut String, a: &Analysis) {
    if a.notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Notes\n");
    for n in &a.notes {
        let _ = writeln!(out, "- {}", cell(n));
    }
}

fn findings(out: &mut String, a: &Analysis) {
    if a.findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Findings\n");
    for f in &a.findings {
        let tag = match f.severity {
            Severity::Critical => "🔴 **critical**",
            Severity::Warning => "🟠 **warning**",
            Severity::Optimization => "🔵 optimization",
            Severity::Info => "⚪ info",
        };
        let _ = writeln!(out, "- {tag} — {}  \n  {}", cell(&f.title), cell(&f.detail));
        if let Some(n) = &f.next_step {
            let _ = writeln!(out, "  *Next:* {}", cell(n));
        }
    }
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

fn scenario_details(out: &mut String, s: &ScenarioAnalysis) {
    let _ = writeln!(
        out,
        "\n<details><summary><b>{}</b> — {} (target {} ms) {}</summary>\n",
        s.scenario,
        crate::p95_phrase(s),
        fmt_ms(s.target_ms),
        verdict(s)
    );
    let _ = writeln!(out, "{}\n", cell(&s.verdict));
    if s.not_measured.is_some() {
        let _ = writeln!(out, "</details>");
        return;
    }
    let _ = writeln!(
        out,
        "{} · {:.1} DB statements per request (max {})",
        crate::stats_sentence(s),
        s.db_spans.mean,
        s.db_spans.max
    );
    if let Some(p) = &s.p95_split {
        let _ = writeln!(out, "\n**P95 split:** {}", split_sentence(p));
    }
    for (label, line) in crate::scenario_extras(s) {
        let _ = writeln!(out, "\n**{label}:** {line}");
    }
    if let Some(setup) = &s.setup {
        let _ = writeln!(out, "\n**Fixture setup:** {}", setup.describe());
        for row in &setup.existing_rows {
            let _ = writeln!(out, "- {row}");
        }
    }
    if let Some(q) = &s.cascade_statement {
        let _ = writeln!(
            out,
            "\n**Cascade check:** `{}`",
            waterfall::one_line(q, 160).replace('`', "'")
        );
    }
    if let Some(t) = &s.tail {
        why_slow(out, t);
    }
    if !s.outliers.is_empty() {
        outliers(out, &s.outliers);
    }
    if let Some(ex) = &s.exemplar {
        let _ = writeln!(
            out,
            "\n**P95 exemplar** `{}` (server spans where they started when the clocks agree, else with the outside time split evenly before and after; `*` marks the critical path):\n\n```text\n{}```",
            ex.request.trace_id,
            waterfall::text(ex)
        );
    }
    let _ = writeln!(out, "\n</details>");
}

/// "Why slow": the tail explanation's shapes and attributes, and the clustering.
fn why_slow(out: &mut String, t: &tracesplit_model::tail::TailExplanation) {
    let _ = writeln!(out, "\n**Why slow:** {}", crate::tail::intro(t));
    let rows = crate::tail::rows(t);
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "\n| {} |\n|---|--:|--:|--:|--:|",
            crate::tail::HEADER.join(" | ")
        );
        for r in rows {
            let shape = waterfall::one_line(&r[0], 120).replace('`', "'");
            let _ = writeln!(
                out,
                "| `{shape}` | {} | {} | {} | {} |",
                r[1], r[2], r[3], r[4]
            );
        }
    }
    let attributes = crate::tail::attribute_rows(t);
    if !attributes.is_empty() {
        let _ = writeln!(
            out,
            "\n| {} |\n|---|--:|--:|--:|",
            crate::tail::ATTRIBUTE_HEADER.join(" | ")
        );
        for r in attributes {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                r[0].replace('`', "'"),
                r[1],
                r[2],
                r[3]
            );
        }
    }
    if let Some(c) = &t.clustering {
        let _ = writeln!(out, "\n{}", crate::tail::clustering(c));
    }
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
        let mut out = String::new();
        let passed = a.scenarios.iter().filter(|s| s.passed).count();
        let _ = writeln!(out, "# tracesplit report\n");
        let _ = writeln!(
            out,
            "**{passed} of {} scenarios met their targets** · run `{}` against `{}` · {} of {} requests matched a server span ({})\n",
            a.scenarios.len(),
            a.run_ids.join(", "),
            a.base_url,
            a.coverage.matched,
            a.coverage.requests,
            a.span_source
        );
        table(&mut out, a);
        notes(&mut out, a);
        findings(&mut out, a);
        if let Some(sw) = &a.cascade_sweep {
            sweep(&mut out, sw);
        }
        let _ = writeln!(out, "\n## Scenarios");
        for s in &a.scenarios {
            scenario_details(&mut out, s);
        }
        Ok(out.into_bytes())
    }
}
