//! The HTML split chart draws every bar as long as its number: the bar
//! widths read back from the SVG, through the axis, give the split.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::analysis;
use tracesplit_report::{Exporter, HtmlExporter};

/// The numeric attribute `name="…"` of an SVG element's text.
fn attr(element: &str, name: &str) -> f64 {
    let key = format!("{name}=\"");
    let at = if element.starts_with(&key) {
        0
    } else {
        element.find(&format!(" {key}")).unwrap() + 1
    };
    let start = at + key.len();
    let end = element[start..].find('"').unwrap() + start;
    element[start..end].parse().unwrap()
}

#[test]
fn every_split_bar_is_drawn_to_its_number() {
    let mut a = analysis();
    // A split far longer than the others, its target and even the P95 beside
    // it (splits from older analyses averaged past the P95): the case that
    // was once clipped at the axis end.
    let big = a
        .scenarios
        .iter_mut()
        .find(|s| s.scenario == "GPU_PATCH_SINGLE_FIELD")
        .unwrap();
    let split = big.p95_split.as_mut().unwrap();
    split.handler_ms += 2400.0;
    split.total_ms += 2400.0;
    let html = String::from_utf8(HtmlExporter.render(&a).unwrap()).unwrap();
    let chart = &html[html.find("<svg class=\"split-bars\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    // The axis: the first gridline is 0 ms, the last the axis maximum.
    let lines: Vec<&str> = chart
        .split("<line ")
        .skip(1)
        .filter(|l| l.contains("stroke=\"#ddd\""))
        .collect();
    let (x0, x1) = (attr(lines[0], "x1"), attr(lines[lines.len() - 1], "x1"));
    let labels: Vec<&str> = chart
        .split("text-anchor=\"middle\">")
        .skip(1)
        .map(|t| &t[..t.find(" ms<").unwrap()])
        .collect();
    let max: f64 = labels.last().unwrap().parse().unwrap();
    let ms_per_px = max / (x1 - x0);
    let mut checked = 0;
    for s in a.scenarios.iter().filter(|s| s.p95_split.is_some()) {
        let p = s.p95_split.unwrap();
        let rects: Vec<&str> = chart
            .split("<rect ")
            .skip(1)
            .filter(|r| r.contains(&format!("<title>{}: ", s.scenario)))
            .collect();
        assert_eq!(rects.len(), p.components().len(), "{}", s.scenario);
        let drawn: f64 = rects.iter().map(|r| attr(r, "width")).sum::<f64>() * ms_per_px;
        // Widths are written with one decimal: 0.05 px each.
        let tolerance = rects.len() as f64 * 0.05 * ms_per_px;
        assert!(
            (drawn - p.total_ms).abs() <= tolerance,
            "{}: drawn {drawn:.2} ms, split {:.2} ms",
            s.scenario,
            p.total_ms
        );
        for (r, (_, v)) in rects.iter().zip(p.components()) {
            assert!((attr(r, "width") * ms_per_px - v).abs() <= 0.05 * ms_per_px + 1e-9);
        }
        checked += 1;
    }
    assert!(checked >= 6);
}

/// The split chart's axis: (x of 0 ms, x of the maximum, the maximum in ms).
fn axis(chart: &str) -> (f64, f64, f64) {
    let lines: Vec<&str> = chart
        .split("<line ")
        .skip(1)
        .filter(|l| l.contains("stroke=\"#ddd\""))
        .collect();
    let labels: Vec<&str> = chart
        .split("text-anchor=\"middle\">")
        .skip(1)
        .map(|t| &t[..t.find(" ms<").unwrap()])
        .collect();
    (
        attr(lines[0], "x1"),
        attr(lines[lines.len() - 1], "x1"),
        labels.last().unwrap().parse().unwrap(),
    )
}

#[test]
fn every_target_is_marked_where_it_lies_on_the_axis() {
    let mut a = analysis();
    // Bars far below their targets: the case whose 200 ms marks were once
    // left out of a chart that stopped at 100 ms.
    for s in &mut a.scenarios {
        if let Some(p) = s.p95_split.as_mut() {
            let f = 8.0 / p.total_ms.max(1e-9);
            for v in [
                &mut p.network_ms,
                &mut p.queue_ms,
                &mut p.handler_ms,
                &mut p.cascade_ms,
                &mut p.db_other_ms,
            ] {
                *v *= f;
            }
            p.total_ms = 8.0;
        }
        s.stats.p95_ms = 8.0;
    }
    a.scenarios[0].target_ms = 200.0;
    let html = String::from_utf8(HtmlExporter.render(&a).unwrap()).unwrap();
    let chart = &html[html.find("<svg class=\"split-bars\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let (x0, x1, max) = axis(chart);
    let marks: Vec<f64> = chart
        .split("<line class=\"target\" ")
        .skip(1)
        .map(|l| attr(l, "x1"))
        .collect();
    let targets: Vec<f64> = a.scenarios.iter().map(|s| s.target_ms).collect();
    assert_eq!(
        marks.len(),
        targets.len(),
        "every scenario's target is marked"
    );
    assert!(max >= 200.0, "the axis reaches the 200 ms target: {max}");
    for (x, target) in marks.iter().zip(&targets) {
        let at = (x - x0) / (x1 - x0) * max;
        assert!(
            (at - target).abs() <= 0.1 * max / (x1 - x0) + 1e-9,
            "mark at {at} ms for a {target} ms target"
        );
    }
}
