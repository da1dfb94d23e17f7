//! Client TLS for `https://` URLs (the API, an OTLP endpoint, a span
//! source): rustls (ring), the system trust store plus `--cacert`, client
//! certificates for mTLS, and `--insecure`.
//!
//! The system trust store (rustls-native-certs) rather than a bundled copy of
//! the web's roots (webpki-roots): a staging API is usually signed by a
//! company CA that IT installs into the system store, which a bundled list
//! never has; curl and k6 read the system store too. One `ClientConfig` is
//! shared by every connection, so its session cache resumes TLS sessions when
//! a connection is re-opened.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod pinned;

/// How to verify the API's certificate and whether to present one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (PEM), beside the system's.
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM), for mTLS.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
    /// Skip certificate verification (the run's notes say so).
    pub insecure: bool,
    /// The files came from the OTLP exporter variables (messages name those, not the flags).
    pub from_otlp_env: bool,
}

impl TlsOptions {
    /// The OTLP exporter's TLS variables, as the OpenTelemetry SDKs read
    /// them: `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` or
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` (a CA to trust), and the
    /// `…_CLIENT_CERTIFICATE` / `…_CLIENT_KEY` pairs for mTLS.
    pub fn from_otlp_env() -> Self {
        let var = |suffix: &str| {
            [
                format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"),
                format!("OTEL_EXPORTER_OTLP_{suffix}"),
            ]
            .into_iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .map(PathBuf::from)
        };
        Self {
            cacert: var("CERTIFICATE"),
            cert: var("CLIENT_CERTIFICATE"),
            key: var("CLIENT_KEY"),
            insecure: false,
            from_otlp_env: true,
        }
    }

    /// What the user set each file with: (CA, certificate, key).
    fn names(&self) -> (&'static str, &'static str, &'static str) {
        if self.from_otlp_env {
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            )
        } else {
            ("--cacert", "--cert", "--key")
        }
    }
}

/// Why TLS could not be configured (a usage error: the files are the user's).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file cannot be read or holds nothing usable.
    #[error("{flag} {path}: {reason}")]
    File {
        /// `--cacert`, `--cert` or `--key` (or the OTLP variable).
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A client certificate without its key or the other way round.
    #[error("{0} and {1} go together (the client certificate and its private key)")]
    HalfClientAuth(&'static str, &'static str),
    /// rustls refused the configuration (a key that does not match its certificate, …).
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_error(flag: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        flag,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(flag, path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(flag, path, e))?;
    if certs.is_empty() {
        return Err(file_error(flag, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn roots(cacert: Option<&Path>, flag: &'static str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped, as curl does: --cacert
    // still works on a machine whose store is partly broken.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = cacert {
        for cert in certificates(flag, path)? {
            roots.add(cert).map_err(|e| file_error(flag, path, e))?;
        }
    }
    Ok(roots)
}

/// Makes ring the process's default rustls provider, once. reqwest (built
/// with `rustls-no-provider`, so that no second crypto library is compiled)
/// refuses to build any client, even a plain-http one, until a default
/// exists; every place that builds one calls this first.
pub fn use_ring_by_default() {
    // Err: a default is installed already (by us or by a dependency): fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The client configuration every connection to the API shares (ALPN http/1.1).
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_for(options, &[b"http/1.1"])
}

/// As [`client_config`], offering these protocols by ALPN (`h2` for HTTP/2 and gRPC).
pub fn client_config_for(
    options: &TlsOptions,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsError> {
    let (ca_name, cert_name, key_name) = options.names();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots(options.cacert.as_deref(), ca_name)?);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots.clone());
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert_name, cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key_name, key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Config(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::HalfClientAuth(cert_name, key_name)),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    if let (Some(path), false) = (options.cacert.as_deref(), options.insecure) {
        // The --cacert certificates trusted as the server's own too (curl does).
        let inner =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(pinned::PinnedLeaves {
                inner,
                pinned: certificates(ca_name, path)?,
            }));
    }
    if options.insecure {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(NoVerification(
                provider.signature_verification_algorithms,
            )));
    }
    Ok(Arc::new(config))
}

/// The name the API's certificate must carry (SNI and verification).
pub fn server_name(
    host: &str,
) -> Result<ServerName<'static>, rustls::pki_types::InvalidDnsNameError> {
    // `[::1]` in a URL is `::1` to TLS.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
}

/// A handshake failure in the user's words, with what to do about it.
pub fn explain(host: &str, error: &rustls::Error) -> String {
    explain_for(host, error, "--cacert", "--insecure")
}

/// As [`explain`], naming the flags of the command at hand (a span source's
/// `--source-cacert`, say).
pub fn explain_for(host: &str, error: &rustls::Error, cacert: &str, insecure: &str) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "the certificate for {host} is signed by an unknown authority; pass its CA with {cacert} FILE (or {insecure} to skip verification)"
        ),
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the certificate presented by {host} is not valid for the name {host}; use the host name the certificate was issued for in --base-url"
        ),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => format!("the certificate for {host} has expired"),
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => format!("the certificate for {host} is not valid yet (check the clocks)"),
        Error::InvalidCertificate(other) => {
            format!("the certificate for {host} was refused: {other:?}")
        }
        Error::AlertReceived(alert) => format!(
            "{host} ended the TLS handshake ({alert:?}); if it asks for a client certificate, pass --cert FILE --key FILE"
        ),
        Error::NoApplicationProtocol => {
            format!("{host} speaks none of the protocols tracesplit offered (ALPN)")
        }
        other => format!("TLS handshake with {host} failed: {other}"),
    }
}

/// `--insecure`: every certificate is accepted; handshake signatures are still
/// checked (they prove the peer holds the key of the certificate it sent).
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_by_what_set_it() {
        let missing = Some(PathBuf::from("/nonexistent/ca.pem"));
        let from_flags = TlsOptions {
            cacert: missing.clone(),
            ..Default::default()
        };
        let e = client_config(&from_flags).unwrap_err().to_string();
        assert!(e.starts_with("--cacert /nonexistent/ca.pem:"), "{e}");
        let from_env = TlsOptions {
            cacert: missing,
            from_otlp_env: true,
            ..Default::default()
        };
        let e = client_config(&from_env).unwrap_err().to_string();
        assert!(
            e.starts_with("OTEL_EXPORTER_OTLP_CERTIFICATE /nonexistent/ca.pem:"),
            "{e}"
        );
        let half = TlsOptions {
            cert: Some(PathBuf::from("c.pem")),
            ..Default::default()
        };
        assert!(matches!(
            client_config(&half),
            Err(TlsError::HalfClientAuth("--cert", "--key"))
        ));
    }

    #[test]
    fn the_system_trust_store_is_read() {
        // The Debian image has ca-certificates; a machine without any
        // system roots would make every public https API fail here first.
        let roots = roots(None, "--cacert").unwrap();
        assert!(!roots.is_empty(), "no system CA certificates found");
    }
}
