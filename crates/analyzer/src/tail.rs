//! Explain the tail: what a scenario's slow requests (at or above its P95)
//! have that its baseline (at or below its P50) does not — span shapes by the
//! exclusive time they add, and whether the slow requests bunch in time.

use crate::compare::mann_whitney_p;
use crate::intervals::union_clipped;
use crate::split::{RequestSplit, SpanColumns};
use crate::table::RequestTable;
use crate::waterfall::SpanText;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use tracesplit_model::stats::{ms, rank_of};
use tracesplit_model::tail::{PROFILE_SHAPES, ShapeDelta, ShapeMean, TailExplanation, TimeCluster};

/// The fewest slow requests compared. Five at or above the P95 means about
/// 100 requests in all: below that the "slow set" is one or two requests,
/// and any span that happened to be slower in them would look like a cause.
pub const MIN_SLOW: usize = 5;
/// The fewest baseline requests compared.
pub const MIN_BASELINE: usize = 10;
/// Each set is sampled evenly by rank down to this many requests (the detail
/// they need — every span's name and statement — is read for these only).
pub const SAMPLE: usize = 400;
/// Shapes shown, most added time first.
const SHOWN: usize = 5;
/// A shape difference is reported below this p-value only.
const SHAPE_ALPHA: f64 = 0.01;

fn sample(rows: &[usize]) -> Vec<usize> {
    if rows.len() <= SAMPLE {
        return rows.to_vec();
    }
    (0..SAMPLE).map(|k| rows[k * rows.len() / SAMPLE]).collect()
}

/// A scenario's slow and baseline rows, or why it has none.
pub type TailSets = Result<(Vec<usize>, Vec<usize>), TooFew>;

/// Too few requests to compare a slow set with a baseline: the sentence says how many.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TooFew(String);

/// The slow and baseline rows among `matched_sorted` (matched requests by
/// total, ascending), sampled; or why there are too few.
pub fn sets(matched_sorted: &[usize]) -> TailSets {
    let n = matched_sorted.len();
    let slow = n.saturating_sub(rank_of(n, 95.0).saturating_sub(1));
    if slow < MIN_SLOW || rank_of(n, 50.0) < MIN_BASELINE {
        return Err(TooFew(format!(
            "{n} requests with server spans, {slow} at or above the P95: a fair comparison needs at least {MIN_SLOW} slow requests (about 100 in all)"
        )));
    }
    Ok((
        sample(&matched_sorted[n - slow..]),
        sample(&matched_sorted[..rank_of(n, 50.0)]),
    ))
}

static LITERALS: LazyLock<[(regex::Regex, &str); 5]> = LazyLock::new(|| {
    let re = |r: &str| regex::Regex::new(r).unwrap_or_else(|_| unreachable!("a fixed regex"));
    [
        (re(r"'(?:[^']|'')*'"), "?"),
        (re(r"\$\d+|:\w+\b|%s"), "?"),
        (re(r"\b\d+(?:\.\d+)?\b"), "?"),
        (re(r"\(\s*\?(?:\s*,\s*\?)*\s*\)"), "(...)"),
        (re(r"\s+"), " "),
    ]
});

/// A statement with its literals, parameters and parameter lists normalised
/// (as pg_stat_statements groups statements): `WHERE id IN (1, 2, 3)` and
/// `WHERE id IN ($1)` are both `WHERE id IN (...)`.
pub fn fingerprint(statement: &str) -> String {
    let mut s = statement.trim().to_owned();
    for (re, with) in LITERALS.iter() {
        s = re.replace_all(&s, *with).into_owned();
    }
    s
}

/// The spans of `entry`'s subtree (itself included) with their exclusive
/// time: their own length minus the union of their children's.
pub fn exclusive_times(
    s: &SpanColumns,
    children: &HashMap<usize, Vec<usize>>,
    entry: usize,
) -> Vec<(usize, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![entry];
    while let Some(i) = stack.pop() {
        let kids = children.get(&i).map(Vec::as_slice).unwrap_or_default();
        let mut intervals: Vec<(i64, i64)> = kids.iter().map(|&k| (s.start[k], s.end[k])).collect();
        let covered = union_clipped(&mut intervals, s.start[i], s.end[i]);
        out.push((i, ((s.end[i] - s.start[i]).max(0) - covered).max(0)));
        // Depth bound: a parent cycle in malformed data must not loop.
        if out.len() < 100_000 {
            stack.extend(kids.iter().copied());
        }
    }
    out
}

/// Per request: shape → (calls, exclusive ns, db).
type Shapes = BTreeMap<String, (u32, i64, bool)>;

