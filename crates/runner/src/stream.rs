//! How a connection to the API (or a collector) is opened, with the time
//! each phase took; its byte stream is crates/net's plain-or-TLS enum.

use crate::http1::WireError;
use std::io;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Where a connection goes: the address, and TLS when the URL is `https`.
#[derive(Clone)]
pub struct Target {
    /// `host:port` to resolve and connect to.
    pub address: String,
    /// The host, for messages.
    pub host: String,
    /// The TLS connector and the name to verify, for `https`.
    pub tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
}

/// How a connection was opened: what the request that opened it waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opening {
    /// Name resolution and TCP connect (ns).
    pub connect_ns: u64,
    /// The TLS handshake (ns; 0 without TLS).
    pub tls_ns: u64,
    /// The TLS session was resumed (no full handshake).
    pub resumed: bool,
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A TLS handshake's io error with the rustls error inside, when there is one.
pub(crate) fn tls_error(host: &str, e: io::Error) -> WireError {
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned();
    match inner {
        Some(error) => WireError::Tls {
            host: host.into(),
            error: Box::new(error),
        },
        None => WireError::Io(e),
    }
}

/// Resolves, connects without Nagle's delay, and shakes hands when `target` has TLS.
pub(crate) async fn open(target: &Target) -> Result<(Stream, Opening), WireError> {
    let started = Instant::now();
    let addresses: Vec<_> = tokio::net::lookup_host(&target.address)
        .await
        .map_err(|e| WireError::Resolve {
            host: target.host.as_str().into(),
            reason: e.to_string().into(),
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    let mut tcp = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = tcp.ok_or(last)?;
    tcp.set_nodelay(true)?;
    let connected = Instant::now();
    let mut opening = Opening {
        connect_ns: nanos(connected - started),
        ..Opening::default()
    };
    let stream = match &target.tls {
        None => Stream::Plain(tcp),
        Some((connector, name)) => {
            let tls = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| tls_error(&target.host, e))?;
            opening.tls_ns = nanos(connected.elapsed());
            opening.resumed = matches!(
                tls.get_ref().1.handshake_kind(),
                Some(rustls::HandshakeKind::Resumed)
            );
            Stream::Tls(Box::new(tls))
        }
    };
    Ok((stream, opening))
}

/// Plain TCP or TLS over it (the enum the servers use too).
pub(crate) type Stream = tracesplit_net::ClientStream;
