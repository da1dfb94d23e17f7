//! `analyze`: run directories + span sources → [`Analysis`].

use crate::aggregate::{ScenarioNumbers, numbers, outlier};
use crate::error::AnalyzeError;
use crate::links::LinkConfig;
use crate::load::{Loaded, Variant, check_span_files, count_spans, request_inputs, span_text};
use crate::order::{in_suite_order, run_ids, run_notes};
use crate::partition::{
    PartitionJob, Progress, ProgressFn, default_memory_limit, detail_pass, partitions_for,
    split_partitioned,
};
use crate::requests::load_requests;
use crate::scratch::{Scratch, Timer};
use crate::source::{SpanSource, span_files};
use crate::split::{RequestSplit, SpanColumns, SpanIndex, holds};
use crate::table::RequestTable;
use crate::waterfall::{SpanText, critical_steps, waterfall};
use std::collections::HashMap;
use std::path::PathBuf;
use tracesplit_model::analysis::{
    Analysis, Classifier, Coverage, Exemplar, Outlier, ScenarioAnalysis,
};
use tracesplit_model::manifest::{MANIFEST_FILE, SPANS_DIR};
use tracesplit_model::verdict::{VerdictInput, verdict};
use tracesplit_model::{RunManifest, stats::rank_of};

/// Default statement regex of the cascade classifier: a `SELECT count(` read.
pub const DEFAULT_STATEMENT: &str = r"(?i)select\s+count\s*\(";
/// Default span/ancestor name regex of the cascade classifier.
pub const DEFAULT_SPAN: &str = r"(?i)usage|cascade|in_use|dependen";

/// What to analyze and how.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeConfig {
    /// Run directories (several: shards merged).
    pub run_dirs: Vec<PathBuf>,
    /// Span sources; empty means each run's own `spans/`.
    pub spans: Vec<SpanSource>,
    /// `--cascade-statement` (overrides suite and scenario settings).
    pub cascade_statement: Option<String>,
    /// `--cascade-span`.
    pub cascade_span: Option<String>,
    /// Outliers per scenario.
    pub outliers: usize,
    /// Trace viewer links.
    pub links: LinkConfig,
    /// Fetching sources (Jaeger, Tempo): how long a trace may be missing before it counts as missing.
    pub span_wait: std::time::Duration,
    /// Fetching sources: requests in flight at most (0 = 8).
    pub fetch_concurrency: usize,
    /// Peak memory the span work may use (bytes); `None`: half the machine's.
    pub memory_limit: Option<u64>,
    /// Where progress goes while the spans are read.
    pub progress: ProgressFn,
}

/// The analysis and what it was made from.
pub struct AnalyzeOutput {
    /// The analysis.
    pub analysis: Analysis,
    /// The first run's manifest (targets, base URL).
    pub manifest: RunManifest,
    /// Per-request splits, in `requests.parquet` order.
    pub splits: Vec<RequestSplit>,
    /// The requests.
    pub requests: RequestTable,
}

fn manifests(dirs: &[PathBuf]) -> Result<Vec<RunManifest>, AnalyzeError> {
    dirs.iter().map(|d| manifest(d)).collect()
}

