//! Integration tests of this crate, in one test binary (one link of the
//! crate and its dependencies instead of one per file: less disk, less time).
mod fetch_sources;
mod gate;
mod layouts;
mod otlp_json;
mod partitions;
mod support;
mod synthetic;
mod tail;
