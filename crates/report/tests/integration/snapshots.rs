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

/// A comparison as the analyzer computes it (two runs' samples, a block
/// bootstrap per scenario; the delete 60 % slower in head, its cascade the
/// part that moved): fixed data here, the report only renders it.
fn comparison() -> tracesplit_model::compare::Comparison {
    serde_json::from_str(include_str!("support/comparison.json")).expect("comparison fixture")
}

#[test]
fn compare_terminal() {
    insta::assert_snapshot!(tracesplit_report::compare_terminal(&comparison()));
}

#[test]
fn compare_markdown() {
    insta::assert_snapshot!(tracesplit_report::compare_markdown(&comparison()));
}

#[test]
fn compare_junit() {
    insta::assert_snapshot!(tracesplit_report::compare_junit(&comparison()));
}
