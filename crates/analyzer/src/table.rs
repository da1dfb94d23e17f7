//! The requests as plain columns, compact: ids as integers, repeated texts
//! (scenario, route, method, error kind) interned. Ten million requests are
//! ~1 GB here instead of ~3 GB of strings.

use crate::error::{AnalyzeError, Step};
use crate::scan::{hex_word, hex128};
use polars::prelude::*;
use std::collections::HashMap;
use tracesplit_model::schema::request_columns as rc;

/// Requests of the analyzed runs, one entry per row of `requests.parquet`.
#[derive(Debug, Clone, Default)]
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
}

/// A text column with few distinct values: each row is a number.
#[derive(Debug, Clone, Default)]
pub struct Interned {
    values: Vec<String>,
    /// Index into `values`; `u32::MAX` for null.
    rows: Vec<u32>,
    /// Value → index, while rows are added.
    index: HashMap<String, u32>,
}

impl Interned {
    #[cfg(test)]
    fn from_column(texts: &StringChunked) -> Self {
        let mut out = Self::default();
        out.extend(texts);
        out
    }

    fn extend(&mut self, texts: &StringChunked) {
        self.rows.reserve(texts.len());
        for t in texts.iter() {
            let k = match t {
                None => u32::MAX,
                Some(t) => match self.index.get(t) {
                    Some(&k) => k,
                    None => {
                        self.values.push(t.to_owned());
                        let k = (self.values.len() - 1) as u32;
                        self.index.insert(t.to_owned(), k);
                        k
                    }
                },
            };
            self.rows.push(k);
        }
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
    /// Hex digits of the id.
    const DIGITS: usize;
    /// The id of `text`, when `text` is `DIGITS` hex digits.
    fn parse(text: &str) -> Option<Self>;
    /// The id as `DIGITS` lowercase hex digits.
    fn hex(self) -> String;
}

impl HexId for u128 {
    const DIGITS: usize = 32;
    fn parse(text: &str) -> Option<Self> {
        hex128(text)
    }
    fn hex(self) -> String {
        format!("{self:032x}")
    }
}

impl HexId for u64 {
    const DIGITS: usize = 16;
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
#[derive(Debug, Clone, Default)]
pub struct HexIds<T> {
    values: Vec<T>,
    texts: HashMap<usize, String>,
}

impl<T: HexId> HexIds<T> {
    #[cfg(test)]
    fn from_column(texts: &StringChunked) -> Self {
        let mut out = Self {
            values: Vec::new(),
            texts: HashMap::new(),
        };
        out.extend(texts);
        out
    }

