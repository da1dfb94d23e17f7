//! Inline SVG charts for the HTML report: the P95 split as stacked bars, a
//! latency CDF on a log axis, the exemplar waterfall and the cascade sweep.
//! Plain strings, no scripts: the report renders with JavaScript disabled.

use crate::{esc, fmt_ms};
use std::fmt::Write;
use tracesplit_model::analysis::{Exemplar, ScenarioAnalysis};
use tracesplit_model::sweep::CascadeSweep;

/// Component colours: network, queue, handler, cascade, db other.
pub const COLORS: [&str; 5] = ["#4e79a7", "#b07aa1", "#f2b93b", "#e15759", "#59a14f"];
/// Component names in the same order.
pub const NAMES: [&str; 5] = ["network", "queue", "handler", "cascade", "db other"];

fn open(out: &mut String, class: &str, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        "<svg class=\"{class}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\"><title>{}</title>",
        esc(title)
    );
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, body: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
        esc(body)
    );
}

fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: &str) {
    let _ = write!(
        out,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{}</title></rect>",
        w.max(0.0),
        esc(tip)
    );
}

/// A round axis maximum at or above `v`: 1, 2 or 5 × 10^k.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * p)
}

/// Horizontal stacked bars of every scenario's P95 split, with its target marked.
pub fn split_bars(scenarios: &[ScenarioAnalysis]) -> String {
    let (label_w, chart_w, row_h) = (270.0, 560.0, 22.0);
    // Every bar and every target fits: the axis covers each split's total
    // and each target, so no bar is drawn shorter than its number and no
    // target mark is left out.
    let max = scenarios
        .iter()
        .map(|s| {
            let total = s.p95_split.map_or(0.0, |p| p.total_ms);
            s.stats.p95_ms.max(total).max(s.target_ms)
        })
        .fold(0.0, f64::max);
    let max = nice_max(max);
    let h = 40.0 + row_h * scenarios.len() as f64;
    let mut out = String::new();
    open(
        &mut out,
        "split-bars",
        label_w + chart_w + 20.0,
        h,
        "P95 split per scenario (ms)",
    );
    let x = |v: f64| label_w + (v / max).min(1.0) * chart_w;
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"10\" y2=\"{1:.1}\" stroke=\"#ddd\"/>",
            x(v),
            h - 20.0
        );
        text(
            &mut out,
            x(v),
            h - 6.0,
            "middle",
            &format!("{} ms", fmt_ms(v)),
        );
    }
    for (i, s) in scenarios.iter().enumerate() {
        let y = 12.0 + row_h * i as f64;
        text(&mut out, label_w - 8.0, y + 14.0, "end", &s.scenario);
        match &s.p95_split {
            Some(p) => {
                let mut acc = 0.0;
                for (k, (name, v)) in p.components().iter().enumerate() {
                    let tip = format!(
                        "{}: {name} {} ms of {} ms",
                        s.scenario,
                        fmt_ms(*v),
                        fmt_ms(p.total_ms)
                    );
                    rect(
                        &mut out,
                        x(acc),
                        y,
                        x(acc + v) - x(acc),
                        row_h - 6.0,
                        COLORS[k],
                        &tip,
                    );
                    acc += v;
                }
            }
            None => text(
                &mut out,
                label_w + 4.0,
                y + 14.0,
                "start",
                if s.not_measured.is_some() {
                    "not measured"
                } else if s.stats.count == 0 {
                    "n/a: no request measured"
                } else {
                    "no server spans"
                },
            ),
        }
        if s.target_ms <= max {
            let _ = write!(
                out,
                "<line class=\"target\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"#222\" stroke-width=\"2\"><title>target {3} ms</title></line>",
                x(s.target_ms),
                y - 2.0,
                y + row_h - 4.0,
                fmt_ms(s.target_ms)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// The CDF of client latency on a log-scale time axis, P95 and target marked.
pub fn cdf(s: &ScenarioAnalysis) -> String {
    let (w, h, left, bottom) = (420.0, 200.0, 44.0, 30.0);
    let mut out = String::new();
    open(
        &mut out,
        "cdf",
        w,
        h,
        &format!("{}: latency distribution (CDF, log scale)", s.scenario),
    );
    let d = &s.distribution_ms;
    let positive: Vec<f64> = d.iter().copied().filter(|v| *v > 0.0).collect();
    let (Some(lo), Some(hi)) = (positive.first(), positive.last()) else {
        text(&mut out, w / 2.0, h / 2.0, "middle", "no requests");
        out.push_str("</svg>");
        return out;
    };
    let lo = 10f64.powf(lo.log10().floor());
    // The log axis covers the slowest request and the target.
    let hi = nice_max(hi.max(s.target_ms) * 1.05);
    let x = |v: f64| {
        left + (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()) * (w - left - 10.0)
    };
    let y = |q: f64| 10.0 + (1.0 - q) * (h - bottom - 10.0);
    let mut decade = lo;
    while decade <= hi * 1.0001 {
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"10\" y2=\"{1:.1}\" stroke=\"#ddd\"/>",
            x(decade),
            h - bottom
        );
        text(
            &mut out,
            x(decade),
            h - bottom + 16.0,
            "middle",
            &format!("{} ms", fmt_ms(decade)),
        );
        decade *= 10.0;
    }
    for q in [0.0, 0.5, 0.95, 1.0] {
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#eee\"/>",
            w - 10.0,
            y(q)
        );
        text(
            &mut out,
            left - 4.0,
            y(q) + 4.0,
            "end",
            &format!("{:.0}%", q * 100.0),
        );
    }
    let points: Vec<String> = d
        .iter()
        .enumerate()
        .map(|(p, v)| format!("{:.1},{:.1}", x(*v), y(p as f64 / 100.0)))
        .collect();
    let _ = write!(
        out,
        "<polyline class=\"cdf-line\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
        COLORS[0],
        points.join(" ")
    );
    let mark = |out: &mut String, v: f64, color: &str, label: &str| {
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"10\" y2=\"{1:.1}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/>",
            x(v),
            h - bottom
        );
        text(out, x(v) + 3.0, 22.0, "start", label);
    };
    mark(
        &mut out,
        s.stats.p95_ms,
        COLORS[2],
        &format!("P95 {} ms", fmt_ms(s.stats.p95_ms)),
    );
    if s.target_ms <= hi {
        mark(
            &mut out,
            s.target_ms,
            "#222",
            &format!("target {}", fmt_ms(s.target_ms)),
        );
    }
    out.push_str("</svg>");
    out
}

