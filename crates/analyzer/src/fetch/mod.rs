//! Span sources that fetch a run's traces by id from where they already are:
//! Jaeger's and Tempo's query APIs. Concurrent with a limit, retried with
//! backoff on 429/5xx and on 404 (a trace not flushed yet) until the span wait
//! runs out; traces still missing then are reported, never silently dropped.

mod format;
mod jaeger;
mod tempo;

pub use format::{IdProblem, TraceFormatError};

use crate::AnalyzeError;
use crate::error::Cause;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tracesplit_model::SpanRecord;
use tracesplit_model::internal::Locked;
use tracesplit_model::otlp::records_from_export;

/// Which query API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceApi {
    /// Jaeger `GET {base}/api/traces/{id}`.
    Jaeger,
    /// Tempo `GET {base}/api/v2/traces/{id}?start=&end=`.
    TempoV2,
    /// Tempo `GET {base}/api/traces/{id}?start=&end=` (before Tempo 2.5).
    TempoV1,
}

/// How to reach a query API beyond plain http: TLS, and headers (auth, a
/// tenant). Header values are secrets: never shown, written or logged.
#[derive(Clone, Default, PartialEq)]
pub struct SourceAccess {
    /// TLS for an `https://` URL (the system's trust store, extra CAs, `--insecure`).
    pub tls: tracesplit_net::client_tls::TlsOptions,
    /// Headers sent with every request: `Authorization`, `X-Scope-OrgID`, ….
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for SourceAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("SourceAccess")
            .field("tls", &self.tls)
            .field("headers (values hidden)", &names)
            .finish()
    }
}

impl SourceAccess {
    /// A blocking client for `base_url` with this access.
    fn client(&self, base_url: &str) -> Result<reqwest::blocking::Client, AnalyzeError> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &self.headers {
            let bad = || AnalyzeError::SourceHeader(k.clone());
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad())?;
            let mut value = reqwest::header::HeaderValue::from_str(v).map_err(|_| bad())?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        tracesplit_net::client_tls::use_ring_by_default();
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .default_headers(headers);
        if base_url.starts_with("https://") {
            let tls = tracesplit_net::client_tls::client_config(&self.tls)?;
            builder = builder.tls_backend_preconfigured((*tls).clone());
        }
        builder.build().map_err(AnalyzeError::HttpClient)
    }
}

/// The rustls error inside `err`, through io errors nested in io errors
/// (whose `source()` skips the error they wrap).
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    for _ in 0..8 {
        if let Some(tls) = cur.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = cur.downcast_ref::<std::io::Error>()?.get_ref()?;
        cur = inner;
    }
    None
}

/// A failed request in words: a TLS refusal explained (unknown authority →
/// `--source-cacert`), otherwise the whole error chain.
fn describe(url: &str, e: &reqwest::Error) -> String {
    let host = e
        .url()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = rustls_error(err) {
            let words = tracesplit_net::client_tls::explain_for(
                &host,
                tls,
                "--source-cacert",
                "--source-insecure",
            );
            return format!("{url}: {words}");
        }
        chain.push(err.to_string());
        cur = err.source();
    }
    chain.dedup();
    format!("{url}: {}", chain.join(": "))
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Base URL of the query API.
    pub base_url: String,
    /// Which API.
    pub api: TraceApi,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// How long a trace may be missing (404) before it counts as missing.
    pub span_wait: Duration,
    /// Unix seconds around the run (Tempo's search window).
    pub time_range: (i64, i64),
    /// TLS and headers.
    pub access: SourceAccess,
}

/// What came back.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The spans.
    pub records: Vec<SpanRecord>,
    /// Traces found.
    pub found: usize,
    /// Traces not found (or refused) by the end, with why.
    pub missing: Vec<(String, String)>,
}

enum Outcome {
    Found(Vec<SpanRecord>),
    Missing(String),
    Unreachable(String),
}

impl FetchConfig {
    fn url(&self, trace_id: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        let (start, end) = self.time_range;
        match self.api {
            TraceApi::Jaeger => format!("{base}/api/traces/{trace_id}"),
            TraceApi::TempoV2 => format!("{base}/api/v2/traces/{trace_id}?start={start}&end={end}"),
            TraceApi::TempoV1 => format!("{base}/api/traces/{trace_id}?start={start}&end={end}"),
        }
    }

