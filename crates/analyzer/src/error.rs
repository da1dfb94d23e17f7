//! Errors of an analysis.

use std::path::{Path, PathBuf};

/// A cause kept as the error's source, whatever library it came from.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why an analysis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// `analyze` was given no run directory.
    #[error("no run directory given")]
    NoRun,
    /// A run directory without the file every run has.
    #[error("{}: {source} (is {} a tracesplit run directory?)", .dir.join(tracesplit_model::manifest::MANIFEST_FILE).display(), .dir.display())]
    NoManifest {
        /// The directory given as a run.
        dir: PathBuf,
        /// Why the manifest could not be read.
        source: std::io::Error,
    },
    /// A run directory without the requests the runner records.
    #[error("{} has no requests.parquet: is it a tracesplit run directory?", .0.display())]
    NoRequests(PathBuf),
    /// A span store directory that is not there.
    #[error("span store {} does not exist (use --spans DIR or --otlp-json FILE to name where the spans are)", .0.display())]
    NoSpanStore(PathBuf),
    /// A file that could not be opened, read or created.
    #[error("{}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A JSON file (run manifest, summary) that is not what its name says.
    #[error("{}: not a {what}: {source}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What it should have been ("run manifest", "tracesplit summary").
        what: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A line of an OTLP JSON file that is not an export request.
    #[error("{}:{line}: {source}", .path.display())]
    OtlpJson {
        /// The file.
        path: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// What is wrong with the line.
        source: Cause,
    },
    /// A Parquet file (requests.parquet, a span segment, split.parquet) that
    /// cannot be read.
    #[error("{}: {}", .path.display(), unreadable_text(.codec.as_deref(), .source, .kind))]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What kind of file it should be.
        kind: &'static str,
        /// The codec it was written with when this build does not decode it.
        codec: Option<String>,
        /// The reader's error.
        source: Cause,
    },
    /// Runs that differ in what a comparison depends on.
    #[error("the runs differ in what the comparison depends on: {} (compare like with like, or pass --force)", .0.join("; "))]
    Unlike(Vec<String>),
    /// A header given for a span source that HTTP cannot carry.
    #[error("span source header {0:?} is not a valid HTTP header")]
    SourceHeader(String),
    /// A span source's answer that could not be read.
    #[error("{url}: {source}")]
    SourceAnswer {
        /// What was asked.
        url: String,
        /// Why the answer could not be read.
        source: Cause,
    },
    /// The HTTP client for a span source could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// A run's or a span store's file could not be read or written (its own words, with the file).
    #[error(transparent)]
    Store(#[from] tracesplit_store::StoreError),
    /// The TLS files for a span source could not be used.
    #[error(transparent)]
    Tls(#[from] tracesplit_net::client_tls::TlsError),
    /// A span source (Jaeger, Tempo) could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// An invariant of the analysis itself broke (a split that does not sum):
    /// a bug in tracesplit, not bad input.
    #[error(
        "internal error in the analysis of run {run}: {message} — please report it (https://github.com/tracesplit/tracesplit/issues) with this line"
    )]
    Internal {
        /// Run id(s).
        run: String,
        /// What broke.
        message: String,
    },
    /// A classifier regex is invalid.
    #[error("invalid cascade regex {regex:?}: {message}")]
    Regex {
        /// The regex.
        regex: String,
        /// Why.
        message: String,
    },
}

impl AnalyzeError {
    /// A file that could not be opened, read or created.
    pub(crate) fn file(path: &Path, source: std::io::Error) -> Self {
        Self::File {
            path: path.to_owned(),
            source,
        }
    }

    /// Why `path`, a file of the `kind` named, cannot be read. A file written
    /// with a codec this build does not decode is named by its footer (which
    /// is never compressed), so the message can say what to do about it.
    pub(crate) fn unreadable(path: &Path, source: impl Into<Cause>, kind: &'static str) -> Self {
        Self::Unreadable {
            path: path.to_owned(),
            kind,
            codec: undecodable_codec(path),
            source: source.into(),
        }
    }
}

/// The words of [`AnalyzeError::Unreadable`].
fn unreadable_text(codec: Option<&str>, source: &Cause, kind: &str) -> String {
    match codec {
        Some(codec) => format!(
            "compressed with {codec}, which tracesplit does not decode: write it again \
             with Snappy or Zstd (polars: `write_parquet(path, compression=\"zstd\")`)"
        ),
        None => format!("{source} (a damaged file, or not a {kind} file?)"),
    }
}

/// The first codec in `path`'s column chunks that this build does not
/// decode (it decodes uncompressed, Snappy and Zstd: polars writes Zstd;
/// others may choose LZ4, Gzip or Brotli), if the footer can be read.
fn undecodable_codec(path: &Path) -> Option<String> {
    use parquet::basic::Compression;
    let file = std::fs::File::open(path).ok()?;
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .ok()?;
    metadata
        .row_groups()
        .iter()
        .flat_map(|g| g.columns())
        .find_map(|c| match c.compression() {
            Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_) => None,
            Compression::GZIP(_) => Some("gzip"),
            Compression::LZO => Some("lzo"),
            Compression::BROTLI(_) => Some("brotli"),
            Compression::LZ4 => Some("lz4"),
            Compression::LZ4_RAW => Some("lz4_raw"),
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_says_what_it_should_have_been() {
        let dir =
            std::env::temp_dir().join(format!("tracesplit-unreadable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spans-000000000001.parquet");
        std::fs::write(&path, b"PAR1 not really").unwrap();
        let err = AnalyzeError::unreadable(&path, "EOF in footer", "span store");
        let text = err.to_string();
        assert!(
            text.ends_with("spans-000000000001.parquet: EOF in footer (a damaged file, or not a span store file?)"),
            "{text}"
        );
        assert_eq!(
            std::error::Error::source(&err).map(|s| s.to_string()),
            Some("EOF in footer".to_owned())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_undecodable_codec_says_what_to_do() {
        let text = unreadable_text(Some("lz4"), &Cause::from("x"), "span store");
        assert!(
            text.starts_with("compressed with lz4, which tracesplit does not decode: write it again with Snappy or Zstd"),
            "{text}"
        );
    }
}
