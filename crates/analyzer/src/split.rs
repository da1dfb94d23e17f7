//! The split of one request, from its trace's spans (pure Rust).
//!
//! For a request r with client span c: the server entry S is the SERVER span
//! of r's trace whose parent is c (the longest, when there are several);
//! outside = max(0, total − server), all of it network here (the `outside`
//! module then moves what was not the wire to queue); DB spans are the spans
//! of S's subtree with a db system; db = union of their intervals clipped to
//! S; cascade = union of the DB spans the classifier picks; db_other = db −
//! cascade; handler = server − db. So total = network + queue + handler +
//! cascade + db_other.

use crate::intervals::union_clipped;
use std::collections::HashMap;

/// The spans of all traces, grouped: spans of one trace are contiguous.
#[derive(Debug, Clone, Default)]
pub struct SpanColumns {
    /// Span id (8 bytes as u64).
    pub span_id: Vec<u64>,
    /// Parent span id; 0 for a root.
    pub parent: Vec<u64>,
    /// SERVER kind.
    pub is_server: Vec<bool>,
    /// Start (ns).
    pub start: Vec<i64>,
    /// End (ns).
    pub end: Vec<i64>,
    /// Carries a db system attribute.
    pub is_db: Vec<bool>,
    /// Each span's statement as a key ([`crate::dedup::statement_key`]; 0:
    /// none); empty when not read: no span is then a duplicate.
    pub statement_key: Vec<u32>,
    /// Per classifier variant: the statement matches.
    pub statement_match: Vec<Vec<bool>>,
    /// Per classifier variant: the span's own name matches.
    pub name_match: Vec<Vec<bool>>,
    /// `[start, end)` span index range of each trace.
    pub groups: Vec<(u32, u32)>,
    /// Where each span was read in the store ([`Position`]), so that its
    /// text can be read back without scanning every trace id again; empty
    /// when the columns were not read from files.
    pub position: Vec<u64>,
}

/// A span's place in the store: file, row group, row (16, 16 and 32 bits).
pub struct Position;

impl Position {
    /// Packs a place.
    pub fn pack(file: usize, row_group: usize, row: u32) -> u64 {
        (file as u64) << 48 | (row_group as u64 & 0xffff) << 32 | u64::from(row)
    }

    /// Unpacks a place: (file, row group, row).
    pub fn unpack(p: u64) -> (usize, usize, usize) {
        (
            (p >> 48) as usize,
            (p >> 32 & 0xffff) as usize,
            (p & 0xffff_ffff) as usize,
        )
    }
}

impl SpanColumns {
    /// The number of the trace span `i` belongs to.
    pub fn group_index(&self, i: usize) -> usize {
        self.groups.partition_point(|(_, end)| (*end as usize) <= i)
    }

    /// The `[start, end)` index range of the trace span `i` belongs to.
    pub fn group_of(&self, i: usize) -> Option<(usize, usize)> {
        self.groups
            .get(self.group_index(i))
            .map(|(a, b)| (*a as usize, *b as usize))
    }

    /// Each span's parent within the trace `[a, b)`, as an index from `a`
    /// (`None`: a root, or a parent outside the trace).
    pub fn local_parents(&self, (a, b): (usize, usize)) -> Vec<Option<usize>> {
        let ids = &self.span_id[a..b];
        let parents = self.parent[a..b].iter();
        // Most traces are small: a linear search beats hashing there.
        if ids.len() <= 32 {
            return parents
                .map(|p| {
                    (*p != 0)
                        .then(|| ids.iter().position(|id| id == p))
                        .flatten()
                })
                .collect();
        }
        let index: HashMap<u64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        parents
            .map(|p| if *p == 0 { None } else { index.get(p).copied() })
            .collect()
    }

    /// Each span's children within the trace `[a, b)` (by parent id; spans
    /// whose id was cleared as a duplicate are nobody's child).
    pub fn children(&self, (a, b): (usize, usize)) -> HashMap<usize, Vec<usize>> {
        let mut position: HashMap<u64, usize> = HashMap::new();
        for i in a..b {
            if self.span_id[i] != 0 {
                position.entry(self.span_id[i]).or_insert(i);
            }
        }
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        for i in a..b {
            if let Some(&p) = position.get(&self.parent[i])
                && p != i
                && self.span_id[i] != 0
            {
                children.entry(p).or_default().push(i);
            }
        }
        children
    }
}

/// What the split needs to know about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestInput {
    /// Trace group of its trace id, when the trace has spans.
    pub group: Option<u32>,
    /// Its client span id.
    pub client_span: u64,
    /// Client-observed duration (ns).
    pub total_ns: i64,
    /// Cascade classifier variant of its scenario.
    pub variant: usize,
}

/// A span's index in the columns a request was split from: four bytes, and
/// four as an `Option` too (ten million splits are kept for a whole analysis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIndex(std::num::NonZeroU32);

