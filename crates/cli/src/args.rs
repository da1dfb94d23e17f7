//! Command-line arguments (clap). Commands turn these into validated configs
//! before anything starts.

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
    /// OTLP/HTTP endpoint for the catalog's spans (default: OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318).
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// Emit no spans at all.
    #[arg(long)]
    pub no_telemetry: bool,
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
}
