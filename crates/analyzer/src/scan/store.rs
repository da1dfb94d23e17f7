//! The span store's Parquet files as the scan reads them: footers read
//! once, row groups as the units of work, row filters and row selections.

use super::Ids;
use crate::error::{AnalyzeError, Cause};
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowFilter, RowSelection,
};
use parquet::schema::types::SchemaDescriptor;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use tracesplit_model::schema::span_columns as sc;

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8 * 1024;

/// Rows in the files (from the Parquet footers: nothing is decoded).
pub(crate) fn count_rows(files: &[PathBuf]) -> Result<u64, AnalyzeError> {
    let store = Store::open(files)?;
    Ok(store
        .metadata
        .iter()
        .map(|m| m.metadata().file_metadata().num_rows().max(0) as u64)
        .sum())
}

/// The columns named in `columns` that the file has (a file of an older
/// version may lack some: they read as missing).
pub(crate) fn projection(schema: &SchemaDescriptor, columns: &[&str]) -> ProjectionMask {
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| columns.contains(&schema.column(i).name()))
        .collect();
    ProjectionMask::leaves(schema, leaves)
}

/// `schema` with the plain text columns named in `columns` as dictionaries
/// (`None` when there is none to change).
fn dictionary_hint(schema: &SchemaRef, columns: &[&str]) -> Option<SchemaRef> {
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let text = matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            if text && columns.contains(&f.name().as_str()) {
                changed = true;
                let value = Box::new(f.data_type().clone());
                f.as_ref()
                    .clone()
                    .with_data_type(DataType::Dictionary(Box::new(DataType::Int32), value))
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

/// The footer to read row group `group` with: the text columns named in
/// `dictionaries` as Arrow dictionaries, but for a column chunk of nulls
/// only (a service without a database has no statement; a run without
/// failures no error kind): arrow-rs turns those into a dictionary by
/// comparing every row with the others.
pub(crate) fn row_group_metadata(
    plain: &ArrowReaderMetadata,
    group: usize,
    dictionaries: &[&str],
) -> Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    let Some(row_group) = plain.metadata().row_groups().get(group) else {
        return Ok(plain.clone());
    };
    let all_null = |name: &str| {
        row_group.columns().iter().any(|c| {
            c.column_descr().name() == name
                && c.statistics().and_then(|s| s.null_count_opt())
                    == Some(row_group.num_rows().max(0) as u64)
        })
    };
    let columns: Vec<&str> = dictionaries
        .iter()
        .copied()
        .filter(|c| !all_null(c))
        .collect();
    match dictionary_hint(plain.schema(), &columns) {
        Some(hint) => ArrowReaderMetadata::try_new(
            plain.metadata().clone(),
            ArrowReaderOptions::new().with_schema(hint),
        ),
        None => Ok(plain.clone()),
    }
}

/// The span files opened for scanning: their footers, read once, and their
/// row groups (the units the threads take in turn).
pub(super) struct Store<'a> {
    files: &'a [PathBuf],
    /// Each file's footer, read once.
    pub(super) metadata: Vec<ArrowReaderMetadata>,
    /// Text columns to read as dictionaries.
    dictionaries: &'a [&'a str],
    units: Vec<(usize, usize)>,
}

impl<'a> Store<'a> {
    pub(super) fn open(files: &'a [PathBuf]) -> Result<Self, AnalyzeError> {
        Self::open_with_dictionaries(files, &[])
    }