fn category_color(category: &str) -> &'static str {
    match category {
        "cascade" => COLORS[2],
        "db" => COLORS[3],
        "server" | "internal" => COLORS[1],
        _ => COLORS[0],
    }
}

/// The exemplar's spans on the client's timeline.
pub fn waterfall(ex: &Exemplar) -> String {
    let (label_w, chart_w, row_h) = (300.0, 480.0, 20.0);
    let end = ex
        .spans
        .iter()
        .map(|s| s.offset_ms + s.duration_ms)
        .fold(0.0, f64::max);
    let end = if end > 0.0 { end } else { 1.0 };
    let h = 30.0 + row_h * ex.spans.len() as f64;
    let mut out = String::new();
    open(
        &mut out,
        "waterfall",
        label_w + chart_w + 70.0,
        h,
        &format!("trace {}", ex.request.trace_id),
    );
    let x = |v: f64| label_w + v / end * chart_w;
    for (i, s) in ex.spans.iter().enumerate() {
        let y = 6.0 + row_h * i as f64;
        let label = format!(
            "{}{}",
            "\u{a0}\u{a0}".repeat(s.depth as usize),
            crate::waterfall::one_line(&s.name, 40)
        );
        text(&mut out, 4.0, y + 13.0, "start", &label);
        let tip = match &s.statement {
            Some(q) => format!(
                "{} · {} ms at +{} ms · {q}",
                s.name,
                fmt_ms(s.duration_ms),
                fmt_ms(s.offset_ms)
            ),
            None => format!(
                "{} · {} ms at +{} ms",
                s.name,
                fmt_ms(s.duration_ms),
                fmt_ms(s.offset_ms)
            ),
        };
        let width = (x(s.offset_ms + s.duration_ms) - x(s.offset_ms)).max(1.5);
        rect(
            &mut out,
            x(s.offset_ms),
            y + 2.0,
            width,
            row_h - 6.0,
            category_color(&s.category),
            &tip,
        );
        text(
            &mut out,
            x(s.offset_ms) + width + 4.0,
            y + 13.0,
            "start",
            &if s.critical && s.depth > 0 {
                format!(
                    "{} ms · critical path, {} ms its own",
                    fmt_ms(s.duration_ms),
                    fmt_ms(s.exclusive_ms)
                )
            } else {
                format!("{} ms", fmt_ms(s.duration_ms))
            },
        );
    }
    text(&mut out, label_w, h - 6.0, "start", "0 ms");
    text(
        &mut out,
        label_w + chart_w,
        h - 6.0,
        "end",
        &format!("{} ms", fmt_ms(end)),
    );
    out.push_str("</svg>");
    out
}

