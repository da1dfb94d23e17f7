//! Renders an [`Analysis`] in the formats people and CI systems read. One
//! module per format, each behind [`Exporter`]: plain data in, bytes out.
//! No polars here: `cargo test -p tracesplit-report` builds in seconds.

mod json;
mod terminal;

pub use json::{JsonExporter, summary};
pub use terminal::TerminalExporter;

use tracesplit_model::Analysis;

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Serialization failed.
    #[error("cannot render the {format} report: {message}")]
    Render {
        /// Format name.
        format: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// One output format.
pub trait Exporter {
    /// Renders the analysis.
    fn render(&self, analysis: &Analysis) -> Result<Vec<u8>, ReportError>;
}

/// Formats milliseconds compactly: `0.42`, `12.3`, `812`.
pub fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `812 ms = network 12 + handler 40 + cascade 745 + db other 15`.
pub fn split_sentence(s: &tracesplit_model::analysis::Split) -> String {
    let parts: Vec<String> = s
        .components()
        .iter()
        .map(|(n, v)| format!("{n} {}", fmt_ms(*v)))
        .collect();
    format!("{} ms = {}", fmt_ms(s.total_ms), parts.join(" + "))
}
