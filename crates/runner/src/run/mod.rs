//! A whole run: health check, fixtures, scenarios, cleanup, span wait — the
//! run directory's records written as soon as they exist. The runner records,
//! it does not judge: statistics and verdicts come from the analyzer, which
//! reads what is written here.

mod config;
mod measure;
mod written;

pub use config::{Collect, RunConfig, RunError, RunOutcome};

use crate::client::ApiClient;
use crate::fixtures::ledger::Ledger;
use crate::fixtures::{CleanupReport, FixtureSettings, Fixtures, KeptSet, Watch};
use crate::http1::WireError;
use crate::progress::Progress;
use crate::record::Recorder;
use crate::scenario::RunState;
use crate::spans::{ClientSpans, ExportConfig, ExportCounts};
use measure::{Measured, measure_suite};
use std::path::Path;
use std::sync::Arc;
use tracesplit_model::internal::Locked;
use tracesplit_model::manifest::{LEDGER_FILE, MANIFEST_FILE, REQUESTS_FILE};
use written::{estimate_line, manifest, run_notes, write_json};

/// The health check on a new connection: a TLS or name failure in words
/// (exit 3), a refused or silent API as before, a non-2xx answer a warning.
/// Without a health path (the suite names none) only the connection is
/// checked.
async fn health(
    client: &ApiClient,
    path: Option<&str>,
    progress: &Progress,
) -> Result<(), RunError> {
    let Some(path) = path else {
        return client
            .reach()
            .await
            .map_err(|e| unreachable(client, "/", e));
    };
    match client.probe(path).await {
        Ok((200..=299, _)) => Ok(()),
        Ok((status @ 400..=499, _)) => {
            // The probe reads no body: ask again for the API's own words.
            let o = client.send(http::Method::GET, path, None, None).await;
            let what = if matches!(status, 401 | 403) {
                "the API refuses the run's credentials (check --header or the suite's [auth])"
            } else {
                "the health path is not the API's (name it with `health = \"/…\"` in the suite or --health-path, or --health-path none)"
            };
            Err(RunError::Refused(format!(
                "GET {} answered {status}: {} — {what}",
                client.url(path),
                o.body_excerpt().trim()
            )))
        }
        Ok((status, _)) => {
            progress.line(&format!(
                "warning: GET {} answered {status}; continuing (the API may be unhealthy: its failures will show in the results)",
                client.url(path)
            ));
            Ok(())
        }
        Err(e) => Err(unreachable(client, path, e)),
    }
}

/// The run cannot start: the API at `path` could not be reached.
fn unreachable(client: &ApiClient, path: &str, e: WireError) -> RunError {
    match e {
        // Reached, but not in the protocol asked for: a usage error (exit 2).
        e @ WireError::NoHttp2(_) => RunError::Refused(e.to_string()),
        e @ (WireError::Tls { .. } | WireError::Resolve { .. }) => RunError::Connect {
            url: client.base_url(),
            reason: e.to_string(),
        },
        e => RunError::Unreachable {
            url: client.url(path),
            error: crate::client::classify(&e),
        },
    }
}

/// Checks what a run needs before anything is written: the base URL and
/// headers make a client, and the API answers its health check. A run that
/// fails here leaves no run directory behind.
pub async fn preflight(config: &RunConfig) -> Result<ApiClient, RunError> {
    let build = if config.http2 {
        ApiClient::with_http2
    } else {
        ApiClient::with_tls
    };
    let headers = config.headers.clone();
    let mut login = None;
    if let Some(auth) = &config.suite.auth {
        // Logged in once; the token rides on every request as a header,
        // replaced when the run logs in again after a 401.
        login = Some(
            auth.log_in(
                &config.base_url,
                &headers,
                config.timeout,
                &config.tls,
                config.http2,
            )
            .await?,
        );
    }
    let mut client = build(
        &config.base_url,
        headers,
        config.timeout,
        config.schedule.concurrency + config.setup_concurrency,
        &config.tls,
    )?;
    if let Some((name, value)) = &login {
        client = client.authenticated(name, value);
    }
    health(&client, config.suite.health.as_deref(), &config.progress).await?;
    Ok(client)
}

