//! `tracesplit analyze RUN_DIR…`, and the analysis step shared with `run` and `demo`.

use crate::args::{AnalysisOptions, AnalyzeArgs, ReportOptions};
use crate::exit;
use anyhow::Context;
use std::path::{Path, PathBuf};
use tracesplit_analyzer::fetch::TraceApi;
use tracesplit_analyzer::partition::{Progress, ProgressFn};
use tracesplit_analyzer::{AnalyzeConfig, AnalyzeOutput, LinkConfig, SpanSource, analyze};
use tracesplit_model::Analysis;
use tracesplit_model::summary::Summary;
use tracesplit_report::{
    Exporter, HtmlExporter, JunitExporter, MarkdownExporter, TerminalExporter,
};
use tracesplit_store::{SplitRow, write_split_file};

/// The analyzer's configuration from the shared options.
pub fn config(
    run_dirs: Vec<PathBuf>,
    spans: Vec<SpanSource>,
    o: &AnalysisOptions,
) -> AnalyzeConfig {
    AnalyzeConfig {
        run_dirs,
        spans,
        cascade_statement: o.cascade_statement.clone(),
        cascade_span: o.cascade_span.clone(),
        outliers: o.outliers,
        links: LinkConfig {
            jaeger_url: o.jaeger_url.clone(),
            grafana_url: o.grafana_url.clone(),
            tempo_datasource: Some(o.tempo_datasource.clone()),
        },
        memory_limit: o.memory_limit,
        progress: ProgressFn(Some(std::sync::Arc::new(print_progress))),
        ..Default::default()
    }
}

/// Progress of the span work on stderr: the plan when the run is partitioned
/// or large (a million spans and more), then each partition.
fn print_progress(p: &Progress) {
    const GIB: f64 = (1u64 << 30) as f64;
    match *p {
        Progress::Planned {
            spans,
            requests,
            partitions,
            limit,
        } if partitions > 1 => {
            eprintln!(
                "analyzing {spans} spans of {requests} requests in {partitions} partitions of the trace ids, to stay within the memory limit of {:.1} GiB (--memory-limit)",
                limit as f64 / GIB
            );
            // The requests stay for the whole analysis: a limit below their
            // own need cannot be kept, and the user should know.
            let own = requests.saturating_mul(tracesplit_analyzer::partition::BYTES_PER_REQUEST);
            if own > limit {
                eprintln!(
                    "  note: the {requests} requests alone need about {:.1} GiB, more than the limit; the spans are partitioned, the requests cannot be",
                    own as f64 / GIB
                );
            }
        }
        Progress::Planned {
            spans, requests, ..
        } if spans >= 1_000_000 => {
            eprintln!("analyzing {spans} spans of {requests} requests");
        }
        Progress::PartitionDone {
            done,
            partitions,
            spans_read,
        } => eprintln!(
            "  partition {done}/{partitions} split ({spans_read} spans of the run's traces read)"
        ),
        Progress::Planned { .. } => {}
    }
}