impl SpanIndex {
    /// Index `i` (`None` past `u32::MAX - 1`).
    pub fn new(i: usize) -> Option<Self> {
        u32::try_from(i.checked_add(1)?)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .map(Self)
    }

    /// The index.
    pub fn index(self) -> u32 {
        self.0.get() - 1
    }
}

/// The split of one request (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestSplit {
    /// A server entry span was found.
    pub matched: bool,
    /// Client-observed duration.
    pub total_ns: i64,
    /// Server entry duration.
    pub server_ns: i64,
    /// Server entry start (ns, server clock): where it sits on the client's
    /// timeline, kept here so that no span column is needed afterwards.
    pub server_start_ns: i64,
    /// The wire: total − server (clamped at 0) until [`crate::outside::locate`]
    /// moves the server's own outside time to `queue_ns`.
    pub network_ns: i64,
    /// Time outside the server span that was not the wire: waiting to be
    /// handled, framework before and after the span (0 without trusted clocks).
    pub queue_ns: i64,
    /// With trusted clocks: the server span's start after the client's.
    pub before_ns: Option<i64>,
    /// The part of `network_ns` spent opening the connection (TCP + TLS),
    /// as the client measured it.
    pub setup_ns: i64,
    /// server − db.
    pub handler_ns: i64,
    /// Union of DB intervals within the server span.
    pub db_ns: i64,
    /// Union of cascade intervals.
    pub cascade_ns: i64,
    /// db − cascade.
    pub db_other_ns: i64,
    /// DB statements in the subtree: each spanned twice counted once; a
    /// span without a statement (a pool checkout's `connect`) only when no
    /// span has one.
    pub db_count: u32,
    /// DB spans inside a span of the same statement, not counted.
    pub db_duplicates: u16,
    /// server > total (network clamped to 0).
    pub clamped: bool,
    /// Server spans under the client span.
    pub server_candidates: u32,
    /// Index of the server entry span in the [`SpanColumns`] it was split
    /// from (cleared when those columns are dropped: see `forget_spans`).
    pub server_span: Option<SpanIndex>,
    /// Global index of the longest cascade span.
    pub top_cascade: Option<SpanIndex>,
    /// Global index of the longest other DB span.
    pub top_db_other: Option<SpanIndex>,
}

impl RequestSplit {
    /// The same split without indices into span columns that are about to be dropped.
    pub fn forget_spans(self) -> Self {
        Self {
            server_span: None,
            top_cascade: None,
            top_db_other: None,
            ..self
        }
    }

    /// total when unmatched (everything unexplained); the four components otherwise.
    pub fn unmatched(total_ns: i64) -> Self {
        Self {
            total_ns,
            ..Self::default()
        }
    }
}

/// One trace's parent links, computed once for every request in it.
struct Tree {
    base: usize,
    parent: Vec<Option<usize>>,
    /// Each span's duplicate mark ([`crate::dedup`]).
    duplicate: Vec<u8>,
}

impl Tree {
    fn new(s: &SpanColumns, (a, b): (u32, u32)) -> Self {
        let (a, b) = (a as usize, b as usize);
        let parent = s.local_parents((a, b));
        let duplicate = crate::dedup::duplicates(s, a, &parent);
        Self {
            base: a,
            parent,
            duplicate,
        }
    }

    /// Whether local span `i` is `entry` or below it (guarding against cycles).
    fn under(&self, mut i: usize, entry: usize) -> bool {
        for _ in 0..=self.parent.len() {
            if i == entry {
                return true;
            }
            match self.parent[i] {
                Some(p) => i = p,
                None => return false,
            }
        }
        false
    }

    /// Whether a span on the path from `i` up to (not including) `entry` has a matching name.
    fn name_on_path(&self, s: &SpanColumns, variant: usize, mut i: usize, entry: usize) -> bool {
        for _ in 0..=self.parent.len() {
            if i == entry {
                return false;
            }
            if s.name_match[variant][self.base + i] {
                return true;
            }
            match self.parent[i] {
                Some(p) => i = p,
                None => return false,
            }
        }
        false
    }
}

fn longest(s: &SpanColumns, candidates: impl Iterator<Item = usize>) -> (Option<usize>, u32) {
    let mut best: Option<usize> = None;
    let mut count = 0;
    for i in candidates {
        count += 1;
        // Ties go to the earliest start, then the lowest span id: the same
        // choice whatever order the spans arrived in (the index is not).
        let key = |i: usize| {
            (
                s.end[i] - s.start[i],
                -s.start[i],
                std::cmp::Reverse(s.span_id[i]),
            )
        };
        if best.is_none_or(|b| key(i) > key(b)) {
            best = Some(i);
        }
    }
    (best, count)
}

