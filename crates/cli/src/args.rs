//! Command-line arguments (clap). Commands turn these into validated configs
//! before anything starts.

pub use crate::tls_args::{ServerTlsArgs, SourceArgs, TlsArgs};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where does a slow API call's P95 go? tracesplit drives a catalog API through
/// CRUD scenarios, traces every request and splits each P95 into network,
/// handler, database and cascade-check time.
#[derive(Debug, Parser)]
#[command(name = "tracesplit", version, about, max_term_width = 100)]
pub struct Cli {
    /// More log output on stderr.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reference catalog API (SQLite, instrumented with OpenTelemetry).
    ServeCatalog(ServeCatalogArgs),
    /// Receive OTLP traces (gRPC and HTTP) and write the span store.
    Collect(CollectArgs),
    /// Run a suite against a live API, with a trace context on every request.
    Run(Box<RunArgs>),
    /// Show the built-in suite (or check a suite file).
    Suite(SuiteArgs),
    /// Remove the fixtures a ledger lists (after a crash, or a kept set).
    Cleanup(CleanupArgs),
    /// Join a run's requests with its spans and split each scenario's P95.
    Analyze(Box<AnalyzeArgs>),
    /// Everything on embedded defaults: reference catalog, collector, catalog suite, analysis.
    Demo(DemoArgs),
    /// Compare two analyzed runs: P95 and split changes, significance, regressions.
    Compare(CompareArgs),
    /// Print a shell completion script (e.g. `tracesplit completions bash > /etc/bash_completion.d/tracesplit`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff; e.g. `tracesplit man > tracesplit.1`).
    Man,
    /// Print the command reference of docs/cli.md (Markdown).
    #[command(hide = true)]
    CliReference,
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// Report files written after an analysis (as soon as it exists).
#[derive(Debug, Args, Clone, Default)]
pub struct ReportOptions {
    /// Markdown report with span waterfalls, e.g. "$GITHUB_STEP_SUMMARY" (`-` for stdout).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// JUnit XML: one testcase per scenario, failures carry the split (`-` for stdout).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Self-contained HTML report with SVG charts (`-` for stdout).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

impl ReportOptions {
    /// Every report, each where it was asked for or else under its usual name in `dir`.
    pub fn defaulted_in(&self, dir: &std::path::Path) -> Self {
        let or = |given: &Option<PathBuf>, name: &str| {
            Some(given.clone().unwrap_or_else(|| dir.join(name)))
        };
        Self {
            markdown: or(&self.markdown, "report.md"),
            junit: or(&self.junit, "junit.xml"),
            html: or(&self.html, "report.html"),
        }
    }
}

/// `tracesplit compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// BASE HEAD (two run directories), or the base runs when the head runs follow `--`
    /// (`compare A1 A2 A3 -- B1 B2 B3`); a directory of runs stands for the runs in it.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// The head runs, after `--`.
    #[arg(last = true, value_name = "HEAD_RUN")]
    pub head: Vec<PathBuf>,
    /// Largest tolerated P95 growth, in percent (`10`, `10%`, `2.5`).
    #[arg(long, default_value = "10%")]
    pub max_regression: String,
    /// Smallest P95 growth that counts as a regression, in ms (sub-millisecond scenarios
    /// jitter by more than any percentage).
    #[arg(long, default_value_t = 1.0, value_name = "MS")]
    pub min_regression_ms: f64,
    /// 1 − the level of the P95 change's interval (0.05: a 95 % interval).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Seconds dropped at the start of each scenario of each run (warm-up; kept when
    /// that would drop more than half of its requests).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub skip: std::time::Duration,
    /// Compare runs that differ in suite, load model, rate, concurrency, warm-up or host
    /// (the differences are listed in the output).
    #[arg(long)]
    pub force: bool,
    /// Also write the comparison as Markdown (`-` for stdout).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Also write the comparison as JUnit XML (a failure per regression, with its interval).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
}

/// Options shared by `analyze`, `run` and `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct AnalysisOptions {
    /// Cascade classifier: regex on DB statements (default: the suite's; none when it declares none).
    #[arg(long)]
    pub cascade_statement: Option<String>,
    /// Cascade classifier: regex on the DB span's or an ancestor's name (default: the suite's; none when it declares none).
    #[arg(long)]
    pub cascade_span: Option<String>,
    /// The K slowest requests listed per scenario.
    #[arg(long, default_value_t = 5)]
    pub outliers: usize,
    /// Jaeger UI base URL, for trace links (e.g. http://localhost:16686).
    #[arg(long)]
    pub jaeger_url: Option<String>,
    /// Grafana base URL, for Tempo trace links (e.g. http://localhost:3000).
    #[arg(long)]
    pub grafana_url: Option<String>,
    /// Uid of Grafana's Tempo data source (with --grafana-url).
    #[arg(long, default_value = "tempo")]
    pub tempo_datasource: String,
    /// Peak memory the analysis may use for spans (`4GiB`, `512MiB`, `2GB`,
    /// bytes); a run that needs more is analyzed in partitions of its trace
    /// ids (default: half of this machine's memory).
    #[arg(long, value_name = "SIZE", value_parser = tracesplit_model::size::parse_size)]
    pub memory_limit: Option<u64>,
}

