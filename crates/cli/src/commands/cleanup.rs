//! `tracesplit cleanup LEDGER`.

use crate::args::CleanupArgs;
use crate::exit::{self, Unreachable};
use anyhow::Context;
use http::HeaderMap;
use std::time::Duration;
use tracesplit_model::RunManifest;
use tracesplit_runner::AuthError;
use tracesplit_runner::TlsOptions;
use tracesplit_runner::ledger::{Access, Ledger};
use tracesplit_runner::{ApiClient, parse_headers};

fn base_url_of(args: &CleanupArgs) -> String {
    if let Some(url) = &args.base_url {
        return url.clone();
    }
    let manifest = args
        .ledger
        .parent()
        .map(|d| d.join(tracesplit_model::manifest::MANIFEST_FILE));
    manifest
        .and_then(|m| std::fs::read_to_string(m).ok())
        .and_then(|text| serde_json::from_str::<RunManifest>(&text).ok())
        .map(|m| m.base_url)
        .unwrap_or_else(|| "http://localhost:8000".into())
}

/// The headers cleanup sends: the `-H` given here — every header the run
/// sent with `-H` must be given again — and the suite's login, unless a
/// header given here is the one it would set.
async fn headers_for(
    args: &CleanupArgs,
    access: &Access,
    base_url: &str,
    timeout: Duration,
    tls: &TlsOptions,
) -> anyhow::Result<HeaderMap> {
    let mut headers = parse_headers(&args.headers)?;
    let missing: Vec<&str> = (access.headers.iter())
        .filter(|name| !headers.contains_key(name.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the run sent {} with -H, and the ledger keeps no header values: pass {} again, e.g. tracesplit cleanup {} -H '{}: …'",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" },
            args.ledger.display(),
            missing[0]
        );
    }
    let login = (access.auth.as_ref()).filter(|a| !headers.contains_key(a.header_name()));
    if let Some(auth) = login {
        match auth.log_in(base_url, &headers, timeout, tls, false).await {
            Ok((name, value)) => {
                headers.insert(name, value);
            }
            Err(e @ AuthError::Unreachable { .. }) => return Err(Unreachable(e.to_string()).into()),
            Err(e) => return Err(anyhow::anyhow!("{e} (or pass the header with -H)")),
        }
    }
    Ok(headers)
}

pub async fn run(args: CleanupArgs) -> anyhow::Result<u8> {
    let base_url = base_url_of(&args);
    let contents = Ledger::read(&args.ledger)
        .with_context(|| format!("cannot read the ledger {}", args.ledger.display()))?;
    // How the run reached the API: its health path and login (the ledger
    // keeps `${VAR}` references, never credentials).
    let access = contents
        .runs
        .last()
        .map(|r| r.access.clone())
        .unwrap_or_default();
    let timeout = Duration::from_secs(30);
    let tls = args.tls.options();
    let headers = headers_for(&args, &access, &base_url, timeout, &tls).await?;
    let client = ApiClient::with_tls(&base_url, headers, timeout, 8, &tls)?;
    let reached = match access.health.as_deref() {
        Some(path) => client.probe(path).await.map(|_| ()).map_err(|e| (path, e)),
        None => client.reach().await.map_err(|e| ("/", e)),
    };
    if let Err((path, e)) = reached {
        return Err(
            Unreachable(format!("cannot reach the API at {}: {e}", client.url(path))).into(),
        );
    }
    let ledger = Ledger::open(&args.ledger)
        .with_context(|| format!("cannot open the ledger {}", args.ledger.display()))?;
    let report = tracesplit_runner::cleanup(&client, &ledger, false, 8, "cleanup").await?;
    println!(
        "removed {} fixtures listed in {}, and {} more carrying the run's tag that the ledger never saw",
        report.deleted,
        args.ledger.display(),
        report.swept
    );
    for (path, answer) in &report.failed {
        eprintln!("could not remove {path}: {answer}");
    }
    Ok(if report.failed.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}