fn shapes_of(s: &SpanColumns, text: &SpanText<'_>, split: &RequestSplit) -> Option<Shapes> {
    let entry = split.server_span?.index() as usize;
    let group = s.group_of(entry)?;
    let children = s.children(group);
    // A statement spanned twice is one call: a copy beside its twin adds
    // nothing; a copy inside it adds its time (the outer span's exclusive
    // time lacks it) but no call.
    let parent = s.local_parents(group);
    let marks = crate::dedup::duplicates(s, group.0, &parent);
    // An outbound HTTP call wrapped twice (requests around urllib3: a CLIENT
    // span of one name inside another) is one call too.
    let wrapped_call = |i: usize| {
        let (name, kind) = (text.name(i as u32), text.kind(i as u32));
        !s.is_db[i]
            && kind == "CLIENT"
            && parent[i - group.0].is_some_and(|p| {
                let p = (group.0 + p) as u32;
                text.kind(p) == kind && text.name(p) == name
            })
    };
    let mut out = Shapes::new();
    for (i, excl) in exclusive_times(s, &children, entry) {
        let mark = if wrapped_call(i) {
            crate::dedup::NESTED
        } else {
            marks
                .get(i - group.0)
                .copied()
                .unwrap_or(crate::dedup::KEPT)
        };
        if mark == crate::dedup::SIBLING {
            continue;
        }
        let statement = s.is_db[i].then(|| text.statement(i as u32)).flatten();
        let shape = match statement {
            Some(st) => fingerprint(&st),
            None => text.name(i as u32),
        };
        let e = out.entry(shape).or_insert((0, 0, s.is_db[i]));
        e.0 += u32::from(mark == crate::dedup::KEPT);
        e.1 += excl;
    }
    Some(out)
}

/// What the tail explanation needs of one scenario.
pub struct TailInput<'a> {
    /// The requests.
    pub table: &'a RequestTable,
    /// Every request's split (span indices into `columns` for the sets).
    pub splits: &'a [RequestSplit],
    /// The spans of the sets' traces.
    pub columns: &'a SpanColumns,
    /// Their names and statements.
    pub text: &'a SpanText<'a>,
    /// Slow and baseline rows, or why there are none.
    pub sets: &'a TailSets,
    /// Expected requests, slowest first (for the clustering).
    pub slowest: &'a [usize],
}

/// The explanation of one scenario's tail.
pub fn explain(x: &TailInput<'_>) -> TailExplanation {
    let mean = |rows: &[usize]| {
        rows.iter().map(|&r| ms(x.table.duration[r])).sum::<f64>() / rows.len().max(1) as f64
    };
    let clustering = clustering(x.table, x.slowest);
    let (slow, base) = match x.sets {
        Ok(sets) => sets,
        Err(why) => {
            return TailExplanation {
                not_compared: Some(why.to_string()),
                clustering,
                ..Default::default()
            };
        }
    };
    let per = |rows: &[usize]| -> Vec<Shapes> {
        rows.iter()
            .filter_map(|&r| shapes_of(x.columns, x.text, &x.splits[r]))
            .collect()
    };
    let (slow_shapes, base_shapes) = (per(slow), per(base));
    let attributes = |rows: &[usize]| -> Vec<_> {
        rows.iter()
            .filter_map(|&r| crate::attributes::of_request(x.columns, x.text, &x.splits[r]))
            .collect()
    };
    TailExplanation {
        attributes: crate::attributes::ranked(&attributes(slow), &attributes(base)),
        slow: slow.len() as u64,
        baseline: base.len() as u64,
        slow_mean_ms: mean(slow),
        baseline_mean_ms: mean(base),
        not_compared: None,
        shapes: ranked(&slow_shapes, &base_shapes),
        clustering,
        slow_profile: profile(&slow_shapes),
    }
}

/// Each shape's mean calls and exclusive time over `set`, most time first
/// (ties by name, so the profile is the same from run to run).
fn profile(set: &[Shapes]) -> Vec<ShapeMean> {
    let mut sums: BTreeMap<&str, (bool, u64, i64)> = BTreeMap::new();
    for s in set {
        for (k, &(calls, excl, db)) in s {
            let e = sums.entry(k).or_insert((db, 0, 0));
            e.1 += u64::from(calls);
            e.2 += excl;
        }
    }
    let n = set.len().max(1) as f64;
    let mut out: Vec<ShapeMean> = sums
        .into_iter()
        .map(|(k, (db, calls, excl))| ShapeMean {
            shape: k.to_owned(),
            db,
            calls: calls as f64 / n,
            ms: ms(excl) / n,
        })
        .collect();
    out.sort_by(|a, b| b.ms.total_cmp(&a.ms).then(a.shape.cmp(&b.shape)));
    out.truncate(PROFILE_SHAPES);
    out
}

