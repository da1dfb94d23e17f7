//! Reading tracesplit's Parquet files back into records.
//!
//! The analyzer has its own scans (crates/analyzer/src/scan); these readers serve tests, `cleanup`,
//! the span wait and tools that need a handful of rows as plain structs.

use crate::IdColumn;
use crate::{StoreError, segment::list_segments};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;
use tracesplit_model::{RequestRecord, SpanId, SpanKind, SpanRecord, SpanStatus, TraceId};

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether a column of type `got` reads as `want`. Text of any Arrow layout
/// reads as text (polars and pandas write large strings or views); an id
/// reads from bytes of its width, from other binary layouts (a store
/// rewritten by polars), or from hex text (segments of older versions).
fn accepts(want: &DataType, got: &DataType) -> bool {
    match want {
        DataType::Utf8 => is_text(got),
        DataType::FixedSizeBinary(_) => {
            got == want
                || is_text(got)
                || matches!(
                    got,
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                )
        }
        _ => got == want,
    }
}

fn batches(path: &Path) -> Result<Vec<RecordBatch>, StoreError> {
    batches_of(path, None)
}

/// The file's batches, with only the named columns when `columns` is given.
fn batches_of(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| StoreError::parquet(path, e))?
        .with_batch_size(64 * 1024);
    if let Some(names) = columns {
        let schema = builder.parquet_schema();
        let indices: Vec<usize> = (0..schema.num_columns())
            .filter(|&i| names.contains(&schema.column(i).name()))
            .collect();
        let mask = parquet::arrow::ProjectionMask::leaves(schema, indices);
        builder = builder.with_projection(mask);
    }
    let reader = builder.build().map_err(|e| StoreError::parquet(path, e))?;
    reader.map(|b| arrow_err(path, b)).collect()
}

fn arrow_err<T>(path: &Path, r: Result<T, arrow_schema::ArrowError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Arrow {
        context: path.display().to_string(),
        source: e,
    })
}

/// How an id is read from its bytes and from hex text.
type IdParsers<T> = (
    fn(&[u8]) -> Result<T, tracesplit_model::ids::IdError>,
    fn(&str) -> Result<T, tracesplit_model::ids::IdError>,
);

const TRACE: IdParsers<TraceId> = (TraceId::from_bytes, TraceId::from_hex);
const SPAN: IdParsers<SpanId> = (SpanId::from_bytes, SpanId::from_hex);

/// Typed access to one batch's columns by name, with errors naming the file and column.
struct Columns<'a> {
    batch: &'a RecordBatch,
    path: &'a Path,
}

