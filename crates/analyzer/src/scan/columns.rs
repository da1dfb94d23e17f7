//! What the split needs of the spans: ids, times and flags of every span
//! of the wanted traces, grouped by trace.

use super::{FastMap, Ids, IdsExt, Labels, Store, TraceSlots, times};
use crate::column::ColumnError;
use crate::error::AnalyzeError;
use crate::load::Variant;
use crate::split::{Position, SpanColumns};
use arrow_array::{Array, BooleanArray, RecordBatch};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tracesplit_model::internal::Locked;
use tracesplit_model::schema::span_columns as sc;

/// The spans of one row group that belong to wanted traces, as read.
struct Chunk {
    /// The row group read (file, row group).
    unit: (usize, usize),
    slot: Vec<u32>,
    /// Each kept row's row number in its row group.
    row: Vec<u32>,
    span_id: Vec<u64>,
    parent: Vec<u64>,
    start: Vec<i64>,
    end: Vec<i64>,
    is_server: Vec<bool>,
    is_db: Vec<bool>,
    statement_key: Vec<u32>,
    statement_match: Vec<Vec<bool>>,
    name_match: Vec<Vec<bool>>,
}

impl Chunk {
    /// An empty chunk of row group `unit` with room for `rows` spans.
    fn with_capacity(unit: (usize, usize), rows: usize, classifiers: &Classifiers) -> Self {
        let matches = |n: usize| (0..n).map(|_| Vec::with_capacity(rows)).collect();
        Self {
            unit,
            slot: Vec::new(),
            row: Vec::new(),
            span_id: Vec::with_capacity(rows),
            parent: Vec::with_capacity(rows),
            start: Vec::with_capacity(rows),
            end: Vec::with_capacity(rows),
            is_server: Vec::with_capacity(rows),
            is_db: Vec::with_capacity(rows),
            statement_key: Vec::with_capacity(rows),
            statement_match: matches(classifiers.statement.len()),
            name_match: matches(classifiers.span.len()),
        }
    }
}

/// The classifier regexes, compiled once for the scan (`None`: an empty
/// classifier, which marks nothing — a suite that declares no check).
struct Classifiers {
    statement: Vec<Option<regex::Regex>>,
    span: Vec<Option<regex::Regex>>,
}

