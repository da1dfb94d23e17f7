//! The requests as plain columns, compact: ids as integers, repeated texts
//! (scenario, route, method, error kind) interned. Ten million requests are
//! ~1 GB here instead of ~3 GB of strings.

use crate::column::ColumnError;
use crate::scan::{FastMap, Labels, Texts, hex_word, hex128};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::DataType;
use std::collections::HashMap;
use tracesplit_model::schema::request_columns as rc;

/// Requests of the analyzed runs, one entry per row of `requests.parquet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestTable {
    /// Distinct scenario names, in order of first appearance.
    pub scenarios: Vec<String>,
    /// Index into `scenarios` per request.
    pub scenario: Vec<u32>,
    /// Entity type per scenario.
    pub entity_type: Vec<String>,
    /// Operation per scenario.
    pub operation: Vec<String>,
    /// Iteration.
    pub iteration: Vec<u32>,
    /// Step.
    pub step: Vec<u32>,
    /// HTTP status.
    pub status: Vec<u16>,
    /// Status in the expected set.
    pub expected: Vec<bool>,
    /// Failure kind.
    pub error: Interned,
    /// Trace id.
    pub trace_id: HexIds<u128>,
    /// Client span id.
    pub span_id: HexIds<u64>,
    /// Route template.
    pub route: Interned,
    /// Method.
    pub method: Interned,
    /// Send start (ns since epoch).
    pub start: Vec<i64>,
    /// Intended start (open model; the send start otherwise).
    pub intended_start: Vec<i64>,
    /// Client duration (ns).
    pub duration: Vec<i64>,
    /// Send start → first response byte (ns), when an answer arrived.
    pub ttfb: Vec<Option<i64>>,
    /// Response size.
    pub response_bytes: Vec<u64>,
    /// Connection setup the request waited for: connect + TLS (ns; 0 on a
    /// reused connection, and in files of versions that did not record it).
    pub setup: Vec<i64>,
    /// The wait between each answer's head and its body (ns; 0 for files
    /// of versions before the column).
    pub stall: Vec<i64>,
    /// Scenario name → index, while rows are added.
    scenario_index: FastMap<String, u32>,
}

/// A text column with few distinct values: each row is a number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interned {
    values: Vec<String>,
    /// Index into `values`; `u32::MAX` for null.
    rows: Vec<u32>,
    /// Value → index, while rows are added.
    index: FastMap<String, u32>,
}

/// `text`'s number among `values` (`index`: value → number), added as the
/// next number when it is new.
fn intern(values: &mut Vec<String>, index: &mut FastMap<String, u32>, text: &str) -> u32 {
    if let Some(&k) = index.get(text) {
        return k;
    }
    values.push(text.to_owned());
    let k = (values.len() - 1) as u32;
    index.insert(text.to_owned(), k);
    k
}

impl Interned {
    fn extend(&mut self, texts: &Labels<'_>, rows: usize) {
        self.rows.reserve(rows);
        let (values, index) = (&mut self.values, &mut self.index);
        let number = |t: Option<&str>| t.map_or(u32::MAX, |t| intern(values, index, t));
        texts.map(rows, number, &mut self.rows);
    }

    /// Appends `other`'s rows, its values interned here.
    fn append(&mut self, other: Interned) {
        let here: Vec<u32> = (other.values.iter())
            .map(|v| intern(&mut self.values, &mut self.index, v))
            .collect();
        let row = |k: u32| here.get(k as usize).copied().unwrap_or(u32::MAX);
        self.rows.extend(other.rows.into_iter().map(row));
    }

    /// Row `i`'s text (`None`: null).
    pub fn get(&self, i: usize) -> Option<&str> {
        self.values
            .get(*self.rows.get(i)? as usize)
            .map(String::as_str)
    }

    /// Row `i`'s text, empty for null.
    pub fn text(&self, i: usize) -> &str {
        self.get(i).unwrap_or("")
    }
}

/// An id kept as its integer when it is lowercase hex of the usual width.
pub trait HexId: Copy + Default {
    /// The id of `text`, when `text` is hex of the usual width.
    fn parse(text: &str) -> Option<Self>;
    /// The id as lowercase hex of the usual width.
    fn hex(self) -> String;
}

