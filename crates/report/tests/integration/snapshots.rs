//! insta snapshots of every output format, rendered from one fixed Analysis.
//! Review changes with `cargo insta review` (or INSTA_UPDATE=always).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use tracesplit_report::{
    Exporter, HtmlExporter, JsonExporter, JunitExporter, MarkdownExporter, TerminalExporter,
};

fn render(e: &dyn Exporter) -> String {
    String::from_utf8(e.render(&crate::support::analysis()).expect("renders")).expect("UTF-8")
}

#[test]
fn terminal() {
    insta::assert_snapshot!(render(&TerminalExporter::default()));
}

#[test]
fn json_summary() {
    let e = JsonExporter {
        timestamp: "2026-11-27T10:15:00.000000".into(),
        runs_per_test: 20,
    };
    let text = render(&e).replace(env!("CARGO_PKG_VERSION"), "VERSION");
    insta::assert_snapshot!(text);
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render(&MarkdownExporter));
}

#[test]
fn junit() {
    insta::assert_snapshot!(render(&JunitExporter));
}

#[test]
fn html() {
    let text = render(&HtmlExporter).replace(env!("CARGO_PKG_VERSION"), "VERSION");
    insta::assert_snapshot!(text);
}

fn comparison() -> tracesplit_model::compare::Comparison {
    use tracesplit_model::compare::{RunSide, ScenarioSide, compare};
    let a = crate::support::analysis();
    let side = |label: &str, scale: f64, cascade: f64| RunSide {
        label: label.into(),
        scenarios: a.scenarios[..3]
            .iter()
            .enumerate()
            .map(|(k, s)| ScenarioSide {
                scenario: s.scenario.clone(),
                // Deterministic samples: the delete slows down by `scale` in head.
                samples_ms: (0..30)
                    .map(|i| (s.stats.p50_ms + f64::from(i)) * if k == 1 { scale } else { 1.0 })
                    .collect(),
                split: s.p95_split.map(|mut p| {
                    p.cascade_ms *= cascade;
                    p
                }),
            })
            .collect(),
    };
    compare(
        &side("runs/main", 1.0, 1.0),
        &side("runs/pr-123", 1.6, 1.7),
        0.10,
        0.05,
    )
}

#[test]
fn compare_terminal() {
    insta::assert_snapshot!(tracesplit_report::compare_terminal(&comparison()));
}

#[test]
fn compare_markdown() {
    insta::assert_snapshot!(tracesplit_report::compare_markdown(&comparison()));
}
