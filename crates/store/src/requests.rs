//! `requests.parquet`, written as the run goes.
//!
//! Rows go to two places: a journal (`requests.journal.jsonl`, one JSON line
//! per request, flushed by the caller's clock) and a streaming Parquet writer
//! on a temporary file. `finish` closes the Parquet file, renames it into place
//! and removes the journal. After a crash the journal is still there and
//! [`recover_requests`] turns it into `requests.parquet`, so a run that died
//! half-way keeps every request it measured up to its last journal flush.

use crate::{StoreError, batch::request_batch, request_writer_properties};
use parquet::arrow::ArrowWriter;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use tracesplit_model::RequestRecord;
use tracesplit_model::schema::request_schema;

/// Rows buffered before they are encoded as one Parquet batch. Small enough
/// that one batch's Arrow buffers are reused by the next before the allocator
/// returns them to the kernel (8k-row batches were re-faulted page by page,
/// a seventh of the writer thread's time at 100k requests/s); Parquet row
/// groups are sized separately.
const BATCH_ROWS: usize = 1024;

fn journal_path(path: &Path) -> PathBuf {
    path.with_extension("journal.jsonl")
}

fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension("parquet.tmp")
}

/// Streaming writer of `requests.parquet` with a crash journal.
pub struct RequestFileWriter {
    path: PathBuf,
    writer: ArrowWriter<File>,
    journal: BufWriter<File>,
    pending: Vec<RequestRecord>,
    /// The journal line being written (kept: no allocation per request).
    line: Vec<u8>,
    rows: u64,
}

impl RequestFileWriter {
    /// Starts `path` (normally `RUN_DIR/requests.parquet`).
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        let tmp = tmp_path(path);
        let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let writer =
            ArrowWriter::try_new(file, request_schema(), Some(request_writer_properties()))
                .map_err(|e| StoreError::parquet(&tmp, e))?;
        let jpath = journal_path(path);
        let journal = File::create(&jpath).map_err(|e| StoreError::io(&jpath, e))?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            journal: BufWriter::with_capacity(256 * 1024, journal),
            pending: Vec::with_capacity(BATCH_ROWS),
            line: Vec::with_capacity(512),
            rows: 0,
        })
    }

    /// Appends one request.
    pub fn append(&mut self, record: RequestRecord) -> Result<(), StoreError> {
        self.line.clear();
        crate::journal::write_line(&mut self.line, &record);
        // The journal's path is only built for an error (not once per request).
        self.journal
            .write_all(&self.line)
            .map_err(|e| StoreError::io(journal_path(&self.path), e))?;
        self.pending.push(record);
        self.rows += 1;
        if self.pending.len() >= BATCH_ROWS {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Pushes journal lines to the operating system (survives a crash of this process).
    pub fn flush_journal(&mut self) -> Result<(), StoreError> {
        self.journal
            .flush()
            .map_err(|e| StoreError::io(journal_path(&self.path), e))
    }

    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn write_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = request_batch(&self.pending)?;
        self.writer
            .write(&batch)
            .map_err(|e| StoreError::parquet(tmp_path(&self.path), e))?;
        self.pending.clear();
        Ok(())
    }

    /// Completes `requests.parquet` and removes the journal. Returns the row count.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.write_pending()?;
        self.flush_journal()?;
        let tmp = tmp_path(&self.path);
        self.writer
            .close()
            .map_err(|e| StoreError::parquet(&tmp, e))?;
        fs::rename(&tmp, &self.path).map_err(|e| StoreError::io(&self.path, e))?;
        let jpath = journal_path(&self.path);
        fs::remove_file(&jpath).map_err(|e| StoreError::io(&jpath, e))?;
        Ok(self.rows)
    }
}

/// What [`recover_requests`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Rows written to `requests.parquet`.
    pub rows: u64,
    /// A torn last line (the crash hit mid-write) was skipped.
    pub torn_last_line: bool,
}

/// Rebuilds `path` from its journal after a crash; `None` when there was
/// nothing to recover. Safe at every step: the rebuilt file is written under
/// a temporary name, synced, renamed into place and its directory synced
/// before the journal is removed — a crash during recovery leaves the
/// journal, and recovery runs again. A torn last line (even one cut inside a
/// UTF-8 character) is skipped and counted; any other bad line is an error.
pub fn recover_requests(path: &Path) -> Result<Option<Recovered>, StoreError> {
    let jpath = journal_path(path);
    if !jpath.exists() {
        return Ok(None);
    }
    let (records, torn_last_line) = read_journal(&jpath)?;
    let rows = records.len() as u64;
    let tmp = path.with_extension("parquet.recovering");
    let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let mut writer =
        ArrowWriter::try_new(file, request_schema(), Some(request_writer_properties()))
            .map_err(|e| StoreError::parquet(&tmp, e))?;
    for chunk in records.chunks(BATCH_ROWS) {
        let batch = request_batch(chunk)?;
        writer
            .write(&batch)
            .map_err(|e| StoreError::parquet(&tmp, e))?;
    }
    let file = writer
        .into_inner()
        .map_err(|e| StoreError::parquet(&tmp, e))?;
    file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable only once the directory entry is.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(dir, e))?;
    }
    fs::remove_file(&jpath).map_err(|e| StoreError::io(&jpath, e))?;
    Ok(Some(Recovered {
        rows,
        torn_last_line,
    }))
}

