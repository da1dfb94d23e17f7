//! The accept loop: a permit per connection (beyond the limit a connection is
//! closed at once, so the client fails fast and retries, instead of waiting
//! in the kernel's backlog), TLS handshakes in their own tasks, and every
//! connection handed over with its head deadline.

use crate::guard::Guarded;
use crate::stream::ServerStream;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How many connections, and how long a client may take to send its first
/// request head (the TLS handshake included).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// From accept to the end of the first request head.
    pub head_timeout: Duration,
}

impl Default for Limits {
    /// 1,000 connections (well under the usual 1,024 descriptors once the
    /// store's files are counted) and 10 s.
    fn default() -> Self {
        Self {
            max_connections: 1000,
            head_timeout: Duration::from_secs(10),
        }
    }
}

/// What the listener turned away.
#[derive(Debug, Default)]
pub struct ListenStats {
    /// Connections closed on arrival: the limit was reached.
    pub over_limit: AtomicU64,
    /// Connections closed because their first request head did not arrive in time.
    pub head_timeouts: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub failed_handshakes: AtomicU64,
}

/// Connections ready to be served.
pub struct ServerListener {
    ready: mpsc::Receiver<Guarded<ServerStream>>,
    addr: SocketAddr,
    stats: Arc<ListenStats>,
    accept_loop: JoinHandle<()>,
}

struct Acceptor {
    listener: TcpListener,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    permits: Arc<Semaphore>,
    stats: Arc<ListenStats>,
    ready: mpsc::Sender<Guarded<ServerStream>>,
}

impl Acceptor {
    async fn run(self) {
        loop {
            let (tcp, peer) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, say: wait instead of spinning.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                let n = self.stats.over_limit.fetch_add(1, Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        "{n} connections closed on arrival: {} are open (the limit)",
                        self.limits.max_connections
                    );
                }
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (limits, stats, ready) = (self.limits, self.stats.clone(), self.ready.clone());
            match &self.tls {
                None => {
                    let conn = Guarded::new(
                        ServerStream::Plain(tcp),
                        peer,
                        limits.head_timeout,
                        permit,
                        stats,
                    );
                    if ready.send(conn).await.is_err() {
                        return;
                    }
                }
                Some(tls) => {
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let started = tokio::time::Instant::now();
                        let Some(stream) = handshake(&tls, tcp, peer, limits, &stats).await else {
                            return;
                        };
                        let left = limits.head_timeout.saturating_sub(started.elapsed());
                        let _ = ready
                            .send(Guarded::new(stream, peer, left, permit, stats))
                            .await;
                    });
                }
            }
        }
    }
}

async fn handshake(
    tls: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    limits: Limits,
    stats: &ListenStats,
) -> Option<ServerStream> {
    match tokio::time::timeout(limits.head_timeout, tls.accept(tcp)).await {
        Ok(Ok(s)) => Some(ServerStream::Tls(Box::new(s))),
        Ok(Err(e)) => {
            stats.failed_handshakes.fetch_add(1, Relaxed);
            tracing::info!("TLS handshake with {peer} failed: {e}");
            None
        }
        Err(_) => {
            stats.failed_handshakes.fetch_add(1, Relaxed);
            tracing::info!("TLS handshake with {peer} timed out");
            None
        }
    }
}

impl ServerListener {
    /// Accepts on `listener` within `limits`, with TLS when `tls` is given.
    pub fn new(
        listener: TcpListener,
        limits: Limits,
        tls: Option<TlsAcceptor>,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let (ready_tx, ready) = mpsc::channel(64);
        let stats = Arc::new(ListenStats::default());
        let acceptor = Acceptor {
            listener,
            limits,
            tls,
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            stats: stats.clone(),
            ready: ready_tx,
        };
        Ok(Self {
            ready,
            addr,
            stats,
            accept_loop: tokio::spawn(acceptor.run()),
        })
    }

    /// What was turned away so far (shared: it keeps counting while serving).
    pub fn stats(&self) -> Arc<ListenStats> {
        self.stats.clone()
    }

    /// The next connection; `None` once the accept loop ended.
    pub async fn next(&mut self) -> Option<Guarded<ServerStream>> {
        self.ready.recv().await
    }

    /// The connections as a stream, for tonic's `serve_with_incoming`.
    pub fn into_incoming(
        self,
    ) -> impl futures::Stream<Item = Result<Guarded<ServerStream>, io::Error>> + Send {
        futures::stream::unfold(self, |mut l| async move {
            let conn = l.next().await?;
            Some((Ok(conn), l))
        })
    }
}

impl Drop for ServerListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl axum::serve::Listener for ServerListener {
    type Io = Guarded<ServerStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.next().await {
            Some(conn) => {
                let peer = conn.peer();
                (conn, peer)
            }
            // The accept loop ended (the runtime is shutting down).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A listener whose connections are read until they fail (as a server does).
    async fn reading_server(limits: Limits) -> (SocketAddr, Arc<ListenStats>) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut listener = ServerListener::new(tcp, limits, None).unwrap();
        let (addr, stats) = (listener.addr, listener.stats());
        tokio::spawn(async move {
            while let Some(mut conn) = listener.next().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        (addr, stats)
    }

    /// Whether the server closed `c` within `within`.
    async fn closed(c: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 16];
        matches!(
            tokio::time::timeout(within, c.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn a_connection_without_a_whole_request_head_in_time_is_closed() {
        let limits = Limits {
            max_connections: 10,
            head_timeout: Duration::from_millis(200),
        };
        let (addr, stats) = reading_server(limits).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial
            .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut whole = TcpStream::connect(addr).await.unwrap();
        // The head's end split across two writes still counts.
        whole
            .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        whole.write_all(b"\n\r\n").await.unwrap();
        assert!(closed(&mut silent, Duration::from_secs(5)).await);
        assert!(closed(&mut partial, Duration::from_secs(5)).await);
        assert!(
            !closed(&mut whole, Duration::from_millis(600)).await,
            "a connection that sent its head stays open"
        );
        assert_eq!(stats.head_timeouts.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn beyond_the_limit_connections_are_closed_on_arrival_and_slots_come_back() {
        let limits = Limits {
            max_connections: 2,
            head_timeout: Duration::from_secs(30),
        };
        let (addr, stats) = reading_server(limits).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert!(closed(&mut third, Duration::from_secs(5)).await);
        assert_eq!(stats.over_limit.load(Relaxed), 1);
        // The first leaves: its slot is free again.
        first.shutdown().await.unwrap();
        drop(first);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut fourth = TcpStream::connect(addr).await.unwrap();
        assert!(!closed(&mut fourth, Duration::from_millis(300)).await);
        assert_eq!(stats.over_limit.load(Relaxed), 1);
    }
}
