//! The HTML report in real headless Chromium (Debian's `chromium`, installed by
//! scripts/test.sh): it loads without a console error, the charts are in the
//! rendered DOM, and a screenshot shows them (the cascade colour is on screen).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use tracesplit_report::{Exporter, HtmlExporter};

fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("TRACESPLIT_CHROMIUM") {
        return p.into();
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "Chromium is missing: scripts/test.sh installs Debian's chromium (or set TRACESPLIT_CHROMIUM)"
    );
}

/// Runs headless Chromium on a file; returns (stdout, stderr).
fn headless(profile: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            // Nothing may be fetched: every host resolves to nowhere.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Console messages Chromium logged (`…:CONSOLE(line)] "message", source: …`).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn the_html_report_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let html = HtmlExporter.render(&crate::support::analysis()).unwrap();
    std::fs::write(&page, &html).unwrap();
    let text = String::from_utf8(html).unwrap();
    for forbidden in ["<script", "<link", " src=", "url("] {
        assert!(
            !text.contains(forbidden),
            "the report must be self-contained: found {forbidden}"
        );
    }

    // The control: a page that logs an error is caught by the same check.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><script>console.error('control error')</script><p>x</p>",
    )
    .unwrap();
    let (_, stderr) = headless(&dir.path().join("p0"), &bad, &["--dump-dom"]);
    assert!(
        console_lines(&stderr)
            .iter()
            .any(|l| l.contains("control error")),
        "the console check sees nothing; chromium printed:\n{stderr}"
    );

    let (dom, stderr) = headless(&dir.path().join("p1"), &page, &["--dump-dom"]);
    assert!(
        console_lines(&stderr).is_empty(),
        "console output:\n{stderr}"
    );
    for class in ["split-bars", "cdf", "waterfall", "sweep"] {
        assert!(
            dom.contains(&format!("<svg class=\"{class}\"")),
            "no {class} chart in the DOM"
        );
    }
    // Every measured scenario has a CDF; stacked bars carry one rect per component of each split scenario.
    let a = crate::support::analysis();
    let measured = a
        .scenarios
        .iter()
        .filter(|s| s.not_measured.is_none())
        .count();
    assert_eq!(dom.matches("<svg class=\"cdf\"").count(), measured);
    let bars = dom
        .split("<svg class=\"split-bars\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    let rects: usize = a
        .scenarios
        .iter()
        .filter_map(|s| s.p95_split.map(|p| p.components().len()))
        .sum();
    assert_eq!(bars.matches("<rect").count(), rects);

    let shot = dir.path().join("shot.png");
    let (_, stderr) = headless(
        &dir.path().join("p2"),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600",
        ],
    );
    assert!(shot.exists(), "no screenshot; chromium printed:\n{stderr}");
    let (non_white, cascade_red) = pixels(&shot);
    assert!(
        non_white > 0.02,
        "the screenshot is blank ({:.3} % non-white)",
        non_white * 100.0
    );
    assert!(
        cascade_red > 500,
        "the cascade colour is not on screen ({cascade_red} pixels)"
    );
}

/// (share of non-white pixels, pixels of the cascade colour #e15759).
fn pixels(path: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    assert!(
        step >= 3,
        "unexpected PNG colour type {:?}",
        info.color_type
    );
    let (mut non_white, mut red, mut total) = (0usize, 0usize, 0usize);
    for px in bytes.chunks(step) {
        total += 1;
        if px[0] < 245 || px[1] < 245 || px[2] < 245 {
            non_white += 1;
        }
        if px[0].abs_diff(0xe1) < 6 && px[1].abs_diff(0x57) < 6 && px[2].abs_diff(0x59) < 6 {
            red += 1;
        }
    }
    (non_white as f64 / total.max(1) as f64, red)
}