/// Creates the run directory; refuses one that already holds a run.
pub fn open_run_dir(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::RunDir {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    if dir.join(REQUESTS_FILE).exists() || dir.join(MANIFEST_FILE).exists() {
        return Err(RunError::RunDir {
            path: dir.to_owned(),
            message: "already holds a run; choose another --out".into(),
        });
    }
    Ok(())
}

fn client_spans(config: &RunConfig) -> Result<ClientSpans, RunError> {
    if config.collect.own_spans.is_some() {
        return Ok(ClientSpans::off());
    }
    let mut export = ExportConfig::new(config.collect.endpoint.clone());
    export.headers = config.otlp_headers.clone();
    // The embedded collector is given by its OTLP/HTTP endpoint; spans that go
    // elsewhere follow OTEL_EXPORTER_OTLP_PROTOCOL as an SDK would.
    if config.collect.server_spans.is_none() {
        export.protocol = crate::spans::ExportProtocol::from_env()?;
    }
    Ok(ClientSpans::start(export)?)
}

/// Runs the suite. Returns the outcome even when targets are missed, the API
/// died or Ctrl-C stopped it; `Err` only when the run could not happen at all
/// (or its ledger could not be written: fixtures are then removed first).
pub async fn run(config: RunConfig) -> Result<RunOutcome, RunError> {
    let client = match &config.checked {
        Some(client) => client.clone(),
        None => preflight(&config).await?,
    };
    let dir = config.run_dir.clone();
    open_run_dir(&dir)?;
    let spans = client_spans(&config)?;
    let mut manifest = manifest(&config);
    write_json(&dir.join(MANIFEST_FILE), &manifest)?;
    config.progress.line(&estimate_line(&config));

    let ledger = Arc::new(Ledger::open(&dir.join(LEDGER_FILE))?);
    let (fixtures, kept) = open_fixtures(&config, client.clone(), ledger.clone()).await?;
    let mut watch = Watch::start(&fixtures, &config.suite).await;
    // From here on an early return still completes requests.parquet (its Drop).
    let recorder = Recorder::start(&dir.join(REQUESTS_FILE))?;
    let mut state = RunState::new(
        client,
        fixtures.clone(),
        &config.run_id,
        recorder.sink(),
        spans.clone(),
        config.cancelled.clone(),
    );
    state.relogin = relogin(&config);
    let state = Arc::new(state);
    let mut measured = measure_suite(&config, &state, kept.as_ref(), &mut watch).await?;
    let kept_ledger = kept.as_ref().map(|k| k.ledger.clone());
    let cleanup = cleanup(
        &fixtures,
        &ledger,
        config.keep_fixtures,
        kept_ledger.as_deref(),
        &mut measured.notes,
    )
    .await;
    if !watch.is_empty() {
        watch
            .check(&fixtures, "cleanup", "the cleanup's DELETE requests")
            .await;
    }
    measured.notes.extend(relogin_note(&state));
    let ledger_failure = state.ledger_failure.locked().take();
    drop(state);
    let requests = recorder.finish()?;
    let ended = all_spans(&config, &spans, &mut measured.notes).await;
    measured.notes.extend(run_notes(
        &config,
        &measured,
        &cleanup,
        &ended,
        spans.last_error(),
    ));
    measured.notes.extend(watch.problems.iter().cloned());
    measured
        .notes
        .extend(watch.side_effects().iter().map(|s| s.describe()));
    manifest.side_effects = watch.side_effects().to_vec();
    written::finish_manifest(&mut manifest, &measured, &ended);
    write_json(&dir.join(MANIFEST_FILE), &manifest)?;
    if let Some(error) = ledger_failure {
        return Err(RunError::LedgerFailed {
            path: ledger.path().to_owned(),
            error,
        });
    }
    Ok(RunOutcome {
        run_dir: dir,
        manifest,
        api_down: measured.api_down,
        interrupted: measured.interrupted,
        cleanup,
        missing_server_spans: ended.missing,
        client_spans: ended.client_spans,
        requests,
        refused: measured.refused,
    })
}

/// The run's fixtures, and the kept set it reuses (its shared fixtures adopted).
async fn open_fixtures(
    config: &RunConfig,
    client: ApiClient,
    ledger: Arc<Ledger>,
) -> Result<(Fixtures, Option<KeptSet>), RunError> {
    let kept = config
        .reuse_fixtures
        .as_deref()
        .map(KeptSet::open)
        .transpose()?;
    let fixtures = Fixtures::new(
        client,
        ledger,
        &config.suite,
        FixtureSettings {
            run_id: config.run_id.clone(),
            concurrency: config.setup_concurrency,
            retry: config.setup_retry,
            progress: config.progress.clone(),
            cancelled: config.cancelled.clone(),
            access: config.access(),
        },
    )?;
    if let Some(k) = &kept {
        // The kept set's ledger gets this run's kinds and tag too, so
        // `cleanup` of the set sweeps for every run that added to it.
        k.ledger
            .begin(&config.run_id, &config.suite.kinds, &config.access())?;
        k.adopt_shared(&fixtures).await?;
    }
    Ok((fixtures, kept))
}

/// Removes the run's fixtures (or keeps the shared ones); a cleanup that
/// stopped becomes a note.
async fn cleanup(
    fixtures: &Fixtures,
    ledger: &Ledger,
    keep: bool,
    kept: Option<&Ledger>,
    notes: &mut Vec<String>,
) -> CleanupReport {
    fixtures
        .cleanup(ledger, keep, kept)
        .await
        .unwrap_or_else(|e| {
            notes.push(format!("fixture cleanup stopped: {e}"));
            CleanupReport::default()
        })
}

/// How the span side ended: client export counts, the server-span wait.
struct SpansEnded {
    client_spans: ExportCounts,
    missing: Option<u64>,
    /// The wait could not read `requests.parquet` (a note says why).
    wait_error: Option<String>,
}

/// Renewing the login after a 401, when the suite logs in.
fn relogin(config: &RunConfig) -> Option<crate::auth::Relogin> {
    (config.suite.auth.clone()).map(|auth| {
        crate::auth::Relogin::new(
            auth,
            &config.base_url,
            config.headers.clone(),
            config.timeout,
            config.tls.clone(),
            config.http2,
        )
    })
}

/// How often the login was renewed, when it was.
fn relogin_note(state: &RunState) -> Option<String> {
    let n = state
        .relogin
        .as_ref()
        .map(|r| r.logins())
        .filter(|n| *n > 0)?;
    Some(format!(
        "the login's token expired {n} times during the run: each time, after a 401, the run logged in again (the requests answered 401 are counted as failed)"
    ))
}

/// Ends the client span export and the wait for server spans; then, with
/// the embedded collector, stores the run's own spans from its records
/// (a note says when some were not).
async fn all_spans(config: &RunConfig, spans: &ClientSpans, notes: &mut Vec<String>) -> SpansEnded {
    let mut ended = end_spans(config, spans).await;
    if let Some(sink) = config.collect.own_spans.clone() {
        let (counts, error) = own_spans_from_records(config, sink).await;
        ended.client_spans = counts;
        notes.extend(error.map(|e| {
            format!("the run's own spans (written from requests.parquet after the run) were not all stored: {e}")
        }));
    }
    ended
}

/// The run's own spans, written from its records into `sink` (blocking, on
/// a thread of its own): the counts, and why some were not stored.
async fn own_spans_from_records(
    config: &RunConfig,
    sink: Arc<dyn tracesplit_model::span::OwnSpanSink>,
) -> (ExportCounts, Option<crate::spans::OwnSpansError>) {
    let requests = config.run_dir.join(REQUESTS_FILE);
    let steps: std::collections::HashMap<String, usize> = (config.suite.scenarios.iter())
        .map(|s| (s.name.clone(), s.steps.len()))
        .collect();
    tokio::task::spawn_blocking(move || {
        crate::spans::store_from_requests(&requests, sink.as_ref(), &steps, crate::spans::RUNNER)
    })
    .await
    .unwrap_or_else(|e| {
        let e = crate::spans::OwnSpansError::Store(Box::new(e));
        (ExportCounts::default(), Some(e))
    })
}

/// Stops the client span export (after a last one), then waits for the
/// server spans of the requests that got an answer.
async fn end_spans(config: &RunConfig, spans: &ClientSpans) -> SpansEnded {
    let s = spans.clone();
    let client_spans = tokio::task::spawn_blocking(move || s.shutdown())
        .await
        .unwrap_or_default();
    let (mut missing, mut wait_error) = (None, None);
    if let Some(server) = &config.collect.server_spans {
        let requests = config.run_dir.join(REQUESTS_FILE);
        match crate::spanwait::wait_for_server_spans(server.as_ref(), &requests, config.span_wait)
            .await
        {
            Ok(m) => missing = Some(m),
            Err(e) => wait_error = Some(e.to_string()),
        }
    }
    SpansEnded {
        client_spans,
        missing,
        wait_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_that_holds_a_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        open_run_dir(&run).unwrap();
        open_run_dir(&run).unwrap();
        std::fs::write(run.join(MANIFEST_FILE), "{}").unwrap();
        let e = open_run_dir(&run).unwrap_err().to_string();
        assert!(e.contains("already holds a run"), "{e}");
    }
}
