//! Server TLS from PEM files: a certificate chain, its key, and optionally
//! the CAs whose client certificates are required (mTLS).

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A certificate, key or CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("TLS file {}: {message}", path.display())]
pub struct ServerTlsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// The certificate files of a TLS server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// Require client certificates signed by these CAs (PEM).
    pub client_ca: Option<PathBuf>,
}

fn bad(path: &Path, reason: impl ToString) -> ServerTlsError {
    ServerTlsError {
        path: path.to_owned(),
        message: reason.to_string(),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerTlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(path, e))?;
    if certs.is_empty() {
        return Err(bad(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

impl TlsFiles {
    /// Reads the files into an acceptor (ALPN: h2 and http/1.1).
    pub fn acceptor(&self) -> Result<TlsAcceptor, ServerTlsError> {
        self.acceptor_for(&[b"h2", b"http/1.1"])
    }

    /// As [`TlsFiles::acceptor`], offering these protocols by ALPN.
    pub fn acceptor_for(&self, alpn: &[&[u8]]) -> Result<TlsAcceptor, ServerTlsError> {
        Ok(TlsAcceptor::from(self.server_config(alpn)?))
    }

    /// The rustls server configuration (for a synchronous server, say).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, ServerTlsError> {
        server_config(self, alpn)
    }
}

fn server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, ServerTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&files.cert, e))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| bad(ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad(&files.key, e))?;
    let mut config = builder
        .with_single_cert(certificates(&files.cert)?, key)
        .map_err(|e| bad(&files.key, e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
