//! OTLP/gRPC export of the client spans (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`):
//! the same encoded `ExportTraceServiceRequest`, framed for gRPC (a flag
//! byte, a length, the message) and sent as a unary call over HTTP/2.

use super::export::{Refused, Retry};
use crate::h2::H2Conn;
use crate::http1::Target;
use crate::tls::TlsOptions;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Uri};
use std::sync::Mutex;
use std::time::Duration;
use tracesplit_model::internal::Locked;

/// The method every OTLP trace receiver serves.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Where the gRPC exports go, and the connection they share.
pub(super) struct GrpcTarget {
    target: Target,
    uri: String,
    headers: HeaderMap,
    gzip: bool,
    timeout: Duration,
    conn: Mutex<Option<H2Conn>>,
}

/// gRPC codes the OTLP specification calls retryable (RESOURCE_EXHAUSTED only
/// when the server says when to retry).
fn retryable(code: u32, has_retry_info: bool) -> bool {
    matches!(code, 1 | 4 | 10 | 11 | 14 | 15) || (code == 8 && has_retry_info)
}

/// Why the OTLP/gRPC endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum GrpcSetupError {
    /// The URL names no host.
    #[error("has no host")]
    NoHost,
    /// The host is no name a certificate can carry.
    #[error("{0}")]
    ServerName(#[from] rustls::pki_types::InvalidDnsNameError),
    /// The TLS files could not be read.
    #[error("{0}")]
    Tls(#[from] tracesplit_net::client_tls::TlsError),
}

impl GrpcTarget {
    pub(super) fn new(
        endpoint: &Uri,
        headers: HeaderMap,
        tls: &TlsOptions,
        gzip: bool,
        timeout: Duration,
    ) -> Result<Self, GrpcSetupError> {
        let host = endpoint.host().ok_or(GrpcSetupError::NoHost)?.to_owned();
        let https = endpoint.scheme_str() == Some("https");
        let port = endpoint.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let name = crate::tls::server_name(&host)?;
            let config = crate::tls::client_config_for(tls, &[b"h2"])?;
            Some((tokio_rustls::TlsConnector::from(config), name))
        } else {
            None
        };
        let authority = endpoint.authority().map_or(host.clone(), |a| a.to_string());
        Ok(Self {
            target: Target {
                address: format!("{host}:{port}"),
                host,
                tls,
            },
            uri: format!(
                "{}://{authority}{EXPORT}",
                if https { "https" } else { "http" }
            ),
            headers,
            gzip,
            timeout,
            conn: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<H2Conn, crate::http1::WireError> {
        let open = self.conn.locked().clone().filter(H2Conn::is_open);
        if let Some(c) = open {
            return Ok(c);
        }
        let c = H2Conn::connect(&self.target).await?;
        *self.conn.locked() = Some(c.clone());
        Ok(c)
    }

    fn request(&self) -> Result<Request<()>, http::Error> {
        let mut r = Request::builder().method("POST").uri(&self.uri).body(())?;
        let h = r.headers_mut();
        h.extend(self.headers.clone());
        h.insert("content-type", HeaderValue::from_static("application/grpc"));
        h.insert("te", HeaderValue::from_static("trailers"));
        if self.gzip {
            h.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        }
        Ok(r)
    }

    /// One unary call with `framed`: the message (gzipped when configured)
    /// behind its gRPC frame prefix.
    pub(super) async fn export(&self, framed: &Bytes) -> Result<(), Refused> {
        let fail = |retry, message: String| Refused {
            retry,
            message,
            retry_after: None,
        };
        let request = self
            .request()
            .map_err(|e| fail(Retry::No, format!("{}: {e}", self.uri)))?;
        let call = async {
            let conn = self.connection().await?;
            conn.exchange(request, framed.clone()).await
        };
        let response = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                // Drop the connection: the next attempt opens a new one.
                *self.conn.locked() = None;
                return Err(fail(
                    Retry::Connection,
                    format!("{}: {}", self.uri, crate::client::classify(&e)),
                ));
            }
            Err(_) => return Err(fail(Retry::Connection, format!("{}: timeout", self.uri))),
        };
        // Trailers-only answers carry the status in the headers.
        let status = response.trailers.as_ref().unwrap_or(&response.headers);
        let code = status
            .get("grpc-status")
            .and_then(|v| v.to_str().ok()?.parse::<u32>().ok());
        let text = status
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match (response.status, code) {
            (200, Some(0)) => Ok(()),
            (200, Some(code)) => {
                let has_retry_info = status
                    .get("grpc-status-details-bin")
                    .is_some_and(|d| names_retry_info(d.as_bytes()));
                let retry = if retryable(code, has_retry_info) {
                    Retry::Busy
                } else {
                    Retry::No
                };
                Err(fail(
                    retry,
                    format!("{} answered grpc-status {code} {text}", self.uri),
                ))
            }
            (http, _) => {
                let retry = if matches!(http, 429 | 502 | 503 | 504) {
                    Retry::Busy
                } else {
                    Retry::No
                };
                Err(fail(
                    retry,
                    format!("{} answered HTTP {http} without a gRPC status", self.uri),
                ))
            }
        }
    }
}

/// Whether a `grpc-status-details-bin` value (an unpadded base64
/// `google.rpc.Status`) carries a `google.rpc.RetryInfo` detail: the detail's
/// `Any` names its type in plain bytes, so finding the name is enough.
fn names_retry_info(value: &[u8]) -> bool {
    use base64::Engine;
    const TYPE: &[u8] = b"type.googleapis.com/google.rpc.RetryInfo";
    let trimmed: Vec<u8> = value.iter().copied().filter(|&b| b != b'=').collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .is_ok_and(|b| b.windows(TYPE.len()).any(|w| w == TYPE))
}

#[cfg(test)]
mod tests {
    use super::{names_retry_info, retryable};

    #[test]
    fn retry_info_is_found_in_the_status_details() {
        use base64::Engine;
        let mut status = vec![0x08, 0x08, 0x1a, 0x30, 0x0a, 0x28];
        status.extend_from_slice(b"type.googleapis.com/google.rpc.RetryInfo");
        status.extend_from_slice(&[0x12, 0x04, 0x0a, 0x02, 0x08, 0x02]);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&status);
        assert!(names_retry_info(b64.as_bytes()));
        let other = base64::engine::general_purpose::STANDARD.encode(b"\x08\x08");
        assert!(!names_retry_info(other.as_bytes()));
    }

    #[test]
    fn the_specifications_retryable_codes() {
        for code in [1, 4, 10, 11, 14, 15] {
            assert!(retryable(code, false), "{code}");
        }
        assert!(!retryable(8, false) && retryable(8, true));
        for code in [2, 3, 5, 6, 7, 9, 12, 13, 16] {
            assert!(!retryable(code, true), "{code}");
        }
    }
}
