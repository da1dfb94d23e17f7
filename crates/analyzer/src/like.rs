//! Like with like: what two sides of a comparison must share (suite, load
//! model, warm-up, target host), and each run's per-request components from
//! its `split.parquet`.

use crate::column::ColumnError;
use crate::compare::RunSide;
use crate::error::AnalyzeError;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::Path;
use tracesplit_model::RunManifest;
use tracesplit_model::schema::span_columns as sc;

/// What a run was, in the terms a comparison depends on.
fn traits(m: &RunManifest) -> Vec<(&'static str, String)> {
    let s = m.schedule.clone().unwrap_or_default();
    let host = m
        .base_url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or(&m.base_url);
    // The host without the port: a new build on another port is the same target.
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_owned(),
        _ => host.to_owned(),
    };
    vec![
        ("suite", m.suite_name.clone()),
        ("load model", s.model.clone()),
        ("rate", s.rate.map_or("none".into(), |r| format!("{r}/s"))),
        ("concurrency", s.concurrency.to_string()),
        ("warm-up", s.warmup.to_string()),
        ("target host", host),
    ]
}

/// How the runs differ in what the comparison depends on (empty: like with like).
pub fn differences(base: &[RunSide], head: &[RunSide]) -> Vec<String> {
    let all: Vec<(&str, &RunManifest)> = base
        .iter()
        .chain(head)
        .filter_map(|r| Some((r.label.as_str(), r.manifest.as_ref()?)))
        .collect();
    let Some((first_label, first)) = all.first() else {
        return Vec::new();
    };
    let reference = traits(first);
    let mut out = Vec::new();
    for (label, m) in all.iter().skip(1) {
        for ((what, a), (_, b)) in reference.iter().zip(traits(m)) {
            if *a != b {
                out.push(format!("{what}: {a} in {first_label}, {b} in {label}"));
            }
        }
    }
    out.dedup();
    out
}

/// The API's `service.version`, from the resource of the first server span
/// of the run's span store that carries one (the first 8 k spans are read).
pub fn service_version(dir: &Path) -> Option<String> {
    let spans = dir.join(tracesplit_model::manifest::SPANS_DIR);
    let (_, file) = tracesplit_store::list_segments(&spans)
        .ok()?
        .into_iter()
        .next()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).ok()?).ok()?;
    let mask = crate::scan::projection(
        builder.parquet_schema(),
        &[sc::KIND, sc::RESOURCE_ATTRIBUTES],
    );
    let batch = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .ok()?
        .next()?
        .ok()?;
    let kind = batch.column_by_name(sc::KIND)?.as_string_opt::<i32>()?;
    let resource = batch
        .column_by_name(sc::RESOURCE_ATTRIBUTES)?
        .as_string_opt::<i32>()?;
    (0..batch.num_rows())
        .filter(|&i| kind.value(i) == "SERVER")
        .find_map(|i| {
            let v: serde_json::Value = serde_json::from_str(resource.value(i)).ok()?;
            v.get("service.version")?.as_str().map(str::to_owned)
        })
}

/// What a comparison should say about the API's versions: `None` when
/// neither side's spans name one, or both name the same.
pub fn versions(base: &[RunSide], head: &[RunSide]) -> Option<String> {
    let of = |side: &[RunSide]| -> Vec<String> {
        let mut v: Vec<String> = side.iter().filter_map(|r| r.version.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let (b, h) = (of(base), of(head));
    (!(b.is_empty() && h.is_empty()) && b != h).then(|| {
        let show = |v: &[String]| {
            if v.is_empty() {
                "unknown".to_owned()
            } else {
                v.join(", ")
            }
        };
        format!(
            "the API's service.version: {} in base, {} in head",
            show(&b),
            show(&h)
        )
    })
}

/// Each request's split components, by client span id, per scenario.
#[derive(Debug, Default)]
pub struct Parts(HashMap<String, HashMap<String, [f64; 5]>>);

impl Parts {
    /// Per component, the values of the requests `span_ids` (in that order)
    /// that have a split; empty when the run has none.
    pub fn components(
        &self,
        scenario: &str,
        span_ids: impl Iterator<Item = String>,
    ) -> Vec<Vec<f64>> {
        let Some(rows) = self.0.get(scenario) else {
            return Vec::new();
        };
        let mut out = vec![Vec::new(); 5];
        for id in span_ids {
            if let Some(parts) = rows.get(&id) {
                for (k, v) in parts.iter().enumerate() {
                    out[k].push(*v);
                }
            }
        }
        out
    }
}

/// `RUN/split.parquet`'s matched requests (empty when there is none).
pub fn split_parts(dir: &Path) -> Result<Parts, AnalyzeError> {
    let path = crate::load::split_table_path(dir);
    let Ok(file) = std::fs::File::open(&path) else {
        return Ok(Parts::default());
    };
    let bad = |e: crate::error::Cause| AnalyzeError::unreadable(&path, e, "split.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(e.into()))?
        .build()
        .map_err(|e| bad(e.into()))?;
    let mut parts = Parts::default();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.into()))?;
        add(&batch, &mut parts).map_err(|e| bad(e.into()))?;
    }
    Ok(parts)
}

const COMPONENTS: [&str; 5] = [
    "network_ns",
    "queue_ns",
    "handler_ns",
    "cascade_ns",
    "db_other_ns",
];

fn add(batch: &RecordBatch, parts: &mut Parts) -> Result<(), ColumnError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| ColumnError::Missing(name.to_owned()))
    };
    let text = |name: &str| {
        let c = column(name)?;
        c.as_string_opt::<i32>()
            .ok_or_else(|| ColumnError::wrong_type(name, c.data_type(), "text"))
    };
    let (scenario, span) = (text("scenario")?, text("span_id")?);
    let ints = COMPONENTS
        .iter()
        .map(|n| {
            let c = column(n)?;
            c.as_primitive_opt::<Int64Type>()
                .ok_or_else(|| ColumnError::wrong_type(n, c.data_type(), "Int64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for i in 0..batch.num_rows() {
        if ints.iter().any(|c| !c.is_valid(i)) {
            continue;
        }
        let values: [f64; 5] = std::array::from_fn(|k| ints[k].value(i) as f64 / 1e6);
        parts
            .0
            .entry(scenario.value(i).to_owned())
            .or_default()
            .insert(span.value(i).to_owned(), values);
    }
    Ok(())
}