/// The journal's records, and whether its last line was torn.
fn read_journal(jpath: &Path) -> Result<(Vec<RequestRecord>, bool), StoreError> {
    let file = File::open(jpath).map_err(|e| StoreError::io(jpath, e))?;
    // Bytes, not `lines()`: a line cut inside a UTF-8 character must not fail the read.
    let lines: Vec<Vec<u8>> = BufReader::new(file)
        .split(b'\n')
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::io(jpath, e))?;
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_slice::<RequestRecord>(line) {
            Ok(r) => records.push(r),
            Err(_) if i + 1 == lines.len() => return Ok((records, true)),
            Err(e) => {
                return Err(StoreError::Journal {
                    path: jpath.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok((records, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_requests;

    fn record(i: u32) -> RequestRecord {
        RequestRecord {
            run_id: "r1".into(),
            scenario: "CPU_PATCH_SINGLE_FIELD".into(),
            iteration: i,
            status: 200,
            expected: true,
            trace_id: format!("{:032x}", i + 1),
            span_id: format!("{:016x}", i + 1),
            duration_ns: 1000 + i64::from(i),
            ttfb_ns: i.is_multiple_of(2).then_some(5),
            error: (i == 3).then(|| "timeout".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn writes_and_reads_back_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let mut w = RequestFileWriter::create(&path).unwrap();
        for i in 0..(BATCH_ROWS as u32 + 10) {
            w.append(record(i)).unwrap();
        }
        assert_eq!(w.finish().unwrap(), BATCH_ROWS as u64 + 10);
        assert!(!journal_path(&path).exists());
        let back = read_requests(&path).unwrap();
        assert_eq!(back.len(), BATCH_ROWS + 10);
        assert_eq!(back[3], record(3));
    }

    #[test]
    fn answered_span_ids_read_two_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let mut w = RequestFileWriter::create(&path).unwrap();
        for i in 0..6 {
            let mut r = record(i);
            r.status = if i % 3 == 0 { 0 } else { 200 };
            w.append(r).unwrap();
        }
        w.finish().unwrap();
        let ids = crate::read_answered_span_ids(&path).unwrap();
        assert_eq!(
            ids,
            [1u32, 2, 4, 5].map(|i| format!("{:016x}", i + 1)).to_vec()
        );
    }

    #[test]
    fn a_recovery_that_cannot_finish_keeps_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let mut w = RequestFileWriter::create(&path).unwrap();
        for i in 0..3 {
            w.append(record(i)).unwrap();
        }
        w.flush_journal().unwrap();
        drop(w);
        // The rebuilt file cannot be written (its temporary name is taken by a directory).
        fs::create_dir(path.with_extension("parquet.recovering")).unwrap();
        assert!(recover_requests(&path).is_err());
        let journal = fs::read_to_string(journal_path(&path)).unwrap();
        assert_eq!(journal.lines().count(), 3, "nothing lost");
        fs::remove_dir(path.with_extension("parquet.recovering")).unwrap();
        assert_eq!(recover_requests(&path).unwrap().map(|r| r.rows), Some(3));
    }

    #[test]
    fn recovers_from_journal_with_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let mut w = RequestFileWriter::create(&path).unwrap();
        for i in 0..5 {
            w.append(record(i)).unwrap();
        }
        w.flush_journal().unwrap();
        drop(w); // a crash: no finish
        let mut j = fs::OpenOptions::new()
            .append(true)
            .open(journal_path(&path))
            .unwrap();
        // Torn inside a multi-byte character.
        let torn = "[\"r1\",\"é".as_bytes();
        j.write_all(&torn[..torn.len() - 1]).unwrap();
        assert!(!path.exists());
        assert_eq!(
            recover_requests(&path).unwrap(),
            Some(Recovered {
                rows: 5,
                torn_last_line: true
            })
        );
        assert_eq!(
            read_requests(&path).unwrap(),
            (0..5).map(record).collect::<Vec<_>>()
        );
        assert_eq!(recover_requests(&path).unwrap(), None);
    }
}
