//! Sockets and TLS shared by the crates.
//!
//! **Servers** (the collector's receivers, the reference catalog): TLS from
//! PEM files, at most so many connections at once, and a deadline for each
//! connection's first request head — so that clients which open connections
//! and never finish a request (19,800 of them once held every file
//! descriptor of a collector) are closed instead of kept. One entry point,
//! [`ServerListener::new`]; its connections are served by axum (it is an
//! `axum::serve::Listener`) or, with the `tonic` feature, by tonic's
//! `serve_with_incoming`.
//!
//! **Clients** (the runner's HTTP client, the span sources): the rustls
//! configuration with the system trust store, extra CAs, client
//! certificates and `--insecure` ([`client_tls`]).

pub mod client_tls;
mod guard;
mod listener;
mod server_tls;
mod stream;
#[cfg(feature = "test-pki")]
pub mod test_pki;
#[cfg(feature = "test-proxy")]
pub mod test_proxy;

pub use guard::Guarded;
pub use listener::{Limits, ListenStats, ServerListener};
pub use server_tls::{ServerTlsError, TlsFiles};
pub use stream::{ClientStream, MaybeTls, ServerStream};
