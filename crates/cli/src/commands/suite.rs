//! `tracesplit suite show` and `tracesplit suite init --openapi`.

use crate::args::{SuiteAction, SuiteArgs};
use crate::exit;
use anyhow::{Context, bail};
use std::path::PathBuf;
use tracesplit_runner::suite;

pub async fn run(args: SuiteArgs) -> anyhow::Result<u8> {
    match args.action {
        SuiteAction::Show { suite: None } => print!("{}", suite::CATALOG_SUITE),
        SuiteAction::Show { suite: Some(path) } => {
            let parsed = suite::load(Some(&path))?;
            eprintln!(
                "{}: valid suite {:?} with {} scenarios",
                path.display(),
                parsed.name,
                parsed.scenarios.len()
            );
            print!("{}", std::fs::read_to_string(&path)?);
        }
        SuiteAction::Init {
            openapi,
            resources,
            headers,
            out,
        } => init(&openapi, resources.as_deref(), &headers, out).await?,
    }
    Ok(exit::OK)
}

/// Fetches or reads the document, writes the suite, says what was left out.
async fn init(
    source: &str,
    only: Option<&[String]>,
    headers: &[String],
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let text = document(source, headers).await?;
    let g = suite::openapi::suite_from_openapi(&text, only)
        .with_context(|| format!("{source}: no suite made"))?;
    match &out {
        Some(path) => std::fs::write(path, &g.text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", g.text),
    }
    eprintln!(
        "suite with {} resource{} ({}){}",
        g.resources.len(),
        if g.resources.len() == 1 { "" } else { "s" },
        g.resources.join(", "),
        out.map_or(String::new(), |p| format!(" written to {}", p.display()))
    );
    for (name, why) in &g.skipped {
        eprintln!("  not generated: {name} — {why}");
    }
    Ok(())
}

/// The document at `source`: fetched when it is a URL, read otherwise.
async fn document(source: &str, headers: &[String]) -> anyhow::Result<String> {
    let Some(rest) = source
        .strip_prefix("http://")
        .or_else(|| source.strip_prefix("https://"))
    else {
        return std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"));
    };
    let at = rest.find('/').unwrap_or(rest.len());
    let (base, path) = source.split_at(source.len() - rest.len() + at);
    let path = if path.is_empty() { "/" } else { path };
    let client = tracesplit_runner::client::ApiClient::new(
        base,
        tracesplit_runner::client::parse_headers(headers)?,
        std::time::Duration::from_secs(30),
        1,
    )?;
    let o = client.send(http::Method::GET, path, None, None).await;
    if let Some(e) = &o.error {
        bail!("cannot fetch {source}: {e} (is the API running?)");
    }
    if !(200..300).contains(&o.status) {
        bail!(
            "{source} answered {}: {} (the document may need -H 'Authorization: …')",
            o.status,
            String::from_utf8_lossy(&o.body)
                .chars()
                .take(200)
                .collect::<String>()
        );
    }
    Ok(String::from_utf8_lossy(&o.body).into_owned())
}