impl<'a> Columns<'a> {
    fn column(&self, name: &str, want: &DataType) -> Result<&'a dyn Array, StoreError> {
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| StoreError::Schema {
                path: self.path.to_owned(),
                column: name.to_owned(),
                problem: "is missing".into(),
            })?;
        if !accepts(want, col.data_type()) {
            return Err(StoreError::Schema {
                path: self.path.to_owned(),
                column: name.to_owned(),
                problem: format!("has type {}, expected {want}", col.data_type()),
            });
        }
        Ok(col.as_ref())
    }

    /// An id column, typed: stored as bytes, or (segments of older
    /// versions, files rewritten by other tools) as hex text; null or empty: `None`.
    fn opt_id<T>(
        &self,
        name: &'static str,
        bytes: usize,
        (of_bytes, of_hex): IdParsers<T>,
    ) -> Result<Vec<Option<T>>, StoreError> {
        let col = self.column(name, &DataType::FixedSizeBinary(bytes as i32))?;
        let bad = |row: usize, source| StoreError::Id {
            path: self.path.to_owned(),
            row,
            column: name,
            source,
        };
        let ids = IdColumn::of_array(col, name).map_err(|e| StoreError::Schema {
            path: self.path.to_owned(),
            column: name.to_owned(),
            problem: e.to_string(),
        })?;
        (0..col.len())
            .map(|row| match ids.stored(row).filter(|b| !b.is_empty()) {
                None => Ok(None),
                Some(b) if ids.is_hex() => std::str::from_utf8(b)
                    .map_err(|_| tracesplit_model::ids::IdError::NotHex {
                        kind: name,
                        text: String::from_utf8_lossy(b).into_owned(),
                    })
                    .and_then(of_hex)
                    .map(Some)
                    .map_err(|e| bad(row, e)),
                Some(b) => of_bytes(b).map(Some).map_err(|e| bad(row, e)),
            })
            .collect()
    }

    /// An id column without nulls (a null reads as the all-zero id).
    fn id<T: Default>(
        &self,
        name: &'static str,
        bytes: usize,
        parsers: IdParsers<T>,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self
            .opt_id(name, bytes, parsers)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    fn opt_str(&self, name: &str) -> Result<Vec<Option<String>>, StoreError> {
        // `column` accepts text of any layout only.
        let col = self.column(name, &DataType::Utf8)?;
        let get = |i: usize| -> Option<String> {
            if col.is_null(i) {
                return None;
            }
            Some(match col.data_type() {
                DataType::LargeUtf8 => col.as_string::<i64>().value(i).to_owned(),
                DataType::Utf8View => col.as_string_view().value(i).to_owned(),
                _ => col.as_string::<i32>().value(i).to_owned(),
            })
        };
        Ok((0..col.len()).map(get).collect())
    }

    fn str(&self, name: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .opt_str(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    fn opt_i64(&self, name: &str) -> Result<Vec<Option<i64>>, StoreError> {
        let col = self
            .column(name, &DataType::Int64)?
            .as_primitive::<Int64Type>();
        Ok(col.iter().collect())
    }

    fn i64(&self, name: &str) -> Result<Vec<i64>, StoreError> {
        Ok(self
            .opt_i64(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    fn opt_i32(&self, name: &str) -> Result<Vec<Option<i32>>, StoreError> {
        let col = self
            .column(name, &DataType::Int32)?
            .as_primitive::<Int32Type>();
        Ok(col.iter().collect())
    }

    fn bool(&self, name: &str) -> Result<Vec<bool>, StoreError> {
        let col = self.column(name, &DataType::Boolean)?.as_boolean();
        Ok(col.iter().map(Option::unwrap_or_default).collect())
    }

    /// A column files of older versions do not have: absent, it reads as zeros.
    fn i64_added(&self, name: &str) -> Result<Vec<i64>, StoreError> {
        match self.batch.column_by_name(name) {
            Some(_) => self.i64(name),
            None => Ok(vec![0; self.batch.num_rows()]),
        }
    }

    /// As [`Columns::i64_added`], for a Boolean column (false when absent).
    fn bool_added(&self, name: &str) -> Result<Vec<bool>, StoreError> {
        match self.batch.column_by_name(name) {
            Some(_) => self.bool(name),
            None => Ok(vec![false; self.batch.num_rows()]),
        }
    }
}

/// Reads one span segment.
pub fn read_span_file(path: &Path) -> Result<Vec<SpanRecord>, StoreError> {
    use tracesplit_model::schema::span_columns as c;
    let mut out = Vec::new();
    for batch in batches(path)? {
        let cols = Columns {
            batch: &batch,
            path,
        };
        let trace_id = cols.id(c::TRACE_ID, TraceId::LEN, TRACE)?;
        let span_id = cols.id(c::SPAN_ID, SpanId::LEN, SPAN)?;
        let parent = cols.opt_id(c::PARENT_SPAN_ID, SpanId::LEN, SPAN)?;
        let name = cols.str(c::NAME)?;
        let kind = cols.str(c::KIND)?;
        let start = cols.i64(c::START)?;
        let end = cols.i64(c::END)?;
        let status = cols.str(c::STATUS_CODE)?;
        let status_message = cols.str(c::STATUS_MESSAGE)?;
        let service = cols.str(c::SERVICE_NAME)?;
        let scope = cols.str(c::SCOPE_NAME)?;
        let route = cols.opt_str(c::HTTP_ROUTE)?;
        let http_status = cols.opt_i32(c::HTTP_STATUS_CODE)?;
        let db_system = cols.opt_str(c::DB_SYSTEM)?;
        let db_statement = cols.opt_str(c::DB_STATEMENT)?;
        let db_operation = cols.opt_str(c::DB_OPERATION)?;
        let attrs = cols.str(c::ATTRIBUTES)?;
        let resource = cols.str(c::RESOURCE_ATTRIBUTES)?;
        let events = cols.opt_str(c::EVENTS)?;
        let links = cols.opt_str(c::LINKS)?;
        for i in 0..batch.num_rows() {
            out.push(SpanRecord {
                trace_id: trace_id[i],
                span_id: span_id[i],
                parent_span_id: parent[i],
                name: name[i].clone(),
                kind: SpanKind::parse(&kind[i]),
                start_unix_nano: start[i],
                end_unix_nano: end[i],
                status_code: SpanStatus::parse(&status[i]),
                status_message: status_message[i].clone(),
                service_name: service[i].clone(),
                scope_name: scope[i].clone(),
                http_route: route[i].clone(),
                http_status_code: http_status[i],
                db_system: db_system[i].clone(),
                db_statement: db_statement[i].clone(),
                db_operation: db_operation[i].clone(),
                attributes_json: attrs[i].clone(),
                resource_attributes_json: resource[i].clone(),
                events_json: events[i].clone(),
                links_json: links[i].clone(),
            });
        }
    }
    Ok(out)
}

/// Reads every complete segment of a span store directory, in generation order.
pub fn read_span_dir(dir: &Path) -> Result<Vec<SpanRecord>, StoreError> {
    let mut out = Vec::new();
    for (_, path) in list_segments(dir)? {
        out.extend(read_span_file(&path)?);
    }
    Ok(out)
}

/// The client span ids of the requests in `requests.parquet` that got an
/// answer (status ≠ 0): what the span wait asks about. Reads two columns only.
pub fn read_answered_span_ids(path: &Path) -> Result<Vec<String>, StoreError> {
    use tracesplit_model::schema::request_columns as c;
    let mut out = Vec::new();
    for batch in batches_of(path, Some(&[c::SPAN_ID, c::STATUS]))? {
        let cols = Columns {
            batch: &batch,
            path,
        };
        let status = cols.opt_i32(c::STATUS)?;
        let ids = cols.str(c::SPAN_ID)?;
        out.extend(
            ids.into_iter()
                .zip(status)
                .filter(|(_, s)| s.is_some_and(|s| s != 0))
                .map(|(id, _)| id),
        );
    }
    Ok(out)
}

/// Reads `requests.parquet`.
pub fn read_requests(path: &Path) -> Result<Vec<RequestRecord>, StoreError> {
    let mut out = Vec::new();
    for batch in batches(path)? {
        out.extend(request_records(&batch, path)?);
    }
    Ok(out)
}

/// Reads `requests.parquet` a batch of rows at a time (at most
/// `batch_rows`), handing each to `f`: memory holds one batch, not the file.
pub fn for_each_request_batch<E: From<StoreError>>(
    path: &Path,
    batch_rows: usize,
    mut f: impl FnMut(Vec<RequestRecord>) -> Result<(), E>,
) -> Result<(), E> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| StoreError::parquet(path, e))?
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| StoreError::parquet(path, e))?;
    for batch in reader {
        f(request_records(&arrow_err(path, batch)?, path)?)?;
    }
    Ok(())
}

/// One batch of `requests.parquet` as records.
fn request_records(batch: &RecordBatch, path: &Path) -> Result<Vec<RequestRecord>, StoreError> {
    use tracesplit_model::schema::request_columns as c;
    let mut out = Vec::with_capacity(batch.num_rows());
    {
        let cols = Columns { batch, path };
        let (run_id, scenario) = (cols.str(c::RUN_ID)?, cols.str(c::SCENARIO)?);
        let (entity, operation) = (cols.str(c::ENTITY_TYPE)?, cols.str(c::OPERATION)?);
        let (iteration, step) = (cols.i64(c::ITERATION)?, cols.i64(c::STEP)?);
        let (method, route, url) = (cols.str(c::METHOD)?, cols.str(c::ROUTE)?, cols.str(c::URL)?);
        let (status, expected) = (cols.opt_i32(c::STATUS)?, cols.bool(c::EXPECTED)?);
        let (error, trace_id, span_id) = (
            cols.opt_str(c::ERROR)?,
            cols.str(c::TRACE_ID)?,
            cols.str(c::SPAN_ID)?,
        );
        let (intended, start) = (cols.i64(c::INTENDED_START)?, cols.i64(c::START)?);
        let (ttfb, duration) = (cols.opt_i64(c::TTFB)?, cols.i64(c::DURATION)?);
        let (req_bytes, resp_bytes) = (cols.i64(c::REQUEST_BYTES)?, cols.i64(c::RESPONSE_BYTES)?);
        let (connect, tls) = (cols.i64_added(c::CONNECT_NS)?, cols.i64_added(c::TLS_NS)?);
        let reused = cols.bool_added(c::REUSED_CONNECTION)?;
        let stall = cols.i64_added(c::STALL_NS)?;
        for i in 0..batch.num_rows() {
            out.push(RequestRecord {
                run_id: run_id[i].clone(),
                scenario: scenario[i].clone(),
                entity_type: entity[i].clone(),
                operation: operation[i].clone(),
                iteration: u32::try_from(iteration[i]).unwrap_or_default(),
                step: u32::try_from(step[i]).unwrap_or_default(),
                method: method[i].clone(),
                route: route[i].clone(),
                url: url[i].clone(),
                status: status[i]
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or_default(),
                expected: expected[i],
                error: error[i].clone(),
                trace_id: trace_id[i].clone(),
                span_id: span_id[i].clone(),
                intended_start_unix_nano: intended[i],
                start_unix_nano: start[i],
                ttfb_ns: ttfb[i],
                duration_ns: duration[i],
                request_bytes: u64::try_from(req_bytes[i]).unwrap_or_default(),
                response_bytes: u64::try_from(resp_bytes[i]).unwrap_or_default(),
                connect_ns: connect[i],
                tls_ns: tls[i],
                reused_connection: reused[i],
                stall_ns: stall[i],
            });
        }
    }
    Ok(out)
}

fn check_schema(path: &Path, required: &[(&str, DataType)]) -> Result<(), StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| StoreError::parquet(path, e))?;
    let schema = builder.schema();
    for (name, want) in required {
        let field = schema
            .field_with_name(name)
            .map_err(|_| StoreError::Schema {
                path: path.to_owned(),
                column: (*name).to_owned(),
                problem: "is missing".into(),
            })?;
        if !accepts(want, field.data_type()) {
            return Err(StoreError::Schema {
                path: path.to_owned(),
                column: (*name).to_owned(),
                problem: format!("has type {}, expected {want}", field.data_type()),
            });
        }
    }
    Ok(())
}