/// Shapes by the time they add to a slow request, significant ones only.
fn ranked(slow: &[Shapes], base: &[Shapes]) -> Vec<ShapeDelta> {
    let mut names: BTreeMap<&str, bool> = BTreeMap::new();
    for s in slow.iter().chain(base) {
        for (k, v) in s {
            names.insert(k, v.2);
        }
    }
    let column = |set: &[Shapes], k: &str| -> (Vec<f64>, f64) {
        let times: Vec<f64> = set
            .iter()
            .map(|s| s.get(k).map_or(0.0, |v| ms(v.1)))
            .collect();
        let calls = set.iter().map(|s| s.get(k).map_or(0, |v| v.0)).sum::<u32>();
        (times, f64::from(calls) / set.len().max(1) as f64)
    };
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut out: Vec<ShapeDelta> = names
        .into_iter()
        .map(|(k, db)| {
            let ((st, sc), (bt, bc)) = (column(slow, k), column(base, k));
            ShapeDelta {
                shape: k.to_owned(),
                db,
                slow_calls: sc,
                baseline_calls: bc,
                slow_ms: avg(&st),
                baseline_ms: avg(&bt),
                added_ms: avg(&st) - avg(&bt),
                p_value: mann_whitney_p(&st, &bt),
                only_in_slow: bc == 0.0 && sc > 0.0,
            }
        })
        .filter(|d| d.added_ms > 0.0 && d.p_value < SHAPE_ALPHA)
        .collect();
    out.sort_by(|a, b| {
        b.added_ms
            .total_cmp(&a.added_ms)
            .then(a.shape.cmp(&b.shape))
    });
    out.truncate(SHOWN);
    out
}

/// ln(n!) for 0..=n.
pub(crate) fn ln_factorials(n: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    v.push(0.0);
    for i in 1..=n {
        acc += (i as f64).ln();
        v.push(acc);
    }
    v
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_tail(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if p <= 0.0 || k > n {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let lf = ln_factorials(n);
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    (k..=n)
        .map(|i| (lf[n] - lf[i] - lf[n - i] + i as f64 * lp + (n - i) as f64 * lq).exp())
        .sum::<f64>()
        .min(1.0)
}

/// The densest window (a tenth of the scenario's time) of its slow requests.
fn clustering(t: &RequestTable, slowest: &[usize]) -> Option<TimeCluster> {
    let n = slowest.len();
    let slow_n = n.saturating_sub(rank_of(n, 95.0).saturating_sub(1));
    if slow_n < MIN_SLOW {
        return None;
    }
    let mut all: Vec<i64> = slowest.iter().map(|&r| t.start[r]).collect();
    let mut slow: Vec<i64> = all[..slow_n].to_vec();
    all.sort_unstable();
    slow.sort_unstable();
    let (t0, t1) = (all[0], all[n - 1]);
    let width = (t1 - t0) / 10;
    if width <= 0 {
        return None;
    }
    let (mut best, mut from, mut j) = (0usize, t0, 0usize);
    for i in 0..slow.len() {
        while j < slow.len() && slow[j] <= slow[i] + width {
            j += 1;
        }
        if j - i > best {
            (best, from) = (j - i, slow[i]);
        }
    }
    let inside = all.partition_point(|&s| s <= from + width) - all.partition_point(|&s| s < from);
    let all_share = inside as f64 / n as f64;
    let slow_share = best as f64 / slow_n as f64;
    let p_value = binomial_tail(best, slow_n, all_share);
    let secs = |ns: i64| (ns - t0) as f64 / 1e9;
    Some(TimeCluster {
        from_s: secs(from),
        to_s: secs(from + width),
        slow_share,
        all_share,
        p_value,
        clustered: p_value < 0.001 && slow_share >= 2.0 * all_share && best >= MIN_SLOW,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_differ_in_literals_share_a_fingerprint() {
        let a = fingerprint("SELECT * FROM listing WHERE cpu_id = 42 AND title = 'x''y'");
        let b = fingerprint("SELECT *  FROM listing\n WHERE cpu_id = $1 AND title = $2");
        assert_eq!(a, b);
        assert_eq!(a, "SELECT * FROM listing WHERE cpu_id = ? AND title = ?");
        assert_eq!(
            fingerprint("DELETE FROM listing WHERE id IN (1, 2, 3)"),
            fingerprint("DELETE FROM listing WHERE id IN ($1)")
        );
        assert_eq!(
            fingerprint("SELECT count_1 FROM t2"),
            "SELECT count_1 FROM t2"
        );
    }

    #[test]
    fn the_binomial_tail_matches_known_values() {
        // scipy.stats.binom.sf(k - 1, n, p)
        assert!((binomial_tail(3, 10, 0.1) - 0.070_190_8).abs() < 1e-6);
        assert!((binomial_tail(8, 10, 0.1) - 3.736e-7).abs() < 1e-9);
        assert_eq!(binomial_tail(0, 10, 0.3), 1.0);
    }

    #[test]
    fn too_few_requests_are_not_compared() {
        let rows: Vec<usize> = (0..40).collect();
        assert!(
            sets(&rows)
                .unwrap_err()
                .to_string()
                .contains("at least 5 slow requests")
        );
        let rows: Vec<usize> = (0..200).collect();
        let (slow, base) = sets(&rows).unwrap();
        assert_eq!((slow.len(), base.len()), (11, 100));
        assert_eq!(slow[0], 189);
    }
}
