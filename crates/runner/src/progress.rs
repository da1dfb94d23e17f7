//! Progress: indicatif bars when stderr is a terminal, plain lines otherwise
//! (CI logs stay readable and grep-able).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Where progress goes.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    quiet: bool,
}

/// One bar (or its plain-text stand-in).
#[derive(Clone)]
pub struct Bar {
    bar: Option<ProgressBar>,
    label: Arc<str>,
    total: u64,
    done: Arc<AtomicU64>,
    quarter_printed: Arc<AtomicU64>,
    quiet: bool,
    /// Show the rate and the time left (fixture setup: minutes on a slow API).
    eta: bool,
    started: Instant,
    /// Plain mode: when the last live line was printed (ms since `started`).
    last_plain: Arc<AtomicU64>,
}

/// Plain mode prints a scenario's live line this often.
const PLAIN_EVERY_MS: u64 = 10_000;

impl Progress {
    /// Bars when stderr is a terminal (unless `quiet`); plain lines otherwise.
    pub fn new(quiet: bool) -> Self {
        let multi = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { multi, quiet }
    }

    /// No output at all (tests, libraries).
    pub fn silent() -> Self {
        Self {
            multi: None,
            quiet: true,
        }
    }

    /// A line above the bars.
    pub fn line(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None if !self.quiet => eprintln!("{text}"),
            None => {}
        }
    }

    /// A bar of `total` steps (0: unknown length).
    pub fn bar(&self, label: &str, total: u64) -> Bar {
        self.make_bar(label, total, false)
    }

    /// A fixture-setup bar: also shows the creation rate and the time left.
    pub fn setup_bar(&self, label: &str, total: u64) -> Bar {
        self.make_bar(label, total, true)
    }

    fn make_bar(&self, label: &str, total: u64, eta: bool) -> Bar {
        let template = if eta {
            "{prefix:>34} [{bar:30}] {pos}/{len} {per_sec:.1} ETA {eta} {msg}"
        } else {
            "{prefix:>34} [{bar:30}] {pos}/{len} {msg}"
        };
        let bar = self.multi.as_ref().map(|m| {
            let pb = if total > 0 {
                ProgressBar::new(total)
            } else {
                ProgressBar::new_spinner()
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            pb.set_style(style);
            pb.set_prefix(label.to_owned());
            m.add(pb)
        });
        Bar {
            bar,
            label: label.into(),
            total,
            done: Arc::new(AtomicU64::new(0)),
            quarter_printed: Arc::new(AtomicU64::new(0)),
            quiet: self.quiet,
            eta,
            started: Instant::now(),
            last_plain: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Bar {
    /// One more step done; `msg` (e.g. live percentiles) shown beside the bar.
    pub fn inc(&self, msg: Option<String>) {
        let done = self.done.fetch_add(1, Relaxed) + 1;
        match &self.bar {
            Some(b) => {
                b.inc(1);
                if let Some(m) = msg {
                    b.set_message(m);
                }
            }
            None if !self.quiet && msg.is_some() => {
                // Plain mode: the live line, at most every PLAIN_EVERY (the
                // caller asked `wants_message` first).
                let now = self.started.elapsed().as_millis() as u64;
                let last = self.last_plain.load(Relaxed);
                if now >= last + PLAIN_EVERY_MS
                    && self
                        .last_plain
                        .compare_exchange(last, now, Relaxed, Relaxed)
                        .is_ok()
                {
                    let of = if self.total > 0 {
                        format!("/{}", self.total)
                    } else {
                        String::new()
                    };
                    eprintln!("  {}: {done}{of}  {}", self.label, msg.unwrap_or_default());
                }
            }
            None if !self.quiet && self.total >= 100 => {
                // Plain mode: one line per quarter of a long task.
                let quarter = done * 4 / self.total;
                if quarter > self.quarter_printed.load(Relaxed)
                    && self.quarter_printed.fetch_max(quarter, Relaxed) < quarter
                {
                    eprintln!(
                        "  {}: {done}/{}{}",
                        self.label,
                        self.total,
                        self.rate_eta(done)
                    );
                }
            }
            None => {}
        }
    }

    /// `(41.2/s, 18 s left)` for setup bars, empty otherwise.
    fn rate_eta(&self, done: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        if !self.eta || secs <= 0.0 || done == 0 {
            return String::new();
        }
        let rate = done as f64 / secs;
        let left = self.total.saturating_sub(done) as f64 / rate;
        format!(" ({rate:.1}/s, {left:.0} s left)")
    }

    /// Whether a terminal bar is drawn.
    pub fn visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Whether `inc` would show a message now: always beside a drawn bar; in
    /// plain mode once every 10 s (a live line in a CI log, not one per request).
    pub fn wants_message(&self) -> bool {
        if self.bar.is_some() {
            return true;
        }
        if self.quiet {
            return false;
        }
        let now = self.started.elapsed().as_millis() as u64;
        now >= self.last_plain.load(Relaxed) + PLAIN_EVERY_MS
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
