//! Integration tests of this crate, in one test binary (one link of the
//! crate and its dependencies instead of one per file: less disk, less time).
mod bad_input;
mod http_ingest;
mod limits;
mod rust_exporter;
mod support;