    fn parse(&self, url: &str, body: &[u8]) -> Result<Vec<SpanRecord>, AnalyzeError> {
        let export = match self.api {
            TraceApi::Jaeger => jaeger::to_export(body),
            TraceApi::TempoV1 | TraceApi::TempoV2 => tempo::to_export(body),
        }
        .map_err(|e| answer(url, e.into()))?;
        records_from_export(export).map_err(|e| answer(url, e.into()))
    }
}

/// Backoff before attempt `n` (1-based): 100 ms doubling to 2 s, or the server's Retry-After.
fn backoff(n: u32, retry_after: Option<&reqwest::header::HeaderValue>) -> Duration {
    let server = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    server.unwrap_or_else(|| Duration::from_millis(100u64 << n.min(5)).min(Duration::from_secs(2)))
}

fn fetch_one(
    cfg: &FetchConfig,
    client: &reqwest::blocking::Client,
    trace_id: &str,
    deadline: Instant,
) -> Result<Outcome, AnalyzeError> {
    let url = cfg.url(trace_id);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (why, wait) = match client.get(&url).send() {
            Err(e) if attempt >= 4 => return Ok(Outcome::Unreachable(describe(&url, &e))),
            Err(_) => {
                // Not reachable (yet): a few quick retries, then the whole source is in question.
                std::thread::sleep(backoff(attempt, None));
                continue;
            }
            Ok(r) if r.status().is_success() => {
                let body = r.bytes().map_err(|e| answer(&url, e.into()))?;
                return cfg.parse(&url, &body).map(Outcome::Found);
            }
            Ok(r) => {
                let s = r.status();
                if !(s.as_u16() == 404 || s.as_u16() == 429 || s.is_server_error()) {
                    return Ok(Outcome::Missing(format!("HTTP {s}")));
                }
                (
                    format!("HTTP {s}"),
                    backoff(attempt, r.headers().get("retry-after")),
                )
            }
        };
        // 404: not flushed yet; 429/5xx: busy. Either way, wait while the span wait allows.
        if Instant::now() + wait > deadline && attempt >= 3 {
            return Ok(Outcome::Missing(why));
        }
        std::thread::sleep(wait);
    }
}

/// Fetches every trace of `trace_ids`.
pub fn fetch(cfg: &FetchConfig, trace_ids: &[String]) -> Result<Fetched, AnalyzeError> {
    let client = cfg.access.client(&cfg.base_url)?;
    let deadline = Instant::now() + cfg.span_wait;
    let next = AtomicUsize::new(0);
    let out = Mutex::new((
        Fetched::default(),
        Vec::<String>::new(),
        None::<AnalyzeError>,
    ));
    std::thread::scope(|scope| {
        for _ in 0..cfg.concurrency.clamp(1, 64).min(trace_ids.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = trace_ids.get(i) else { break };
                    let result = fetch_one(cfg, &client, id, deadline);
                    let mut guard = out.locked();
                    let (fetched, unreachable, error) = &mut *guard;
                    match result {
                        Ok(Outcome::Found(spans)) => {
                            fetched.found += 1;
                            fetched.records.extend(spans);
                        }
                        Ok(Outcome::Missing(why)) => fetched.missing.push((id.clone(), why)),
                        Ok(Outcome::Unreachable(why)) => {
                            fetched.missing.push((id.clone(), why.clone()));
                            unreachable.push(why);
                        }
                        Err(e) => {
                            error.get_or_insert(e);
                            next.store(trace_ids.len(), Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let (mut fetched, unreachable, error) =
        out.into_inner().map_err(|_| AnalyzeError::Internal {
            run: "(fetching traces)".into(),
            message: "a thread fetching traces panicked".into(),
        })?;
    if let Some(e) = error {
        return Err(e);
    }
    if fetched.found == 0 && !unreachable.is_empty() {
        return Err(AnalyzeError::Unreachable(format!(
            "{} could not be reached: {}",
            cfg.base_url, unreachable[0]
        )));
    }
    fetched.missing.sort();
    Ok(fetched)
}

#[cfg(test)]
mod tests;

/// A span source's answer from `url` that could not be read.
fn answer(url: &str, source: Cause) -> AnalyzeError {
    AnalyzeError::SourceAnswer {
        url: url.to_owned(),
        source,
    }
}
