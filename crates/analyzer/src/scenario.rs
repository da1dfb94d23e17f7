//! One scenario's analysis from its numbers and the span detail of the
//! requests the reports show: the P95 window's statements, the outliers,
//! the exemplar's waterfall, the tail explanation and the verdict.

use crate::aggregate::{ScenarioNumbers, outlier};
use crate::analyze::AnalyzeConfig;
use crate::split::{RequestSplit, SpanColumns, SpanIndex};
use crate::table::RequestTable;
use crate::waterfall::{SpanText, critical_steps, waterfall};
use std::collections::HashMap;
use tracesplit_model::analysis::{Classifier, Exemplar, Outlier, ScenarioAnalysis};
use tracesplit_model::stats::rank_of;
use tracesplit_model::verdict::{VerdictInput, verdict};

/// What building one scenario's analysis reads.
pub(crate) struct ScenarioCtx<'a> {
    pub table: &'a RequestTable,
    pub splits: &'a [RequestSplit],
    pub columns: &'a SpanColumns,
    pub text: &'a SpanText<'a>,
    pub variant: usize,
    pub config: &'a AnalyzeConfig,
    pub tail_sets: &'a crate::tail::TailSets,
    pub server_errors: Vec<tracesplit_model::server_errors::ServerErrorGroup>,
}

/// The most frequent text among `values`.
fn most_common(values: impl Iterator<Item = String>) -> Option<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(v, _)| v)
}

/// The request whose split is the scenario's P95 exemplar.
pub(crate) fn exemplar_row(n: &ScenarioNumbers) -> Option<usize> {
    (!n.matched_sorted.is_empty())
        .then(|| n.matched_sorted[rank_of(n.matched_sorted.len(), 95.0) - 1])
}

/// The statements and names the P95 window's requests point at.
struct WindowNames {
    cascade_statement: Option<String>,
    cascade_span_name: Option<String>,
    slowest_db_statement: Option<String>,
    slowest_db_without_statement: bool,
}

fn window_names(cx: &ScenarioCtx<'_>, window: &[usize]) -> WindowNames {
    let splits = cx.splits;
    let statement_of =
        |idx: Option<SpanIndex>| idx.and_then(|i| cx.text.statement_or_name(i.index()));
    let cascade_statement = most_common(
        window
            .iter()
            .filter_map(|&i| statement_of(splits[i].top_cascade)),
    );
    let cascade_span_name = most_common(
        window
            .iter()
            .filter_map(|&i| splits[i].top_cascade)
            .map(|i| cascade_name(cx, i.index())),
    );
    let slowest_db_statement = most_common(
        window
            .iter()
            .filter_map(|&i| statement_of(splits[i].top_db_other)),
    );
    // A name, not a statement: no window request's slowest DB span had one.
    let slowest_db_without_statement = slowest_db_statement.is_some()
        && !window.iter().any(|&i| {
            (splits[i].top_db_other).is_some_and(|k| cx.text.statement(k.index()).is_some())
        });
    WindowNames {
        cascade_statement,
        cascade_span_name,
        slowest_db_statement,
        slowest_db_without_statement,
    }
}

/// The slowest requests with their critical paths, and the P95 exemplar with its waterfall.
fn drawn(cx: &ScenarioCtx<'_>, n: &ScenarioNumbers) -> (Vec<Outlier>, Option<Exemplar>) {
    let (t, splits) = (cx.table, cx.splits);
    let outliers = n
        .slowest
        .iter()
        .take(cx.config.outliers)
        .map(|&i| Outlier {
            critical_path: critical_steps(cx.columns, cx.text, &splits[i]),
            ..outlier(t, splits, i, &cx.config.links)
        })
        .collect();
    let exemplar = exemplar_row(n).map(|i| {
        let request = outlier(t, splits, i, &cx.config.links);
        let name = format!("{} {}", t.method.text(i), t.route.text(i));
        Exemplar {
            spans: waterfall(cx.columns, cx.text, &splits[i], &name, cx.variant),
            request,
        }
    });
    (outliers, exemplar)
}

/// Scenario `k`'s analysis.
pub(crate) fn scenario(
    cx: &ScenarioCtx<'_>,
    k: usize,
    n: ScenarioNumbers,
    meta: tracesplit_model::manifest::ScenarioManifest,
    classifier: Classifier,
) -> ScenarioAnalysis {
    let (t, splits) = (cx.table, cx.splits);
    let window = n.p95.as_ref().map(|(_, w)| w.clone()).unwrap_or_default();
    let names = window_names(cx, &window);
    let (outliers, exemplar) = drawn(cx, &n);
    let tail = (!n.matched_sorted.is_empty()).then(|| {
        crate::tail::explain(&crate::tail::TailInput {
            table: t,
            splits,
            columns: cx.columns,
            text: cx.text,
            sets: cx.tail_sets,
            slowest: &n.slowest,
        })
    });
    let stats = n.stats;
    let corrected = n.corrected;
    let v = verdict(VerdictInput {
        measured: stats.count,
        failed: n.failed,
        p95_ms: stats.p95_ms,
        p95_corrected_ms: corrected.map(|c| c.p95_ms),
        target_ms: meta.target_ms,
        not_measured: None,
    });
    ScenarioAnalysis {
        scenario: t.scenarios[k].clone(),
        entity_type: t.entity_type[k].clone(),
        operation: t.operation[k].clone(),
        target_ms: meta.target_ms,
        stats,
        distribution_ms: n.distribution_ms,
        failed: n.failed,
        passed: v.passed,
        verdict: v.reason,
        not_measured: None,
        p95_corrected_ms: corrected.map(|c| c.p95_ms),
        p99_corrected_ms: corrected.map(|c| c.p99_ms),
        status_counts: n.status_counts,
        errors: n.errors,
        coverage: n.coverage,
        p95_split: n.p95.map(|(s, _)| s),
        p95_corrected_split: n.p95_corrected,
        tail_split: n.tail,
        components: n.components,
        db_spans: n.db_spans,
        cascade_statement: names.cascade_statement,
        cascade_span_name: names.cascade_span_name,
        slowest_db_statement: names.slowest_db_statement,
        slowest_db_without_statement: names.slowest_db_without_statement,
        mean_response_bytes: n.mean_response_bytes,
        fixture_listings: meta.fixture_listings,
        setup: meta.setup.clone(),
        outliers,
        exemplar,
        classifier,
        tail,
        server_errors: cx.server_errors.clone(),
        stall: n.stall,
    }
}

/// The name that made span `i` a cascade span: its nearest matching ancestor's, else its own.
fn cascade_name(cx: &ScenarioCtx<'_>, i: u32) -> String {
    cx.text
        .name(crate::shown::cascade_name_span(cx.columns, cx.variant, i as usize) as u32)
}
