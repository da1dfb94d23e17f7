//! Integration tests of this crate, in one test binary (one link of the
//! crate and its dependencies instead of one per file: less disk, less time).
mod accuracy;
mod collect_cli;
mod compare_cli;
mod demo_cli;
mod deploy_files;
mod docs_files;
mod newcomer_cli;
mod notebooks;
mod python_interop;
mod reports_cli;
mod run_cli;
mod shards_cli;
mod support;
mod testbed;
mod testbed_cli;
mod tls_cli;
mod transport_cli;
mod verdicts_cli;
