//! Collector settings, validated before anything binds.

use crate::StartError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the collector needs; `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// OTLP/gRPC listen address (default 127.0.0.1:4317).
    pub grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address (default 127.0.0.1:4318).
    pub http_addr: SocketAddr,
    /// Span store directory (segments; `wal/` inside).
    pub store_dir: PathBuf,
    /// When set, both transports require `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
    /// Largest accepted request body, compressed or not (default 16 MiB).
    pub max_body: usize,
    /// A segment is written at least this often while spans arrive (default 1 s).
    pub flush_interval: Duration,
    /// A segment is written when this many spans are buffered (default 100,000).
    pub segment_spans: usize,
    /// Spans accepted but not yet in a segment; beyond it exports are refused
    /// with a retryable answer (default 200,000).
    pub max_buffered_spans: usize,
    /// Remember the parent id of every SERVER span received, so an embedding
    /// runner can wait until each of its requests has its server span.
    pub track_server_parents: bool,
    /// Connections open at once (per receiver) and the deadline for each
    /// connection's first request head (TLS handshake included).
    pub limits: tracesplit_net::Limits,
    /// Serve both receivers over TLS with these files.
    pub tls: Option<tracesplit_net::TlsFiles>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            grpc_addr: ([127, 0, 0, 1], 4317).into(),
            http_addr: ([127, 0, 0, 1], 4318).into(),
            store_dir: PathBuf::from("spans"),
            auth_token: None,
            max_body: 16 * 1024 * 1024,
            flush_interval: Duration::from_secs(1),
            segment_spans: 100_000,
            max_buffered_spans: 200_000,
            track_server_parents: false,
            limits: tracesplit_net::Limits::default(),
            tls: None,
        }
    }
}

impl CollectorConfig {
    /// A config on loopback port 0 (both transports) writing to `store_dir`; for embedding and tests.
    pub fn ephemeral(store_dir: impl Into<PathBuf>) -> Self {
        Self {
            grpc_addr: ([127, 0, 0, 1], 0).into(),
            http_addr: ([127, 0, 0, 1], 0).into(),
            store_dir: store_dir.into(),
            ..Self::default()
        }
    }

    /// Rejects settings that cannot work, naming the setting.
    pub fn validate(&self) -> Result<(), StartError> {
        let bad =
            |setting: &'static str, problem: String| Err(StartError::Config { setting, problem });
        if self.max_body < 1024 {
            return bad(
                "max-body",
                format!("{} bytes is too small (at least 1024)", self.max_body),
            );
        }
        if self.segment_spans == 0 {
            return bad("segment-spans", "must be at least 1".into());
        }
        if self.max_buffered_spans < self.segment_spans {
            return bad(
                "max-buffered-spans",
                format!(
                    "{} is below the segment size {}",
                    self.max_buffered_spans, self.segment_spans
                ),
            );
        }
        if self.flush_interval.is_zero() {
            return bad("flush-interval", "must be greater than zero".into());
        }
        if matches!(&self.auth_token, Some(t) if t.is_empty()) {
            return bad("auth-token", "is empty".into());
        }
        if self.limits.max_connections == 0 {
            return bad("max-connections", "must be at least 1".into());
        }
        if self.limits.head_timeout.is_zero() {
            return bad("header-timeout", "must be greater than zero".into());
        }
        Ok(())
    }

    /// Why the token may travel in clear text, when it may: a receiver bound
    /// beyond loopback with `--auth-token` and no TLS.
    pub fn clear_text_token_warning(&self) -> Option<String> {
        if self.auth_token.is_none() || self.tls.is_some() {
            return None;
        }
        let open: Vec<String> = [("gRPC", self.grpc_addr), ("HTTP", self.http_addr)]
            .into_iter()
            .filter(|(_, a)| !a.ip().is_loopback())
            .map(|(what, a)| format!("OTLP/{what} on {a}"))
            .collect();
        (!open.is_empty()).then(|| {
            format!(
                "warning: {} accept(s) the --auth-token without TLS: the token crosses the network in clear text; add --tls-cert and --tls-key",
                open.join(" and ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_beyond_loopback_without_tls_is_warned_about() {
        let mut c = CollectorConfig {
            auth_token: Some("t".into()),
            ..CollectorConfig::default()
        };
        assert_eq!(c.clear_text_token_warning(), None, "loopback only");
        c.http_addr = ([0, 0, 0, 0], 4318).into();
        let w = c.clear_text_token_warning().unwrap_or_default();
        assert!(
            w.contains("OTLP/HTTP on 0.0.0.0:4318") && w.contains("--tls-cert"),
            "{w}"
        );
        c.tls = Some(tracesplit_net::TlsFiles {
            cert: "c.pem".into(),
            key: "k.pem".into(),
            client_ca: None,
        });
        assert_eq!(c.clear_text_token_warning(), None, "with TLS");
        c.tls = None;
        c.auth_token = None;
        assert_eq!(c.clear_text_token_warning(), None, "no token to leak");
    }
}