/// `tracesplit analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Run directories (several: shards of one run, merged).
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// A span store directory instead of the run's own spans/ (repeatable).
    #[arg(long)]
    pub spans: Vec<PathBuf>,
    /// Newline-delimited OTLP JSON, as an OpenTelemetry Collector's file exporter writes (repeatable).
    #[arg(long)]
    pub otlp_json: Vec<PathBuf>,
    /// Fetch the run's traces by id from Jaeger's query API (e.g. http://localhost:16686).
    #[arg(long, value_name = "URL")]
    pub jaeger: Option<String>,
    /// Fetch the run's traces by id from Tempo (e.g. http://localhost:3200; /api/v2/traces).
    #[arg(long, value_name = "URL")]
    pub tempo: Option<String>,
    /// Use Tempo's v1 endpoint (/api/traces/{id}), for Tempo before 2.5.
    #[arg(long, requires = "tempo")]
    pub tempo_v1: bool,
    /// With --jaeger/--tempo: how long a trace that is not there yet (404) is retried.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub span_wait: std::time::Duration,
    /// With --jaeger/--tempo: trace requests in flight at most.
    #[arg(long, default_value_t = 8)]
    pub fetch_concurrency: usize,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Replace RUN/summary.json even when it matched more requests to spans
    /// than this analysis (by default the better one is kept and this one is
    /// written beside it as summary.<source>.json).
    #[arg(long)]
    pub force: bool,
    /// Also write the summary JSON here.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub analysis: AnalysisOptions,
    #[command(flatten)]
    pub reports: ReportOptions,
}

/// `tracesplit demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Index the listings' foreign keys (the demo leaves them off on purpose).
    #[arg(long)]
    pub with_index: bool,
    /// Listings in the reference catalog, like a grown production catalog.
    #[arg(long, default_value_t = 300_000)]
    pub listings: u64,
    /// Measured iterations per scenario.
    #[arg(long, default_value_t = 20)]
    pub runs: u64,
    /// Run directory (default: tracesplit-runs/RUN_ID).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also measure the delete's usage check against CPUs used by each of these listing counts.
    #[arg(long, value_name = "N,N,…")]
    pub cascade_sweep: Option<String>,
    #[command(flatten)]
    pub analysis: AnalysisOptions,
    #[command(flatten)]
    pub reports: ReportOptions,
}

/// `tracesplit suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// What to do with it.
    #[command(subcommand)]
    pub action: SuiteAction,
}