/// The manifest of the run in `dir`.
pub(crate) fn manifest(dir: &std::path::Path) -> Result<RunManifest, AnalyzeError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        AnalyzeError::Input(format!(
            "{}: {e} (is {} a tracesplit run directory?)",
            path.display(),
            dir.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| AnalyzeError::Input(format!("{}: not a run manifest: {e}", path.display())))
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

/// Analyzes runs.
pub fn analyze(config: &AnalyzeConfig) -> Result<AnalyzeOutput, AnalyzeError> {
    if config.run_dirs.is_empty() {
        return Err(AnalyzeError::Input("no run directory given".into()));
    }
    let manifests = manifests(&config.run_dirs)?;
    let sources = sources(config);
    let scratch = Scratch::new()?;
    let timer = Timer::new();
    let mut analysis_notes = Vec::new();
    let table = load_requests(&config.run_dirs, &mut analysis_notes)?;
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
    let names = table.scenarios.clone();
    let classifiers = classifiers(config, &manifests, &names)?;
    let mut variants: Vec<Variant> = Vec::new();
    let mut variant_of_scenario = HashMap::new();
    for (name, c) in names.iter().zip(&classifiers) {
        let v = Variant {
            statement: c.statement.clone(),
            span: c.span.clone(),
        };
        let k = variants.iter().position(|x| *x == v).unwrap_or_else(|| {
            variants.push(v);
            variants.len() - 1
        });
        variant_of_scenario.insert(name.clone(), k);
    }
    check_span_files(&files)?;
    let limit = config.memory_limit.unwrap_or_else(default_memory_limit);
    let spans = count_spans(&files)?;
    let partitions = partitions_for(spans, table.len() as u64, limit);
    timer.mark("span files checked and counted");
    config.progress.report(&Progress::Planned {
        spans,
        requests: table.len() as u64,
        partitions,
        limit,
    });
    let variant_of = |s: &str| variant_of_scenario.get(s).copied().unwrap_or(0);
    let inputs_of = |l: &Loaded| request_inputs(l, &table, &variant_of);
    let job = PartitionJob {
        requests: &table,
        span_files: &files,
        variants: &variants,
        inputs: &inputs_of,
        partitions,
        progress: &config.progress,
    };
    let (mut splits, single) = split_partitioned(&job)?;
    timer.mark("spans: scan, join, sort, split");
    // The server's errors, and the requests without an answer set aside
    // before the clock check: a span that ended after the client gave up
    // says nothing about the clocks.
    let errors = crate::scan::error_spans(&files, crate::parallel::threads())?;
    let server_errors = crate::server_errors::gather(&errors, &table, &splits);
    drop(errors);
    crate::server_errors::set_aside_unanswered(&table, &mut splits);
    timer.mark("  server errors");
    let clock_check = crate::outside::locate(&mut splits, &table);
    timer.mark("  clock check, queue located");
    // Tests prove that a broken invariant is reported as an internal error
    // (exit 4), which no real input can cause.
    if std::env::var_os("TRACESPLIT_FAULT_INJECT").is_some_and(|v| v == "split-sum")
        && let Some(s) = splits.iter_mut().find(|s| s.matched)
    {
        s.handler_ns += 1;
    }
    if let Some(bad) = splits.iter().position(|s| !holds(s)) {
        return Err(AnalyzeError::Internal {
            run: run_ids(&manifests),
            message: format!("the split of request {bad} does not sum to its total"),
        });
    }
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); table.scenarios.len()];
    for i in 0..table.len() {
        rows_of[table.scenario[i] as usize].push(i);
    }
    timer.mark("  splits checked, scenarios' rows");
    let open_model = manifests.iter().any(RunManifest::open_model);
    // A run that had to be partitioned is short of memory: its scenarios
    // are worked on one at a time (each thread's working sets add up).
    let scenario_threads = if partitions > 1 {
        1
    } else {
        crate::parallel::threads()
    };
    let numbers: Vec<ScenarioNumbers> =
        crate::parallel::map_in_order(&rows_of, scenario_threads, &|rows| {
            numbers(&table, &splits, rows, open_model)
        });
    timer.mark("statistics");
    // Span detail (names, statements, waterfalls) only for the requests the
    // report shows: the P95 windows and the exemplars.
    let tail_sets: Vec<_> = numbers
        .iter()
        .map(|n| crate::tail::sets(&n.matched_sorted))
        .collect();
    // Whole traces for what is drawn or compared (exemplars, outliers, the
    // tail's sets); of the P95 windows (2 % of the requests: 200k of ten
    // million) only the spans a table names.
    let drawn: Vec<usize> = numbers
        .iter()
        .zip(&tail_sets)
        .flat_map(|(n, sets)| {
            exemplar_row(n)
                .into_iter()
                .chain(n.slowest.iter().take(config.outliers).copied())
                .chain(sets.iter().flat_map(|(a, b)| a.iter().chain(b).copied()))
        })
        .collect();
    let windows = || {
        numbers
            .iter()
            .flat_map(|n| n.p95.iter().flat_map(|(_, w)| w.iter().copied()))
    };
    let shown: Vec<usize> = drawn.iter().copied().chain(windows()).collect();
    let detail = match single {
        Some(loaded) => loaded,
        None => detail_pass(&job, &shown, &mut splits)?,
    };
    timer.mark(&format!("  detail of {} shown requests", shown.len()));
    let text_map = span_text(
        &detail.span_files,
        &detail.columns,
        &crate::shown::text_wanted(&detail, &drawn, windows(), &splits, &|i| {
            variant_of(&table.scenarios[table.scenario[i] as usize])
        }),
    )?;
    timer.mark("span text");
    let text = SpanText::new(&text_map, &detail.columns);
    // Each scenario's numbers are taken by the thread that builds its analysis.
    let numbers: Vec<std::sync::Mutex<Option<ScenarioNumbers>>> = numbers
        .into_iter()
        .map(|n| std::sync::Mutex::new(Some(n)))
        .collect();
    let build = |k: &usize| -> Option<ScenarioAnalysis> {
        let (k, name) = (*k, &table.scenarios[*k]);
        let n = numbers[k].lock().ok()?.take()?;
        let variant = variant_of(name);
        let classifier = names
            .iter()
            .position(|x| x == name)
            .map(|i| classifiers[i].clone())
            .unwrap_or_default();
        let meta = manifests
            .iter()
            .find_map(|m| m.scenarios.get(name))
            .cloned()
            .unwrap_or_default();
        let ctx = ScenarioCtx {
            table: &table,
            splits: &splits,
            columns: &detail.columns,
            text: &text,
            variant,
            config,
            tail_sets: &tail_sets[k],
            server_errors: server_errors
                .per_scenario
                .get(k)
                .cloned()
                .unwrap_or_default(),
        };
        Some(scenario(&ctx, k, n, meta, classifier))
    };
    let ks: Vec<usize> = (0..table.scenarios.len()).collect();
    let measured = crate::parallel::map_in_order(&ks, scenario_threads, &build);
    timer.mark("scenarios: windows, waterfalls, tail explanation");
    let scenarios = in_suite_order(&manifests, &table.scenarios, measured);
    let coverage = scenarios.iter().fold(Coverage::default(), |c, s| Coverage {
        requests: c.requests + s.coverage.requests,
        matched: c.matched + s.coverage.matched,
        clamped: c.clamped + s.coverage.clamped,
        multiple_server_spans: c.multiple_server_spans + s.coverage.multiple_server_spans,
    });
    let mut findings = crate::findings::findings(
        &scenarios,
        clock_check.as_ref(),
        server_errors.abandoned.as_ref(),
        &manifests[0].words,
    );
    for note in source_notes {
        findings.push(tracesplit_model::analysis::Finding {
            severity: tracesplit_model::analysis::Severity::Warning,
            rule: "traces_missing".into(),
            scenario: None,
            title: "some traces were not found in the span source".into(),
            detail: note,
            next_step: Some(
                "wait longer for the backend to flush (--span-wait), or check sampling".into(),
            ),
        });
    }
    if sources.is_empty() {
        findings.push(tracesplit_model::analysis::Finding {
            severity: tracesplit_model::analysis::Severity::Warning,
            rule: "no_spans".into(),
            scenario: None,
            title: "no span source: nothing could be split".into(),
            detail: "the run has no spans/ directory (was it run with --no-collect?)".into(),
            next_step: Some("name the spans with --spans DIR or --otlp-json FILE".into()),
        });
    }
    let first = manifests[0].clone();
    let cascade_sweep = crate::sweep::cascade_sweep(&scenarios);
    let analysis = Analysis {
        clocks: clock_check,
        abandoned: server_errors.abandoned,
        notes: run_notes(&manifests)
            .into_iter()
            .chain(analysis_notes)
            .collect(),
        open_model,
        run_ids: manifests.iter().map(|m| m.run_id.clone()).collect(),
        base_url: first.base_url.clone(),
        span_source: sources
            .iter()
            .map(SpanSource::describe)
            .collect::<Vec<_>>()
            .join(", "),
        coverage,
        scenarios,
        findings,
        cascade_defaults: Classifier {
            statement: DEFAULT_STATEMENT.into(),
            span: DEFAULT_SPAN.into(),
        },
        cascade_sweep,
    };
    Ok(AnalyzeOutput {
        analysis,
        manifest: first,
        splits,
        requests: table,
    })
}

