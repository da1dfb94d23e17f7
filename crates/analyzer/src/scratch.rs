//! The analysis's scratch directory and its phase timer.

use crate::error::AnalyzeError;
use std::path::PathBuf;

/// A scratch directory (OTLP JSON converted to a segment) removed when the analysis ends.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new() -> Result<Self, AnalyzeError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("tracesplit-analyze-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| AnalyzeError::Input(format!("{}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Phase timings on stderr when `TRACESPLIT_TIMING` is set (for the benchmark).
pub(crate) struct Timer(Option<std::cell::Cell<std::time::Instant>>);

impl Timer {
    pub(crate) fn new() -> Self {
        Self(
            std::env::var_os("TRACESPLIT_TIMING")
                .map(|_| std::cell::Cell::new(std::time::Instant::now())),
        )
    }

    pub(crate) fn mark(&self, what: &str) {
        if let Some(t) = &self.0 {
            eprintln!(
                "  {what}: {:.3} s{}",
                t.get().elapsed().as_secs_f64(),
                memory()
            );
            t.set(std::time::Instant::now());
        }
    }
}

/// `, RSS now N MiB, peak M MiB` from /proc/self/status (Linux), else nothing.
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let mib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    format!(
        ", RSS now {} MiB, peak {} MiB",
        mib("VmRSS:"),
        mib("VmHWM:")
    )
}
