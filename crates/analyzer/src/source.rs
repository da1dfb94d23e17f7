//! Where spans come from: a span store directory, or the newline-delimited
//! OTLP JSON an OpenTelemetry Collector's file exporter writes.

use crate::AnalyzeError;
use crate::error::Cause;
use crate::fetch::{FetchConfig, SourceAccess, TraceApi, fetch};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use tracesplit_model::otlp::records_from_export;
use tracesplit_store::{list_segments, write_span_segment};

/// A span source.
#[derive(Debug, Clone, PartialEq)]
pub enum SpanSource {
    /// A span store directory (`RUN/spans`, or `--spans DIR`).
    Store(PathBuf),
    /// An OTLP JSON file: one `ExportTraceServiceRequest` per line (`--otlp-json FILE`).
    OtlpJson(PathBuf),
    /// The run's traces fetched by id from a query API (`--jaeger URL`, `--tempo URL`).
    Fetch {
        /// Base URL.
        url: String,
        /// Which API.
        api: TraceApi,
        /// TLS and headers (auth, tenant).
        access: SourceAccess,
    },
}

impl SpanSource {
    /// How reports name it.
    pub fn describe(&self) -> String {
        match self {
            Self::Store(p) => format!("span store {}", p.display()),
            Self::OtlpJson(p) => format!("OTLP JSON {}", p.display()),
            Self::Fetch { url, api, .. } => match api {
                TraceApi::Jaeger => format!("Jaeger {url}"),
                TraceApi::TempoV1 | TraceApi::TempoV2 => format!("Tempo {url}"),
            },
        }
    }
}

/// What fetching sources need to know about the run.
#[derive(Debug, Clone, Default)]
pub struct FetchScope {
    /// The run's distinct trace ids.
    pub trace_ids: Vec<String>,
    /// The run's time range in unix seconds, widened (Tempo's search window).
    pub time_range: (i64, i64),
    /// How long a trace may still be missing before it counts as missing.
    pub span_wait: std::time::Duration,
    /// Requests in flight at most.
    pub concurrency: usize,
}

impl SpanSource {
    /// Whether this source fetches traces by id (and so needs a [`FetchScope`]).
    pub fn fetches(&self) -> bool {
        matches!(self, Self::Fetch { .. })
    }
}

/// Parquet files holding the spans of `sources`, and notes on what is missing.
/// OTLP JSON and fetched traces are converted into segments under `scratch`
/// first. Missing stores are an error naming them.
pub fn span_files(
    sources: &[SpanSource],
    scratch: &Path,
    scope: &FetchScope,
) -> Result<(Vec<PathBuf>, Vec<String>), AnalyzeError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match source {
            SpanSource::Store(dir) => {
                if !dir.is_dir() {
                    return Err(AnalyzeError::NoSpanStore(dir.clone()));
                }
                let segments = list_segments(dir)?;
                files.extend(segments.into_iter().map(|(_, p)| p));
            }
            SpanSource::OtlpJson(path) => {
                let records = read_otlp_json(path)?;
                files.extend(segment(scratch, i, &records)?);
            }
            SpanSource::Fetch { url, api, access } => {
                let ids = &scope.trace_ids;
                let cfg = FetchConfig {
                    base_url: url.clone(),
                    api: *api,
                    concurrency: scope.concurrency,
                    span_wait: scope.span_wait,
                    time_range: scope.time_range,
                    access: access.clone(),
                };
                let got = fetch(&cfg, ids)?;
                if let Some((id, why)) = got.missing.first() {
                    notes.push(format!(
                        "{}: {} of {} traces not found (first: {id}, {why}); their requests count as unmatched",
                        source.describe(),
                        got.missing.len(),
                        ids.len()
                    ));
                }
                files.extend(segment(scratch, i, &got.records)?);
            }
        }
    }
    Ok((files, notes))
}

fn segment(
    scratch: &Path,
    i: usize,
    records: &[tracesplit_model::SpanRecord],
) -> Result<Option<PathBuf>, AnalyzeError> {
    Ok(write_span_segment(scratch, i as u64 + 1, records)?)
}

/// Reads newline-delimited OTLP JSON (the OpenTelemetry Collector file exporter's format).
pub fn read_otlp_json(path: &Path) -> Result<Vec<tracesplit_model::SpanRecord>, AnalyzeError> {
    let file = std::fs::File::open(path).map_err(|e| AnalyzeError::file(path, e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let bad = |source: Cause| AnalyzeError::OtlpJson {
            path: path.to_owned(),
            line: i + 1,
            source,
        };
        let line = line.map_err(|e| bad(e.into()))?;
        if line.trim().is_empty() {
            continue;
        }
        let request: ExportTraceServiceRequest = serde_json::from_str(&line).map_err(|e| {
            bad(format!(
                "not an OTLP JSON export request (column {}): {e}",
                e.column()
            )
            .into())
        })?;
        out.extend(records_from_export(request).map_err(|e| bad(e.into()))?);
    }
    Ok(out)
}
