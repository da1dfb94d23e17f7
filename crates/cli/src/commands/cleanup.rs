//! `tracesplit cleanup LEDGER`.

use crate::args::CleanupArgs;
use crate::exit::{self, Unreachable};
use anyhow::Context;
use std::time::Duration;
use tracesplit_model::RunManifest;
use tracesplit_runner::client::{ApiClient, parse_headers};
use tracesplit_runner::fixtures::{self, ledger::Ledger};

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

pub async fn run(args: CleanupArgs) -> anyhow::Result<u8> {
    let base_url = base_url_of(&args);
    let client = ApiClient::with_tls(
        &base_url,
        parse_headers(&args.headers)?,
        Duration::from_secs(30),
        8,
        &args.tls.options(),
    )?;
    if let Err(e) = client.probe("/health").await {
        return Err(Unreachable(format!(
            "cannot reach the API at {}: {e}",
            client.url("/health")
        ))
        .into());
    }
    let ledger = Ledger::open(&args.ledger)
        .with_context(|| format!("cannot open the ledger {}", args.ledger.display()))?;
    let report = fixtures::cleanup(&client, &ledger, false, 8, "cleanup").await?;
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
