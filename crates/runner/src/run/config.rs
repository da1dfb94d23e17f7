//! What a run is given and what it gives back.

use crate::client::ClientError;
use crate::fixtures::CleanupReport;
use crate::fixtures::ledger::LedgerError;
use crate::progress::Progress;
use crate::schedule::Schedule;
use crate::spans::{ExportCounts, SpanExportError};
use crate::suite::Suite;
use http::HeaderMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tracesplit_collector::{CollectorHandle, CollectorStats};
use tracesplit_model::RunManifest;
use tracesplit_model::summary::Summary;
use tracesplit_store::StoreError;

/// Where spans go.
pub enum Collect {
    /// A collector the caller started (the demo, tests): the runner sends its
    /// client spans there, waits for server spans, and shuts it down at the end.
    Running(Box<CollectorHandle>),
    /// Start the embedded collector on these addresses; store in `RUN_DIR/spans`.
    Embedded {
        /// OTLP/gRPC address.
        grpc: SocketAddr,
        /// OTLP/HTTP address.
        http: SocketAddr,
    },
    /// Spans go elsewhere (`--no-collect`); client spans to this OTLP/HTTP endpoint
    /// (`None`: OTEL_EXPORTER_OTLP_ENDPOINT or the OTLP default).
    External {
        /// OTLP/HTTP base URL.
        endpoint: Option<String>,
    },
}

/// Everything a run needs, validated by the caller.
pub struct RunConfig {
    /// API base URL.
    pub base_url: String,
    /// Extra request headers (auth); never written anywhere.
    pub headers: HeaderMap,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Scenarios to run.
    pub suite: Suite,
    /// How to drive each scenario.
    pub schedule: Schedule,
    /// Output directory.
    pub run_dir: PathBuf,
    /// Run id.
    pub run_id: String,
    /// `--list-volume`.
    pub list_volume: u64,
    /// Concurrent fixture creations.
    pub setup_concurrency: usize,
    /// How a fixture create that failed is retried.
    pub setup_retry: crate::fixtures::Retry,
    /// Leave shared fixtures in place.
    pub keep_fixtures: bool,
    /// Reuse a kept fixture set.
    pub reuse_fixtures: Option<PathBuf>,
    /// Span collection.
    pub collect: Collect,
    /// Headers for the client spans' OTLP export.
    pub otlp_headers: Vec<(String, String)>,
    /// Quiet period that ends the wait for server spans.
    pub span_wait: Duration,
    /// Progress output.
    pub progress: Progress,
    /// Set on Ctrl-C: no new iteration starts.
    pub cancelled: Arc<AtomicBool>,
    /// This process's shard (its schedule already holds its share), recorded in the manifest.
    pub shard: Option<crate::shard::Shard>,
}

impl RunConfig {
    /// A run of `suite` against `base_url` with the defaults a caller usually
    /// keeps: 20 sequential iterations, 30 s timeout, a fresh run id, no extra
    /// headers, fixtures removed at the end, a 5 s span wait, no progress output.
    pub fn new(base_url: &str, suite: Suite, run_dir: PathBuf, collect: Collect) -> Self {
        Self {
            base_url: base_url.to_owned(),
            headers: HeaderMap::new(),
            timeout: Duration::from_secs(30),
            suite,
            schedule: Schedule::default(),
            run_dir,
            run_id: crate::new_run_id(),
            list_volume: 0,
            setup_concurrency: 8,
            setup_retry: crate::fixtures::Retry::default(),
            keep_fixtures: false,
            reuse_fixtures: None,
            collect,
            otlp_headers: Vec::new(),
            span_wait: Duration::from_secs(5),
            progress: Progress::silent(),
            cancelled: Arc::new(AtomicBool::new(false)),
            shard: None,
        }
    }
}

/// What a run produced.
pub struct RunOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// `summary.json` as written.
    pub summary: Summary,
    /// `manifest.json` as written.
    pub manifest: RunManifest,
    /// The API stopped answering mid-run.
    pub api_down: bool,
    /// Ctrl-C stopped the run early.
    pub interrupted: bool,
    /// Fixture cleanup.
    pub cleanup: CleanupReport,
    /// Requests without server span when the wait ended (embedded collector only).
    pub missing_server_spans: Option<u64>,
    /// Client span export.
    pub client_spans: ExportCounts,
    /// Embedded collector counters.
    pub collector: Option<CollectorStats>,
    /// Rows in `requests.parquet`.
    pub requests: u64,
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The API did not answer the health check.
    #[error("cannot reach the API at {url}: {error} (is it running? check --base-url)")]
    Unreachable {
        /// Health URL.
        url: String,
        /// What happened.
        error: String,
    },
    /// The run directory cannot be used.
    #[error("run directory {path}: {message}")]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Bad base URL or header.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Writing requests.parquet failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A ledger line could not be written mid-run: the run stopped (after
    /// removing what it could), since an unrecorded fixture would be left behind.
    #[error(
        "the fixture ledger {path} could not be written ({error}); the run stopped and removed what it could — check the disk, then run `tracesplit cleanup {path}`"
    )]
    LedgerFailed {
        /// The ledger file.
        path: PathBuf,
        /// What failed.
        error: String,
    },
    /// The fixtures could not be prepared.
    #[error(transparent)]
    Fixture(#[from] crate::fixtures::FixtureError),
    /// The embedded collector could not start.
    #[error(
        "embedded collector: {0} (use --collector-grpc/--collector-http 127.0.0.1:0, or --no-collect)"
    )]
    Collector(#[from] tracesplit_collector::StartError),
    /// Client span export could not be configured.
    #[error(transparent)]
    Spans(#[from] SpanExportError),
}
