//! The exemplar's span waterfall as text: an indented tree with each span's
//! start offset and duration on the client's timeline, and a bar placing it.

use crate::fmt_ms;
use std::fmt::Write;
use tracesplit_model::analysis::Exemplar;

/// Width of the timeline bar in characters.
const BAR: usize = 32;

/// The waterfall, one line per span: offset, duration, bar, indented name.
pub fn text(ex: &Exemplar) -> String {
    let end = ex
        .spans
        .iter()
        .map(|s| s.offset_ms + s.duration_ms)
        .fold(0.0_f64, f64::max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>9} {:>9}  {:<w$}  span",
        "start ms",
        "dur ms",
        "timeline",
        w = BAR + 2
    );
    for s in &ex.spans {
        let name = match &s.statement {
            Some(q) => format!("{} — {}", s.name, one_line(q, 72)),
            None => s.name.clone(),
        };
        let tag = if s.category == "cascade" {
            " [cascade]"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:>9} {:>9}  |{}| {}{}{name}{tag}",
            fmt_ms(s.offset_ms),
            fmt_ms(s.duration_ms),
            bar(s.offset_ms, s.duration_ms, end),
            if s.critical { "*" } else { " " },
            "  ".repeat(s.depth as usize),
        );
    }
    out
}

/// A bar of `BAR` cells: blanks before the span, `█` while it runs (at least one cell).
fn bar(offset: f64, duration: f64, end: f64) -> String {
    if end <= 0.0 {
        return " ".repeat(BAR);
    }
    let cell = |v: f64| ((v / end) * BAR as f64).round() as usize;
    let start = cell(offset).min(BAR - 1);
    let stop = cell(offset + duration).clamp(start + 1, BAR);
    let mut s = " ".repeat(start);
    s.push_str(&"█".repeat(stop - start));
    s.push_str(&" ".repeat(BAR - stop));
    s
}

/// Whitespace collapsed, cut to `max` characters with an ellipsis.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        flat.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_place_spans_on_the_timeline() {
        assert_eq!(bar(0.0, 10.0, 10.0), "█".repeat(BAR));
        let late = bar(5.0, 0.0, 10.0);
        assert_eq!(late.chars().position(|c| c == '█'), Some(BAR / 2));
        assert_eq!(late.chars().filter(|&c| c == '█').count(), 1);
        assert_eq!(one_line("SELECT\n  a,\n  b", 80), "SELECT a, b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