impl Classifiers {
    fn new(variants: &[Variant]) -> Result<Self, AnalyzeError> {
        let compile = |r: &str| {
            if r.is_empty() {
                return Ok(None);
            }
            regex::Regex::new(r)
                .map(Some)
                .map_err(|e| AnalyzeError::Regex {
                    regex: r.to_owned(),
                    message: e.to_string(),
                })
        };
        Ok(Self {
            statement: variants
                .iter()
                .map(|v| compile(&v.statement))
                .collect::<Result<_, _>>()?,
            span: variants
                .iter()
                .map(|v| compile(&v.span))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Regex answers per row of one batch. Read plain, a batch's names and
/// statements repeat: each distinct text is matched once.
fn matches<'a>(regex: Option<&regex::Regex>, texts: &Labels<'a>, rows: usize, out: &mut Vec<bool>) {
    let Some(regex) = regex else {
        out.extend(std::iter::repeat_n(false, rows));
        return;
    };
    let mut seen: FastMap<&'a str, bool> = FastMap::default();
    let plain = matches!(texts, Labels::Plain(_));
    let mut test = |t: Option<&'a str>| {
        let Some(t) = t else { return false };
        if !plain {
            return regex.is_match(t);
        }
        if let Some(&m) = seen.get(t) {
            return m;
        }
        let m = regex.is_match(t);
        if seen.len() < 4096 {
            seen.insert(t, m);
        }
        m
    };
    texts.map(rows, &mut test, out);
}

/// The slot of each of the first `n` rows' trace (`None`: not a wanted
/// trace). A trace's spans are often stored side by side: a row with the
/// previous row's id shares its parse and lookup. The lookups then run in one
/// tight loop, where the processor overlaps their cache misses; one per row
/// between the other work, each waited ~300 ns on this machine's memory.
fn slots_of(ids: &Ids<'_>, n: usize, slots: &TraceSlots) -> Vec<Option<u32>> {
    let mut runs: Vec<(usize, Option<u128>)> = Vec::new();
    let mut previous = None;
    for i in 0..n {
        let id = ids.stored(i);
        if i == 0 || id != previous {
            runs.push((i, id.and_then(|id| ids.trace(id))));
            previous = id;
        }
    }
    let found: Vec<Option<u32>> = runs
        .iter()
        .map(|&(_, id)| slots.get(&id?).copied())
        .collect();
    let mut out = Vec::with_capacity(n);
    for (k, &(first, _)) in runs.iter().enumerate() {
        let end = runs.get(k + 1).map_or(n, |r| r.0);
        out.extend(std::iter::repeat_n(found[k], end - first));
    }
    out
}

/// The text columns the scan reads as dictionaries (the store's writer
/// dictionary-encodes them).
const LABELS: [&str; 4] = [sc::KIND, sc::DB_SYSTEM, sc::DB_STATEMENT, sc::NAME];

/// What every reader thread shares.
struct Scan<'a> {
    store: Store<'a>,
    slots: Arc<TraceSlots>,
    classifiers: Classifiers,
}

impl Scan<'_> {
    /// Reads one row group: the rows of wanted traces, each with its slot.
    fn read(&self, unit: (usize, usize)) -> Result<Chunk, AnalyzeError> {
        let mut columns = vec![
            sc::SPAN_ID,
            sc::PARENT_SPAN_ID,
            sc::KIND,
            sc::START,
            sc::END,
            sc::DB_SYSTEM,
            sc::DB_STATEMENT,
        ];
        if !self.classifiers.statement.is_empty() {
            columns.push(sc::NAME);
        }
        // The filter keeps each kept row's slot and row number, in row
        // order: the rows it selects come back in that order, so the ids
        // need no second parse.
        let kept = Arc::new(Mutex::new((Vec::<u32>::new(), Vec::<u32>::new())));
        let (slots, sink) = (self.slots.clone(), kept.clone());
        let mut first = 0u32;
        let reader = self.store.rows(unit, &columns, move |ids, n| {
            let (mut batch_slots, mut batch_rows) = (Vec::new(), Vec::new());
            let keep = slots_of(ids, n, &slots)
                .into_iter()
                .enumerate()
                .map(|(i, slot)| {
                    if let Some(s) = slot {
                        batch_slots.push(s);
                        batch_rows.push(first + i as u32);
                    }
                    slot.is_some()
                })
                .collect::<Vec<bool>>();
            first += n as u32;
            // One lock a batch, not one a row.
            let mut sink = sink.locked();
            sink.0.extend(batch_slots);
            sink.1.extend(batch_rows);
            BooleanArray::from(keep)
        })?;
        // Building the reader ran the filter over the whole row group: the
        // kept rows are known, and the columns are sized for them.
        let (slot, row) = std::mem::take(&mut *kept.locked());
        let mut chunk = Chunk::with_capacity(unit, slot.len(), &self.classifiers);
        for batch in reader {
            let batch = batch.map_err(|e| self.store.error(unit.0, e))?;
            self.add(&batch, &mut chunk)
                .map_err(|e| self.store.error(unit.0, e))?;
        }
        // Rows the filter kept while the batches were read (none: the
        // reader runs it when built; a reader running it lazily loses nothing).
        (chunk.slot, chunk.row) = (slot, row);
        let mut late = kept.locked();
        chunk.slot.append(&mut late.0);
        chunk.row.append(&mut late.1);
        drop(late);
        if chunk.slot.len() != chunk.span_id.len() {
            return Err(self
                .store
                .error(unit.0, "the trace filter and the rows it kept disagree"));
        }
        Ok(chunk)
    }

    fn add(&self, batch: &RecordBatch, c: &mut Chunk) -> Result<(), ColumnError> {
        let n = batch.num_rows();
        let (span, parent) = (
            Ids::of(batch, sc::SPAN_ID)?,
            Ids::of(batch, sc::PARENT_SPAN_ID)?,
        );
        let (start, end) = (times(batch, sc::START)?, times(batch, sc::END)?);
        for i in 0..n {
            c.span_id.push(span.span(i));
            c.parent.push(parent.span(i));
            c.start
                .push(if start.is_valid(i) { start.value(i) } else { 0 });
            c.end.push(if end.is_valid(i) { end.value(i) } else { 0 });
        }
        Labels::of(batch, sc::KIND)?.map(n, |k| k == Some("SERVER"), &mut c.is_server);
        Labels::of(batch, sc::DB_SYSTEM)?.map(n, |d| d.is_some(), &mut c.is_db);
        let statement = Labels::of(batch, sc::DB_STATEMENT)?;
        // Keyed once per distinct statement (a dictionary's values).
        statement.map(n, crate::dedup::statement_key, &mut c.statement_key);
        if !self.classifiers.statement.is_empty() {
            let name = Labels::of(batch, sc::NAME)?;
            for (k, r) in self.classifiers.statement.iter().enumerate() {
                matches(r.as_ref(), &statement, n, &mut c.statement_match[k]);
            }
            for (k, r) in self.classifiers.span.iter().enumerate() {
                matches(r.as_ref(), &name, n, &mut c.name_match[k]);
            }
        }
        Ok(())
    }
}