/// A query API base URL: `http://` or `https://` (the system's trust store,
/// `--source-cacert`).
fn api_url(flag: &str, url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(str::is_empty) {
        anyhow::bail!(
            "{flag} {url:?} is not an http:// or https:// URL (e.g. http://localhost:16686)"
        );
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Analyzes and writes `summary.json` into `write_to` (and `--output`);
/// returns the output and the summary. The summary is the analyzer's alone
/// (the seed's `timestamp` is the run's start). Unless `force`, an existing
/// `summary.json` that matched more requests to spans is kept and the new
/// analysis goes beside it (`summary.<source>.json`), so a second span source
/// that found fewer traces never replaces a better analysis.
pub fn analyze_and_write(
    config: &AnalyzeConfig,
    write_to: &Path,
    output: Option<&Path>,
    force: bool,
) -> anyhow::Result<(AnalyzeOutput, Summary)> {
    let out = analyze(config).map_err(|e| match e {
        tracesplit_analyzer::AnalyzeError::Unreachable(m) => {
            anyhow::Error::new(exit::Unreachable(m))
        }
        e @ tracesplit_analyzer::AnalyzeError::Internal { .. } => {
            anyhow::Error::new(exit::Internal(e.to_string()))
        }
        e => e.into(),
    })?;
    let runs = out.manifest.runs_per_test.unwrap_or(0);
    let summary = tracesplit_report::summary(&out.analysis, &out.manifest.started_at, runs);
    let text = serde_json::to_string_pretty(&summary)? + "\n";
    let path = summary_path(write_to, &out, force);
    if path.file_name() == Some(std::ffi::OsStr::new("summary.json")) {
        write_split(&out, &write_to.join("split.parquet"))?;
    } else {
        eprintln!(
            "kept {}: it matched more requests to spans than this analysis ({} of {}); this one is in {} (--force replaces it)",
            write_to.join("summary.json").display(),
            out.analysis.coverage.matched,
            out.analysis.coverage.requests,
            path.display()
        );
    }
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(o) = output {
        std::fs::write(o, &text)
            .with_context(|| format!("cannot write --output {}", o.display()))?;
    }
    Ok((out, summary))
}

/// `summary.json`, unless an existing one covers more requests with spans
/// (and not `force`): then `summary.<source>.json`.
fn summary_path(dir: &Path, out: &AnalyzeOutput, force: bool) -> PathBuf {
    let main = dir.join("summary.json");
    if force {
        return main;
    }
    let previous = std::fs::read_to_string(&main)
        .ok()
        .and_then(|t| serde_json::from_str::<Summary>(&t).ok())
        .and_then(|s| s.analysis)
        .and_then(|a| serde_json::from_value::<Analysis>(a).ok());
    let better = previous.is_some_and(|p| p.coverage.matched > out.analysis.coverage.matched);
    if !better {
        return main;
    }
    let source = out
        .analysis
        .span_source
        .split_whitespace()
        .next()
        .unwrap_or("none")
        .to_ascii_lowercase();
    dir.join(format!("summary.{source}.json"))
}

/// `RUN/split.parquet`: every request with its split, for notebooks.
fn write_split(out: &AnalyzeOutput, path: &Path) -> anyhow::Result<()> {
    let t = &out.requests;
    let rows = (0..t.len()).map(|i| {
        let s = &out.splits[i];
        SplitRow {
            scenario: t.scenarios[t.scenario[i] as usize].clone(),
            trace_id: t.trace_id.text(i),
            span_id: t.span_id.text(i),
            iteration: t.iteration[i],
            step: t.step[i],
            expected: t.expected[i],
            start_unix_nano: t.start[i],
            total_ns: t.duration[i],
            parts: s.matched.then_some([
                s.server_ns,
                s.network_ns,
                s.queue_ns,
                s.handler_ns,
                s.cascade_ns,
                s.db_other_ns,
            ]),
            db_spans: s.db_count,
            connection_setup_ns: s.matched.then_some(s.setup_ns),
            schedule_ns: (t.start[i] - t.intended_start[i]).max(0),
        }
    });
    write_split_file(path, rows).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `bytes` to `path`, or to stdout for `-`.
pub fn write_to(path: &Path, bytes: &[u8], what: &str) -> anyhow::Result<()> {
    if path == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        return Ok(out.flush()?);
    }
    std::fs::write(path, bytes)
        .with_context(|| format!("cannot write the {what} {}", path.display()))
}

/// Writes every requested report; each is on disk before the next is rendered.
pub fn write_reports(a: &Analysis, reports: &ReportOptions) -> anyhow::Result<()> {
    let formats: [(&Option<PathBuf>, &dyn Exporter, &str); 3] = [
        (&reports.markdown, &MarkdownExporter, "Markdown report"),
        (&reports.junit, &JunitExporter, "JUnit report"),
        (&reports.html, &HtmlExporter, "HTML report"),
    ];
    for (path, exporter, what) in formats {
        if let Some(path) = path {
            write_to(path, &exporter.render(a)?, what)?;
        }
    }
    Ok(())
}

/// Prints the terminal table.
pub fn print_table(out: &AnalyzeOutput) -> anyhow::Result<()> {
    let table = TerminalExporter::default().render(&out.analysis)?;
    print!("{}", String::from_utf8_lossy(&table));
    Ok(())
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<u8> {
    let mut spans: Vec<SpanSource> = args.spans.into_iter().map(SpanSource::Store).collect();
    spans.extend(args.otlp_json.into_iter().map(SpanSource::OtlpJson));
    let access = args.source.access()?;
    if let Some(url) = &args.jaeger {
        let url = api_url("--jaeger", url)?;
        spans.push(SpanSource::Fetch {
            url,
            api: TraceApi::Jaeger,
            access: access.clone(),
        });
    }
    if let Some(url) = &args.tempo {
        let url = api_url("--tempo", url)?;
        let api = if args.tempo_v1 {
            TraceApi::TempoV1
        } else {
            TraceApi::TempoV2
        };
        spans.push(SpanSource::Fetch { url, api, access });
    }
    let first = args.run_dirs[0].clone();
    let mut cfg = config(args.run_dirs, spans, &args.analysis);
    cfg.span_wait = args.span_wait;
    cfg.fetch_concurrency = args.fetch_concurrency.max(1);
    eprintln!("analyzing…");
    let (out, summary) = analyze_and_write(&cfg, &first, args.output.as_deref(), args.force)?;
    write_reports(&out.analysis, &args.reports)?;
    print_table(&out)?;
    println!("summary: {}", first.join("summary.json").display());
    Ok(if summary.summary.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
