//! `analyze`: run directories + span sources → [`Analysis`], in named
//! phases: the inputs read ([`crate::inputs`]), every request split, the
//! statistics, the span detail of what the reports show, each scenario built
//! ([`crate::scenario`]), the findings.

use crate::aggregate::{ScenarioNumbers, numbers};
use crate::error::AnalyzeError;
use crate::inputs::Inputs;
use crate::links::LinkConfig;
use crate::load::{Loaded, check_span_files, count_spans, request_inputs, span_text};
use crate::order::{in_suite_order, run_ids, run_notes};
use crate::partition::{
    PartitionJob, Progress, ProgressFn, default_memory_limit, detail_pass, partitions_for,
    split_partitioned,
};
use crate::scenario::{ScenarioCtx, exemplar_row, scenario};
use crate::scratch::{Scratch, Timer};
use crate::server_errors::ServerErrors;
use crate::source::SpanSource;
use crate::split::{RequestSplit, holds};
use crate::table::RequestTable;
use crate::waterfall::SpanText;
use std::path::PathBuf;
use tracesplit_model::RunManifest;
use tracesplit_model::analysis::{Analysis, ClockCheck, Coverage, ScenarioAnalysis};
use tracesplit_model::internal::Locked;

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

/// Every request's split, with what the split phase learnt on the way.
struct Split {
    splits: Vec<RequestSplit>,
    /// The spans, when they fitted in one partition (no second pass for the detail).
    single: Option<Loaded>,
    server_errors: ServerErrors,
    clocks: Option<ClockCheck>,
}

/// Analyzes runs.
pub fn analyze(config: &AnalyzeConfig) -> Result<AnalyzeOutput, AnalyzeError> {
    let scratch = Scratch::new()?;
    let timer = Timer::new();
    let inputs = crate::inputs::read(config, &scratch, &timer)?;
    let partitions = plan(config, &inputs, &timer)?;
    let inputs_of = |l: &Loaded| request_inputs(l, &inputs.table, &|s| inputs.variant_of(s));
    let job = PartitionJob {
        requests: &inputs.table,
        span_files: &inputs.files,
        variants: &inputs.variants,
        inputs: &inputs_of,
        partitions,
        progress: &config.progress,
    };
    let mut split = split_requests(&job, &inputs, &timer)?;
    // A run that had to be partitioned is short of memory: its scenarios
    // are worked on one at a time (each thread's working sets add up).
    let threads = if partitions > 1 {
        1
    } else {
        crate::parallel::threads()
    };
    let numbers = statistics(&inputs, &split.splits, threads);
    timer.mark("statistics");
    let shown = Shown::of(&numbers, config.outliers);
    let detail = match split.single.take() {
        Some(loaded) => loaded,
        None => detail_pass(&job, &shown.all(), &mut split.splits)?,
    };
    timer.mark(&format!("  detail of {} shown requests", shown.all().len()));
    let table = &inputs.table;
    let wanted = crate::shown::text_wanted(
        &detail,
        &shown.drawn,
        shown.windows.iter().copied(),
        &split.splits,
        &|i| inputs.variant_of(&table.scenarios[table.scenario[i] as usize]),
    );
    let text_map = span_text(&detail.span_files, &detail.columns, &wanted)?;
    timer.mark("span text");
    let text = SpanText::new(&text_map, &detail.columns);
    let built = Built {
        config,
        inputs: &inputs,
        split: &split,
        columns: &detail.columns,
        text: &text,
        tail_sets: &shown.tail_sets,
    };
    let measured = built.scenarios(numbers, threads);
    timer.mark("scenarios: windows, waterfalls, tail explanation");
    let scenarios = in_suite_order(&inputs.manifests, &inputs.table.scenarios, measured);
    Ok(assemble(inputs, split, scenarios))
}

