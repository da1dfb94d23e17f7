//! One scenario's measured phase: iterations of traced requests.

use crate::client::{ApiClient, Outcome};
use crate::fixtures::Fixtures;
use crate::record::Tally;
use crate::schedule::Ticket;
use crate::spans::{self, ClientSpans, Kind, SpanIds, Value};
use crate::suite::template::{Context, render_json};
use crate::suite::{Scenario, Step};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracesplit_model::RequestRecord;

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
    /// Where the iteration and client spans go.
    pub spans: ClientSpans,
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
    /// Span names and attribute values every iteration repeats, shared.
    pub names: SpanNames,
}

/// A scenario's span names and repeated attribute values, built once.
pub struct SpanNames {
    scenario: Arc<str>,
    iteration: Arc<str>,
    /// Per step: span name, `http.route`, method.
    steps: Vec<(Arc<str>, Arc<str>, Arc<str>)>,
}

impl SpanNames {
    /// The names of `scenario`'s spans.
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            scenario: scenario.name.as_str().into(),
            iteration: format!("{} iteration", scenario.name).into(),
            steps: scenario
                .steps
                .iter()
                .map(|s| {
                    (
                        s.span_name.as_str().into(),
                        s.route.as_str().into(),
                        s.method.as_str().into(),
                    )
                })
                .collect(),
        }
    }
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
        let ids = SpanIds::root();
        let start_unix_nano = self.state.wall_of(Instant::now());
        for (index, step) in self.scenario.steps.iter().enumerate() {
            let cx = Context {
                fixture_id,
                run_id: &self.state.run_id,
                iteration: ticket.iteration,
                n: self.state.fixtures.next_n(),
            };
            let intended = if index == 0 { ticket.intended } else { None };
            let record = self.step(step, index, &cx, ids, intended).await;
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
        self.state.spans.end(spans::Span {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            parent_span_id: 0,
            name: self.names.iteration.clone(),
            kind: Kind::Internal,
            start_unix_nano: start_unix_nano as u64,
            end_unix_nano: self.state.wall_of(Instant::now()) as u64,
            attributes: vec![
                (
                    "tracesplit.scenario",
                    Value::Shared(self.names.scenario.clone()),
                ),
                ("tracesplit.iteration", Value::Int(ticket.iteration as i64)),
                ("tracesplit.warmup", Value::Bool(ticket.warmup)),
            ],
            error: false,
        });
    }

    /// The CLIENT span of one request, with the HTTP semantic-convention attributes.
    fn client_span(
        &self,
        index: usize,
        ids: SpanIds,
        parent: SpanIds,
        url: &str,
        start: i64,
        outcome: &Outcome,
    ) -> spans::Span {
        let (name, route, method) = &self.names.steps[index];
        // Room for all five: growing the vector would cost a second allocation.
        let mut attributes = Vec::with_capacity(5);
        attributes.extend([
            ("http.request.method", Value::Shared(method.clone())),
            ("url.full", Value::Owned(url.to_owned())),
            ("http.route", Value::Shared(route.clone())),
        ]);
        if outcome.status != 0 {
            attributes.push((
                "http.response.status_code",
                Value::Int(i64::from(outcome.status)),
            ));
        }
        if let Some(e) = &outcome.error {
            attributes.push(("error.type", Value::Owned(e.clone())));
        }
        spans::Span {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            parent_span_id: parent.span_id,
            name: name.clone(),
            kind: Kind::Client,
            start_unix_nano: start as u64,
            end_unix_nano: (start + outcome.duration.as_nanos() as i64) as u64,
            attributes,
            // As the HTTP semantic conventions ask of client spans.
            error: outcome.error.is_some() || outcome.status >= 400,
        }
    }

    async fn step(
        &self,
        step: &Step,
        index: usize,
        cx: &Context<'_>,
        iteration: SpanIds,
        intended: Option<Instant>,
    ) -> RequestRecord {
        let path = step.path.render(cx);
        let body = step
            .body
            .as_ref()
            .map(|b| bytes::Bytes::from(render_json(b, cx).to_string()));
        let url = self.state.client.url(&path);
        let ids = iteration.child();
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
            let traceparent = spans::traceparent(ids);
            let o = self
                .state
                .client
                .send(step.method.clone(), &path, body, Some(&traceparent))
                .await;
            self.state.note(&o);
            o
        };
        let start_unix_nano = self.state.wall_of(started);
        self.state.spans.end(self.client_span(
            index,
            ids,
            iteration,
            &url,
            start_unix_nano,
            &outcome,
        ));
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
            trace_id: spans::hex_trace_id(ids.trace_id),
            span_id: spans::hex_span_id(ids.span_id),
            intended_start_unix_nano: intended.map_or(start_unix_nano, |i| self.state.wall_of(i)),
            start_unix_nano,
            ttfb_ns: outcome.ttfb.map(|d| d.as_nanos() as i64),
            duration_ns: outcome.duration.as_nanos() as i64,
            request_bytes,
            response_bytes: outcome.body.len() as u64,
        }
    }
}
