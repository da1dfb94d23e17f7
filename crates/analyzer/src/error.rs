//! Errors of an analysis.

/// Why an analysis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A run directory, span source or file is missing or malformed.
    #[error("{0}")]
    Input(String),
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
    /// Why `path`, a file of the `kind` named, cannot be read: a compression
    /// this build does not decode gets what to do about it (polars writes
    /// Zstd, which is read; others may choose LZ4, Gzip or Brotli).
    pub(crate) fn unreadable(
        path: &std::path::Path,
        message: impl std::fmt::Display,
        kind: &str,
    ) -> Self {
        let message = message.to_string();
        const CODEC: &str = "Disabled feature at compile time: ";
        let text = match message.find(CODEC) {
            Some(at) => {
                let codec = message[at + CODEC.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("?");
                format!(
                    "compressed with {codec}, which tracesplit does not decode: write it again \
                     with Snappy or Zstd (polars: `write_parquet(path, compression=\"zstd\")`)"
                )
            }
            None => format!("{message} (a damaged file, or not a {kind} file?)"),
        };
        Self::Input(format!("{}: {text}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compression_this_build_does_not_decode_says_what_to_do() {
        let path = std::path::Path::new("run/spans/spans-000000000001.parquet");
        let arrow = "External: Parquet argument error: Parquet error: Disabled feature at compile time: lz4";
        let err = AnalyzeError::unreadable(path, arrow, "span store").to_string();
        assert!(
            err.contains("spans-000000000001.parquet: compressed with lz4, which tracesplit does not decode: write it again with Snappy or Zstd"),
            "{err}"
        );
        let err = AnalyzeError::unreadable(path, "EOF in footer", "span store").to_string();
        assert!(
            err.ends_with("EOF in footer (a damaged file, or not a span store file?)"),
            "{err}"
        );
    }
}