struct ScenarioCtx<'a> {
    table: &'a RequestTable,
    splits: &'a [RequestSplit],
    columns: &'a SpanColumns,
    text: &'a SpanText<'a>,
    variant: usize,
    config: &'a AnalyzeConfig,
    tail_sets: &'a Result<(Vec<usize>, Vec<usize>), String>,
    server_errors: Vec<tracesplit_model::server_errors::ServerErrorGroup>,
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
fn exemplar_row(n: &ScenarioNumbers) -> Option<usize> {
    (!n.matched_sorted.is_empty())
        .then(|| n.matched_sorted[rank_of(n.matched_sorted.len(), 95.0) - 1])
}

fn scenario(
    cx: &ScenarioCtx<'_>,
    k: usize,
    n: ScenarioNumbers,
    meta: tracesplit_model::manifest::ScenarioManifest,
    classifier: Classifier,
) -> ScenarioAnalysis {
    let (t, splits) = (cx.table, cx.splits);
    let window = n.p95.as_ref().map(|(_, w)| w.clone()).unwrap_or_default();
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
    let outliers = n
        .slowest
        .iter()
        .take(cx.config.outliers)
        .map(|&i| Outlier {
            critical_path: critical_steps(cx.columns, cx.text, &splits[i]),
            ..outlier(t, splits, i, &cx.config.links)
        })
        .collect();
    let exemplar = exemplar_row(&n).map(|i| {
        let request = outlier(t, splits, i, &cx.config.links);
        let name = format!("{} {}", t.method.text(i), t.route.text(i));
        Exemplar {
            spans: waterfall(cx.columns, cx.text, &splits[i], &name, cx.variant),
            request,
        }
    });
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
        cascade_statement,
        cascade_span_name,
        slowest_db_statement,
        slowest_db_without_statement,
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
