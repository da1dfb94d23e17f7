//! The result of `analyze`: plain, serializable data that every report format
//! renders (crates/report never sees a Parquet file).

use crate::stats::LatencyStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the analyzer found for one or more runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Analysis {
    /// Runs analyzed (several when shards were merged).
    pub run_ids: Vec<String>,
    /// API base URL.
    pub base_url: String,
    /// Where the spans came from (`store RUN/spans`, `otlp-json FILE`, …).
    pub span_source: String,
    /// Requests matched to a server span, over all scenarios.
    pub coverage: Coverage,
    /// One entry per scenario, in suite order.
    pub scenarios: Vec<ScenarioAnalysis>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// The cascade classifier given to scenarios whose run recorded none
    /// and for which the command line named none (runs made before suites
    /// declared their own): the catalog's patterns then; empty strings when
    /// every scenario had its own (a suite that declares none has none).
    pub cascade_defaults: Classifier,
    /// The cascade sweep (`run --cascade-sweep`), when the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade_sweep: Option<crate::sweep::CascadeSweep>,
    /// What the run recorded about itself (the API died, fixtures left,
    /// rows the API created on its own, …) and what the analysis adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The open model (`--rate`): starts were scheduled, and latency is also
    /// reported from the intended start (`p95_corrected_ms`).
    #[serde(default)]
    pub open_model: bool,
    /// Whether the server's clock agrees with the client's, so that the time
    /// outside the server span could be split into network and queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocks: Option<ClockCheck>,
    /// Requests the client gave up on, counted apart from the split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned: Option<crate::server_errors::Abandoned>,
}

/// The clock check behind the network/queue split.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClockCheck {
    /// The clocks agree: at most 5 % of the server spans start before their
    /// client span and at most half end more than 2 ms after it (of the
    /// matched requests that answered as expected: failures and abandoned
    /// requests are left out).
    pub consistent: bool,
    /// Matched requests whose server span lies inside the client span.
    pub inside: u64,
    /// Matched requests checked.
    pub checked: u64,
    /// Of those, server spans that start before the client sent the request
    /// (by more than 0.1 ms): the server's clock is behind.
    #[serde(default)]
    pub started_early: u64,
    /// Of those, server spans that end more than 2 ms after the client read
    /// the answer: work after the last send (a busy event loop), or — when
    /// most do — the server's clock is ahead.
    #[serde(default)]
    pub ended_late: u64,
    /// The one-way wire latency estimate (ms), when consistent.
    pub one_way_ms: Option<f64>,
}

/// How many requests could be split.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Coverage {
    /// Requests sent (that reached the API: failed ones included; a
    /// connection that could not be made is not counted).
    pub requests: u64,
    /// Of those, with a server entry span (a span that arrived after the
    /// client gave up counts: the request was joined, though not split).
    pub matched: u64,
    /// Matched requests whose server span was longer than the client's duration (network clamped to 0).
    pub clamped: u64,
    /// Requests with more than one server span under their client span (the longest was used).
    pub multiple_server_spans: u64,
}

impl Coverage {
    /// Requests without a server span.
    pub fn unmatched(&self) -> u64 {
        self.requests - self.matched
    }

    /// matched / requests (1 when there are no requests).
    pub fn ratio(&self) -> f64 {
        if self.requests == 0 {
            1.0
        } else {
            self.matched as f64 / self.requests as f64
        }
    }
}

/// The cascade classifier: statement regex and span/ancestor name regex.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Classifier {
    /// Regex on `db_statement`.
    pub statement: String,
    /// Regex on the DB span's name or an ancestor's name.
    pub span: String,
}

