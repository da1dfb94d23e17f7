//! Runs whose files another writer made: Parquet without dictionaries or
//! with dictionaries that fell back to plain pages, span ids as hex text
//! (segments of 0.1.0) or as another binary type (polars), and stores with
//! segments of both id layouts. Each analyzes like the store's own files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use crate::synthetic::config;
use tracesplit_analyzer::analyze;

/// How a rewritten run's span files hold their ids.
#[derive(Clone, Copy, Debug)]
enum IdLayout {
    /// As read (bytes, as the store writes them).
    Kept,
    /// Hex text, as segments of older versions hold them.
    Hex,
    /// Large binary, as polars writes bytes back.
    LargeBinary,
}

/// `batch` with its byte id columns in `layout`.
fn with_ids(batch: arrow_array::RecordBatch, layout: IdLayout) -> arrow_array::RecordBatch {
    use arrow_array::cast::AsArray;
    use arrow_array::{ArrayRef, LargeBinaryArray, StringArray};
    use std::sync::Arc;
    let (mut fields, mut columns) = (Vec::new(), Vec::new());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        // Bytes as the store writes them, or as an earlier rewrite left them.
        let ids: Option<Vec<Option<&[u8]>>> = match column.as_fixed_size_binary_opt() {
            Some(ids) => Some(ids.iter().collect()),
            None => column
                .as_binary_opt::<i64>()
                .map(|ids| ids.iter().collect()),
        };
        let column: ArrayRef = match (ids, layout) {
            (Some(ids), IdLayout::Hex) => Arc::new(
                ids.into_iter()
                    .map(|v| v.map(hex::encode))
                    .collect::<StringArray>(),
            ),
            (Some(ids), IdLayout::LargeBinary) => {
                Arc::new(ids.into_iter().collect::<LargeBinaryArray>())
            }
            _ => column.clone(),
        };
        fields.push(arrow_schema::Field::new(
            field.name(),
            column.data_type().clone(),
            field.is_nullable(),
        ));
        columns.push(column);
    }
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    arrow_array::RecordBatch::try_new(schema, columns).unwrap()
}

/// Rewrites every span file of `dir` and its `requests.parquet` with
/// `properties` (the same rows), the span files' ids in `ids`.
fn rewrite_run(
    dir: &std::path::Path,
    properties: &parquet::file::properties::WriterProperties,
    ids: IdLayout,
) {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let spans = std::fs::read_dir(dir.join("spans")).unwrap();
    let files = spans.map(|e| e.unwrap().path());
    for path in files.chain([dir.join("requests.parquet")]) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(|b| with_ids(b.unwrap(), ids)).collect();
        let file = std::fs::File::create(&path).unwrap();
        let mut w =
            ArrowWriter::try_new(file, batches[0].schema(), Some(properties.clone())).unwrap();
        batches.iter().for_each(|b| w.write(b).unwrap());
        w.close().unwrap();
    }
}

/// The Arrow type of `column` in the span files of `dir` (one for all).
fn span_column_type(dir: &std::path::Path, column: &str) -> String {
    let mut types = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.join("spans")).unwrap() {
        let file = std::fs::File::open(entry.unwrap().path()).unwrap();
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let field = builder.schema().field_with_name(column).unwrap().clone();
        types.insert(field.data_type().to_string());
    }
    assert_eq!(types.len(), 1, "{types:?}");
    types.into_iter().next().unwrap()
}

/// The encodings of the data pages of `column` in the span files of `dir`.
fn data_page_encodings(dir: &std::path::Path, column: &str) -> Vec<String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut out = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.join("spans")).unwrap() {
        let file = std::fs::File::open(entry.unwrap().path()).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        let leaf = (0..reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .num_columns())
            .find(|&i| {
                reader
                    .metadata()
                    .file_metadata()
                    .schema_descr()
                    .column(i)
                    .name()
                    == column
            })
            .unwrap();
        for g in 0..reader.num_row_groups() {
            let pages = reader
                .get_row_group(g)
                .unwrap()
                .get_column_page_reader(leaf)
                .unwrap();
            for page in pages {
                let page = page.unwrap();
                if page.page_type() != parquet::basic::PageType::DICTIONARY_PAGE {
                    out.insert(page.encoding().to_string());
                }
            }
        }
    }
    out.into_iter().collect()
}