/// Checks and counts the span files and chooses the partitions that fit
/// the memory limit (said to the progress callback).
fn plan(config: &AnalyzeConfig, inputs: &Inputs, timer: &Timer) -> Result<u64, AnalyzeError> {
    check_span_files(&inputs.files)?;
    let limit = config.memory_limit.unwrap_or_else(default_memory_limit);
    let spans = count_spans(&inputs.files)?;
    let requests = inputs.table.len() as u64;
    let partitions = partitions_for(spans, requests, limit);
    timer.mark("span files checked and counted");
    config.progress.report(&Progress::Planned {
        spans,
        requests,
        partitions,
        limit,
    });
    Ok(partitions)
}

/// Splits every request, gathers the server's errors, sets aside the
/// requests without an answer and locates queue against network (the clock
/// check); then checks that every split adds up.
fn split_requests(
    job: &PartitionJob<'_>,
    inputs: &Inputs,
    timer: &Timer,
) -> Result<Split, AnalyzeError> {
    let (mut splits, single) = split_partitioned(job)?;
    timer.mark("spans: scan, join, sort, split");
    // A span that ended after the client gave up says nothing about the
    // clocks: those requests are set aside before the clock check.
    let errors = crate::scan::error_spans(&inputs.files, crate::parallel::threads())?;
    let server_errors = crate::server_errors::gather(&errors, &inputs.table, &splits);
    drop(errors);
    crate::server_errors::set_aside_unanswered(&inputs.table, &mut splits);
    timer.mark("  server errors");
    let clocks = crate::outside::locate(&mut splits, &inputs.table);
    timer.mark("  clock check, queue located");
    crate::hooks::break_a_split_when_asked(&mut splits);
    if let Some(bad) = splits.iter().position(|s| !holds(s)) {
        return Err(AnalyzeError::Internal {
            run: run_ids(&inputs.manifests),
            message: format!("the split of request {bad} does not sum to its total"),
        });
    }
    Ok(Split {
        splits,
        single,
        server_errors,
        clocks,
    })
}

/// Each scenario's numbers (in `table.scenarios` order).
fn statistics(inputs: &Inputs, splits: &[RequestSplit], threads: usize) -> Vec<ScenarioNumbers> {
    let table = &inputs.table;
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); table.scenarios.len()];
    for i in 0..table.len() {
        rows_of[table.scenario[i] as usize].push(i);
    }
    let open_model = inputs.manifests.iter().any(RunManifest::open_model);
    crate::parallel::map_in_order(&rows_of, threads, &|rows| {
        crate::hooks::panic_a_worker_when_asked();
        numbers(table, splits, rows, open_model)
    })
}

/// The requests whose spans the reports show in detail.
struct Shown {
    /// Per scenario, the tail's slow and baseline sets, or why there are none.
    tail_sets: Vec<crate::tail::TailSets>,
    /// Whole traces for what is drawn or compared: exemplars, outliers, the tail's sets.
    drawn: Vec<usize>,
    /// The P95 windows (2 % of the requests: 200k of ten million), of whose
    /// traces only the spans a table names are read.
    windows: Vec<usize>,
}

impl Shown {
    fn of(numbers: &[ScenarioNumbers], outliers: usize) -> Self {
        let tail_sets: Vec<_> = numbers
            .iter()
            .map(|n| crate::tail::sets(&n.matched_sorted))
            .collect();
        let drawn = numbers
            .iter()
            .zip(&tail_sets)
            .flat_map(|(n, sets)| {
                exemplar_row(n)
                    .into_iter()
                    .chain(n.slowest.iter().take(outliers).copied())
                    .chain(sets.iter().flat_map(|(a, b)| a.iter().chain(b).copied()))
            })
            .collect();
        let windows = numbers
            .iter()
            .flat_map(|n| n.p95.iter().flat_map(|(_, w)| w.iter().copied()))
            .collect();
        Self {
            tail_sets,
            drawn,
            windows,
        }
    }

    fn all(&self) -> Vec<usize> {
        self.drawn.iter().chain(&self.windows).copied().collect()
    }
}