    fn extend(&mut self, texts: &StringChunked) {
        self.values.reserve(texts.len());
        for t in texts.iter() {
            let t = t.unwrap_or("");
            let exact = T::parse(t).filter(|_| !t.bytes().any(|b| b.is_ascii_uppercase()));
            if exact.is_none() {
                self.texts.insert(self.values.len(), t.to_owned());
            }
            self.values.push(exact.unwrap_or_default());
        }
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

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn texts<'a>(df: &'a DataFrame, name: &str) -> Result<&'a StringChunked, AnalyzeError> {
    df.column(name)
        .step("request columns")?
        .str()
        .step("request columns")
}

fn i64s(df: &DataFrame, name: &str) -> Result<Vec<i64>, AnalyzeError> {
    let c = df
        .column(name)
        .step("request columns")?
        .cast(&DataType::Int64)
        .step("request columns")?;
    Ok(c.i64()
        .step("request columns")?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

impl RequestTable {
    /// Appends a frame of requests (read a slice at a time: a whole run's
    /// frame of strings would be several times the table).
    pub(crate) fn append(&mut self, df: &DataFrame) -> Result<(), AnalyzeError> {
        let t = self;
        let (entity, operation) = (texts(df, rc::ENTITY_TYPE)?, texts(df, rc::OPERATION)?);
        t.scenario.reserve(df.height());
        for (i, n) in texts(df, rc::SCENARIO)?.iter().enumerate() {
            let n = n.unwrap_or_default();
            let k = match t.scenarios.iter().position(|s| s == n) {
                Some(k) => k as u32,
                None => {
                    t.scenarios.push(n.to_owned());
                    t.entity_type
                        .push(entity.get(i).unwrap_or_default().to_owned());
                    t.operation
                        .push(operation.get(i).unwrap_or_default().to_owned());
                    (t.scenarios.len() - 1) as u32
                }
            };
            t.scenario.push(k);
        }
        t.iteration
            .extend(i64s(df, rc::ITERATION)?.into_iter().map(|v| v as u32));
        t.step
            .extend(i64s(df, rc::STEP)?.into_iter().map(|v| v as u32));
        t.status
            .extend(i64s(df, rc::STATUS)?.into_iter().map(|v| v as u16));
        t.expected.extend(
            df.column(rc::EXPECTED)
                .step("request columns")?
                .bool()
                .step("request columns")?
                .iter()
                .map(|v| v.unwrap_or(false)),
        );
        t.error.extend(texts(df, rc::ERROR)?);
        t.trace_id.extend(texts(df, rc::TRACE_ID)?);
        t.span_id.extend(texts(df, rc::SPAN_ID)?);
        t.route.extend(texts(df, rc::ROUTE)?);
        t.method.extend(texts(df, rc::METHOD)?);
        t.start.extend(i64s(df, rc::START)?);
        t.intended_start.extend(i64s(df, rc::INTENDED_START)?);
        t.duration.extend(i64s(df, rc::DURATION)?);
        t.ttfb.extend(
            df.column(rc::TTFB)
                .step("request columns")?
                .cast(&DataType::Int64)
                .step("request columns")?
                .i64()
                .step("request columns")?
                .iter(),
        );
        t.response_bytes.extend(
            i64s(df, rc::RESPONSE_BYTES)?
                .into_iter()
                .map(|v| v.max(0) as u64),
        );
        let added = |name: &str| -> Result<Vec<i64>, AnalyzeError> {
            match df.column(name) {
                Ok(_) => i64s(df, name),
                Err(_) => Ok(vec![0; df.height()]),
            }
        };
        t.setup.extend(
            added(rc::CONNECT_NS)?
                .into_iter()
                .zip(added(rc::TLS_NS)?)
                .map(|(c, s)| c.saturating_add(s).max(0)),
        );
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

    #[test]
    fn ids_come_back_as_stored_and_texts_are_interned() {
        let ids = StringChunked::from_iter([
            Some("0af7651916cd43dd8448eb211c80319c"),
            Some("0AF7651916CD43DD8448EB211C80319C"),
            Some("not-hex"),
            None,
        ]);
        let t: HexIds<u128> = HexIds::from_column(&ids);
        assert_eq!(t.value(0), Some(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(t.text(0), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            (t.value(1), t.text(1)),
            (None, "0AF7651916CD43DD8448EB211C80319C".into())
        );
        assert_eq!((t.value(2), t.text(2)), (None, "not-hex".into()));
        assert_eq!((t.value(3), t.text(3)), (None, String::new()));
        let spans = StringChunked::from_iter([Some("00f067aa0ba902b7"), Some("abc")]);
        let s: HexIds<u64> = HexIds::from_column(&spans);
        assert_eq!(
            (s.value(0), s.text(0)),
            (Some(0x00f067aa0ba902b7), "00f067aa0ba902b7".into())
        );
        assert_eq!((s.value(1), s.text(1)), (None, "abc".into()));
        let kinds =
            StringChunked::from_iter([Some("timeout"), None, Some("reset"), Some("timeout")]);
        let k = Interned::from_column(&kinds);
        assert_eq!(
            (0..4).map(|i| k.get(i)).collect::<Vec<_>>(),
            [Some("timeout"), None, Some("reset"), Some("timeout")]
        );
        assert_eq!(k.values.len(), 2);
    }
}