/// The spans of the wanted traces, grouped by trace in the order of the
/// slots, and the group of each slot (`None`: no span of that trace).
pub(crate) struct Scanned {
    /// The split's columns (the order inside a trace not fixed yet).
    pub(crate) columns: SpanColumns,
    /// Group of each slot.
    pub(crate) group_of_slot: Vec<Option<u32>>,
}

/// Reads the spans of the traces in `slots` (`n_slots` of them) from
/// `files`, on `threads` threads.
pub(crate) fn scan_spans(
    files: &[PathBuf],
    slots: Arc<TraceSlots>,
    n_slots: usize,
    variants: &[Variant],
    threads: usize,
) -> Result<Scanned, AnalyzeError> {
    let scan = Scan {
        store: Store::open_with_dictionaries(files, &LABELS)?,
        slots,
        classifiers: Classifiers::new(variants)?,
    };
    let chunks = scan.store.read_all(threads, &|unit| scan.read(unit))?;
    Ok(assemble(chunks, n_slots, variants.len()))
}

/// Groups the chunks' spans by slot (a counting sort: the slots are the
/// traces in trace-id order), keeping the read order inside a trace.
fn assemble(chunks: Vec<Chunk>, n_slots: usize, variants: usize) -> Scanned {
    let mut count = vec![0u32; n_slots];
    for c in &chunks {
        for &s in &c.slot {
            count[s as usize] += 1;
        }
    }
    let mut group_of_slot = vec![None; n_slots];
    let mut offset = vec![0u32; n_slots];
    let mut groups = Vec::new();
    let mut total = 0u32;
    for (slot, &n) in count.iter().enumerate() {
        if n > 0 {
            group_of_slot[slot] = Some(groups.len() as u32);
            groups.push((total, total + n));
            offset[slot] = total;
            total += n;
        }
    }
    drop(count);
    let n = total as usize;
    let mut c = SpanColumns {
        span_id: vec![0; n],
        parent: vec![0; n],
        is_server: vec![false; n],
        start: vec![0; n],
        end: vec![0; n],
        is_db: vec![false; n],
        statement_key: vec![0; n],
        statement_match: vec![vec![false; n]; variants],
        name_match: vec![vec![false; n]; variants],
        groups,
        position: vec![0; n],
    };
    for chunk in chunks {
        for (i, &slot) in chunk.slot.iter().enumerate() {
            let at = offset[slot as usize] as usize;
            offset[slot as usize] += 1;
            c.span_id[at] = chunk.span_id[i];
            c.parent[at] = chunk.parent[i];
            c.is_server[at] = chunk.is_server[i];
            c.start[at] = chunk.start[i];
            c.end[at] = chunk.end[i];
            c.is_db[at] = chunk.is_db[i];
            c.statement_key[at] = chunk.statement_key[i];
            c.position[at] = Position::pack(chunk.unit.0, chunk.unit.1, chunk.row[i]);
            for k in 0..variants {
                c.statement_match[k][at] = chunk.statement_match[k][i];
                c.name_match[k][at] = chunk.name_match[k][i];
            }
        }
    }
    Scanned {
        columns: c,
        group_of_slot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Texts;
    use arrow_array::StringArray;

    #[test]
    fn each_row_gets_its_trace_slot_and_side_by_side_rows_share_one_lookup() {
        let a = "0af7651916cd43dd8448eb211c80319c";
        let b = "0000000000005eed0000000000000001";
        let ids = StringArray::from(vec![
            Some(a),
            Some(a),
            None,
            Some(b),
            Some("not a trace id"),
            Some(b),
            Some(b),
            Some("00000000000000000000000000000009"),
        ]);
        let mut slots = TraceSlots::default();
        slots.insert(0x0af7651916cd43dd8448eb211c80319c, 7);
        slots.insert(0x5eed_0000_0000_0000_0001, 3);
        let hex = Ids::Hex(Texts::Utf8(&ids));
        let got = slots_of(&hex, ids.len(), &slots);
        assert_eq!(
            got,
            vec![
                Some(7),
                Some(7),
                None,
                Some(3),
                None,
                Some(3),
                Some(3),
                None
            ]
        );
        // The same ids as bytes (junk: bytes of another width).
        let bytes = arrow_array::BinaryArray::from_iter((0..ids.len()).map(|i| {
            let id = ids.is_valid(i).then(|| ids.value(i));
            id.map(|t| {
                crate::scan::hex128(t.as_bytes())
                    .map_or(vec![1, 2, 3], |v| v.to_be_bytes().to_vec())
            })
        }));
        assert_eq!(slots_of(&Ids::Binary(&bytes), bytes.len(), &slots), got);
        assert_eq!(slots_of(&hex, 0, &slots), vec![]);
        assert_eq!(
            slots_of(&Ids::Hex(Texts::Missing), 2, &slots),
            vec![None, None]
        );
    }
}