/// A latency decomposition in milliseconds; components sum to `total_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Split {
    /// Mean client-observed total.
    pub total_ms: f64,
    /// Mean network: the wire (a round trip plus the response's transfer) —
    /// all of total − server when the clocks could not be checked.
    pub network_ms: f64,
    /// Mean queue: time outside the server span that was not the wire
    /// (waiting to be handled, framework around the instrumented handler).
    #[serde(default)]
    pub queue_ms: f64,
    /// Mean handler (server − db).
    pub handler_ms: f64,
    /// Mean cascade (usage) check.
    pub cascade_ms: f64,
    /// Mean other database time.
    pub db_other_ms: f64,
    /// Requests averaged.
    pub requests: u64,
    /// 1-based rank range of the requests averaged (by total).
    pub ranks: (u64, u64),
    /// P95 split: the window's mean total before its components were scaled
    /// to the P95 shown (0 for other splits).
    #[serde(default)]
    pub window_mean_ms: f64,
    /// The part of `network_ms` spent opening connections (TCP connect and
    /// TLS handshake, as the client measured them; 0 on kept-alive connections).
    #[serde(default)]
    pub connection_setup_ms: f64,
    /// Open model, corrected latency only: the wait between a request's
    /// scheduled start and its actual start (no worker was free, or the
    /// client fell behind); 0 in every other split. The corrected total is
    /// schedule + the five components.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub schedule_ms: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Split {
    /// `(name, ms)` of the five components in display order.
    pub fn components(&self) -> [(&'static str, f64); 5] {
        [
            ("network", self.network_ms),
            ("queue", self.queue_ms),
            ("handler", self.handler_ms),
            ("cascade", self.cascade_ms),
            ("db other", self.db_other_ms),
        ]
    }
}

/// p50/p95/p99 of one component (ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Percentiles {
    /// Nearest-rank P50.
    pub p50_ms: f64,
    /// Nearest-rank P95.
    pub p95_ms: f64,
    /// Nearest-rank P99.
    pub p99_ms: f64,
}

/// Each component's own distribution over matched requests.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentStats {
    /// Network.
    pub network: Percentiles,
    /// Queue (outside the server span, not the wire).
    #[serde(default)]
    pub queue: Percentiles,
    /// Handler.
    pub handler: Percentiles,
    /// Cascade check.
    pub cascade: Percentiles,
    /// Other DB time.
    pub db_other: Percentiles,
    /// All DB time.
    pub db: Percentiles,
}

/// DB statements per matched request (a statement spanned by two
/// instrumentations counted once).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DbSpanCounts {
    /// Mean.
    pub mean: f64,
    /// Nearest-rank P50.
    pub p50: u64,
    /// Largest.
    pub max: u64,
    /// DB spans set aside as copies: inside a span of the same statement
    /// (an ORM's span around its driver's), over all matched requests.
    #[serde(default)]
    pub duplicates: u64,
}

/// A deep link to a trace viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TraceLink {
    /// `Jaeger`, `Grafana`.
    pub label: String,
    /// URL.
    pub url: String,
}

/// One slow request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outlier {
    /// Trace id.
    pub trace_id: String,
    /// Client span id.
    pub span_id: String,
    /// Iteration.
    pub iteration: u32,
    /// Step within the iteration.
    pub step: u32,
    /// HTTP status.
    pub status: u16,
    /// Its split (`requests` = 1).
    pub split: Split,
    /// Whether it had a server span.
    pub matched: bool,
    /// Trace viewer links.
    pub links: Vec<TraceLink>,
    /// The server span tree's critical path, in time order: the spans that
    /// blocked the response, each with its exclusive time.
    #[serde(default)]
    pub critical_path: Vec<CriticalStep>,
}

/// One span on an outlier's critical path.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriticalStep {
    /// Span name, or for a DB span its statement fingerprint.
    pub name: String,
    /// A DB span.
    pub db: bool,
    /// Exclusive time (ms): the span's time minus its children's.
    pub exclusive_ms: f64,
}

/// One span of an exemplar waterfall, placed on the client's timeline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaterfallSpan {
    /// Depth below the client span (client = 0).
    pub depth: u32,
    /// Span name.
    pub name: String,
    /// `CLIENT`, `SERVER`, …
    pub kind: String,
    /// Start relative to the client span start (ms).
    pub offset_ms: f64,
    /// Duration (ms).
    pub duration_ms: f64,
    /// `db`, `cascade`, `server`, `client`, `internal`.
    pub category: String,
    /// DB statement, when any.
    pub statement: Option<String>,
    /// On the critical path: the chain of spans that blocked the response
    /// (of children that overlap, only the one that ended last).
    #[serde(default)]
    pub critical: bool,
    /// Exclusive time (ms): the span's time minus its children's.
    #[serde(default)]
    pub exclusive_ms: f64,
}

/// The request closest to the P95, with its spans.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Exemplar {
    /// The request.
    pub request: Outlier,
    /// Its spans, depth-first, on the client's timeline (midpoint assumption for server spans).
    pub spans: Vec<WaterfallSpan>,
}

