//! Runs a suite of CRUD scenarios against a catalog API with a W3C trace
//! context on every request, writing `requests.parquet` as it goes.
//!
//! One entry point, [`run`] with a [`RunConfig`]; what else other crates use
//! is re-exported here. Public modules: [`suite`] (the suite format and
//! `suite init`), [`spans`] (the runner's own spans) and [`ledger`] (the
//! fixture ledger's format).

mod auth;
mod chain;
mod client;
mod fixtures;
mod h2;
mod http1;
mod progress;
mod record;
mod refusal;
mod row;
mod run;
mod scenario;
mod schedule;
mod shard;
pub mod spans;
mod spanwait;
mod stream;
pub mod suite;
/// Client TLS (shared with the span sources).
pub use tracesplit_net::client_tls as tls;

pub use auth::AuthError;
pub use client::{ApiClient, ClientError, Outcome, USER_AGENT, parse_headers, url_path};
pub use fixtures::ledger;
pub use fixtures::{
    FixtureId, KindTrial, Retry as FixtureRetry, TrialError, cleanup, try_each_kind,
};
pub use progress::Progress;
pub use run::{Collect, RunConfig, RunError, RunOutcome, open_run_dir, preflight, run};
pub use schedule::{DEFAULT_MAX_CONCURRENCY, Schedule, Stop};
pub use shard::{Shard, ShardError};
pub use spanwait::ServerSpanIndex;
pub use tls::TlsOptions;

/// `2025-11-14T10:30:00.123456` (UTC): the seed results format's timestamp,
/// used for the run's start and end in `manifest.json`.
pub fn timestamp_now() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

/// A new run id: `ts-YYYYMMDD-HHMMSS-xxxx` (UTC time and 4 random hex digits).
pub fn new_run_id() -> String {
    let fmt = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    let now = time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default();
    format!("ts-{now}-{:04x}", rand::random::<u16>())
}