/// `tracesplit suite show`.
#[derive(Debug, Subcommand)]
pub enum SuiteAction {
    /// Print the suite (validated) in its TOML form.
    Show {
        /// A suite file to validate and print instead of the built-in one.
        #[arg(long)]
        suite: Option<PathBuf>,
    },
    /// Write a suite from the API's OpenAPI 3 document (JSON or YAML): a
    /// fixture kind and scenarios per resource with a create and a delete.
    Init {
        /// The document: a URL (`http://localhost:8000/openapi.json`) or a file.
        #[arg(long, value_name = "URL|FILE")]
        openapi: String,
        /// Only these resources (`items,users`: the collection's last path segment).
        #[arg(long, value_delimiter = ',')]
        resources: Option<Vec<String>>,
        /// Header for fetching the document, e.g. 'Authorization: Bearer …' (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// Write the suite here instead of standard output.
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// Then create one fixture of each kind through the API and delete
        /// it again, showing what the API refused (exit 1 when it refused any).
        #[arg(long)]
        dry_run: bool,
        /// The API for --dry-run (default: where the document was fetched from).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
}

/// `tracesplit cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The ledger (RUN_DIR/ledger.jsonl).
    pub ledger: PathBuf,
    /// The API; defaults to the base URL in the manifest beside the ledger.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Extra request header, e.g. 'Authorization: Bearer …' (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `tracesplit run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The API under test.
    #[arg(long, default_value = "http://localhost:8000")]
    pub base_url: String,
    /// Measured iterations per scenario.
    #[arg(long, default_value_t = 20, conflicts_with = "duration")]
    pub runs: u64,
    /// Run each scenario for this long instead of a number of iterations (e.g. 30s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Iterations in flight at once (closed model; default 1). With --rate it limits
    /// nothing (--max-concurrency does), and the run says so.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Start this many iterations per second (open model, like k6's constant-arrival-rate;
    /// latency corrected for coordinated omission). Iterations in flight grow to what the
    /// rate needs, up to --max-concurrency; --concurrency does not limit them.
    #[arg(long)]
    pub rate: Option<f64>,
    /// The API's health path, probed before the run (overrides the suite's `health`);
    /// `none`: no probe, only a connection is opened.
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,
    /// With --rate: iterations in flight at most (default 1000). Starts that find this many
    /// in flight wait and are counted as late.
    #[arg(long, requires = "rate")]
    pub max_concurrency: Option<usize>,
    /// Unmeasured iterations before each scenario.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Also write the summary JSON (seed format) here.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Only scenarios of this entity type (a scenario's `entity_type` in the suite,
    /// any case; `-` reads as `_`).
    #[arg(long)]
    pub entity_type: Option<String>,
    /// Run directory (default: tracesplit-runs/RUN_ID).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only scenarios whose name matches this glob (e.g. 'CPU_DELETE*').
    #[arg(long)]
    pub scenario: Option<String>,
    /// Extra request header, e.g. 'Authorization: Bearer …' (repeatable; never written anywhere).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Speak HTTP/2 to the API: h2 over TLS (ALPN), h2c with prior knowledge
    /// for http://; --concurrency requests share a few connections.
    #[arg(long)]
    pub http2: bool,
    /// Suite file instead of the built-in catalog suite.
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Create this many CPUs before CPU_LIST_ALL (volume for list scenarios).
    #[arg(long, default_value_t = 0)]
    pub list_volume: u64,
    /// Fixture creations in flight at once.
    #[arg(long, default_value_t = 4)]
    pub setup_concurrency: usize,
    /// Retries of a fixture create that failed (a lost answer is first looked
    /// up by the fixture's tag; waits double from 250 ms up to 5 s).
    #[arg(long, default_value_t = 5)]
    pub setup_retries: u32,
    /// Leave the shared fixtures (and their ledger) in place for reuse.
    #[arg(long)]
    pub keep_fixtures: bool,
    /// Reuse a kept fixture set (its ledger), rebuilding only what is missing.
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Do not start the embedded collector (spans go to your own collector).
    #[arg(long)]
    pub no_collect: bool,
    /// OTLP endpoint for client spans with --no-collect (default: OTEL_EXPORTER_OTLP_ENDPOINT);
    /// OTLP/HTTP unless OTEL_EXPORTER_OTLP_PROTOCOL=grpc.
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// Embedded collector's OTLP/gRPC address.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub collector_grpc: SocketAddr,
    /// Embedded collector's OTLP/HTTP address (point the API's OTEL_EXPORTER_OTLP_ENDPOINT here).
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub collector_http: SocketAddr,
    /// After the last request, wait until every request has its server span or none arrived for this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub span_wait: std::time::Duration,
    /// Run shard I of N (0-based): a disjoint share of the iterations (and of --rate), own fixtures; merge with `analyze DIR…`.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub shard: Option<String>,
    /// N shards, this one's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
    #[arg(long, value_name = "N")]
    pub shards: Option<u64>,
    /// Add CASCADE_SWEEP_<N> scenarios: the delete's usage check against CPUs used by N listings, e.g. 0,10,100,1000,10000.
    #[arg(long, value_name = "N,N,…")]
    pub cascade_sweep: Option<String>,
    #[command(flatten)]
    pub analysis: AnalysisOptions,
    #[command(flatten)]
    pub reports: ReportOptions,
}

