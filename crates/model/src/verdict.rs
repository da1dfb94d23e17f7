//! The verdict rule, written once: a scenario passes when it has measured
//! requests, none failed, its P95 is within target and — in the open model —
//! so is its P95 corrected for coordinated omission.

use crate::stats::fmt_ms as ms;

/// What one scenario's numbers say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerdictInput<'a> {
    /// Requests measured (an expected status).
    pub measured: u64,
    /// Requests that failed (no answer, or an unexpected status).
    pub failed: u64,
    /// Nearest-rank P95 of the measured requests (ms).
    pub p95_ms: f64,
    /// The P95 measured from the intended starts (open model only).
    pub p95_corrected_ms: Option<f64>,
    /// The P95 target (ms).
    pub target_ms: f64,
    /// Why the scenario was not measured, when it was not (setup failed, API down, …).
    pub not_measured: Option<&'a str>,
}

/// Pass or fail, and why, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The scenario met its target.
    pub passed: bool,
    /// Why (the first reason that decides it).
    pub reason: String,
}

/// Applies the rule.
pub fn verdict(v: VerdictInput<'_>) -> Verdict {
    let fail = |reason: String| Verdict {
        passed: false,
        reason,
    };
    let target = ms(v.target_ms);
    if let Some(why) = v.not_measured {
        return fail(format!("not measured: {why}"));
    }
    if v.measured == 0 {
        return fail(match v.failed {
            0 => "no request was measured".into(),
            n => format!("all {n} requests failed"),
        });
    }
    if v.failed > 0 {
        return fail(format!(
            "{} of {} requests failed",
            v.failed,
            v.failed + v.measured
        ));
    }
    if v.p95_ms > v.target_ms {
        return fail(format!(
            "P95 {} ms misses the {target} ms target",
            ms(v.p95_ms)
        ));
    }
    if let Some(c) = v.p95_corrected_ms.filter(|c| *c > v.target_ms) {
        return fail(format!(
            "P95 corrected for coordinated omission {} ms misses the {target} ms target (uncorrected {} ms: requests started late because the API could not keep up with the rate)",
            ms(c),
            ms(v.p95_ms)
        ));
    }
    Verdict {
        passed: true,
        reason: match v.p95_corrected_ms {
            Some(c) => format!(
                "P95 {} ms (corrected {} ms) within the {target} ms target",
                ms(v.p95_ms),
                ms(c)
            ),
            None => format!("P95 {} ms within the {target} ms target", ms(v.p95_ms)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> VerdictInput<'static> {
        VerdictInput {
            measured: 20,
            failed: 0,
            p95_ms: 300.0,
            p95_corrected_ms: None,
            target_ms: 500.0,
            not_measured: None,
        }
    }

    #[test]
    fn every_rule_decides() {
        assert!(verdict(input()).passed);
        let late = verdict(VerdictInput {
            p95_corrected_ms: Some(5963.6),
            ..input()
        });
        assert!(!late.passed);
        assert!(
            late.reason
                .contains("corrected for coordinated omission 5964 ms"),
            "{}",
            late.reason
        );
        assert!(
            verdict(VerdictInput {
                p95_corrected_ms: Some(400.0),
                ..input()
            })
            .passed
        );
        assert!(
            !verdict(VerdictInput {
                p95_ms: 500.1,
                ..input()
            })
            .passed
        );
        assert!(
            verdict(VerdictInput {
                p95_ms: 500.0,
                ..input()
            })
            .passed,
            "within means ≤"
        );
        let failed = verdict(VerdictInput {
            failed: 1,
            ..input()
        });
        assert_eq!(failed.reason, "1 of 21 requests failed");
        let none = verdict(VerdictInput {
            measured: 0,
            failed: 3,
            ..input()
        });
        assert_eq!(
            (none.passed, none.reason.as_str()),
            (false, "all 3 requests failed")
        );
        let skipped = verdict(VerdictInput {
            measured: 0,
            not_measured: Some("setup failed: 500"),
            ..input()
        });
        assert_eq!(skipped.reason, "not measured: setup failed: 500");
    }
}
