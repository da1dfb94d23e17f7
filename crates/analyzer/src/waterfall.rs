//! The P95 exemplar's span waterfall, placed on the client's timeline.
//!
//! With clocks the analysis found consistent (one host), the server span is
//! placed where it started; otherwise so that the time outside it splits
//! evenly before and after (the midpoint assumption, as Jaeger's skew
//! adjuster does). Its descendants keep their offsets relative to it.

use crate::load::{SpanTextMap, SpanTextRow};
use crate::split::{RequestSplit, SpanColumns};
use std::collections::{HashMap, HashSet};
use tracesplit_model::analysis::{CriticalStep, WaterfallSpan};
use tracesplit_model::stats::ms;

/// Names, kinds and statements of the few spans a report shows.
pub struct SpanText<'a> {
    map: &'a SpanTextMap,
    columns: &'a SpanColumns,
}

impl<'a> SpanText<'a> {
    /// Text fetched by [`crate::load::span_text`] for spans of `columns`.
    pub(crate) fn new(map: &'a SpanTextMap, columns: &'a SpanColumns) -> Self {
        Self { map, columns }
    }

    fn get(&self, i: u32) -> Option<&'a SpanTextRow> {
        self.map.get(self.columns.position.get(i as usize)?)
    }

    /// Name of span `i`.
    pub fn name(&self, i: u32) -> String {
        self.get(i).map(|t| t.name.clone()).unwrap_or_default()
    }

    /// Kind of span `i`.
    pub fn kind(&self, i: u32) -> String {
        self.get(i).map(|t| t.kind.clone()).unwrap_or_default()
    }

    /// Statement of span `i`.
    pub fn statement(&self, i: u32) -> Option<String> {
        self.get(i)
            .and_then(|t| t.statement.clone())
            .filter(|s| !s.trim().is_empty())
    }

    /// What to call DB span `i`: its statement, or, for a statement-less
    /// span (a driver's `connect`), its span name.
    pub fn statement_or_name(&self, i: u32) -> Option<String> {
        self.statement(i).or_else(|| {
            let name = self.name(i);
            (!name.trim().is_empty()).then_some(name)
        })
    }

    /// The types of the exceptions span `i` recorded.
    pub fn exceptions(&self, i: u32) -> &'a [String] {
        self.get(i).map_or(&[], |t| t.exceptions.as_slice())
    }

    /// Span `i`'s attributes and its resource's, as JSON objects (`{}` when unknown).
    pub fn attributes(&self, i: u32) -> (&'a str, &'a str) {
        self.get(i).map_or(("{}", "{}"), |t| {
            (t.attributes.as_str(), t.resource.as_str())
        })
    }
}

/// The waterfall of one matched request: client span, server span, its subtree (depth first).
pub fn waterfall(
    s: &SpanColumns,
    text: &SpanText<'_>,
    split: &RequestSplit,
    client_name: &str,
    variant: usize,
) -> Vec<WaterfallSpan> {
    let mut out = vec![WaterfallSpan {
        depth: 0,
        name: client_name.to_owned(),
        kind: "CLIENT".into(),
        offset_ms: 0.0,
        duration_ms: ms(split.total_ns),
        category: "client".into(),
        statement: None,
        critical: true,
        exclusive_ms: ms(split.total_ns - split.server_ns.min(split.total_ns)),
    }];
    let Some(server) = split.server_span.map(|i| i.index() as usize) else {
        return out;
    };
    let Some(group) = s.group_of(server) else {
        return out;
    };
    let children = s.children(group);
    let server_offset = split
        .before_ns
        .unwrap_or((split.total_ns - split.server_ns).max(0) / 2);
    let exclusive: HashMap<usize, i64> = crate::tail::exclusive_times(s, &children, server)
        .into_iter()
        .collect();
    let critical = critical_path(s, &children, server);
    let mut stack = vec![(server, 1u32, false)];
    while let Some((i, depth, cascade_above)) = stack.pop() {
        let cascade = s.is_db[i]
            && (s.statement_match[variant][i] || cascade_above || s.name_match[variant][i]);
        let category = if i == server {
            "server"
        } else if cascade {
            "cascade"
        } else if s.is_db[i] {
            "db"
        } else {
            "internal"
        };
        out.push(WaterfallSpan {
            depth,
            name: text.name(i as u32),
            kind: text.kind(i as u32),
            offset_ms: ms(server_offset + s.start[i] - s.start[server]),
            duration_ms: ms(s.end[i] - s.start[i]),
            category: category.into(),
            statement: if s.is_db[i] {
                text.statement(i as u32)
            } else {
                None
            },
            critical: critical.contains(&i),
            exclusive_ms: ms(exclusive.get(&i).copied().unwrap_or(0)),
        });
        let mut kids = children.get(&i).cloned().unwrap_or_default();
        kids.sort_by_key(|&c| std::cmp::Reverse((s.start[c], c)));
        let below = i != server && (cascade_above || s.name_match[variant][i]);
        stack.extend(kids.into_iter().map(|c| (c, depth + 1, below)));
        if out.len() > 200 {
            break;
        }
    }

    out
}

