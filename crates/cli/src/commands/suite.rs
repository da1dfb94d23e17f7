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
            dry_run,
            base_url,
        } => {
            let generated = init(&openapi, resources.as_deref(), &headers, out).await?;
            if dry_run {
                let origin = split_url(&openapi).map(|(base, _)| base.to_owned());
                let base = base_url.or(origin).ok_or_else(|| {
                    anyhow::anyhow!("--dry-run needs --base-url when the document is a file")
                })?;
                return dry_run_kinds(&generated.suite, &base, &headers).await;
            }
        }
    }
    Ok(exit::OK)
}

/// An http(s) URL as its `scheme://host:port` and its path (`/` when none);
/// `None` for anything else (a file).
fn split_url(url: &str) -> Option<(&str, &str)> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return None;
    }
    let path = tracesplit_runner::url_path(url);
    let base = &url[..url.len() - path.len()];
    Some((base, if path.is_empty() { "/" } else { path }))
}

/// Creates and deletes one fixture of each kind of the suite `text`.
async fn dry_run_kinds(
    parsed: &suite::Suite,
    base: &str,
    headers: &[String],
) -> anyhow::Result<u8> {
    let headers = tracesplit_runner::parse_headers(headers)?;
    let tls = tracesplit_runner::TlsOptions::default();
    let trials = tracesplit_runner::try_each_kind(parsed, base, headers, &tls).await?;
    let mut refused = 0;
    eprintln!("dry run against {base}: one fixture of each kind, created and deleted");
    for t in &trials {
        match (&t.created, &t.deleted) {
            (Ok(id), Some(Ok(()))) => eprintln!("  {}: created {id}, deleted", t.kind),
            (Ok(id), Some(Err(e))) => {
                refused += 1;
                eprintln!("  {}: created {id}, NOT deleted: {e}", t.kind);
            }
            (Ok(id), None) => eprintln!("  {}: created {id}", t.kind),
            (Err(why), _) => {
                refused += 1;
                eprintln!("  {}: the create was refused: {why}", t.kind);
            }
        }
    }
    Ok(if refused > 0 { exit::FAILED } else { exit::OK })
}

/// Fetches or reads the document, writes the suite, says what was left out.
async fn init(
    source: &str,
    only: Option<&[String]>,
    headers: &[String],
    out: Option<PathBuf>,
) -> anyhow::Result<suite::openapi::Generated> {
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
    Ok(g)
}

/// The document at `source`: fetched when it is a URL, read otherwise.
async fn document(source: &str, headers: &[String]) -> anyhow::Result<String> {
    let Some((base, path)) = split_url(source) else {
        return std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"));
    };
    let client = tracesplit_runner::ApiClient::new(
        base,
        tracesplit_runner::parse_headers(headers)?,
        std::time::Duration::from_secs(30),
        1,
    )?;
    let o = client.send(http::Method::GET, path, None, None).await;
    if let Some(e) = &o.error {
        bail!("cannot fetch {source}: {e} (is the API running?)");
    }
    if !(200..300).contains(&o.status) {
        bail!(
            "{source} answered {} (the document may need -H 'Authorization: …')",
            o.answer_text()
        );
    }
    Ok(String::from_utf8_lossy(&o.body).into_owned())
}
