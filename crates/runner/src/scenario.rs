//! One scenario's measured phase: iterations of traced requests.

use crate::client::{ApiClient, Outcome};
use crate::fixtures::Fixtures;
use crate::record::Tally;
use crate::schedule::Ticket;
use crate::suite::template::{Context, render_json};
use crate::suite::{Scenario, Step};
use opentelemetry::trace::TraceContextExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracesplit_model::RequestRecord;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Consecutive connection failures after which the API counts as down: the
/// remaining requests are recorded as `api_unreachable` without being sent.
pub const API_DOWN_AFTER: u64 = 20;

/// Shared state of a run's measured phases.
pub struct RunState {
    /// The API.
    pub client: ApiClient,
    /// Fixture creation for per-iteration fixtures made on the fly.
    pub fixtures: Fixtures,
    /// Run id.
    pub run_id: String,
    /// Where request records go.
    pub records: crate::record::RecordSink,
    /// Consecutive connection failures.
    pub conn_failures: AtomicU64,
    /// The API stopped answering.
    pub api_down: AtomicBool,
    /// Wall clock and monotonic clock read together, to place intended starts on the wall clock.
    pub anchor: (Instant, SystemTime),
    /// Client span ids of measured requests that got a response (for the span wait).
    pub responded: Mutex<Vec<String>>,
}

/// One scenario being measured.
pub struct ScenarioRun {
    /// The scenario.
    pub scenario: Scenario,
    /// Its shared fixture id.
    pub fixture_id: Option<i64>,
    /// Per-iteration fixtures created ahead of measuring.
    pub pool: Mutex<VecDeque<i64>>,
    /// Counts for the live display and the summary.
    pub tally: Tally,
    /// Run-wide state.
    pub state: Arc<RunState>,
}

fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

impl RunState {
    fn wall_of(&self, at: Instant) -> i64 {
        let (i0, w0) = self.anchor;
        let wall = if at >= i0 {
            w0 + (at - i0)
        } else {
            w0 - (i0 - at)
        };
        unix_nanos(wall)
    }

    fn note(&self, outcome: &Outcome) {
        if outcome.is_connection_failure() {
            if self.conn_failures.fetch_add(1, Relaxed) + 1 >= API_DOWN_AFTER {
                self.api_down.store(true, Relaxed);
            }
        } else {
            self.conn_failures.store(0, Relaxed);
        }
    }
}

impl ScenarioRun {
    async fn fixture_for(&self, ticket: &Ticket) -> Option<i64> {
        let per_iteration = self
            .scenario
            .fixture
            .as_ref()
            .is_some_and(|f| f.per_iteration);
        if !per_iteration {
            return self.fixture_id;
        }
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop_front());
        match pooled {
            Some(id) => Some(id),
            // Timed runs cannot know how many they need: create on the fly.
            None => match self.state.fixtures.for_iteration(&self.scenario).await {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(
                        "iteration {} of {}: {e}",
                        ticket.iteration,
                        self.scenario.name
                    );
                    None
                }
            },
        }
    }

    /// Runs one iteration: every step, each a CLIENT span child of the iteration span.
    pub async fn iteration(&self, ticket: Ticket) {
        let fixture_id = self.fixture_for(&ticket).await;
        let iteration_span = tracing::info_span!(
            "iteration",
            "otel.name" = format!("{} iteration", self.scenario.name),
            "otel.kind" = "internal",
            "tracesplit.scenario" = self.scenario.name.as_str(),
            "tracesplit.iteration" = ticket.iteration,
            "tracesplit.warmup" = ticket.warmup,
        );
        for (index, step) in self.scenario.steps.iter().enumerate() {
            let cx = Context {
                fixture_id,
                run_id: &self.state.run_id,
                iteration: ticket.iteration,
                n: self.state.fixtures.next_n(),
            };
            let intended = if index == 0 { ticket.intended } else { None };
            let record = self.step(step, index, &cx, &iteration_span, intended).await;
            if let Some(id) = fixture_id
                && let Some(f) = self.scenario.fixture.as_ref().filter(|f| f.per_iteration)
                && step.method == http::Method::DELETE
                && matches!(record.status, 204 | 404)
            {
                let _ = self.state.fixtures.mark_deleted(&f.entity, id);
            }
            if !ticket.warmup {
                self.tally.add(&record);
                if record.status != 0
                    && let Ok(mut r) = self.state.responded.lock()
                {
                    r.push(record.span_id.clone());
                }
                self.state.records.push(record);
            }
        }
    }

    async fn step(
        &self,
        step: &Step,
        index: usize,
        cx: &Context<'_>,
        parent: &tracing::Span,
        intended: Option<Instant>,
    ) -> RequestRecord {
        let path = step.path.render(cx);
        let body = step
            .body
            .as_ref()
            .map(|b| bytes::Bytes::from(render_json(b, cx).to_string()));
        let url = self.state.client.url(&path);
        let span = tracing::info_span!(
            parent: parent,
            "http.client",
            "otel.name" = step.span_name.as_str(),
            "otel.kind" = "client",
            "http.request.method" = step.method.as_str(),
            "url.full" = url.as_str(),
            "http.route" = step.route.as_str(),
            "http.response.status_code" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
        );
        let span_context = span.context().span().span_context().clone();
        let (trace_id, span_id) = (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        );
        let request_bytes = body.as_ref().map_or(0, |b| b.len() as u64);
        let started = Instant::now();
        let outcome = if self.state.api_down.load(Relaxed) {
            Outcome {
                status: 0,
                ttfb: None,
                duration: std::time::Duration::ZERO,
                body: bytes::Bytes::new(),
                error: Some("api_unreachable".into()),
            }
        } else {
            let traceparent = tracesplit_telemetry::traceparent(&span_context);
            // The span is not entered around the send: its context travels in
            // `traceparent`, and entering it on every poll costs subscriber
            // calls for nothing. It ends when dropped, right after the response.
            let o = self
                .state
                .client
                .send(step.method.clone(), &path, body, Some(&traceparent))
                .await;
            self.state.note(&o);
            o
        };
        span.record("http.response.status_code", outcome.status);
        if let Some(e) = &outcome.error {
            span.record("error.type", e.as_str());
        }
        drop(span);
        let start_unix_nano = self.state.wall_of(started);
        RequestRecord {
            run_id: self.state.run_id.clone(),
            scenario: self.scenario.name.clone(),
            entity_type: self.scenario.entity_type.clone(),
            operation: self.scenario.operation.clone(),
            iteration: u32::try_from(cx.iteration).unwrap_or(u32::MAX),
            step: index as u32,
            method: step.method.to_string(),
            route: step.route.clone(),
            url,
            status: outcome.status,
            expected: outcome.error.is_none() && step.expect.contains(&outcome.status),
            error: outcome.error.clone(),
            trace_id,
            span_id,
            intended_start_unix_nano: intended.map_or(start_unix_nano, |i| self.state.wall_of(i)),
            start_unix_nano,
            ttfb_ns: outcome.ttfb.map(|d| d.as_nanos() as i64),
            duration_ns: outcome.duration.as_nanos() as i64,
            request_bytes,
            response_bytes: outcome.body.len() as u64,
        }
    }
}