/// Everything about one scenario.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioAnalysis {
    /// Scenario name.
    pub scenario: String,
    /// Seed entity type.
    pub entity_type: String,
    /// Seed operation.
    pub operation: String,
    /// P95 target (ms).
    pub target_ms: f64,
    /// Client latency statistics over requests with an expected status.
    pub stats: LatencyStats,
    /// The latency distribution: client total (ms) at percentiles 0, 1, …, 100
    /// (nearest rank; 0 is the minimum). Empty without requests.
    #[serde(default)]
    pub distribution_ms: Vec<f64>,
    /// Requests that failed.
    pub failed: u64,
    /// The verdict (the rule in `verdict.rs`): measured, nothing failed, P95
    /// within target, and in the open model the corrected P95 too.
    pub passed: bool,
    /// Why it passed or failed, in one sentence.
    #[serde(default)]
    pub verdict: String,
    /// Why the scenario was not measured at all (setup failed, the API died
    /// before it, the run was interrupted), when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
    /// Open model: P95 of the latency measured from the intended start
    /// (corrected for coordinated omission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_corrected_ms: Option<f64>,
    /// Open model: the corrected P99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_corrected_ms: Option<f64>,
    /// Responses per status.
    pub status_counts: BTreeMap<String, u64>,
    /// Failures per kind.
    pub errors: BTreeMap<String, u64>,
    /// Coverage of this scenario.
    pub coverage: Coverage,
    /// The P95 split (window around the P95 rank), when any request matched.
    pub p95_split: Option<Split>,
    /// Open model: the split of the corrected P95 (from the scheduled
    /// start), whose components include the schedule wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_corrected_split: Option<Split>,
    /// Mean split of the requests at or above the P95.
    pub tail_split: Option<Split>,
    /// Each component's percentiles.
    pub components: ComponentStats,
    /// DB spans per request.
    pub db_spans: DbSpanCounts,
    /// The cascade statement seen most in the P95 window.
    pub cascade_statement: Option<String>,
    /// The name of the longest cascade span (or its matching ancestor) in the P95 window.
    pub cascade_span_name: Option<String>,
    /// The slowest other DB statement in the P95 window.
    pub slowest_db_statement: Option<String>,
    /// The slowest DB span has no statement (a driver's `connect`, a pool
    /// checkout): `slowest_db_statement` is its span name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub slowest_db_without_statement: bool,
    /// Mean response size (bytes).
    pub mean_response_bytes: f64,
    /// Listings attached to the scenario's fixture.
    pub fixture_listings: Option<u64>,
    /// What the scenario's fixture setup did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<crate::manifest::SetupSummary>,
    /// The K slowest requests.
    pub outliers: Vec<Outlier>,
    /// The P95 exemplar with its waterfall.
    pub exemplar: Option<Exemplar>,
    /// Cascade classifier used for this scenario.
    pub classifier: Classifier,
    /// What the slow requests have that the fast ones don't (with spans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<crate::tail::TailExplanation>,
    /// Answers whose body came well after their head (a transport stall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<Stall>,
    /// The server's own errors in this scenario's traces, most frequent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_errors: Vec<crate::server_errors::ServerErrorGroup>,
}

/// How serious a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A target is missed.
    Critical,
    /// Close to a target, or evidence worth acting on.
    Warning,
    /// Room for improvement.
    Optimization,
    /// Context (coverage, data quality).
    Info,
}

/// Answers whose body kept the client waiting after their head: a transport
/// stall (Nagle's algorithm on the server meeting the client's delayed ACK).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stall {
    /// Requests whose body came ≥ 5 ms after their head.
    pub requests: u64,
    /// Requests with an expected answer.
    pub of: u64,
    /// The median wait of the stalled ones (ms).
    pub median_ms: f64,
    /// Of the stalled ones, those whose server span was still open for most
    /// of the wait: the server wrote the body late (its own time, in the
    /// handler), rather than the body waiting in the kernel (network). Known
    /// only when the clocks agree.
    #[serde(default)]
    pub in_server: u64,
}

/// One finding with its evidence and a next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// Rule that produced it (`target_missed`, `dominant_component`, `n_plus_one`, …).
    pub rule: String,
    /// Scenario it is about, if one.
    pub scenario: Option<String>,
    /// One line.
    pub title: String,
    /// The evidence.
    pub detail: String,
    /// What to do next.
    pub next_step: Option<String>,
}