impl HexId for u128 {
    fn parse(text: &str) -> Option<Self> {
        hex128(text.as_bytes())
    }
    fn hex(self) -> String {
        format!("{self:032x}")
    }
}

impl HexId for u64 {
    fn parse(text: &str) -> Option<Self> {
        (text.len() == 16)
            .then(|| hex_word(text.as_bytes()))
            .flatten()
    }
    fn hex(self) -> String {
        format!("{self:016x}")
    }
}

/// Ids as integers (16 or 8 bytes instead of a 50-70 byte string); an id
/// that would not come back as the same text (not hex, another width,
/// upper case) keeps its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HexIds<T> {
    values: Vec<T>,
    texts: HashMap<usize, String>,
}

impl<T: HexId> HexIds<T> {
    fn extend(&mut self, texts: &Texts<'_>, rows: usize) {
        self.values.reserve(rows);
        for t in (0..rows).map(|i| texts.get(i)) {
            let t = t.unwrap_or("");
            let exact = T::parse(t).filter(|_| !t.bytes().any(|b| b.is_ascii_uppercase()));
            if exact.is_none() {
                self.texts.insert(self.values.len(), t.to_owned());
            }
            self.values.push(exact.unwrap_or_default());
        }
    }

    /// Appends `other`'s rows.
    fn append(&mut self, other: HexIds<T>) {
        let offset = self.values.len();
        self.values.extend(other.values);
        self.texts
            .extend(other.texts.into_iter().map(|(i, t)| (offset + i, t)));
    }

    /// Row `i`'s id as stored.
    pub fn text(&self, i: usize) -> String {
        match self.texts.get(&i) {
            Some(t) => t.clone(),
            None => self.values.get(i).copied().unwrap_or_default().hex(),
        }
    }

    /// Row `i`'s id as an integer (`None` when it is not hex of the usual width).
    pub fn value(&self, i: usize) -> Option<T> {
        if self.texts.contains_key(&i) {
            return None;
        }
        self.values.get(i).copied()
    }
}

/// An integer column of any width as `i64` (null: `None`; a missing column: all `None`).
fn ints(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, ColumnError> {
    fn all<T: ArrowPrimitiveType>(
        col: &dyn Array,
        to: impl Fn(T::Native) -> i64,
    ) -> Vec<Option<i64>> {
        let a = col.as_primitive::<T>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| to(a.value(i))))
            .collect()
    }
    let Some(col) = batch.column_by_name(name) else {
        return Ok(vec![None; batch.num_rows()]);
    };
    let col = col.as_ref();
    Ok(match col.data_type() {
        DataType::Int64 => all::<Int64Type>(col, |v| v),
        DataType::Int32 => all::<Int32Type>(col, i64::from),
        DataType::Int16 => all::<Int16Type>(col, i64::from),
        DataType::Int8 => all::<Int8Type>(col, i64::from),
        DataType::UInt64 => all::<UInt64Type>(col, |v| i64::try_from(v).unwrap_or(i64::MAX)),
        DataType::UInt32 => all::<UInt32Type>(col, i64::from),
        DataType::UInt16 => all::<UInt16Type>(col, i64::from),
        DataType::UInt8 => all::<UInt8Type>(col, i64::from),
        DataType::Null => vec![None; batch.num_rows()],
        other => return Err(ColumnError::wrong_type(name, other, "an integer")),
    })
}

fn zeros(v: Vec<Option<i64>>) -> impl Iterator<Item = i64> {
    v.into_iter().map(|v| v.unwrap_or(0))
}

