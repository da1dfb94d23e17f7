//! The requests as plain columns (scenario names interned).

use crate::error::{AnalyzeError, Step};
use polars::prelude::*;
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
    pub error: Vec<Option<String>>,
    /// Trace id.
    pub trace_id: Vec<String>,
    /// Client span id.
    pub span_id: Vec<String>,
    /// Route template.
    pub route: Vec<String>,
    /// Method.
    pub method: Vec<String>,
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

fn strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, AnalyzeError> {
    Ok(df
        .column(name)
        .step("request columns")?
        .str()
        .step("request columns")?
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect())
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
    /// Extracts the table from the collected requests frame.
    pub fn from_frame(df: &DataFrame) -> Result<Self, AnalyzeError> {
        let mut t = Self::default();
        let names = strs(df, rc::SCENARIO)?;
        let entity = strs(df, rc::ENTITY_TYPE)?;
        let operation = strs(df, rc::OPERATION)?;
        let mut index = std::collections::HashMap::new();
        for (i, n) in names.into_iter().enumerate() {
            let n = n.unwrap_or_default();
            let next = t.scenarios.len() as u32;
            let k = *index.entry(n.clone()).or_insert_with(|| {
                t.scenarios.push(n);
                t.entity_type.push(entity[i].clone().unwrap_or_default());
                t.operation.push(operation[i].clone().unwrap_or_default());
                next
            });
            t.scenario.push(k);
        }
        t.iteration = i64s(df, rc::ITERATION)?
            .into_iter()
            .map(|v| v as u32)
            .collect();
        t.step = i64s(df, rc::STEP)?.into_iter().map(|v| v as u32).collect();
        t.status = i64s(df, rc::STATUS)?
            .into_iter()
            .map(|v| v as u16)
            .collect();
        t.expected = df
            .column(rc::EXPECTED)
            .step("request columns")?
            .bool()
            .step("request columns")?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect();
        t.error = strs(df, rc::ERROR)?;
        t.trace_id = strs(df, rc::TRACE_ID)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        t.span_id = strs(df, rc::SPAN_ID)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        t.route = strs(df, rc::ROUTE)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        t.method = strs(df, rc::METHOD)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        t.start = i64s(df, rc::START)?;
        t.intended_start = i64s(df, rc::INTENDED_START)?;
        t.duration = i64s(df, rc::DURATION)?;
        t.ttfb = df
            .column(rc::TTFB)
            .step("request columns")?
            .cast(&DataType::Int64)
            .step("request columns")?
            .i64()
            .step("request columns")?
            .iter()
            .collect();
        t.response_bytes = i64s(df, rc::RESPONSE_BYTES)?
            .into_iter()
            .map(|v| v.max(0) as u64)
            .collect();
        let added = |name: &str| -> Result<Vec<i64>, AnalyzeError> {
            match df.column(name) {
                Ok(_) => i64s(df, name),
                Err(_) => Ok(vec![0; df.height()]),
            }
        };
        t.setup = added(rc::CONNECT_NS)?
            .into_iter()
            .zip(added(rc::TLS_NS)?)
            .map(|(c, s)| c.saturating_add(s).max(0))
            .collect();
        Ok(t)
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.scenario.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.scenario.is_empty()
    }
}
