//! The reference catalog API: the contract of CATALOG_API.md on axum + SQLite,
//! instrumented with OpenTelemetry like the production service.
//!
//! It is both the demo's target and the test target: tracesplit's suite runs
//! against it exactly as against a team's deployment. Two knobs reproduce slow
//! deletes on purpose: no index on the listings' foreign keys (the usage count
//! scans the table) and a fixed handler delay.

mod db;
mod delete;
pub mod dump;
pub mod entity;
mod error;
mod handlers;
mod listings;
mod routes;
mod rows;
mod schema;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracesplit_telemetry::{ExportCounts, Telemetry, TelemetryConfig};

pub use schema::now as timestamp;
pub use tracesplit_net::TlsFiles;

/// How to run the catalog.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// SQLite file; `None` keeps the database in memory.
    pub db_path: Option<PathBuf>,
    /// Generated CPUs added to the seed catalog of a fresh database.
    pub seed_cpus: u64,
    /// Listings added to a fresh database, spread over the seeded CPUs.
    pub seed_listings: u64,
    /// Index the listings' foreign keys (off: the usage check scans the table).
    pub listing_index: bool,
    /// Added to every `/v1` request, inside its server span.
    pub handler_delay: Duration,
    /// Added to every `/v1` request before its server span starts.
    pub queue_delay: Duration,
    /// Span export; `None` emits no spans.
    pub telemetry: Option<TelemetryConfig>,
    /// Serve HTTPS with these certificate files.
    pub tls: Option<TlsFiles>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8000).into(),
            db_path: None,
            seed_cpus: 0,
            seed_listings: 0,
            listing_index: true,
            handler_delay: Duration::ZERO,
            queue_delay: Duration::ZERO,
            telemetry: Some(TelemetryConfig::new("catalog-demo")),
            tls: None,
        }
    }
}

/// Why the catalog could not start.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database could not be opened or prepared.
    #[error("catalog database {path}: {message}")]
    Database {
        /// File path or `:memory:`.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source} (is the port taken? try --listen 127.0.0.1:0)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A TLS certificate or key file is not usable.
    #[error("TLS file {path}: {message}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Span export could not be configured.
    #[error(transparent)]
    Telemetry(#[from] tracesplit_telemetry::TelemetryError),
}

/// A running catalog.
pub struct CatalogHandle {
    addr: SocketAddr,
    https: bool,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    telemetry: Option<Arc<Telemetry>>,
}

/// Entry point: `CatalogServer::start(config).await`.
pub struct CatalogServer;

fn open(config: &CatalogConfig) -> Result<db::Db, CatalogError> {
    let path = config
        .db_path
        .as_ref()
        .map_or(":memory:".to_string(), |p| p.display().to_string());
    let fail = |e: rusqlite::Error| CatalogError::Database {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut conn = match &config.db_path {
        Some(p) => rusqlite::Connection::open(p).map_err(fail)?,
        None => rusqlite::Connection::open_in_memory().map_err(fail)?,
    };
    if config.db_path.is_some() {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
    }
    schema::create(&conn, config.listing_index).map_err(fail)?;
    schema::seed(&mut conn, config.seed_cpus, config.seed_listings).map_err(fail)?;
    conn.execute_batch("ANALYZE").map_err(fail)?;
    Ok(db::Db::new(conn))
}

impl CatalogServer {
    /// Opens (and seeds) the database, binds, and serves until shutdown.
    pub async fn start(config: CatalogConfig) -> Result<CatalogHandle, CatalogError> {
        let cfg = config.clone();
        let db = tokio::task::spawn_blocking(move || open(&cfg))
            .await
            .map_err(|e| CatalogError::Database {
                path: "?".into(),
                message: e.to_string(),
            })??;
        let acceptor = config
            .tls
            .as_ref()
            .map(TlsFiles::acceptor)
            .transpose()
            .map_err(|e| CatalogError::Tls {
                path: e.path,
                message: e.message,
            })?;
        let telemetry = config
            .telemetry
            .as_ref()
            .map(Telemetry::start)
            .transpose()?
            .map(Arc::new);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| CatalogError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| CatalogError::Bind {
            addr: config.listen,
            source,
        })?;
        let app = routes::router(routes::AppState {
            db,
            delay: config.handler_delay,
            queue_delay: config.queue_delay,
            telemetry: telemetry.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        // The collector's listener: TLS when asked, a connection limit, and a
        // deadline for each connection's first request head.
        let listener = tracesplit_net::ServerListener::new(
            listener,
            tracesplit_net::Limits::default(),
            acceptor,
        )
        .map_err(|source| CatalogError::Bind {
            addr: config.listen,
            source,
        })?;
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stopped);
            if let Err(e) = serve.await {
                tracing::error!("catalog server stopped: {e}");
            }
        });
        Ok(CatalogHandle {
            addr,
            https: config.tls.is_some(),
            stop: Some(stop),
            server,
            telemetry,
        })
    }
}

impl CatalogHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://localhost:PORT` when serving TLS (the
    /// name a test certificate is issued for).
    pub fn base_url(&self) -> String {
        if self.https {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Span export counts so far (zero when spans are off).
    pub fn span_counts(&self) -> ExportCounts {
        self.telemetry
            .as_ref()
            .map(|t| t.counts())
            .unwrap_or_default()
    }

    /// Exports queued spans now.
    pub async fn flush_spans(&self) {
        if let Some(t) = self.telemetry.clone() {
            let _ = tokio::task::spawn_blocking(move || t.flush()).await;
        }
    }

    /// Stops serving (in-flight requests finish) and flushes spans.
    pub async fn shutdown(mut self) -> ExportCounts {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        match self.telemetry.take() {
            Some(t) => tokio::task::spawn_blocking(move || t.shutdown())
                .await
                .unwrap_or_default(),
            None => ExportCounts::default(),
        }
    }
}