impl RequestTable {
    /// Appends a batch of requests (read a batch at a time: a whole run's
    /// strings would be several times the table).
    pub(crate) fn append(&mut self, batch: &RecordBatch) -> Result<(), ColumnError> {
        let n = batch.num_rows();
        let text = |name: &str| Texts::of(batch, name);
        let label = |name: &str| Labels::of(batch, name);
        self.append_scenarios(batch)?;
        self.iteration
            .extend(zeros(ints(batch, rc::ITERATION)?).map(|v| v as u32));
        self.step
            .extend(zeros(ints(batch, rc::STEP)?).map(|v| v as u32));
        self.status
            .extend(zeros(ints(batch, rc::STATUS)?).map(|v| v as u16));
        let expected = batch
            .column_by_name(rc::EXPECTED)
            .and_then(|c| c.as_boolean_opt())
            .ok_or_else(|| {
                let found = batch
                    .column_by_name(rc::EXPECTED)
                    .map(|c| c.data_type().clone());
                match found {
                    Some(t) => ColumnError::wrong_type(rc::EXPECTED, &t, "boolean"),
                    None => ColumnError::Missing(rc::EXPECTED.into()),
                }
            })?;
        self.expected
            .extend((0..n).map(|i| expected.is_valid(i) && expected.value(i)));
        self.error.extend(&label(rc::ERROR)?, n);
        self.trace_id.extend(&text(rc::TRACE_ID)?, n);
        self.span_id.extend(&text(rc::SPAN_ID)?, n);
        self.route.extend(&label(rc::ROUTE)?, n);
        self.method.extend(&label(rc::METHOD)?, n);
        self.start.extend(zeros(ints(batch, rc::START)?));
        self.intended_start
            .extend(zeros(ints(batch, rc::INTENDED_START)?));
        self.duration.extend(zeros(ints(batch, rc::DURATION)?));
        self.ttfb.extend(ints(batch, rc::TTFB)?);
        self.response_bytes
            .extend(zeros(ints(batch, rc::RESPONSE_BYTES)?).map(|v| v.max(0) as u64));
        // Files of versions before the connection columns read as zeros.
        let setup = zeros(ints(batch, rc::CONNECT_NS)?)
            .zip(zeros(ints(batch, rc::TLS_NS)?))
            .map(|(c, t)| c.saturating_add(t).max(0));
        self.setup.extend(setup);
        self.stall
            .extend(zeros(ints(batch, rc::STALL_NS)?).map(|v| v.max(0)));
        Ok(())
    }

    /// Room for `rows` more requests (the file's row count is known from
    /// its footer: the columns grow once instead of doubling as they fill).
    pub(crate) fn reserve(&mut self, rows: usize) {
        self.scenario.reserve(rows);
        self.iteration.reserve(rows);
        self.step.reserve(rows);
        self.status.reserve(rows);
        self.expected.reserve(rows);
        self.error.rows.reserve(rows);
        self.trace_id.values.reserve(rows);
        self.span_id.values.reserve(rows);
        self.route.rows.reserve(rows);
        self.method.rows.reserve(rows);
        self.start.reserve(rows);
        self.intended_start.reserve(rows);
        self.duration.reserve(rows);
        self.ttfb.reserve(rows);
        self.response_bytes.reserve(rows);
        self.setup.reserve(rows);
        self.stall.reserve(rows);
    }

    /// Appends the rows of `other` (a table of the rows that follow), as
    /// if its batches had been appended here: the tables of row groups read
    /// on several threads are put together in file order.
    pub(crate) fn append_table(&mut self, other: RequestTable) {
        let mut here = Vec::with_capacity(other.scenarios.len());
        let described = other.entity_type.into_iter().zip(other.operation);
        for (name, (entity, operation)) in other.scenarios.iter().zip(described) {
            let known = self.scenarios.len();
            here.push(intern(&mut self.scenarios, &mut self.scenario_index, name));
            if self.scenarios.len() > known {
                self.entity_type.push(entity);
                self.operation.push(operation);
            }
        }
        let scenario = |s: u32| here.get(s as usize).copied().unwrap_or_default();
        self.scenario
            .extend(other.scenario.into_iter().map(scenario));
        self.iteration.extend(other.iteration);
        self.step.extend(other.step);
        self.status.extend(other.status);
        self.expected.extend(other.expected);
        self.error.append(other.error);
        self.trace_id.append(other.trace_id);
        self.span_id.append(other.span_id);
        self.route.append(other.route);
        self.method.append(other.method);
        self.start.extend(other.start);
        self.intended_start.extend(other.intended_start);
        self.duration.extend(other.duration);
        self.ttfb.extend(other.ttfb);
        self.response_bytes.extend(other.response_bytes);
        self.setup.extend(other.setup);
        self.stall.extend(other.stall);
    }