    /// Opens `files` so that the text columns named in `dictionaries` are
    /// read as Arrow dictionaries: the writer dictionary-encodes them, and a
    /// dictionary lets the scan look at each distinct value once instead of
    /// copying and comparing it on every row.
    pub(super) fn open_with_dictionaries(
        files: &'a [PathBuf],
        dictionaries: &'a [&'a str],
    ) -> Result<Self, AnalyzeError> {
        let metadata = files
            .iter()
            .map(|f| {
                let handle = File::open(f).map_err(|e| AnalyzeError::file(f, e))?;
                ArrowReaderMetadata::load(&handle, ArrowReaderOptions::default())
                    .map_err(|e| AnalyzeError::unreadable(f, e, "span store"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let units = metadata
            .iter()
            .enumerate()
            .flat_map(|(f, m)| (0..m.metadata().num_row_groups()).map(move |g| (f, g)))
            .collect();
        Ok(Self {
            files,
            metadata,
            dictionaries,
            units,
        })
    }

    /// The footer to read row group `group` of `file` with (see
    /// [`row_group_metadata`]).
    fn metadata_for(
        &self,
        (file, group): (usize, usize),
    ) -> Result<ArrowReaderMetadata, AnalyzeError> {
        row_group_metadata(&self.metadata[file], group, self.dictionaries)
            .map_err(|e| self.error(file, e))
    }

    pub(super) fn error(&self, file: usize, message: impl Into<Cause>) -> AnalyzeError {
        AnalyzeError::unreadable(&self.files[file], message, "span store")
    }

    /// A reader builder for `file` with the `columns` the file has (of
    /// row group `group`), and that row group's row count.
    fn builder(
        &self,
        (file, group): (usize, usize),
        columns: &[&str],
    ) -> Result<(ParquetRecordBatchReaderBuilder<File>, usize), AnalyzeError> {
        let handle = File::open(&self.files[file]).map_err(|e| self.error(file, e))?;
        let metadata = self.metadata_for((file, group))?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata);
        let rows = builder
            .metadata()
            .row_groups()
            .get(group)
            .map_or(0, |g| g.num_rows().max(0) as usize);
        let projection = projection(builder.parquet_schema(), columns);
        let builder = builder
            .with_row_groups(vec![group])
            .with_projection(projection)
            .with_batch_size(BATCH_ROWS);
        Ok((builder, rows))
    }

    /// A reader of row group `group` of file `file`: the `columns` the file
    /// has, of the rows `keep` accepts. `keep` sees each batch's trace ids
    /// (in row order) before any other column is decoded.
    pub(super) fn rows(
        &self,
        unit: (usize, usize),
        columns: &[&str],
        mut keep: impl FnMut(&Ids<'_>, usize) -> BooleanArray + Send + 'static,
    ) -> Result<ParquetRecordBatchReader, AnalyzeError> {
        let (builder, _) = self.builder(unit, columns)?;
        let schema = builder.parquet_schema();
        let trace = (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == sc::TRACE_ID)
            .ok_or_else(|| self.error(unit.0, "no trace_id column"))?;
        let predicate = ArrowPredicateFn::new(
            ProjectionMask::leaves(schema, [trace]),
            move |batch: RecordBatch| -> Result<BooleanArray, ArrowError> {
                let ids = Ids::of(&batch, sc::TRACE_ID)
                    .map_err(|e| ArrowError::SchemaError(e.to_string()))?;
                Ok(keep(&ids, batch.num_rows()))
            },
        );
        builder
            .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
            .build()
            .map_err(|e| self.error(unit.0, e))
    }

    /// A reader of row group `unit`: the `columns` the file has, of the rows
    /// `keep` accepts; `keep` sees the `filter` columns (those the file has)
    /// before any other column is decoded.
    pub(super) fn rows_where(
        &self,
        unit: (usize, usize),
        columns: &[&str],
        filter: &[&str],
        keep: impl FnMut(RecordBatch) -> Result<BooleanArray, ArrowError> + Send + 'static,
    ) -> Result<ParquetRecordBatchReader, AnalyzeError> {
        let (builder, _) = self.builder(unit, columns)?;
        let mask = projection(builder.parquet_schema(), filter);
        builder
            .with_row_filter(RowFilter::new(vec![Box::new(ArrowPredicateFn::new(
                mask, keep,
            ))]))
            .build()
            .map_err(|e| self.error(unit.0, e))
    }

    /// A reader of the rows `rows` (ascending) of row group `group` of file
    /// `file`, with the `columns` the file has.
    pub(super) fn rows_at(
        &self,
        unit: (usize, usize),
        columns: &[&str],
        rows: &[usize],
    ) -> Result<ParquetRecordBatchReader, AnalyzeError> {
        let (builder, total) = self.builder(unit, columns)?;
        if rows.iter().any(|&r| r >= total) {
            return Err(self.error(
                unit.0,
                "a span's row is past its row group (the file changed?)",
            ));
        }
        let selection =
            RowSelection::from_consecutive_ranges(rows.iter().map(|&r| r..r + 1), total);
        builder
            .with_row_selection(selection)
            .build()
            .map_err(|e| self.error(unit.0, e))
    }

    /// Runs `read` on every unit, `threads` at a time; the results come
    /// back in unit order (so that "the first copy of a span" means the same
    /// for any number of threads), or the first unit's error.
    pub(super) fn read_all<T: Send>(
        &self,
        threads: usize,
        read: &(dyn Fn((usize, usize)) -> Result<T, AnalyzeError> + Sync),
    ) -> Result<Vec<T>, AnalyzeError> {
        crate::parallel::map_in_order(&self.units, threads, &|&unit| read(unit))
            .into_iter()
            .collect()
    }
}

/// Writes `batch` to `path` in row groups of `rows` rows (for tests of
/// files with many row groups).
#[cfg(test)]
pub(crate) fn write_in_row_groups(path: &std::path::Path, batch: &RecordBatch, rows: usize) {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let file = File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(properties))
        .unwrap_or_else(|e| panic!("{e}"));
    w.write(batch).unwrap_or_else(|e| panic!("{e}"));
    w.close().unwrap_or_else(|e| panic!("{e}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, StringArray};

    /// A column chunk of nulls is read plain, the others as dictionaries.
    #[test]
    fn labels_are_dictionaries_except_in_row_groups_where_they_are_all_null() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("spans.parquet");
        let statement: ArrayRef =
            Arc::new(StringArray::from(vec![None, None, Some("SELECT 1"), None]));
        let kind: ArrayRef = Arc::new(StringArray::from(vec!["SERVER"; 4]));
        let batch = RecordBatch::try_from_iter([(sc::DB_STATEMENT, statement), (sc::KIND, kind)])
            .unwrap_or_else(|e| panic!("{e}"));
        write_in_row_groups(&path, &batch, 2);
        let files = [path];
        let store = Store::open_with_dictionaries(&files, &[sc::DB_STATEMENT, sc::KIND])
            .unwrap_or_else(|e| panic!("{e}"));
        let types = |group| {
            let m = store
                .metadata_for((0, group))
                .unwrap_or_else(|e| panic!("{e}"));
            [sc::DB_STATEMENT, sc::KIND].map(|c| {
                matches!(
                    m.schema().field_with_name(c).map(Field::data_type),
                    Ok(DataType::Dictionary(..))
                )
            })
        };
        assert_eq!(types(0), [false, true], "statements all null: plain");
        assert_eq!(types(1), [true, true]);
    }
}