/// Splits one request inside its trace.
fn split_in(s: &SpanColumns, tree: &Tree, r: &RequestInput) -> RequestSplit {
    let (a, b) = (tree.base, tree.base + tree.parent.len());
    let (entry, candidates) = longest(
        s,
        (a..b).filter(|&i| s.is_server[i] && s.parent[i] == r.client_span),
    );
    let Some(entry) = entry else {
        return RequestSplit::unmatched(r.total_ns);
    };
    let (lo, hi) = (s.start[entry], s.end[entry]);
    let server_ns = (hi - lo).max(0);
    let mut db = Vec::new();
    let mut cascade = Vec::new();
    // Statements, and DB spans without one (a pool checkout's `connect`).
    let (mut statements, mut without, mut duplicates) = (0u32, 0u32, 0u16);
    let (mut top_cascade, mut top_other): (Option<usize>, Option<usize>) = (None, None);
    let local_entry = entry - a;
    for i in a..b {
        if !s.is_db[i] || i == entry || !tree.under(i - a, local_entry) {
            continue;
        }
        let interval = (s.start[i], s.end[i]);
        db.push(interval);
        if tree.duplicate[i - a] != crate::dedup::KEPT {
            // Inside a span of the same statement: its time is in the union
            // already, and the statement is counted once.
            duplicates = duplicates.saturating_add(1);
            continue;
        }
        if s.statement_key.get(i).is_some_and(|k| *k != 0) {
            statements += 1;
        } else {
            without += 1;
        }
        let is_cascade =
            s.statement_match[r.variant][i] || tree.name_on_path(s, r.variant, i - a, local_entry);
        let top = if is_cascade {
            &mut top_cascade
        } else {
            &mut top_other
        };
        if is_cascade {
            cascade.push(interval);
        }
        if top.is_none_or(|t| s.end[t] - s.start[t] < interval.1 - interval.0) {
            *top = Some(i);
        }
    }
    // A DB span without a statement is time, not a statement — unless the
    // instrumentation records no statement at all: then each span counts.
    let db_count = if statements > 0 { statements } else { without };
    let db_ns = union_clipped(&mut db, lo, hi);
    let cascade_ns = union_clipped(&mut cascade, lo, hi);
    let (mut handler_ns, mut cascade_ns, mut db_other_ns) =
        (server_ns - db_ns, cascade_ns, db_ns - cascade_ns);
    let clamped = server_ns > r.total_ns;
    if clamped {
        // The server claims more time than the client saw (clock or instrumentation
        // error). Network is 0 and the excess comes off handler, then other DB,
        // then cascade time, so the components still sum to the client total.
        let mut excess = server_ns - r.total_ns.max(0);
        for part in [&mut handler_ns, &mut db_other_ns, &mut cascade_ns] {
            let cut = excess.min(*part);
            *part -= cut;
            excess -= cut;
        }
    }
    RequestSplit {
        matched: true,
        total_ns: r.total_ns,
        server_ns,
        server_start_ns: lo,
        network_ns: (r.total_ns - server_ns).max(0),
        queue_ns: 0,
        before_ns: None,
        setup_ns: 0,
        handler_ns,
        db_ns,
        cascade_ns,
        db_other_ns,
        db_count,
        db_duplicates: duplicates,
        clamped,
        server_candidates: candidates,
        server_span: SpanIndex::new(entry),
        top_cascade: top_cascade.and_then(SpanIndex::new),
        top_db_other: top_other.and_then(SpanIndex::new),
    }
}

/// Splits every request. Requests of one trace share the trace's parent links.
pub fn split_all(s: &SpanColumns, requests: &[RequestInput]) -> Vec<RequestSplit> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_unstable_by_key(|&i| requests[i].group);
    let mut out = vec![RequestSplit::default(); requests.len()];
    let mut cached: Option<(u32, Tree)> = None;
    for i in order {
        let r = &requests[i];
        out[i] = match r.group {
            None => RequestSplit::unmatched(r.total_ns),
            Some(g) => {
                if cached.as_ref().is_none_or(|(cg, _)| *cg != g) {
                    cached = Some((g, Tree::new(s, s.groups[g as usize])));
                }
                match &cached {
                    Some((_, tree)) => split_in(s, tree, r),
                    None => RequestSplit::unmatched(r.total_ns),
                }
            }
        };
    }
    out
}

/// [`split_all`] on up to `threads` threads, the requests in consecutive
/// shares: a request's split depends on its own trace only, so the result
/// is the same as one pass.
pub fn split_all_on(
    s: &SpanColumns,
    requests: &[RequestInput],
    threads: usize,
) -> Vec<RequestSplit> {
    if threads <= 1 || requests.len() < 20_000 {
        return split_all(s, requests);
    }
    let shares: Vec<&[RequestInput]> = requests.chunks(requests.len().div_ceil(threads)).collect();
    crate::parallel::map_in_order(&shares, threads, &|share| split_all(s, share)).concat()
}

/// The split's invariant, for every matched request: total = network + queue
/// + handler + cascade + db_other.
pub fn holds(split: &RequestSplit) -> bool {
    let parts =
        split.network_ns + split.queue_ns + split.handler_ns + split.cascade_ns + split.db_other_ns;
    !split.matched || parts == split.total_ns.max(0)
}

#[cfg(test)]
mod tests;
