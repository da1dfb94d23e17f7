//! TLS flags: a client's (`run`, `cleanup`), a server's (`serve-catalog`,
//! `collect`), and how `analyze` reaches a span source (`--jaeger`, `--tempo`).

use clap::Args;
use std::path::PathBuf;

/// TLS to an `https://` API (the system's trust store is always used).
#[derive(Debug, Clone, Args, Default)]
pub struct TlsArgs {
    /// Also trust the CA certificates in this PEM file (a company or test CA).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM) for mTLS, with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Do not verify the API's certificate (every report says so).
    #[arg(long)]
    pub insecure: bool,
}

impl TlsArgs {
    /// The runner's TLS options.
    pub fn options(&self) -> tracesplit_runner::TlsOptions {
        tracesplit_runner::TlsOptions {
            cacert: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
            from_otlp_env: false,
        }
    }
}

/// TLS for a server this process runs.
#[derive(Debug, Clone, Args, Default)]
pub struct ServerTlsArgs {
    /// Serve TLS with this certificate chain (PEM), with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by the CAs in this PEM file (mTLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The files, when TLS was asked for.
    pub fn files(&self) -> Option<tracesplit_net::TlsFiles> {
        Some(tracesplit_net::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            client_ca: self.tls_client_ca.clone(),
        })
    }
}

/// How `--jaeger`/`--tempo` are reached: TLS, auth, tenant. Secrets come
/// from the environment (keep them out of shell history) and are never
/// written to any file or log.
#[derive(Debug, Clone, Args, Default)]
pub struct SourceArgs {
    /// With an https span source: also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub source_cacert: Option<PathBuf>,
    /// Do not verify the span source's certificate.
    #[arg(long)]
    pub source_insecure: bool,
    /// Bearer token for the span source (set TRACESPLIT_SOURCE_TOKEN rather than the flag).
    #[arg(
        long,
        env = "TRACESPLIT_SOURCE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub source_token: Option<String>,
    /// Basic-auth user for the span source (Grafana Cloud: the stack's user id).
    #[arg(long, env = "TRACESPLIT_SOURCE_USER", value_name = "USER")]
    pub source_user: Option<String>,
    /// Basic-auth password or API key (set TRACESPLIT_SOURCE_PASSWORD rather than the flag).
    #[arg(
        long,
        env = "TRACESPLIT_SOURCE_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        requires = "source_user"
    )]
    pub source_password: Option<String>,
    /// Tenant of a multi-tenant Tempo (sent as X-Scope-OrgID).
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Extra header for the span source, 'Name: value' (repeatable).
    #[arg(long = "source-header", value_name = "HEADER")]
    pub source_headers: Vec<String>,
}

impl SourceArgs {
    /// The analyzer's access settings; a malformed header is named (value hidden).
    pub fn access(&self) -> anyhow::Result<tracesplit_analyzer::fetch::SourceAccess> {
        use base64::Engine;
        let mut headers = Vec::new();
        if let Some(token) = &self.source_token {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        if let Some(user) = &self.source_user {
            let pair = format!("{user}:{}", self.source_password.as_deref().unwrap_or(""));
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("authorization".to_owned(), format!("Basic {encoded}")));
        }
        if let Some(tenant) = &self.tenant {
            headers.push(("x-scope-orgid".to_owned(), tenant.clone()));
        }
        for h in &self.source_headers {
            let Some((name, value)) = h.split_once(':') else {
                let name = h.split(':').next().unwrap_or_default();
                anyhow::bail!("invalid --source-header {name:?}: expected 'Name: value'");
            };
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        if self.source_token.is_some() && self.source_user.is_some() {
            anyhow::bail!("--source-token and --source-user are two kinds of auth: give one");
        }
        Ok(tracesplit_analyzer::fetch::SourceAccess {
            tls: tracesplit_runner::TlsOptions {
                cacert: self.source_cacert.clone(),
                insecure: self.source_insecure,
                ..Default::default()
            },
            headers,
        })
    }
}
