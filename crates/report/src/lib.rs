//! Renders an [`Analysis`] in the formats people and CI systems read. One
//! module per format, each behind [`Exporter`]: plain data in, bytes out.
//! No Parquet here: `cargo test -p tracesplit-report` builds in seconds.

mod compare;
mod html;
mod json;
mod junit;
mod markdown;
mod markup;
mod svg;
mod tail;
mod terminal;
mod waterfall;

pub use compare::{compare_junit, compare_markdown, compare_terminal};
pub use html::HtmlExporter;
pub use json::{JsonExporter, summary};
pub use junit::JunitExporter;
pub use markdown::MarkdownExporter;
pub use terminal::TerminalExporter;
pub use waterfall::text as waterfall_text;

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

/// Formats milliseconds compactly: `0.42`, `12.3`, `812` (one rule, the model's).
pub use tracesplit_model::stats::fmt_ms;

/// How many of `width` bar cells each component fills: cumulative shares,
/// rounded, so the cells add up to `width` (all 0 when the total is 0).
pub fn bar_cells(s: &tracesplit_model::analysis::Split, width: usize) -> [usize; 5] {
    let mut cells = [0; 5];
    if s.total_ms <= 0.0 {
        return cells;
    }
    let (mut used, mut acc) = (0usize, 0.0);
    for (k, (_, v)) in s.components().iter().enumerate() {
        acc += v;
        let end = (((acc / s.total_ms) * width as f64).round() as usize).clamp(used, width);
        cells[k] = end - used;
        used = end;
    }
    cells
}