/// What building the scenarios reads.
struct Built<'a> {
    config: &'a AnalyzeConfig,
    inputs: &'a Inputs,
    split: &'a Split,
    columns: &'a crate::split::SpanColumns,
    text: &'a SpanText<'a>,
    tail_sets: &'a [crate::tail::TailSets],
}

impl Built<'_> {
    /// Every scenario's analysis (in `table.scenarios` order), `threads` at a time.
    fn scenarios(
        &self,
        numbers: Vec<ScenarioNumbers>,
        threads: usize,
    ) -> Vec<Option<ScenarioAnalysis>> {
        // Each scenario's numbers are taken by the thread that builds it.
        let numbers: Vec<std::sync::Mutex<Option<ScenarioNumbers>>> = numbers
            .into_iter()
            .map(|n| std::sync::Mutex::new(Some(n)))
            .collect();
        let ks: Vec<usize> = (0..self.inputs.table.scenarios.len()).collect();
        crate::parallel::map_in_order(&ks, threads, &|k: &usize| {
            let n = numbers[*k].locked().take()?;
            Some(self.scenario(*k, n))
        })
    }

    fn scenario(&self, k: usize, n: ScenarioNumbers) -> ScenarioAnalysis {
        let inputs = self.inputs;
        let name = &inputs.table.scenarios[k];
        let meta = (inputs.manifests.iter())
            .find_map(|m| m.scenarios.get(name))
            .cloned()
            .unwrap_or_default();
        let ctx = ScenarioCtx {
            table: &inputs.table,
            splits: &self.split.splits,
            columns: self.columns,
            text: self.text,
            variant: inputs.variant_of(name),
            config: self.config,
            tail_sets: &self.tail_sets[k],
            server_errors: (self.split.server_errors.per_scenario.get(k))
                .cloned()
                .unwrap_or_default(),
        };
        let classifier = inputs.classifiers.get(k).cloned().unwrap_or_default();
        scenario(&ctx, k, n, meta, classifier)
    }
}

/// The analysis from its parts: coverage summed, findings, notes.
fn assemble(inputs: Inputs, split: Split, scenarios: Vec<ScenarioAnalysis>) -> AnalyzeOutput {
    let coverage = scenarios.iter().fold(Coverage::default(), |c, s| Coverage {
        requests: c.requests + s.coverage.requests,
        matched: c.matched + s.coverage.matched,
        clamped: c.clamped + s.coverage.clamped,
        multiple_server_spans: c.multiple_server_spans + s.coverage.multiple_server_spans,
    });
    let manifests = inputs.manifests;
    let mut findings = crate::findings::findings(
        &scenarios,
        split.clocks.as_ref(),
        split.server_errors.abandoned.as_ref(),
        &manifests[0].words,
    );
    if inputs.sources.is_empty() {
        // Without any span source, one finding says why nothing is split;
        // one more per scenario ("no request has a server span", with five
        // causes to check) would only repeat it.
        findings.retain(|f| f.rule != "unmatched_requests");
    }
    findings.extend(crate::findings::source_findings(
        inputs.source_notes,
        inputs.sources.is_empty(),
    ));
    let first = manifests[0].clone();
    let cascade_sweep = crate::sweep::cascade_sweep(&scenarios);
    let analysis = Analysis {
        clocks: split.clocks,
        abandoned: split.server_errors.abandoned,
        notes: run_notes(&manifests)
            .into_iter()
            .chain(inputs.notes)
            .collect(),
        open_model: manifests.iter().any(RunManifest::open_model),
        run_ids: manifests.iter().map(|m| m.run_id.clone()).collect(),
        base_url: first.base_url.clone(),
        span_source: (inputs.sources.iter())
            .map(SpanSource::describe)
            .collect::<Vec<_>>()
            .join(", "),
        coverage,
        scenarios,
        findings,
        cascade_defaults: inputs.fallback.clone(),
        cascade_sweep,
    };
    AnalyzeOutput {
        analysis,
        manifest: first,
        splits: split.splits,
        requests: inputs.table,
    }
}
