//! One self-contained HTML file: inline CSS and SVG, no scripts, no network
//! fetch — it can be attached to a CI run and opened anywhere.

use crate::markup::{Cell, Markup};
use crate::svg::{self, COLORS, NAMES};
use crate::{Exporter, ReportError, component_cells, esc, fmt_ms, sweep_sentence};
use std::fmt::Write;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::{Finding, ScenarioAnalysis, Severity};
use tracesplit_model::sweep::CascadeSweep;

/// Renders `report.html`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlExporter;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}\
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}\
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}svg{display:block;margin:6px 0;font:11px sans-serif}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-1px}\
.finding{margin:6px 0;padding:6px 10px;border-left:4px solid #999}.critical{border-color:#cf222e}.warning{border-color:#d4a72c}\
details{margin:8px 0;border:1px solid #ddd;border-radius:6px;padding:6px 10px}summary{cursor:pointer;font-weight:600}\
code{background:#f4f4f4;padding:1px 4px;border-radius:3px;word-break:break-all}";

fn verdict(s: &ScenarioAnalysis) -> String {
    if s.passed {
        "<span class=\"pass\">pass</span>".into()
    } else {
        "<span class=\"fail\">FAIL</span>".into()
    }
}

fn legend(out: &mut String) {
    out.push_str("<p class=\"legend\">");
    for (c, n) in COLORS.iter().zip(NAMES) {
        let _ = write!(out, "<span style=\"background:{c}\"></span>{n}");
    }
    out.push_str(" · black tick: P95 target</p>");
}

fn table(out: &mut String, a: &Analysis) {
    let corr_head = if a.open_model {
        "<th>corrected P95</th>"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<table class=\"scenarios\"><tr><th>scenario</th><th>P95 ms</th>{corr_head}<th>target</th><th>result</th><th>network</th><th>queue</th><th>handler</th><th>cascade</th><th>db other</th><th>requests</th><th>spans</th></tr>"
    );
    for s in &a.scenarios {
        let corrected = if a.open_model {
            format!("<td>{}</td>", crate::corrected_cell(s))
        } else {
            String::new()
        };
        let parts = match &s.p95_split {
            Some(p) => component_cells(p, "</td><td>"),
            None => "n/a</td><td>n/a</td><td>n/a</td><td>n/a</td><td>n/a".into(),
        };
        let _ = write!(
            out,
            "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1}</td>{corrected}<td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>",
            esc(&s.scenario),
            crate::p95_cell(s),
            fmt_ms(s.target_ms),
            verdict(s),
            parts,
            s.stats.count,
            if s.stats.count == 0 {
                "n/a".to_owned()
            } else {
                format!("{:.0}%", s.coverage.ratio() * 100.0)
            }
        );
    }
    out.push_str("</table>");
    let _ = write!(out, "<p><small>{}</small></p>", esc(crate::SPLIT_METHOD));
    if a.open_model {
        out.push_str("<p><small>Open model: the corrected P95 counts each request from its scheduled start (corrected for coordinated omission); a scenario passes only when both P95s are within its target.</small></p>");
    }
    for s in a.scenarios.iter().filter(|s| !s.passed) {
        let _ = write!(
            out,
            "<p class=\"verdict\"><span class=\"fail\">FAIL</span> {}: {}</p>",
            esc(&s.scenario),
            esc(&s.verdict)
        );
    }
}

/// The HTML of one report, section by section ([`crate::markup::walk`]).
struct Html(String);

impl Markup for Html {
    fn begin(&mut self, a: &Analysis, passed: usize) {
        let _ = write!(
            self.0,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>tracesplit {}</title><style>{STYLE}</style></head><body>",
            esc(&a.run_ids.join(", "))
        );
        let _ = write!(
            self.0,
            "<h1>tracesplit report</h1><p><b>{passed} of {} scenarios met their targets</b> · run <code>{}</code> against <code>{}</code> · {} of {} requests matched a server span ({})</p>",
            a.scenarios.len(),
            esc(&a.run_ids.join(", ")),
            esc(&a.base_url),
            a.coverage.matched,
            a.coverage.requests,
            esc(&a.span_source)
        );
    }

    fn overview(&mut self, a: &Analysis) {
        self.0.push_str("<h2>Where the P95 goes</h2>");
        legend(&mut self.0);
        self.0.push_str(&svg::split_bars(&a.scenarios));
        table(&mut self.0, a);
    }

    fn notes(&mut self, notes: &[String]) {
        self.0.push_str("<h2>Notes</h2><ul class=\"notes\">");
        for n in notes {
            let _ = write!(self.0, "<li>{}</li>", esc(n));
        }
        self.0.push_str("</ul>");
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.0.push_str("<h2>Findings</h2>");
        for f in findings {
            let class = match f.severity {
                Severity::Critical => "critical",
                Severity::Warning => "warning",
                Severity::Optimization => "optimization",
                Severity::Info => "info",
            };
            let _ = write!(
                self.0,
                "<div class=\"finding {class}\"><b>{class}</b> — {}<br>{}",
                esc(&f.title),
                esc(&f.detail)
            );
            if let Some(n) = &f.next_step {
                let _ = write!(self.0, "<br><i>Next:</i> {}", esc(n));
            }
            self.0.push_str("</div>");
        }
    }

    fn sweep(&mut self, sw: &CascadeSweep) {
        self.0.push_str("<h2>Cascade sweep</h2>");
        self.0.push_str(&svg::sweep(sw));
        let _ = write!(self.0, "<p>{}</p>", esc(&sweep_sentence(sw)));
    }

    fn heading(&mut self, text: &str) {
        let _ = write!(self.0, "<h2>{}</h2>", esc(text));
    }

    fn scenario_begin(&mut self, s: &ScenarioAnalysis) {
        let _ = write!(
            self.0,
            "<details id=\"{0}\"{4}><summary>{0} — {1} (target {2} ms) {3}</summary>",
            esc(&s.scenario),
            crate::p95_phrase(s),
            fmt_ms(s.target_ms),
            verdict(s),
            // Failing scenarios open, so their waterfall is on screen.
            if s.passed { "" } else { " open" }
        );
    }

    fn scenario_end(&mut self) {
        self.0.push_str("</details>");
    }

    fn paragraph(&mut self, text: &str) {
        let _ = write!(self.0, "<p>{}</p>", esc(text));
    }

    fn labelled(&mut self, label: &str, text: &str) {
        let _ = write!(self.0, "<p><b>{}:</b> {}</p>", esc(label), esc(text));
    }

    fn labelled_code(&mut self, label: &str, code: &str) {
        let _ = write!(
            self.0,
            "<p><b>{}:</b> <code>{}</code></p>",
            esc(label),
            esc(code)
        );
    }

    fn lines(&mut self, lines: &[String]) {
        for l in lines {
            self.paragraph(l);
        }
    }

    fn table(&mut self, class: &str, header: &[&str], rows: &[Vec<Cell<'_>>]) {
        let _ = write!(self.0, "<table class=\"{}\"><tr>", esc(class));
        for h in header {
            let _ = write!(self.0, "<th>{}</th>", esc(h));
        }
        self.0.push_str("</tr>");
        for row in rows {
            self.0.push_str("<tr>");
            for c in row {
                match c {
                    Cell::Text(t) => {
                        let _ = write!(self.0, "<td>{}</td>", esc(t));
                    }
                    Cell::Code { text, .. } => {
                        let _ = write!(self.0, "<td><code>{}</code></td>", esc(text));
                    }
                }
            }
            self.0.push_str("</tr>");
        }
        self.0.push_str("</table>");
    }

    fn charts(&mut self, s: &ScenarioAnalysis) {
        self.0.push_str(&svg::cdf(s));
    }

    fn slowest(&mut self, s: &ScenarioAnalysis) {
        slowest(&mut self.0, s);
    }

    fn end(&mut self, _a: &Analysis) {
        let _ = writeln!(
            self.0,
            "<p><small>tracesplit {} · server spans placed on the client timeline where they started when the clocks agree, else with the outside time split evenly.</small></p></body></html>",
            env!("CARGO_PKG_VERSION")
        );
    }
}

/// The P95 exemplar's waterfall and the slowest traces with their splits.
fn slowest(out: &mut String, s: &ScenarioAnalysis) {
    if let Some(ex) = &s.exemplar {
        let _ = write!(
            out,
            "<p><b>P95 exemplar</b> <code>{}</code>{}</p>",
            esc(&ex.request.trace_id),
            links(&ex.request.links)
        );
        out.push_str(&svg::waterfall(ex));
    }
    if !s.outliers.is_empty() {
        out.push_str("<table><tr><th>slowest traces</th><th>total</th><th>network</th><th>queue</th><th>handler</th><th>cascade</th><th>db other</th><th>critical path (exclusive ms)</th></tr>");
        for o in &s.outliers {
            let p = o.split;
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td class=\"critical-path\">{}</td></tr>",
                esc(&o.trace_id),
                links(&o.links),
                fmt_ms(p.total_ms),
                component_cells(&p, "</td><td>"),
                esc(&crate::tail::critical_path(o))
            );
        }
        out.push_str("</table>");
    }
}

fn links(links: &[tracesplit_model::analysis::TraceLink]) -> String {
    links
        .iter()
        .map(|l| format!(" <a href=\"{}\">{}</a>", esc(&l.url), esc(&l.label)))
        .collect()
}

impl Exporter for HtmlExporter {
    fn render(&self, a: &Analysis) -> Result<Vec<u8>, ReportError> {
        let mut m = Html(String::new());
        crate::markup::walk(a, &mut m);
        Ok(m.0.into_bytes())
    }
}
