//! Errors of an analysis.

/// Why an analysis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A run directory, span source or file is missing or malformed.
    #[error("{0}")]
    Input(String),
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