/// The scan reads names, kinds and statements as dictionaries when the
/// writer dictionary-encoded them (and the request table its repeated texts),
/// and ids as the bytes the store writes. Files from another writer — no
/// dictionaries, dictionaries that gave up midway to plain pages, ids as
/// hex text (segments of older versions) or as large binary (polars) —
/// give the same analysis, down to each request's split and the planted cascade.
#[test]
fn runs_with_plain_or_spilled_dictionaries_or_other_id_layouts_analyze_alike() {
    use parquet::file::properties::WriterProperties;
    let dir = tempfile::tempdir().unwrap();
    let (requests, spans) = twenty_deletes_flat();
    write_run(dir.path(), &requests, &[spans], 1000.0);
    let reference = analyze(&config(dir.path())).unwrap();
    assert_eq!(reference.analysis.scenarios.len(), 1, "no phantom scenario");
    let plain = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .build();
    // A one-byte dictionary limit: the first page is dictionary-encoded,
    // the rest of each column chunk falls back to plain pages.
    let spilled = WriterProperties::builder()
        .set_dictionary_page_size_limit(1)
        .set_data_page_row_count_limit(4)
        .set_write_batch_size(4)
        .build();
    let default = WriterProperties::builder().build();
    for (label, properties, ids) in [
        ("plain", plain, IdLayout::Kept),
        ("spilled", spilled, IdLayout::Kept),
        ("large binary ids", default.clone(), IdLayout::LargeBinary),
        ("hex ids", default, IdLayout::Hex),
    ] {
        rewrite_run(dir.path(), &properties, ids);
        let name_pages = data_page_encodings(dir.path(), "name");
        let expected: &[_] = match label {
            "plain" => &["PLAIN"],
            "spilled" => &["PLAIN", "RLE_DICTIONARY"],
            _ => &["RLE_DICTIONARY"],
        };
        assert_eq!(name_pages, expected, "{label}");
        let trace_type = span_column_type(dir.path(), "trace_id");
        let want = match ids {
            IdLayout::Kept => "FixedSizeBinary(16)",
            IdLayout::Hex => "Utf8",
            IdLayout::LargeBinary => "LargeBinary",
        };
        assert_eq!(trace_type, want, "{label}");
        let out = analyze(&config(dir.path())).unwrap();
        assert_eq!(out.splits, reference.splits, "{label}");
        assert_eq!(out.analysis.scenarios.len(), 1, "{label}");
        let (s, r) = (&out.analysis.scenarios[0], &reference.analysis.scenarios[0]);
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::to_value(r).unwrap(),
            "{label}"
        );
        let p95 = s.p95_split.unwrap();
        assert!((p95.cascade_ms - 80.0).abs() < 1e-9, "{label}: {p95:?}");
        assert_eq!(s.cascade_statement.as_deref(), Some(COUNT), "{label}");
    }
}

/// A store a collector kept writing across an upgrade holds segments of
/// both layouts (hex-text ids before, bytes after), and a trace's spans
/// can straddle them: it analyzes like a store of one layout.
#[test]
fn a_store_of_hex_and_byte_id_segments_analyzes_like_one_layout() {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let dir = tempfile::tempdir().unwrap();
    let (requests, spans) = twenty_deletes_flat();
    // Every other span in each segment: each trace is in both.
    let (old, new): (Vec<_>, Vec<_>) = spans.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let segments = [old, new].map(|s| s.into_iter().map(|(_, span)| span).collect::<Vec<_>>());
    write_run(dir.path(), &requests, &segments, 1000.0);
    let reference = analyze(&config(dir.path())).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("spans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&files[0]).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader
        .map(|b| with_ids(b.unwrap(), IdLayout::Hex))
        .collect();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&files[0]).unwrap(),
        batches[0].schema(),
        None,
    )
    .unwrap();
    batches.iter().for_each(|b| w.write(b).unwrap());
    w.close().unwrap();
    let trace_type = |f: &std::path::Path| {
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap()).unwrap();
        builder
            .schema()
            .field_with_name("trace_id")
            .unwrap()
            .data_type()
            .to_string()
    };
    assert_eq!(
        [trace_type(&files[0]), trace_type(&files[1])],
        ["Utf8", "FixedSizeBinary(16)"]
    );
    let out = analyze(&config(dir.path())).unwrap();
    assert_eq!(out.splits, reference.splits);
    assert!(out.splits.iter().all(|s| s.matched));
    let p95 = out.analysis.scenarios[0].p95_split.unwrap();
    assert!((p95.cascade_ms - 80.0).abs() < 1e-9, "{p95:?}");
    let stored = tracesplit_store::read_span_dir(&dir.path().join("spans")).unwrap();
    assert_eq!(stored.len(), segments.iter().map(Vec::len).sum::<usize>());
    assert_eq!(stored[0].trace_id, segments[0][0].trace_id);
}
