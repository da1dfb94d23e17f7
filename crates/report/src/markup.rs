//! The one walk of the sections Markdown and HTML share (hyperfine shares
//! one table walk across its markup formats): the walk decides which
//! sections a report has and in what order; each format decides how a
//! section, a table or a labelled line looks.

use crate::split_sentence;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::{Finding, ScenarioAnalysis};
use tracesplit_model::sweep::CascadeSweep;
use tracesplit_model::tail::TailExplanation;

/// A table cell.
pub(crate) enum Cell<'a> {
    /// Plain text (right-aligned after the first column).
    Text(&'a str),
    /// Code, shortened to `max` characters where the format is narrow.
    Code { text: &'a str, max: Option<usize> },
}

/// What a markup format renders; [`walk`] calls it section by section.
pub(crate) trait Markup {
    /// The title and the headline (scenarios that met their targets, the
    /// run, the API, the requests joined).
    fn begin(&mut self, a: &Analysis, passed: usize);
    /// The verdict table with every scenario's P95 split.
    fn overview(&mut self, a: &Analysis);
    /// The analysis' notes.
    fn notes(&mut self, notes: &[String]);
    /// The findings, most severe first.
    fn findings(&mut self, findings: &[Finding]);
    /// The cascade sweep.
    fn sweep(&mut self, sw: &CascadeSweep);
    /// A section heading.
    fn heading(&mut self, text: &str);
    /// Opens a scenario's section.
    fn scenario_begin(&mut self, s: &ScenarioAnalysis);
    /// Closes it.
    fn scenario_end(&mut self);
    /// A paragraph.
    fn paragraph(&mut self, text: &str);
    /// A paragraph led by a bold label.
    fn labelled(&mut self, label: &str, text: &str);
    /// A labelled line of code (a statement).
    fn labelled_code(&mut self, label: &str, code: &str);
    /// Lines under the paragraph before.
    fn lines(&mut self, lines: &[String]);
    /// A table with a header row; `class` names it where the format can.
    fn table(&mut self, class: &str, header: &[&str], rows: &[Vec<Cell<'_>>]);
    /// A scenario's charts, where the format draws them.
    fn charts(&mut self, _s: &ScenarioAnalysis) {}
    /// A scenario's slowest requests and its P95 exemplar.
    fn slowest(&mut self, s: &ScenarioAnalysis);
    /// The end of the document.
    fn end(&mut self, _a: &Analysis) {}
}

/// Renders `a` through `m`, section by section.
pub(crate) fn walk(a: &Analysis, m: &mut impl Markup) {
    let passed = a.scenarios.iter().filter(|s| s.passed).count();
    m.begin(a, passed);
    m.overview(a);
    if !a.notes.is_empty() {
        m.notes(&a.notes);
    }
    if !a.findings.is_empty() {
        m.findings(&a.findings);
    }
    if let Some(sw) = &a.cascade_sweep {
        m.sweep(sw);
    }
    m.heading("Scenarios");
    for s in &a.scenarios {
        scenario(s, m);
    }
    m.end(a);
}

/// One scenario's section: its verdict, statistics, splits, setup, the
/// "why slow" explanation, charts and slowest requests.
fn scenario(s: &ScenarioAnalysis, m: &mut impl Markup) {
    m.scenario_begin(s);
    m.paragraph(&s.verdict);
    if s.not_measured.is_some() {
        m.scenario_end();
        return;
    }
    m.paragraph(&format!(
        "{} · {:.1} DB statements per request (max {})",
        crate::stats_sentence(s),
        s.db_spans.mean,
        s.db_spans.max
    ));
    if let Some(p) = &s.p95_split {
        m.labelled("P95 split", &split_sentence(p));
    }
    for (label, line) in crate::scenario_extras(s) {
        m.labelled(label, &line);
    }
    if let Some(setup) = &s.setup {
        m.labelled("Fixture setup", &setup.describe());
        m.lines(&setup.existing_rows);
    }
    if let Some(q) = &s.cascade_statement {
        m.labelled_code("Cascade check", q);
    }
    if let Some(t) = &s.tail {
        why_slow(t, m);
    }
    m.charts(s);
    m.slowest(s);
    m.scenario_end();
}

/// "Why slow": what was compared, the span shapes and attributes that set
/// the slow requests apart, and the clustering in time.
fn why_slow(t: &TailExplanation, m: &mut impl Markup) {
    m.labelled("Why slow", &crate::tail::intro(t));
    let rows = crate::tail::rows(t);
    if !rows.is_empty() {
        let cells: Vec<Vec<Cell<'_>>> = rows.iter().map(|r| code_first(r, Some(120))).collect();
        m.table("why-slow", &crate::tail::HEADER, &cells);
    }
    let attributes = crate::tail::attribute_rows(t);
    if !attributes.is_empty() {
        let cells: Vec<Vec<Cell<'_>>> = attributes.iter().map(|r| code_first(r, None)).collect();
        m.table("why-slow", &crate::tail::ATTRIBUTE_HEADER, &cells);
    }
    if let Some(c) = &t.clustering {
        m.paragraph(&crate::tail::clustering(c));
    }
}

/// A row whose first cell is code (a span shape, an attribute) shortened to
/// `max` where the format is narrow, the rest text.
fn code_first(row: &[String], max: Option<usize>) -> Vec<Cell<'_>> {
    let Some((first, rest)) = row.split_first() else {
        return Vec::new();
    };
    std::iter::once(Cell::Code { text: first, max })
        .chain(rest.iter().map(|c| Cell::Text(c)))
        .collect()
}
