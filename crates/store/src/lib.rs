//! Parquet files of tracesplit.
//!
//! * [`SpanSegmentWriter`]/[`write_span_segment`]: the span store, a directory of
//!   complete Parquet segments (written to a temporary name, then renamed).
//! * [`RequestFileWriter`]: `requests.parquet`, written as the run goes, with a
//!   journal beside it so that a crash loses nothing already measured.
//! * Readers for both, used by tests, tools and the notebooks' checks.
//! * [`IdColumn`]/[`TextColumn`]: their columns in any Arrow layout (the
//!   analysis's scan reads through them too).

mod batch;
mod columns;
mod error;
mod journal;
mod reader;
mod requests;
mod segment;
mod split;

pub use batch::{request_batch, span_batch};
pub use columns::{ColumnError, IdColumn, TextColumn};
pub use error::StoreError;
pub use reader::{
    check_request_file, check_span_file, for_each_request_batch, read_answered_span_ids,
    read_requests, read_span_dir, read_span_file,
};
pub use requests::{Recovered, RequestFileWriter, recover_requests};
pub use segment::{SpanSegmentWriter, list_segments, segment_path, write_span_segment};
pub use split::{SplitRow, write_split_file};

use parquet::basic::Compression;
use parquet::basic::Encoding;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// Rows per Parquet row group. The writer's column buffers fill and are freed
/// once per row group: at 32k rows that cycle is well under the allocator's
/// 1 s delay before it hands freed memory back to the kernel, so the next row
/// group reuses it instead of page-faulting it in again (at 128k rows and
/// ~130k requests/s it did not).
const ROW_GROUP_ROWS: usize = 32 * 1024;

/// Writer settings shared by every file we produce: Snappy (cheap to write,
/// read by every Parquet reader), dictionary encoding for the repetitive text columns.
pub(crate) fn writer_properties() -> WriterProperties {
    writer_properties_compressed(Compression::SNAPPY)
}

/// `requests.parquet` is written while the run measures, on the cores the
/// API under test needs: uncompressed. Its rows are mostly random hex ids and
/// timestamps, so Snappy only saved a quarter of the size (75 vs 98 bytes a
/// row) for 4 % of the runner's throughput at 130k requests/s.
pub(crate) fn request_writer_properties() -> WriterProperties {
    writer_properties_compressed(Compression::UNCOMPRESSED)
}

fn writer_properties_compressed(compression: Compression) -> WriterProperties {
    use tracesplit_model::schema::{request_columns as r, span_columns as s};
    let mut builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    // Ids and timestamps are (nearly) unique: a dictionary only costs time there.
    for column in [
        s::TRACE_ID,
        s::SPAN_ID,
        s::PARENT_SPAN_ID,
        s::START,
        s::END,
        r::START,
        r::INTENDED_START,
        r::DURATION,
        r::TTFB,
    ] {
        builder = builder.set_column_dictionary_enabled(column.into(), false);
    }
    // Connection setup is zero on every request but the one that opened its
    // connection. Written on the runner's cores while it measures, so the
    // cheapest encoding wins: plain, no statistics (a dictionary hashed every
    // value, ~140 instructions a request; delta encoding ~90; plain ~10,
    // for 16 bytes a row).
    for column in [r::CONNECT_NS, r::TLS_NS] {
        builder = builder
            .set_column_dictionary_enabled(column.into(), false)
            .set_column_encoding(column.into(), Encoding::PLAIN)
            .set_column_statistics_enabled(column.into(), EnabledStatistics::None);
    }
    builder.build()
}
