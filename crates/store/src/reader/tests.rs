//! Reading span segments of every id layout back.

use super::*;
use crate::{span_batch, write_span_segment};
use arrow_array::{ArrayRef, FixedSizeBinaryArray, StringArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use std::sync::Arc;

fn records() -> Vec<SpanRecord> {
    (1..=3u8)
        .map(|i| SpanRecord {
            trace_id: format!("0af7651916cd43dd8448eb211c8031{i:02x}")
                .parse()
                .unwrap(),
            span_id: format!("00f067aa0ba902{i:02x}").parse().unwrap(),
            parent_span_id: (i > 1).then(|| "00f067aa0ba90201".parse().unwrap()),
            name: format!("s{i}"),
            attributes_json: "{}".into(),
            resource_attributes_json: "{}".into(),
            ..Default::default()
        })
        .collect()
}

/// `batch` with its id columns as `to` makes them (a segment of an
/// older version, or one another tool wrote).
fn rewrite_ids(batch: &RecordBatch, to: impl Fn(&FixedSizeBinaryArray) -> ArrayRef) -> RecordBatch {
    let (mut fields, mut columns) = (Vec::new(), Vec::new());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        match column.as_fixed_size_binary_opt() {
            Some(ids) => {
                let ids = to(ids);
                fields.push(Field::new(field.name(), ids.data_type().clone(), true));
                columns.push(ids);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn write(path: &Path, batch: &RecordBatch) {
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn segments_with_ids_as_bytes_as_hex_text_or_as_binary_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_span_segment(dir.path(), 1, &records())
        .unwrap()
        .unwrap();
    check_span_file(&path).unwrap();
    assert_eq!(read_span_file(&path).unwrap(), records());
    let batch = span_batch(&records()).unwrap();
    let hex: &dyn Fn(&FixedSizeBinaryArray) -> ArrayRef = &|ids| {
        Arc::new(
            ids.iter()
                .map(|v| v.map(hex::encode))
                .collect::<StringArray>(),
        )
    };
    let binary: &dyn Fn(&FixedSizeBinaryArray) -> ArrayRef =
        &|ids| Arc::new(ids.iter().collect::<arrow_array::LargeBinaryArray>());
    for (name, to) in [("hex", hex), ("binary", binary)] {
        let other = dir.path().join(format!("{name}.parquet"));
        write(&other, &rewrite_ids(&batch, to));
        check_span_file(&other).unwrap();
        assert_eq!(read_span_file(&other).unwrap(), records(), "{name}");
    }
}

#[test]
fn an_id_column_of_another_width_is_named_with_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("narrow.parquet");
    let batch = span_batch(&records()).unwrap();
    let narrow = rewrite_ids(&batch, |ids: &FixedSizeBinaryArray| {
        let values: Vec<Option<&[u8]>> = ids.iter().map(|v| v.map(|v| &v[..4])).collect();
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(values.into_iter(), 4).unwrap(),
        )
    });
    write(&path, &narrow);
    let err = check_span_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("column `trace_id` has type FixedSizeBinary(4), expected FixedSizeBinary(16)"),
        "{err}"
    );
    let err = read_span_file(&path).unwrap_err().to_string();
    assert!(err.contains("trace_id"), "{err}");
}

/// A hex-text id column of another tool with an id that is not one: the
/// error names the file, the span's row and the column.
#[test]
fn a_stored_id_that_is_not_an_id_names_its_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let batch = span_batch(&records()).unwrap();
    let bad: &dyn Fn(&FixedSizeBinaryArray) -> ArrayRef = &|ids| {
        let mut text: Vec<Option<String>> = ids.iter().map(|v| v.map(hex::encode)).collect();
        if text[0].as_deref().is_some_and(|t| t.len() == 32) {
            text[1] = Some("abc".into());
        }
        Arc::new(text.into_iter().collect::<StringArray>())
    };
    let path = dir.path().join("bad.parquet");
    write(&path, &rewrite_ids(&batch, bad));
    let err = read_span_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("bad.parquet: span 1: trace_id: trace id must be 16 bytes"),
        "{err}"
    );
}
