//! Integration tests of this crate, in one test binary (one link of the
//! crate and its dependencies instead of one per file: less disk, less time).
mod catalog;
mod faults;
mod fixtures;
mod support;
mod tls;
