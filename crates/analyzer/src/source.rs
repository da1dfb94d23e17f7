//! Where spans come from: a span store directory, or the newline-delimited
//! OTLP JSON an OpenTelemetry Collector's file exporter writes.

use crate::AnalyzeError;
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
}

impl SpanSource {
    /// How reports name it.
    pub fn describe(&self) -> String {
        match self {
            Self::Store(p) => format!("span store {}", p.display()),
            Self::OtlpJson(p) => format!("OTLP JSON {}", p.display()),
        }
    }
}

/// Parquet files holding the spans of `sources`; OTLP JSON is converted into
/// a segment under `scratch` first. Missing stores are an error naming them.
pub fn span_files(sources: &[SpanSource], scratch: &Path) -> Result<Vec<PathBuf>, AnalyzeError> {
    let mut files = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match source {
            SpanSource::Store(dir) => {
                if !dir.is_dir() {
                    return Err(AnalyzeError::Input(format!(
                        "span store {} does not exist (use --spans DIR or --otlp-json FILE to name where the spans are)",
                        dir.display()
                    )));
                }
                let segments =
                    list_segments(dir).map_err(|e| AnalyzeError::Input(e.to_string()))?;
                files.extend(segments.into_iter().map(|(_, p)| p));
            }
            SpanSource::OtlpJson(path) => {
                let records = read_otlp_json(path)?;
                if let Some(p) = write_span_segment(scratch, i as u64 + 1, &records)
                    .map_err(|e| AnalyzeError::Input(e.to_string()))?
                {
                    files.push(p);
                }
            }
        }
    }
    Ok(files)
}

/// Reads newline-delimited OTLP JSON (the OpenTelemetry Collector file exporter's format).
pub fn read_otlp_json(path: &Path) -> Result<Vec<tracesplit_model::SpanRecord>, AnalyzeError> {
    let file = std::fs::File::open(path)
        .map_err(|e| AnalyzeError::Input(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line =
            line.map_err(|e| AnalyzeError::Input(format!("{}:{}: {e}", path.display(), i + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let request: ExportTraceServiceRequest = serde_json::from_str(&line).map_err(|e| {
            AnalyzeError::Input(format!(
                "{}:{}: not an OTLP JSON export request (column {}): {e}",
                path.display(),
                i + 1,
                e.column()
            ))
        })?;
        let records = records_from_export(request)
            .map_err(|e| AnalyzeError::Input(format!("{}:{}: {e}", path.display(), i + 1)))?;
        out.extend(records);
    }
    Ok(out)
}