/// Checks that a file is a `requests.parquet` (reads only its footer).
pub fn check_request_file(path: &Path) -> Result<(), StoreError> {
    use tracesplit_model::schema::request_columns as c;
    check_schema(
        path,
        &[
            (c::SCENARIO, DataType::Utf8),
            (c::TRACE_ID, DataType::Utf8),
            (c::SPAN_ID, DataType::Utf8),
            (c::DURATION, DataType::Int64),
            (c::EXPECTED, DataType::Boolean),
        ],
    )
}

/// Checks that a file is a span store segment (reads only its footer).
pub fn check_span_file(path: &Path) -> Result<(), StoreError> {
    use tracesplit_model::schema::span_columns as c;
    check_schema(
        path,
        &[
            (c::TRACE_ID, DataType::FixedSizeBinary(TraceId::LEN as i32)),
            (c::SPAN_ID, DataType::FixedSizeBinary(SpanId::LEN as i32)),
            (
                c::PARENT_SPAN_ID,
                DataType::FixedSizeBinary(SpanId::LEN as i32),
            ),
            (c::NAME, DataType::Utf8),
            (c::KIND, DataType::Utf8),
            (c::START, DataType::Int64),
            (c::END, DataType::Int64),
        ],
    )
}

#[cfg(test)]
mod tests;
