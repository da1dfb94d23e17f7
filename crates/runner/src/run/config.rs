//! What a run is given and what it gives back.

use crate::client::ClientError;
use crate::fixtures::CleanupReport;
use crate::fixtures::ledger::LedgerError;
use crate::progress::Progress;
use crate::schedule::Schedule;
use crate::spans::{ExportCounts, SpanExportError};
use crate::suite::Suite;
use http::HeaderMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tracesplit_model::RunManifest;
use tracesplit_store::StoreError;

/// Where the client spans go, and who can tell when the API's spans arrived.
#[derive(Clone, Default)]
pub struct Collect {
    /// OTLP/HTTP endpoint for the client spans (`None`:
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, or the
    /// OTLP default).
    pub endpoint: Option<String>,
    /// The receiver of the API's spans (the embedded collector), asked after
    /// the last request until every request's server span is there; `None`
    /// when the spans go elsewhere (`--no-collect`).
    pub server_spans: Option<Arc<dyn crate::spanwait::ServerSpanIndex>>,
    /// Where the run's own spans are stored after the run, written from its
    /// records (the embedded collector in this process); `None`: they are
    /// exported to `endpoint` while the run measures.
    pub own_spans: Option<Arc<dyn tracesplit_model::span::OwnSpanSink>>,
}

impl Collect {
    /// The embedded collector in this process: the run waits for the API's
    /// spans on `server_spans`, and its own spans go into `own_spans` from
    /// its records after the run (none are exported while it measures).
    pub fn embedded(
        server_spans: Arc<dyn crate::spanwait::ServerSpanIndex>,
        own_spans: Arc<dyn tracesplit_model::span::OwnSpanSink>,
    ) -> Self {
        Self {
            endpoint: None,
            server_spans: Some(server_spans),
            own_spans: Some(own_spans),
        }
    }

    /// Client spans to `endpoint`, no wait for server spans.
    pub fn external(endpoint: Option<String>) -> Self {
        Self {
            endpoint,
            server_spans: None,
            own_spans: None,
        }
    }
}

/// Everything a run needs, validated by the caller.
pub struct RunConfig {
    /// API base URL.
    pub base_url: String,
    /// Extra request headers (auth); never written anywhere.
    pub headers: HeaderMap,
    /// TLS for an `https` base URL.
    pub tls: crate::tls::TlsOptions,
    /// Speak HTTP/2 to the API (h2 over TLS, h2c otherwise).
    pub http2: bool,
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
    /// The client [`crate::preflight`] made, when the caller ran it first:
    /// the API is then not probed (nor logged in to) a second time.
    pub checked: Option<crate::client::ApiClient>,
}

impl RunConfig {
    /// How the run reaches the API, as its ledger records it: the suite's
    /// health path and login (`${VAR}` references only) and the names of
    /// the `-H` headers, never their values.
    pub fn access(&self) -> crate::fixtures::ledger::Access {
        let names: Vec<String> = self.headers.keys().map(|k| k.as_str().to_owned()).collect();
        self.suite.access(&names)
    }

    /// `tracesplit cleanup LEDGER -H 'authorization: …'`: the command that
    /// removes what `ledger` lists, with every header the run sent with
    /// `-H` to give again (the ledger keeps their names, never values).
    pub fn cleanup_command(&self, ledger: &std::path::Path) -> String {
        // Header names are lower case (HeaderMap), as the ledger keeps them.
        let flags: String = (self.headers.keys())
            .map(|k| format!(" -H '{}: …'", k.as_str()))
            .collect();
        format!("tracesplit cleanup {}{flags}", ledger.display())
    }

    /// A run of `suite` against `base_url` with the defaults a caller usually
    /// keeps: 20 sequential iterations, 30 s timeout, a fresh run id, no extra
    /// headers, fixtures removed at the end, a 5 s span wait, no progress
    /// output. `collect` says where the spans go.
    pub fn new(base_url: &str, suite: Suite, run_dir: PathBuf, collect: Collect) -> Self {
        Self {
            base_url: base_url.to_owned(),
            headers: HeaderMap::new(),
            tls: crate::tls::TlsOptions::default(),
            http2: false,
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
            checked: None,
        }
    }
}

/// What a run produced.
pub struct RunOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// `manifest.json` as written (notes, fixture setups, side effects).
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
    /// Rows in `requests.parquet`.
    pub requests: u64,
    /// Scenarios the API refused (401/403, or a 4xx the suite does not
    /// expect) and what it answered: the run exits 2.
    pub refused: Vec<String>,
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
    /// No connection to the API could be opened (name, TCP, TLS).
    #[error("cannot connect to the API at {url}: {reason}")]
    Connect {
        /// Base URL.
        url: String,
        /// Why, in words.
        reason: String,
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
    /// Client span export could not be configured.
    #[error(transparent)]
    Spans(#[from] SpanExportError),
    /// The login failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// The API refused the run's requests (401/403, or another 4xx the suite
    /// does not expect) before anything was measured.
    #[error("{0}")]
    Refused(String),
}
