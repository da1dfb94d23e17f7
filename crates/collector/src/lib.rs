//! OTLP trace receiver writing the tracesplit span store.
//!
//! [`Collector::start`] binds an OTLP/gRPC and an OTLP/HTTP listener, replays
//! any write-ahead log a previous process left behind, and returns a
//! [`CollectorHandle`] that reports the bound addresses and statistics and
//! shuts everything down cleanly (flushing the last segment).
//!
//! Durability promise: an export that received a success answer is in the
//! write-ahead log (`STORE/wal/`) before the answer is sent, and every log
//! file is replayed into a segment on the next start. A SIGKILL therefore
//! never loses acknowledged spans (the log is not fsynced: an operating-system
//! crash or power loss can).

mod config;
mod error;
mod grpc;
mod http;
mod ingest;
mod payload;
mod wal;
mod writer;

pub use config::CollectorConfig;
pub use error::{IngestError, StartError, StoreFailure};
pub use ingest::CollectorStats;
pub use payload::{Encoding, decode_export};

use ingest::Ingest;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Entry point: `Collector::start(config).await`.
pub struct Collector;

/// A running collector.
pub struct CollectorHandle {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    scheme: &'static str,
    connections: Vec<Arc<tracesplit_net::ListenStats>>,
    ingest: Arc<Ingest>,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    replayed_spans: u64,
}

impl Collector {
    /// Replays the write-ahead log, binds both listeners and starts serving.
    pub async fn start(config: CollectorConfig) -> Result<CollectorHandle, StartError> {
        config.validate()?;
        let (ingest, replayed_spans) = Ingest::open(&config)?;
        let ingest = Arc::new(ingest);
        let grpc_listener = bind(config.grpc_addr, "gRPC").await?;
        let http_listener = bind(config.http_addr, "HTTP").await?;
        let grpc_addr = local_addr(&grpc_listener, "gRPC")?;
        let http_addr = local_addr(&http_listener, "HTTP")?;
        let acceptor = config
            .tls
            .as_ref()
            .map(tracesplit_net::TlsFiles::acceptor)
            .transpose()?;
        let guard = |l, what, addr| {
            tracesplit_net::ServerListener::new(l, config.limits, acceptor.clone())
                .map_err(|source| StartError::Bind { what, addr, source })
        };
        let grpc_listener = guard(grpc_listener, "gRPC", grpc_addr)?;
        let http_listener = guard(http_listener, "HTTP", http_addr)?;
        let connections = vec![grpc_listener.stats(), http_listener.stats()];
        let (shutdown, rx) = watch::channel(false);
        let servers = vec![
            tokio::spawn(grpc::serve(
                grpc_listener,
                ingest.clone(),
                config.clone(),
                rx.clone(),
            )),
            tokio::spawn(http::serve(
                http_listener,
                ingest.clone(),
                config.clone(),
                rx,
            )),
        ];
        Ok(CollectorHandle {
            grpc_addr,
            http_addr,
            scheme: if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
            connections,
            ingest,
            shutdown,
            servers,
            replayed_spans,
        })
    }
}

async fn bind(addr: SocketAddr, what: &'static str) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { what, addr, source })
}

fn local_addr(l: &tokio::net::TcpListener, what: &'static str) -> Result<SocketAddr, StartError> {
    l.local_addr().map_err(|source| StartError::Bind {
        what,
        addr: ([0, 0, 0, 0], 0).into(),
        source,
    })
}

/// [`CollectorHandle::span_index`].
struct SpanIndex(std::sync::Arc<ingest::Ingest>);

impl tracesplit_model::span::ServerSpanIndex for SpanIndex {
    fn without_server_span(&self, ids: Vec<String>) -> Vec<String> {
        self.0.without_server_children(ids.clone()).unwrap_or(ids)
    }

    fn received_spans(&self) -> u64 {
        self.0.stats().received_spans
    }
}

/// [`CollectorHandle::own_span_sink`].
struct OwnSpans(std::sync::Arc<ingest::Ingest>);

impl tracesplit_model::span::OwnSpanSink for OwnSpans {
    fn store(
        &self,
        otlp_protobuf: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.0.accept_waiting(&otlp_protobuf)?)
    }
}

impl CollectorHandle {
    /// Address of the OTLP/gRPC listener.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Address of the OTLP/HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://ADDR` (`https://` with TLS) of the OTLP/HTTP listener, as
    /// OTEL_EXPORTER_OTLP_ENDPOINT expects.
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.http_addr)
    }

    /// `http://ADDR` (`https://` with TLS) of the OTLP/gRPC listener.
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.grpc_addr)
    }

    /// Connections both receivers turned away so far: (closed on arrival at
    /// the limit, closed for a late first request head, failed TLS handshakes).
    pub fn turned_away(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.connections.iter().fold((0, 0, 0), |(a, b, c), s| {
            (
                a + s.over_limit.load(Relaxed),
                b + s.head_timeouts.load(Relaxed),
                c + s.failed_handshakes.load(Relaxed),
            )
        })
    }

    /// Spans replayed from a previous process's write-ahead log at start.
    pub fn replayed_spans(&self) -> u64 {
        self.replayed_spans
    }

    /// Current counters.
    pub fn stats(&self) -> CollectorStats {
        self.ingest.stats()
    }

    /// How many of these client span ids have no SERVER span as child yet
    /// (`None` unless the config set `track_server_parents`).
    pub fn missing_server_spans(&self, client_span_ids: &[String]) -> Option<usize> {
        self.ingest.missing_server_children(client_span_ids)
    }

    /// What the runner's span wait asks: which client spans have a SERVER
    /// child yet (every id counts as missing unless the config set
    /// `track_server_parents`). Outlives the handle's shutdown harmlessly.
    pub fn span_index(&self) -> std::sync::Arc<dyn tracesplit_model::span::ServerSpanIndex> {
        std::sync::Arc::new(SpanIndex(self.ingest.clone()))
    }

    /// Where the runner in this process hands its own spans after the run:
    /// stored as an export over OTLP would be (logged, then in a segment),
    /// without the HTTP hop. Blocking: call it off the async workers.
    pub fn own_span_sink(&self) -> std::sync::Arc<dyn tracesplit_model::span::OwnSpanSink> {
        std::sync::Arc::new(OwnSpans(self.ingest.clone()))
    }

    /// Writes what is buffered as a segment now and waits until it is on disk.
    pub async fn flush(&self) -> Result<(), IngestError> {
        self.ingest.flush().await
    }

    /// Stops accepting, finishes in-flight exports, writes the last segment.
    pub async fn shutdown(self) -> Result<CollectorStats, IngestError> {
        let _ = self.shutdown.send(true);
        for server in self.servers {
            let _ = server.await;
        }
        self.ingest.close().await?;
        Ok(self.ingest.stats())
    }
}
