//! The scenarios of an analysis in suite order — every one the run was
//! asked to measure, measured or not — and what the runs said about themselves.

use tracesplit_model::RunManifest;
use tracesplit_model::analysis::ScenarioAnalysis;
use tracesplit_model::verdict::{VerdictInput, verdict};

/// The runs' ids, for messages.
pub(crate) fn run_ids(manifests: &[RunManifest]) -> String {
    manifests
        .iter()
        .map(|m| m.run_id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the runs recorded about themselves (prefixed with the run id when
/// several runs are merged).
pub(crate) fn run_notes(manifests: &[RunManifest]) -> Vec<String> {
    let several = manifests.len() > 1;
    manifests
        .iter()
        .flat_map(|m| {
            m.notes.iter().map(move |n| match several {
                true => format!("{}: {n}", m.run_id),
                false => n.clone(),
            })
        })
        .collect()
}

/// Every scenario of the suite, in suite order: those with requests as
/// analyzed, the others as not measured (with the reason the run recorded).
pub(crate) fn in_suite_order(
    manifests: &[RunManifest],
    names: &[String],
    mut measured: Vec<Option<ScenarioAnalysis>>,
) -> Vec<ScenarioAnalysis> {
    let mut order: Vec<&str> = Vec::new();
    for m in manifests {
        let listed = m.scenario_order.iter().map(String::as_str);
        // Manifests written before the order was recorded: their scenario list.
        let fallback = m.scenarios.keys().map(String::as_str);
        let all: Vec<&str> = if m.scenario_order.is_empty() {
            fallback.collect()
        } else {
            listed.collect()
        };
        for n in all {
            if !order.contains(&n) {
                order.push(n);
            }
        }
    }
    for n in names {
        if !order.contains(&n.as_str()) {
            order.push(n);
        }
    }
    order
        .into_iter()
        .map(|name| {
            let k = names.iter().position(|n| n == name);
            match k.and_then(|k| measured[k].take()) {
                Some(s) => s,
                None => not_measured(manifests, name),
            }
        })
        .collect()
}

/// A scenario the run recorded no request of.
fn not_measured(manifests: &[RunManifest], name: &str) -> ScenarioAnalysis {
    let meta = manifests
        .iter()
        .find_map(|m| m.scenarios.get(name))
        .cloned()
        .unwrap_or_default();
    let why = meta
        .not_measured
        .clone()
        .unwrap_or_else(|| "the run recorded no request of it".into());
    let v = verdict(VerdictInput {
        measured: 0,
        failed: 0,
        p95_ms: 0.0,
        p95_corrected_ms: None,
        target_ms: meta.target_ms,
        not_measured: Some(&why),
    });
    ScenarioAnalysis {
        scenario: name.to_owned(),
        entity_type: meta.entity_type.clone(),
        operation: meta.operation.clone(),
        target_ms: meta.target_ms,
        passed: v.passed,
        verdict: v.reason,
        not_measured: Some(why),
        fixture_listings: meta.fixture_listings,
        setup: meta.setup.clone(),
        ..Default::default()
    }
}
