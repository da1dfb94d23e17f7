//! Which spans the reports show: the spans whose text (names, statements,
//! attributes) is read back for the drawn requests and the P95 windows, and
//! the span whose name made a span a cascade span.

use crate::load::Loaded;
use crate::split::{RequestSplit, SpanColumns, SpanIndex};

/// The spans whose text the reports need, as indices into `detail`'s
/// columns: every span of the `drawn` requests' traces; of the `windows`'
/// requests the longest cascade and other DB span and the cascade's named
/// ancestor.
pub(crate) fn text_wanted(
    detail: &Loaded,
    drawn: &[usize],
    windows: impl Iterator<Item = usize>,
    splits: &[RequestSplit],
    variant_of: &dyn Fn(usize) -> usize,
) -> Vec<usize> {
    let c = &detail.columns;
    let group_of = |i: usize| {
        let k = detail.rows.binary_search(&i).ok()?;
        let g = detail.group.get(k).copied().flatten()?;
        c.groups.get(g as usize).copied()
    };
    let mut wanted: Vec<usize> = drawn
        .iter()
        .filter_map(|&i| group_of(i))
        .flat_map(|(a, b)| a as usize..b as usize)
        .collect();
    for i in windows {
        let s = &splits[i];
        let named = s
            .top_cascade
            .map(|k| cascade_name_span(c, variant_of(i), k.index() as usize) as u32);
        wanted.extend(
            [
                s.top_cascade.map(SpanIndex::index),
                s.top_db_other.map(SpanIndex::index),
                named,
            ]
            .into_iter()
            .flatten()
            .map(|k| k as usize),
        );
    }
    wanted
}

/// The span whose name made span `i` a cascade span: its nearest ancestor
/// (or itself) whose name the classifier matches, else `i`.
pub(crate) fn cascade_name_span(s: &SpanColumns, variant: usize, i: usize) -> usize {
    let mut cur = i;
    for _ in 0..64 {
        if s.name_match[variant][cur] {
            return cur;
        }
        let Some((a, b)) = s.group_of(cur) else {
            break;
        };
        match (a..b).find(|&p| s.span_id[p] == s.parent[cur] && s.span_id[p] != 0) {
            Some(p) => cur = p,
            None => break,
        }
    }
    i
}
