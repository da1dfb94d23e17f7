//! What an analysis is made from: the runs' manifests and requests, the
//! span files of its sources, and each scenario's cascade classifier (as
//! distinct variants: scenarios that classify alike share the span work).

use crate::analyze::{AnalyzeConfig, DEFAULT_SPAN, DEFAULT_STATEMENT};
use crate::error::AnalyzeError;
use crate::load::Variant;
use crate::requests::load_requests;
use crate::scratch::{Scratch, Timer};
use crate::source::{SpanSource, span_files};
use crate::table::RequestTable;
use std::collections::HashMap;
use std::path::PathBuf;
use tracesplit_model::RunManifest;
use tracesplit_model::analysis::Classifier;
use tracesplit_model::manifest::{MANIFEST_FILE, SPANS_DIR, ScenarioManifest};

/// The inputs of one analysis.
pub(crate) struct Inputs {
    /// Each run's manifest, in the order given.
    pub manifests: Vec<RunManifest>,
    /// Where the spans come from.
    pub sources: Vec<SpanSource>,
    /// The requests of every run.
    pub table: RequestTable,
    /// The span files of every source (fetched ones in the scratch directory).
    pub files: Vec<PathBuf>,
    /// What the sources could not deliver (traces missing).
    pub source_notes: Vec<String>,
    /// What reading the requests noticed (a journal recovered, …).
    pub notes: Vec<String>,
    /// Per scenario (in `table.scenarios` order), its classifier.
    pub classifiers: Vec<Classifier>,
    /// The classifier given to scenarios whose run recorded none (runs made
    /// before suites declared their own); empty when none fell back to it.
    pub fallback: Classifier,
    /// The distinct classifiers.
    pub variants: Vec<Variant>,
    /// Scenario name → its variant.
    pub variant_of_scenario: HashMap<String, usize>,
}

impl Inputs {
    /// The classifier variant of scenario `name` (0 when unknown).
    pub fn variant_of(&self, name: &str) -> usize {
        self.variant_of_scenario.get(name).copied().unwrap_or(0)
    }
}

/// Reads the runs and gathers the span files (fetching what must be fetched into `scratch`).
pub(crate) fn read(
    config: &AnalyzeConfig,
    scratch: &Scratch,
    timer: &Timer,
) -> Result<Inputs, AnalyzeError> {
    if config.run_dirs.is_empty() {
        return Err(AnalyzeError::NoRun);
    }
    let manifests = manifests(&config.run_dirs)?;
    let sources = sources(config);
    let mut notes = Vec::new();
    let table = load_requests(&config.run_dirs, &mut notes)?;
    timer.mark("requests");
    let mut scope = crate::source::FetchScope {
        span_wait: config.span_wait,
        concurrency: if config.fetch_concurrency == 0 {
            8
        } else {
            config.fetch_concurrency
        },
        ..Default::default()
    };
    if sources.iter().any(SpanSource::fetches) {
        (scope.trace_ids, scope.time_range) = crate::requests::trace_scope(&table);
    }
    let (files, source_notes) = span_files(&sources, &scratch.0, &scope)?;
    let classifiers = classifiers(config, &manifests, &table.scenarios)?;
    let fallback = fallback(config, &manifests, &table.scenarios);
    let (variants, variant_of_scenario) = variants(&table.scenarios, &classifiers);
    Ok(Inputs {
        manifests,
        sources,
        table,
        files,
        source_notes,
        notes,
        classifiers,
        fallback,
        variants,
        variant_of_scenario,
    })
}

/// The distinct classifiers, and each scenario's among them.
fn variants(
    names: &[String],
    classifiers: &[Classifier],
) -> (Vec<Variant>, HashMap<String, usize>) {
    let mut variants: Vec<Variant> = Vec::new();
    let mut of = HashMap::new();
    for (name, c) in names.iter().zip(classifiers) {
        let v = Variant {
            statement: c.statement.clone(),
            span: c.span.clone(),
        };
        let k = variants.iter().position(|x| *x == v).unwrap_or_else(|| {
            variants.push(v);
            variants.len() - 1
        });
        of.insert(name.clone(), k);
    }
    (variants, of)
}

pub(crate) fn manifests(dirs: &[PathBuf]) -> Result<Vec<RunManifest>, AnalyzeError> {
    dirs.iter().map(|d| manifest(d)).collect()
}

/// The manifest of the run in `dir`.
pub(crate) fn manifest(dir: &std::path::Path) -> Result<RunManifest, AnalyzeError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| AnalyzeError::NoManifest {
        dir: dir.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| AnalyzeError::Json {
        path,
        what: "run manifest",
        source,
    })
}

fn check(regex: &str) -> Result<String, AnalyzeError> {
    regex::Regex::new(regex).map_err(|e| AnalyzeError::Regex {
        regex: regex.to_owned(),
        message: e.to_string(),
    })?;
    Ok(regex.to_owned())
}

/// The classifier of each scenario: command line, then scenario, then suite defaults.
fn classifiers(
    config: &AnalyzeConfig,
    manifests: &[RunManifest],
    names: &[String],
) -> Result<Vec<Classifier>, AnalyzeError> {
    names
        .iter()
        .map(|name| {
            let m = manifests.iter().find_map(|m| m.scenarios.get(name));
            let statement = config
                .cascade_statement
                .clone()
                .or_else(|| m.and_then(|m| m.cascade_statement.clone()))
                .unwrap_or_else(|| DEFAULT_STATEMENT.into());
            let span = config
                .cascade_span
                .clone()
                .or_else(|| m.and_then(|m| m.cascade_span.clone()))
                .unwrap_or_else(|| DEFAULT_SPAN.into());
            Ok(Classifier {
                statement: check(&statement)?,
                span: check(&span)?,
            })
        })
        .collect()
}

/// The built-in classifier, when some scenario's statement or span pattern
/// came from it (neither the command line nor its run named one); else empty.
fn fallback(config: &AnalyzeConfig, manifests: &[RunManifest], names: &[String]) -> Classifier {
    let recorded = |name: &String, pick: fn(&ScenarioManifest) -> &Option<String>| {
        manifests
            .iter()
            .find_map(|m| m.scenarios.get(name))
            .is_some_and(|m| pick(m).is_some())
    };
    let statement = config.cascade_statement.is_none()
        && names.iter().any(|n| !recorded(n, |m| &m.cascade_statement));
    let span =
        config.cascade_span.is_none() && names.iter().any(|n| !recorded(n, |m| &m.cascade_span));
    Classifier {
        statement: if statement {
            DEFAULT_STATEMENT.into()
        } else {
            String::new()
        },
        span: if span {
            DEFAULT_SPAN.into()
        } else {
            String::new()
        },
    }
}

fn sources(config: &AnalyzeConfig) -> Vec<SpanSource> {
    if !config.spans.is_empty() {
        return config.spans.clone();
    }
    config
        .run_dirs
        .iter()
        .map(|d| d.join(SPANS_DIR))
        .filter(|d| d.is_dir())
        .map(SpanSource::Store)
        .collect()
}
