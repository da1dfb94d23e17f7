//! Why a trace backend's answer could not be read as spans.

/// A Jaeger or Tempo answer that is not what its API documents.
#[derive(Debug, thiserror::Error)]
pub enum TraceFormatError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but not the shape of Jaeger's `/api/traces` answer.
    #[error("not a Jaeger /api/traces response: {0}")]
    Jaeger(#[source] serde_json::Error),
    /// JSON without the parts of a Tempo trace.
    #[error("{0}")]
    Tempo(&'static str),
    /// Spans that do not read as OTLP.
    #[error("not OTLP spans: {0}")]
    Otlp(#[source] serde_json::Error),
    /// An id that is not an id.
    #[error("id {id:?} {problem}")]
    Id {
        /// The id as the backend sent it.
        id: String,
        /// What is wrong with it.
        problem: IdProblem,
    },
}

/// What is wrong with an id.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdProblem {
    /// Not hex digits.
    #[error("is not a hex id")]
    NotHex,
    /// Neither hex digits nor base64.
    #[error("is neither hex nor base64")]
    NotHexNorBase64,
    /// Decoded to the wrong length.
    #[error("has {found} bytes, expected {expected}")]
    Length {
        /// Bytes decoded.
        found: usize,
        /// Bytes of such an id.
        expected: usize,
    },
}

impl TraceFormatError {
    pub(crate) fn id(id: &str, problem: IdProblem) -> Self {
        Self::Id {
            id: id.to_owned(),
            problem,
        }
    }
}
