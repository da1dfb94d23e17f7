//! One statement, one span. Two instrumentations often span the same
//! statement: an ORM's span (SQLAlchemy's `SELECT db`) around, or beside,
//! its driver's (psycopg's `SELECT`), both with the statement's text. A DB
//! span whose interval lies inside another DB span of the same statement,
//! as its descendant or its sibling, is the same statement: the outer span
//! (the ORM's, which includes its own overhead) is the one counted, and the
//! inner one stops counting. The DB time (a union of intervals) is the same
//! either way; counts, shapes and the tail change.

use crate::split::SpanColumns;

/// A span that counts.
pub const KEPT: u8 = 0;
/// The same statement as a sibling around it: its time is the sibling's.
pub const SIBLING: u8 = 1;
/// The same statement as an ancestor: its time is part of the ancestor's.
pub const NESTED: u8 = 2;

/// A statement's text as a 32-bit key (0: no statement).
pub fn statement_key(statement: Option<&str>) -> u32 {
    use std::hash::{Hash, Hasher};
    let Some(t) = statement else { return 0 };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    (h.finish() as u32).max(1)
}

/// Whether local span `j` is an ancestor of local span `i`.
fn ancestor(parent: &[Option<usize>], j: usize, mut i: usize) -> bool {
    for _ in 0..parent.len() {
        match parent[i] {
            Some(p) if p == j => return true,
            Some(p) => i = p,
            None => return false,
        }
    }
    false
}

/// Each span's mark ([`KEPT`], [`SIBLING`], [`NESTED`]) in the trace whose
/// first span is `a`, with its local parent links.
pub fn duplicates(s: &SpanColumns, a: usize, parent: &[Option<usize>]) -> Vec<u8> {
    let n = parent.len();
    let mut out = vec![KEPT; n];
    if s.statement_key.len() < a + n {
        return out;
    }
    let mut keyed: Vec<(u32, usize)> = (0..n)
        .filter(|&i| s.is_db[a + i] && s.statement_key[a + i] != 0)
        .map(|i| (s.statement_key[a + i], i))
        .collect();
    if keyed.len() < 2 {
        return out;
    }
    keyed.sort_unstable();
    for run in keyed.chunk_by(|x, y| x.0 == y.0).filter(|r| r.len() > 1) {
        for &(_, i) in run {
            out[i] = mark(s, a, parent, i, run);
        }
    }
    out
}

/// The mark of local span `i` among the spans `run` of its statement.
fn mark(s: &SpanColumns, a: usize, parent: &[Option<usize>], i: usize, run: &[(u32, usize)]) -> u8 {
    let (si, ei) = (s.start[a + i], s.end[a + i]);
    for &(_, j) in run {
        let (sj, ej) = (s.start[a + j], s.end[a + j]);
        if j == i || sj > si || ei > ej {
            continue;
        }
        if ancestor(parent, j, i) {
            return NESTED;
        }
        // Two siblings of one interval: the lower span id counts (the same
        // choice in whatever order the spans arrived).
        let same = (sj, ej) == (si, ei);
        if parent[i] == parent[j] && (!same || s.span_id[a + j] < s.span_id[a + i]) {
            return SIBLING;
        }
    }
    KEPT
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span: (id, parent index, start, end, statement).
    type Span<'a> = (u64, Option<usize>, i64, i64, Option<&'a str>);

    fn trace(spans: &[Span<'_>]) -> (SpanColumns, Vec<Option<usize>>) {
        let c = SpanColumns {
            span_id: spans.iter().map(|s| s.0).collect(),
            parent: spans
                .iter()
                .map(|s| s.1.map_or(0, |p| spans[p].0))
                .collect(),
            is_server: spans.iter().map(|s| s.1.is_none()).collect(),
            start: spans.iter().map(|s| s.2).collect(),
            end: spans.iter().map(|s| s.3).collect(),
            is_db: spans.iter().map(|s| s.4.is_some()).collect(),
            statement_key: spans.iter().map(|s| statement_key(s.4)).collect(),
            groups: vec![(0, spans.len() as u32)],
            ..Default::default()
        };
        (c, spans.iter().map(|s| s.1).collect())
    }

    #[test]
    fn an_orm_span_beside_or_around_its_drivers_counts_once() {
        let q = Some("SELECT * FROM item WHERE id = %(i)s");
        let (c, p) = trace(&[
            (1, None, 0, 100, None),
            // SQLAlchemy beside psycopg (both children of the server span).
            (2, Some(0), 10, 30, q),
            (3, Some(0), 12, 28, q),
            // An ORM span around its driver's, as a parent.
            (4, Some(0), 40, 60, Some("SELECT count(*) FROM item")),
            (5, Some(3), 41, 59, Some("SELECT count(*) FROM item")),
            // The same statement again later: another call, not a copy.
            (6, Some(0), 70, 80, q),
        ]);
        let marks = duplicates(&c, 0, &p);
        assert_eq!(marks, vec![KEPT, KEPT, SIBLING, KEPT, NESTED, KEPT]);
    }

    #[test]
    fn two_siblings_of_one_interval_keep_the_lower_span_id() {
        let q = Some("UPDATE item SET n = n + 1");
        let (c, p) = trace(&[
            (1, None, 0, 100, None),
            (9, Some(0), 10, 20, q),
            (7, Some(0), 10, 20, q),
        ]);
        assert_eq!(duplicates(&c, 0, &p), vec![KEPT, SIBLING, KEPT]);
    }
}