    /// Appends a batch's scenarios (each new one with the entity and
    /// operation of its first row).
    fn append_scenarios(&mut self, batch: &RecordBatch) -> Result<(), ColumnError> {
        let label = |name: &str| Labels::of(batch, name);
        let (entity, operation) = (label(rc::ENTITY_TYPE)?, label(rc::OPERATION)?);
        let n = batch.num_rows();
        self.scenario.reserve(n);
        let first_row = self.scenario.len();
        let known_before = self.scenarios.len();
        let (names, known) = (&mut self.scenarios, &mut self.scenario_index);
        let scenario_of = |name: Option<&str>| intern(names, known, name.unwrap_or_default());
        label(rc::SCENARIO)?.map(n, scenario_of, &mut self.scenario);
        for k in known_before..self.scenarios.len() {
            let i = self.scenario[first_row..]
                .iter()
                .position(|&s| s as usize == k)
                .unwrap_or_default();
            let text = |t: &Labels<'_>| t.get(i).unwrap_or_default().to_owned();
            self.entity_type.push(text(&entity));
            self.operation.push(text(&operation));
        }
        Ok(())
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.scenario.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.scenario.is_empty()
    }

    /// Request `i`'s client span id as the split matches it against the
    /// server spans' parents (hex, or a hash of any other text).
    pub fn client_span(&self, i: usize) -> u64 {
        match self.span_id.value(i) {
            Some(v) => v,
            None => crate::load::id64(&self.span_id.text(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;
    use std::sync::Arc;

    fn texts(values: &[Option<&str>]) -> RecordBatch {
        let a: StringArray = values.iter().copied().collect();
        RecordBatch::try_from_iter([("t", Arc::new(a) as arrow_array::ArrayRef)])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ids_come_back_as_stored_and_texts_are_interned() {
        let b = texts(&[
            Some("0af7651916cd43dd8448eb211c80319c"),
            Some("0AF7651916CD43DD8448EB211C80319C"),
            Some("not-hex"),
            None,
        ]);
        let mut t: HexIds<u128> = HexIds::default();
        t.extend(&Texts::of(&b, "t").unwrap_or_else(|e| panic!("{e}")), 4);
        assert_eq!(t.value(0), Some(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(t.text(0), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            (t.value(1), t.text(1)),
            (None, "0AF7651916CD43DD8448EB211C80319C".into())
        );
        assert_eq!((t.value(2), t.text(2)), (None, "not-hex".into()));
        assert_eq!((t.value(3), t.text(3)), (None, String::new()));
        let b = texts(&[Some("00f067aa0ba902b7"), Some("abc")]);
        let mut s: HexIds<u64> = HexIds::default();
        s.extend(&Texts::of(&b, "t").unwrap_or_else(|e| panic!("{e}")), 2);
        assert_eq!(
            (s.value(0), s.text(0)),
            (Some(0x00f067aa0ba902b7), "00f067aa0ba902b7".into())
        );
        assert_eq!((s.value(1), s.text(1)), (None, "abc".into()));
        let b = texts(&[Some("timeout"), None, Some("reset"), Some("timeout")]);
        let mut k = Interned::default();
        k.extend(&Labels::of(&b, "t").unwrap_or_else(|e| panic!("{e}")), 4);
        assert_eq!(
            (0..4).map(|i| k.get(i)).collect::<Vec<_>>(),
            [Some("timeout"), None, Some("reset"), Some("timeout")]
        );
        assert_eq!(k.values.len(), 2);
        // Read as a dictionary, across two batches: the same interned values.
        let dictionary: arrow_array::DictionaryArray<arrow_array::types::Int32Type> =
            vec![Some("reset"), None, Some("refused"), Some("reset")]
                .into_iter()
                .collect();
        let b = RecordBatch::try_from_iter([("t", Arc::new(dictionary) as arrow_array::ArrayRef)])
            .unwrap_or_else(|e| panic!("{e}"));
        k.extend(&Labels::of(&b, "t").unwrap_or_else(|e| panic!("{e}")), 4);
        assert_eq!(
            (4..8).map(|i| k.get(i)).collect::<Vec<_>>(),
            [Some("reset"), None, Some("refused"), Some("reset")]
        );
        assert_eq!(k.values, ["timeout", "reset", "refused"]);
    }
}
