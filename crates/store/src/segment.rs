//! The span store: a directory of complete Parquet segments.
//!
//! A segment is written under a `.tmp` name and renamed when complete, so a
//! reader listing the directory never sees a half-written file. Segment names
//! carry a generation number chosen by the writer (the collector uses its
//! write-ahead-log generation, which makes replay after a crash idempotent).

use crate::{StoreError, batch::span_batch, writer_properties};
use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use tracesplit_model::SpanRecord;
use tracesplit_model::schema::span_schema;

const PREFIX: &str = "spans-";
const SUFFIX: &str = ".parquet";

/// Path of the segment with generation `generation` in `dir`.
pub fn segment_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{generation:012}{SUFFIX}"))
}

/// Complete segments in `dir`, sorted by generation. Temporary files are ignored.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let generation = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
            .and_then(|digits| digits.parse::<u64>().ok());
        if let Some(g) = generation {
            out.push((g, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// A segment being written: batches are encoded as they arrive, so memory
/// holds at most one row group, not the whole segment.
pub struct SpanSegmentWriter {
    tmp_path: PathBuf,
    final_path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl SpanSegmentWriter {
    /// Starts segment `generation` of `dir` under a temporary name.
    pub fn create(dir: &Path, generation: u64) -> Result<Self, StoreError> {
        let final_path = segment_path(dir, generation);
        let tmp_path = final_path.with_extension("parquet.tmp");
        let file = File::create(&tmp_path).map_err(|e| StoreError::io(&tmp_path, e))?;
        let writer = ArrowWriter::try_new(file, span_schema(), Some(writer_properties()))
            .map_err(|e| StoreError::parquet(&tmp_path, e))?;
        Ok(Self {
            tmp_path,
            final_path,
            writer,
            rows: 0,
        })
    }

    /// Encodes more spans.
    pub fn write(&mut self, spans: &[SpanRecord]) -> Result<(), StoreError> {
        if spans.is_empty() {
            return Ok(());
        }
        self.write_batch(&span_batch(spans)?)
    }

    /// Encodes a batch built by [`span_batch`] (callers build batches on their own threads).
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        self.writer
            .write(batch)
            .map_err(|e| StoreError::parquet(&self.tmp_path, e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Spans written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Completes the file and renames it into place. A segment without spans is
    /// removed instead, and `None` returned.
    pub fn finish(self) -> Result<Option<PathBuf>, StoreError> {
        self.writer
            .close()
            .map_err(|e| StoreError::parquet(&self.tmp_path, e))?;
        if self.rows == 0 {
            fs::remove_file(&self.tmp_path).map_err(|e| StoreError::io(&self.tmp_path, e))?;
            return Ok(None);
        }
        fs::rename(&self.tmp_path, &self.final_path)
            .map_err(|e| StoreError::io(&self.final_path, e))?;
        Ok(Some(self.final_path))
    }
}

/// Writes `spans` as segment `generation` of `dir` (write to `.tmp`, then rename).
/// Returns the final path. An empty slice writes nothing and returns `None`.
pub fn write_span_segment(
    dir: &Path,
    generation: u64,
    spans: &[SpanRecord],
) -> Result<Option<PathBuf>, StoreError> {
    if spans.is_empty() {
        return Ok(None);
    }
    let mut writer = SpanSegmentWriter::create(dir, generation)?;
    // Large segments are written in slices so the encoder's buffers stay small.
    for chunk in spans.chunks(64 * 1024) {
        writer.write(chunk)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_span_dir;

    #[test]
    fn segments_are_listed_in_generation_order_and_tmp_files_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let span = |i: u8| SpanRecord {
            trace_id: tracesplit_model::TraceId(u128::from(i).to_be_bytes()),
            span_id: tracesplit_model::SpanId(u64::from(i).to_be_bytes()),
            name: format!("s{i}"),
            attributes_json: "{}".into(),
            resource_attributes_json: "{}".into(),
            ..Default::default()
        };
        write_span_segment(dir.path(), 7, &[span(3)]).unwrap();
        write_span_segment(dir.path(), 2, &[span(1), span(2)]).unwrap();
        assert_eq!(write_span_segment(dir.path(), 9, &[]).unwrap(), None);
        fs::write(
            dir.path().join("spans-000000000011.parquet.tmp"),
            b"partial",
        )
        .unwrap();
        let gens: Vec<u64> = list_segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        assert_eq!(gens, vec![2, 7]);
        let names: Vec<String> = read_span_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["s1", "s2", "s3"]);
    }

    #[test]
    fn reading_a_non_parquet_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans-000000000001.parquet");
        fs::write(&path, b"not parquet at all").unwrap();
        let err = crate::read_span_file(&path).unwrap_err().to_string();
        assert!(err.contains("spans-000000000001.parquet"), "{err}");
        assert!(err.contains("not a readable Parquet file"), "{err}");
    }
}
