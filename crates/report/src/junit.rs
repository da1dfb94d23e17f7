//! JUnit XML for CI test reporters: one testcase per scenario; a missed target
//! is a `<failure>` carrying the P95 split and the slowest trace's link.

use crate::{Exporter, ReportError, esc, fmt_ms, split_sentence};
use std::fmt::Write;
use tracesplit_model::Analysis;
use tracesplit_model::analysis::ScenarioAnalysis;

/// Renders `junit.xml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JunitExporter;

/// Seconds spent in the scenario's measured requests (mean × count).
fn seconds(s: &ScenarioAnalysis) -> f64 {
    s.stats.mean_ms * s.stats.count as f64 / 1000.0
}

/// The evidence: verdict, split, stats, errors, outlier traces.
fn body(s: &ScenarioAnalysis) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.verdict);
    if s.not_measured.is_some() {
        return out;
    }
    let _ = writeln!(
        out,
        "{} (target {} ms)",
        crate::stats_sentence(s),
        fmt_ms(s.target_ms)
    );
    match &s.p95_split {
        Some(p) => {
            let _ = writeln!(out, "P95 split: {}", split_sentence(p));
        }
        None if s.stats.count == 0 => {}
        None => {
            let _ = writeln!(out, "P95 split: no server spans matched");
        }
    }
    for (kind, n) in &s.errors {
        let _ = writeln!(out, "errors: {n} × {kind}");
    }
    for (label, line) in crate::scenario_extras(s) {
        let _ = writeln!(out, "{label}: {line}");
    }
    if let Some(setup) = &s.setup {
        let _ = writeln!(out, "fixture setup: {}", setup.describe());
    }
    for o in s.outliers.iter().take(3) {
        let links: Vec<String> = o
            .links
            .iter()
            .map(|l| format!("{} {}", l.label, l.url))
            .collect();
        let _ = writeln!(
            out,
            "outlier trace {} ({} ms) {}",
            o.trace_id,
            fmt_ms(o.split.total_ms),
            links.join(" ")
        );
    }
    out
}

/// The XML declaration, `<testsuites>` and one `<testsuite>` opened
/// (`time`: seconds, when known); close with [`CLOSE`].
pub(crate) fn open(
    out: &mut String,
    (suites, suite): (&str, &str),
    tests: usize,
    failures: usize,
    time: Option<f64>,
) {
    let time = time
        .map(|t| format!(" time=\"{t:.3}\""))
        .unwrap_or_default();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\"{time}>",
        esc(suites)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\"{time}>",
        esc(suite)
    );
}

/// Closes what [`open`] opened.
pub(crate) const CLOSE: &str = "  </testsuite>\n</testsuites>\n";

/// One testcase: its escaped `evidence` as system-out when it passed, in a
/// `<failure>` of `(message, type)` when it failed.
pub(crate) fn testcase(
    out: &mut String,
    (classname, name): (&str, &str),
    time: Option<f64>,
    failure: Option<(&str, &str)>,
    evidence: &str,
) {
    let time = time
        .map(|t| format!(" time=\"{t:.3}\""))
        .unwrap_or_default();
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"{time}>",
        esc(classname),
        esc(name)
    );
    match failure {
        None => {
            let _ = writeln!(
                out,
                "\n      <system-out>{evidence}</system-out>\n    </testcase>"
            );
        }
        Some((message, kind)) => {
            let _ = writeln!(
                out,
                "\n      <failure message=\"{}\" type=\"{kind}\">{evidence}</failure>\n    </testcase>",
                esc(message)
            );
        }
    }
}

impl Exporter for JunitExporter {
    fn render(&self, a: &Analysis) -> Result<Vec<u8>, ReportError> {
        let failures = a.scenarios.iter().filter(|s| !s.passed).count();
        let total: f64 = a.scenarios.iter().map(seconds).sum();
        let mut out = String::new();
        let suite = format!("tracesplit {}", a.base_url);
        open(
            &mut out,
            ("tracesplit", &suite),
            a.scenarios.len(),
            failures,
            Some(total),
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"run_id\" value=\"{}\"/>\n      <property name=\"span_source\" value=\"{}\"/>\n    </properties>",
            esc(&a.run_ids.join(",")),
            esc(&a.span_source)
        );
        for s in &a.scenarios {
            let failure = (!s.passed).then(|| {
                let kind = if s.not_measured.is_some() {
                    "not_measured"
                } else {
                    "target_missed"
                };
                (s.verdict.as_str(), kind)
            });
            testcase(
                &mut out,
                (&format!("tracesplit.{}", s.entity_type), &s.scenario),
                Some(seconds(s)),
                failure,
                &esc(&body(s)),
            );
        }
        if !a.notes.is_empty() {
            let _ = writeln!(
                out,
                "    <system-out>{}</system-out>",
                esc(&a.notes.join("\n"))
            );
        }
        out.push_str(CLOSE);
        Ok(out.into_bytes())
    }
}