/// The five components in milliseconds, formatted and joined with `sep`.
pub fn component_cells(s: &tracesplit_model::analysis::Split, sep: &str) -> String {
    s.components()
        .iter()
        .map(|(_, v)| fmt_ms(*v))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `20 requests, 0 failed · p50 1.90 · p95 3.40 · p99 3.74 · max 4.08 ms`
/// (with the corrected P95/P99 in the open model; "n/a" without measured requests).
pub fn stats_sentence(s: &tracesplit_model::analysis::ScenarioAnalysis) -> String {
    let st = &s.stats;
    if let Some(why) = &s.not_measured {
        return format!("not measured: {why}");
    }
    if st.count == 0 {
        return format!("0 requests measured, {} failed · statistics n/a", s.failed);
    }
    let corrected = match (s.p95_corrected_ms, s.p99_corrected_ms) {
        (Some(p95), Some(p99)) => format!(
            " · corrected for coordinated omission: p95 {} · p99 {}",
            fmt_ms(p95),
            fmt_ms(p99)
        ),
        _ => String::new(),
    };
    format!(
        "{} requests, {} failed · p50 {} · p95 {} · p99 {} · max {} ms{corrected}",
        st.count,
        s.failed,
        fmt_ms(st.p50_ms),
        fmt_ms(st.p95_ms),
        fmt_ms(st.p99_ms),
        fmt_ms(st.max_ms)
    )
}

/// The P95 cell of a table: "n/a" when nothing was measured.
pub fn p95_cell(s: &tracesplit_model::analysis::ScenarioAnalysis) -> String {
    if s.stats.count == 0 {
        "n/a".into()
    } else {
        fmt_ms(s.stats.p95_ms)
    }
}

/// `P95 812 ms`, or `P95 n/a` when nothing was measured.
pub fn p95_phrase(s: &tracesplit_model::analysis::ScenarioAnalysis) -> String {
    if s.stats.count == 0 {
        "P95 n/a".into()
    } else {
        format!("P95 {} ms", fmt_ms(s.stats.p95_ms))
    }
}

/// The corrected-P95 cell (open model): "n/a" when nothing was measured.
pub fn corrected_cell(s: &tracesplit_model::analysis::ScenarioAnalysis) -> String {
    match s.p95_corrected_ms {
        Some(v) if s.stats.count > 0 => fmt_ms(v),
        _ => "n/a".into(),
    }
}

/// The share of requests matched to a server span: "n/a" when nothing was measured.
pub fn coverage_cell(s: &tracesplit_model::analysis::ScenarioAnalysis) -> String {
    if s.stats.count == 0 {
        "n/a".into()
    } else {
        format!("{:.0} %", s.coverage.ratio() * 100.0)
    }
}

/// How the P95 split is made, for every format's footnote.
pub const SPLIT_METHOD: &str = "The P95 split takes its proportions from the requests ranked nearest the P95 (the P95 request itself below 100 requests; ±1 % of the ranks above) and is scaled to the P95 shown, so its parts add up to it exactly.";

/// `812 ms = network 12 + queue 0.00 + handler 40 + cascade 745 + db other 15`.
pub fn split_sentence(s: &tracesplit_model::analysis::Split) -> String {
    let schedule = (s.schedule_ms > 0.0).then(|| format!("schedule {}", fmt_ms(s.schedule_ms)));
    let parts: Vec<String> = schedule
        .into_iter()
        .chain(
            s.components()
                .iter()
                .map(|(n, v)| format!("{n} {}", fmt_ms(*v))),
        )
        .collect();
    let mut out = format!("{} ms = {}", fmt_ms(s.total_ms), parts.join(" + "));
    if s.connection_setup_ms >= 0.005 {
        out.push_str(&format!(
            " (network includes {} ms opening connections: TCP connect and TLS handshake)",
            fmt_ms(s.connection_setup_ms)
        ));
    }
    out
}

/// The scenario's lines of the open model's corrected split and of the
/// server's errors, for the formats that list them per scenario.
pub fn scenario_extras(
    s: &tracesplit_model::analysis::ScenarioAnalysis,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(p) = &s.p95_corrected_split {
        out.push(("Corrected P95 split", split_sentence(p)));
    }
    for g in &s.server_errors {
        let cause = g
            .cause
            .as_ref()
            .map(|c| format!(" — {c}"))
            .unwrap_or_default();
        out.push((
            "Server errors",
            format!(
                "{} × {}{cause} (traces {})",
                g.requests,
                g.describe(),
                g.trace_ids.join(", ")
            ),
        ));
    }
    out
}

/// `GPU_GET 2.10 ms, CPU_LIST 0.40 ms`: the scenarios whose P95 network
/// includes opening connections, or `None` when none does.
pub fn setup_line(scenarios: &[tracesplit_model::analysis::ScenarioAnalysis]) -> Option<String> {
    let parts: Vec<String> = scenarios
        .iter()
        .filter_map(|s| {
            let p = s.p95_split.as_ref()?;
            (p.connection_setup_ms >= 0.005)
                .then(|| format!("{} {} ms", s.scenario, fmt_ms(p.connection_setup_ms)))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `cascade grows 24.8 ms per 1,000 listings (P95 +25.1 ms per 1,000; 0 → 10000 listings)`.
pub fn sweep_sentence(sw: &tracesplit_model::sweep::CascadeSweep) -> String {
    use tracesplit_model::sweep::describe_growth;
    let sl = &sw.slope_per_1000;
    let se = sw.stderr_per_1000.as_ref();
    let (lo, hi) = match (sw.points.first(), sw.points.last()) {
        (Some(a), Some(b)) => (a.listings, b.listings),
        _ => (0, 0),
    };
    let g = |slope: f64, pick: fn(&tracesplit_model::sweep::SweepSlopes) -> f64| {
        describe_growth(slope, se.map(pick))
    };
    let uncertainty = if se.is_some() {
        "± is the 95 % interval"
    } else {
        "too few points for an uncertainty"
    };
    format!(
        "Fitted growth per 1,000 listings ({lo} → {hi}; {uncertainty}): cascade {}, db other {}, handler {}, queue {}, network {}; P95 {}.",
        g(sl.cascade_ms, |s| s.cascade_ms),
        g(sl.db_other_ms, |s| s.db_other_ms),
        g(sl.handler_ms, |s| s.handler_ms),
        g(sl.queue_ms, |s| s.queue_ms),
        g(sl.network_ms, |s| s.network_ms),
        g(sl.p95_ms, |s| s.p95_ms)
    )
}

/// Escapes text for XML and HTML (element content and quoted attributes).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids (control characters other than tab and newlines).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