/// `tracesplit serve-catalog`.
#[derive(Debug, Args)]
pub struct ServeCatalogArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// SQLite database file (created and seeded when new); in memory when omitted.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Generated CPUs added to a fresh database's seed catalog.
    #[arg(long, default_value_t = 0)]
    pub seed_cpus: u64,
    /// Listings added to a fresh database, spread over the seeded CPUs.
    #[arg(long, default_value_t = 0)]
    pub seed_listings: u64,
    /// Drop the indexes on the listings' foreign keys: the delete's usage count scans the table.
    #[arg(long)]
    pub no_listing_index: bool,
    /// Sleep this long in every /v1 request handler.
    #[arg(long, default_value_t = 0)]
    pub handler_delay_ms: u64,
    /// Sleep this long in every /v1 request before its server span starts
    /// (as a request waiting for a busy worker): outside every span.
    #[arg(long, default_value_t = 0)]
    pub queue_delay_ms: u64,
    /// OTLP endpoint for the catalog's spans (default: OTEL_EXPORTER_OTLP_ENDPOINT, else
    /// http://localhost:4318); OTLP/HTTP unless OTEL_EXPORTER_OTLP_PROTOCOL=grpc.
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// Emit no spans at all.
    #[arg(long)]
    pub no_telemetry: bool,
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}

/// `tracesplit collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// OTLP/gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub grpc: SocketAddr,
    /// OTLP/HTTP listen address (POST /v1/traces).
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub http: SocketAddr,
    /// Span store directory (Parquet segments; write-ahead log in STORE/wal).
    #[arg(long, default_value = "spans")]
    pub store: PathBuf,
    /// Require `Authorization: Bearer TOKEN` on both transports.
    #[arg(long, env = "TRACESPLIT_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Largest request body in bytes, compressed or inflated.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_body: usize,
    /// Write a segment at least this often while spans arrive (e.g. 1s, 250ms).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub flush_interval: std::time::Duration,
    /// Write a segment when this many spans are buffered.
    #[arg(long, default_value_t = 100_000)]
    pub segment_spans: usize,
    /// Spans accepted but not yet stored before exports are refused with a retryable answer.
    #[arg(long, default_value_t = 200_000)]
    pub max_buffered_spans: usize,
    /// Connections open at once per receiver; more are closed as they arrive.
    #[arg(long, default_value_t = 1000)]
    pub max_connections: usize,
    /// A connection that has not sent a complete request head this long
    /// after it was accepted (TLS handshake included) is closed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}
