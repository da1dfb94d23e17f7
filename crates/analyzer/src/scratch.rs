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
        std::fs::create_dir_all(&dir).map_err(|e| AnalyzeError::file(&dir, e))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Phase timings on stderr when `TRACESPLIT_TIMING` is set (for the
/// benchmark): wall time, the process's CPU time (a phase whose CPU time is
/// not about the cores × its wall time left cores idle) and memory.
pub(crate) struct Timer(Option<std::cell::Cell<(std::time::Instant, f64)>>);

impl Timer {
    pub(crate) fn new() -> Self {
        Self(
            std::env::var_os("TRACESPLIT_TIMING")
                .map(|_| std::cell::Cell::new((std::time::Instant::now(), cpu_seconds()))),
        )
    }

    pub(crate) fn mark(&self, what: &str) {
        if let Some(t) = &self.0 {
            let (since, cpu) = t.get();
            let now = cpu_seconds();
            eprintln!(
                "  {what}: {:.3} s (cpu {:.2} s){}",
                since.elapsed().as_secs_f64(),
                now - cpu,
                memory()
            );
            t.set((std::time::Instant::now(), now));
        }
    }
}

/// User + system CPU time of the process so far, from /proc/self/stat
/// (Linux; in USER_HZ ticks, 100 a second); 0 elsewhere.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |stat| cpu_of_stat(&stat))
}

fn cpu_of_stat(stat: &str) -> f64 {
    // Fields after the command name (which may hold spaces) in parentheses;
    // utime and stime are the 14th and 15th fields, 12th and 13th after it.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    ticks.iter().sum::<u64>() as f64 / 100.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_user_plus_system_ticks_even_after_a_command_name_with_a_parenthesis() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
        let stat = "4242 (my (bench) x) R 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0";
        assert!((cpu_of_stat(stat) - 3.25).abs() < 1e-9);
        assert_eq!(cpu_of_stat("garbage"), 0.0);
        assert!(cpu_seconds() >= 0.0);
    }
}