/// Steps shown of an outlier's critical path.
const MAX_STEPS: usize = 30;

/// The critical path of a request's server span tree in time order, each
/// span with its exclusive time (DB spans by statement fingerprint).
pub fn critical_steps(
    s: &SpanColumns,
    text: &SpanText<'_>,
    split: &RequestSplit,
) -> Vec<CriticalStep> {
    let Some(server) = split.server_span.map(|i| i.index() as usize) else {
        return Vec::new();
    };
    let Some(group) = s.group_of(server) else {
        return Vec::new();
    };
    let children = s.children(group);
    let exclusive: HashMap<usize, i64> = crate::tail::exclusive_times(s, &children, server)
        .into_iter()
        .collect();
    let mut on: Vec<usize> = critical_path(s, &children, server).into_iter().collect();
    on.sort_by_key(|&i| (s.start[i], i));
    on.into_iter()
        .take(MAX_STEPS)
        .map(|i| CriticalStep {
            name: match text.statement(i as u32).filter(|_| s.is_db[i]) {
                Some(st) => crate::tail::fingerprint(&st),
                None => text.name(i as u32),
            },
            db: s.is_db[i],
            exclusive_ms: ms(exclusive.get(&i).copied().unwrap_or(0)),
        })
        .collect()
}

/// The critical path below `entry` (itself included): walking back from the
/// span's end, the child that ended last before the cursor blocked it; the
/// cursor moves to that child's start, and so on, recursively. Children
/// running in parallel with a critical one are not on the path.
pub fn critical_path(
    s: &SpanColumns,
    children: &HashMap<usize, Vec<usize>>,
    entry: usize,
) -> HashSet<usize> {
    let mut out = HashSet::new();
    let mut todo = vec![entry];
    while let Some(i) = todo.pop() {
        if !out.insert(i) || out.len() > 10_000 {
            continue;
        }
        let mut kids = children.get(&i).cloned().unwrap_or_default();
        kids.sort_by_key(|&c| std::cmp::Reverse((s.end[c], c)));
        let mut cursor = s.end[i];
        for c in kids {
            if s.end[c] <= cursor && s.start[c] < cursor {
                todo.push(c);
                cursor = s.start[c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Server [0, 100] with a 50 ms DB call beside a 20 ms one, then a 30 ms call.
    fn trace() -> SpanColumns {
        let spans = [
            (1, 0, 0, 100),
            (2, 1, 10, 60),
            (3, 1, 20, 40),
            (4, 1, 60, 90),
        ];
        SpanColumns {
            span_id: spans.iter().map(|s| s.0).collect(),
            parent: spans.iter().map(|s| s.1).collect(),
            start: spans.iter().map(|s| s.2).collect(),
            end: spans.iter().map(|s| s.3).collect(),
            is_server: vec![true, false, false, false],
            is_db: vec![false, true, true, true],
            statement_key: Vec::new(),
            statement_match: vec![vec![false; 4]],
            name_match: vec![vec![false; 4]],
            groups: vec![(0, 4)],
            position: Vec::new(),
        }
    }

    #[test]
    fn of_two_parallel_calls_only_the_longer_is_on_the_critical_path() {
        let s = trace();
        let path = critical_path(&s, &s.children((0, 4)), 0);
        let mut on: Vec<usize> = path.into_iter().collect();
        on.sort_unstable();
        assert_eq!(
            on,
            vec![0, 1, 3],
            "the server, the 50 ms call and the last call"
        );
    }

    #[test]
    fn exclusive_time_leaves_out_the_children_once() {
        let s = trace();
        let ex: HashMap<usize, i64> = crate::tail::exclusive_times(&s, &s.children((0, 4)), 0)
            .into_iter()
            .collect();
        // 100 − union([10, 60], [20, 40], [60, 90]) = 100 − 80.
        assert_eq!(ex[&0], 20);
        assert_eq!((ex[&1], ex[&2], ex[&3]), (50, 20, 30));
    }
}
