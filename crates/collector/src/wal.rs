//! Write-ahead log of accepted exports.
//!
//! Each accepted export is appended as one frame before the client gets its
//! answer: `[u32 length][u32 crc32][u8 encoding][payload]`, little endian.
//! Frames are written with one `write` call and not fsynced, so they survive
//! a crash of this process (the kernel has them) but not of the machine.
//! Log files are numbered by generation; generation G becomes segment G.

use crate::payload::Encoding;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const HEADER: usize = 9;

/// One logged export: its encoding and payload bytes.
pub type Frame = (Encoding, Vec<u8>);

/// Path of the log with generation `generation`.
pub fn wal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("wal-{generation:012}.log"))
}

/// Log files in `dir`, sorted by generation.
pub fn list_wals(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let generation = name
            .to_str()
            .and_then(|n| n.strip_prefix("wal-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|d| d.parse::<u64>().ok());
        if let Some(g) = generation {
            out.push((g, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// An open log file being appended to.
pub struct WalFile {
    generation: u64,
    file: File,
    scratch: Vec<u8>,
}

impl WalFile {
    /// Creates (or truncates) the log of `generation` in `dir`.
    pub fn create(dir: &Path, generation: u64) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(wal_path(dir, generation))?;
        Ok(Self {
            generation,
            file,
            scratch: Vec::new(),
        })
    }

    /// Generation of this log.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Appends one frame with a single write call.
    pub fn append(&mut self, encoding: Encoding, payload: &[u8]) -> io::Result<()> {
        let len =
            u32::try_from(payload.len()).map_err(|_| io::Error::other("payload over 4 GiB"))?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(payload);
        self.scratch.clear();
        self.scratch.extend_from_slice(&len.to_le_bytes());
        self.scratch
            .extend_from_slice(&hasher.finalize().to_le_bytes());
        self.scratch.push(match encoding {
            Encoding::Protobuf => 0,
            Encoding::Json => 1,
        });
        self.scratch.extend_from_slice(payload);
        self.file.write_all(&self.scratch)?;
        // Large frames must not pin a large buffer for the life of the log.
        if self.scratch.capacity() > 1 << 20 {
            self.scratch = Vec::new();
        }
        Ok(())
    }
}

/// Reads every complete frame of a log. A torn or corrupt tail (the process
/// died mid-write, before the client was answered) ends the log; it is
/// reported as the number of bytes ignored.
pub fn read_frames(path: &Path) -> io::Result<(Vec<Frame>, usize)> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut frames = Vec::new();
    let mut pos = 0;
    while data.len() - pos >= HEADER {
        let word =
            |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let len = word(pos) as usize;
        let crc = word(pos + 4);
        let encoding = match data[pos + 8] {
            0 => Encoding::Protobuf,
            1 => Encoding::Json,
            _ => break,
        };
        let start = pos + HEADER;
        let Some(payload) = data.get(start..start + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        frames.push((encoding, payload.to_vec()));
        pos = start + len;
    }
    Ok((frames, data.len() - pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = WalFile::create(dir.path(), 3).unwrap();
        wal.append(Encoding::Protobuf, b"one").unwrap();
        wal.append(Encoding::Json, b"{\"two\":2}").unwrap();
        drop(wal);
        let path = wal_path(dir.path(), 3);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        let (frames, ignored) = read_frames(&path).unwrap();
        assert_eq!(
            frames,
            vec![
                (Encoding::Protobuf, b"one".to_vec()),
                (Encoding::Json, b"{\"two\":2}".to_vec())
            ]
        );
        assert_eq!(ignored, 6);
        assert_eq!(list_wals(dir.path()).unwrap(), vec![(3, path)]);
    }
}