/// Each component (and the P95) against the listing count, one line each.
pub fn sweep(sw: &CascadeSweep) -> String {
    let (w, h, left, bottom) = (620.0, 260.0, 56.0, 34.0);
    let mut out = String::new();
    open(
        &mut out,
        "sweep",
        w,
        h,
        "cascade sweep: P95 split against listings",
    );
    let n = sw.points.len();
    let max = nice_max(sw.points.iter().map(|p| p.p95_ms).fold(0.0, f64::max));
    // Evenly spaced listing counts: sweeps are usually powers of ten.
    let x = |i: usize| {
        left + 20.0
            + if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.5
            } * (w - left - 140.0)
    };
    let y = |v: f64| 10.0 + (1.0 - v / max) * (h - bottom - 10.0);
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#eee\"/>",
            w - 110.0,
            y(v)
        );
        text(
            &mut out,
            left - 4.0,
            y(v) + 4.0,
            "end",
            &format!("{} ms", fmt_ms(v)),
        );
    }
    for (i, p) in sw.points.iter().enumerate() {
        text(
            &mut out,
            x(i),
            h - bottom + 18.0,
            "middle",
            &p.listings.to_string(),
        );
    }
    text(
        &mut out,
        (left + w - 110.0) / 2.0,
        h - 4.0,
        "middle",
        "listings using the CPU",
    );
    let mut series: Vec<(&str, &str, Vec<f64>)> =
        vec![("P95", "#222", sw.points.iter().map(|p| p.p95_ms).collect())];
    for k in 0..NAMES.len() {
        let values = sw
            .points
            .iter()
            .map(|p| p.split.map(|s| s.components()[k].1).unwrap_or(0.0))
            .collect();
        series.push((NAMES[k], COLORS[k], values));
    }
    for (j, (name, color, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"sweep-line\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"><title>{name}</title></polyline>",
            pts.join(" ")
        );
        for (i, v) in values.iter().enumerate() {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{name}: {} ms at {} listings</title></circle>",
                x(i),
                y(*v),
                fmt_ms(*v),
                sw.points[i].listings
            );
        }
        rect(
            &mut out,
            w - 100.0,
            14.0 + 18.0 * j as f64,
            12.0,
            12.0,
            color,
            name,
        );
        text(&mut out, w - 82.0, 24.0 + 18.0 * j as f64, "start", name);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.2), 5.0);
        assert_eq!(nice_max(812.0), 1000.0);
        assert_eq!(nice_max(1000.0), 1000.0);
        assert_eq!(nice_max(12.0), 20.0);
    }
}
