//! One scenario's measured phase: iterations of traced requests.

use crate::client::{ApiClient, Outcome};
use crate::fixtures::{FixtureId, Fixtures, SetupCounters};
use crate::record::Tally;
use crate::row::{Row, StepNames, StepRef};
use crate::schedule::Ticket;
use crate::spans::{self, Attributes, ClientSpans, Kind, Name, SpanIds, Value};
use crate::suite::template::{Context, SharedIds, render_json};
use crate::suite::{Scenario, Step};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracesplit_model::internal::Locked;

/// Consecutive connection failures after which the API counts as down: the
/// remaining requests are recorded as `api_unreachable` without being sent.
pub const API_DOWN_AFTER: u64 = 20;

/// Per-iteration fixtures a timed run keeps ready ahead of its iterations
/// (at least; more at a high rate or concurrency).
pub const AHEAD: usize = 64;

/// For a timed closed-model run whose scenario consumes a fixture per iteration: a task
/// that keeps the pool filled ahead of the iterations, so a fixture's
/// creation is not part of any measured request nor of its start's lateness
/// (the open model's correction measures the API, not the setup). `None` when
/// not needed. Set the flag when the scenario ends and await the task: it
/// finishes the create in flight, then returns.
pub fn keep_fixtures_ahead(
    run: &Arc<ScenarioRun>,
    config: &crate::RunConfig,
) -> Option<(Arc<AtomicBool>, tokio::task::JoinHandle<()>)> {
    // At a rate, every iteration's fixture was made before the clock started.
    let timed = matches!(config.schedule.stop, crate::schedule::Stop::Duration(_))
        && config.schedule.rate.is_none();
    let per_iteration = run
        .scenario
        .fixture
        .as_ref()
        .is_some_and(|f| f.per_iteration);
    if !(timed && per_iteration) {
        return None;
    }
    let target = AHEAD.max(2 * config.schedule.concurrency);
    let run = run.clone();
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let task = tokio::spawn(async move {
        loop {
            if finished.load(Relaxed) {
                return;
            }
            let have = run.pool.locked().len();
            if have >= target || run.state.stop.load(Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
            match run
                .state
                .fixtures
                .for_iteration(&run.scenario, &run.setup)
                .await
            {
                Ok(Some(id)) => {
                    // Made while the scenario is measured: the report says so.
                    run.setup.made_during_measuring();
                    run.pool.locked().push_back(id);
                }
                Ok(None) => return,
                Err(crate::fixtures::FixtureError::Ledger(e)) => {
                    run.state.ledger_failed(e.to_string());
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        "{}: a fixture ahead of the iterations: {e}",
                        run.scenario.name
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Some((done, task))
}

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
    /// The first ledger line that could not be written: the run stops, since
    /// a fixture nobody recorded is one nobody will clean up.
    pub ledger_failure: Mutex<Option<String>>,
    /// Set when the run must stop (Ctrl-C, a ledger failure): no new iteration starts.
    pub stop: Arc<AtomicBool>,
    /// The API refused the run's credentials (401/403): why; no scenario starts after it.
    pub refused: Mutex<Option<String>>,
    /// Logging in again when the token expires (runs with a login, HTTP/1.1).
    pub relogin: Option<crate::auth::Relogin>,
}

/// One scenario being measured.
pub struct ScenarioRun {
    /// The scenario.
    pub scenario: Scenario,
    /// Its shared fixture id.
    pub fixture_id: Option<FixtureId>,
    /// Per-iteration fixtures created ahead of measuring.
    pub pool: Mutex<VecDeque<FixtureId>>,
    /// The run's shared fixtures (`{shared.KIND.id}`), as they were when it started.
    pub shared: SharedIds,
    /// Setup counts (per-iteration fixtures made on the fly add to them).
    pub setup: Arc<SetupCounters>,
    /// Counts for the live display and the summary.
    pub tally: Tally,
    /// Run-wide state.
    pub state: Arc<RunState>,
    /// Span names and attribute values every iteration repeats, shared.
    pub names: ScenarioNames,
    /// The API's refusals of the scenario's first requests.
    pub refusals: crate::refusal::Refusals,
}

/// A scenario's span names, repeated attribute values and row strings, registered once.
pub struct ScenarioNames {
    scenario: Name,
    iteration: Name,
    /// Per step: span name, `http.route`, method, row strings.
    steps: Vec<(Name, Name, Name, StepRef)>,
}

impl ScenarioNames {
    /// Registers the names of `scenario`'s spans and rows.
    pub fn new(
        scenario: &Scenario,
        state: &RunState,
    ) -> Result<Self, tracesplit_store::StoreError> {
        let spans = &state.spans;
        let row = |index: usize, step: &Step| StepNames {
            run_id: state.run_id.clone(),
            scenario: scenario.name.clone(),
            entity_type: scenario.entity_type.clone(),
            operation: scenario.operation.clone(),
            method: step.method.to_string(),
            route: step.route.clone(),
            step: index as u32,
        };
        Ok(Self {
            scenario: spans.name(&scenario.name),
            iteration: spans.name(&format!("{} iteration", scenario.name)),
            steps: scenario
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    Ok((
                        spans.name(&s.span_name),
                        spans.name(&s.route),
                        spans.name(s.method.as_str()),
                        state.records.register(row(i, s))?,
                    ))
                })
                .collect::<Result<_, tracesplit_store::StoreError>>()?,
        })
    }
}

fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

impl RunState {
    /// A run's shared state before its first request (clock anchor read now).
    pub fn new(
        client: ApiClient,
        fixtures: Fixtures,
        run_id: &str,
        records: crate::record::RecordSink,
        spans: ClientSpans,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            ledger_failure: Mutex::new(None),
            refused: Mutex::new(None),
            relogin: None,
            stop,
            client,
            fixtures,
            run_id: run_id.to_owned(),
            records,
            spans,
            conn_failures: AtomicU64::new(0),
            api_down: AtomicBool::new(false),
            anchor: (Instant::now(), SystemTime::now()),
        }
    }

    fn wall_of(&self, at: Instant) -> i64 {
        let (i0, w0) = self.anchor;
        let wall = if at >= i0 {
            w0 + (at - i0)
        } else {
            w0 - (i0 - at)
        };
        unix_nanos(wall)
    }

    /// Records a ledger failure and stops the run.
    pub fn ledger_failed(&self, error: String) {
        self.ledger_failure.locked().get_or_insert(error);
        self.stop.store(true, Relaxed);
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
    async fn fixture_for(&self, ticket: &Ticket) -> Option<FixtureId> {
        let per_iteration = self
            .scenario
            .fixture
            .as_ref()
            .is_some_and(|f| f.per_iteration);
        if !per_iteration {
            return self.fixture_id.clone();
        }
        let pooled = self.pool.locked().pop_front();
        match pooled {
            Some(id) => Some(id),
            // The pool ran dry (the producer fell behind): create it here,
            // and count it — its creation delays this iteration's start.
            None => match self
                .state
                .fixtures
                .for_iteration(&self.scenario, &self.setup)
                .await
            {
                Ok(id) => {
                    self.setup.made_during_measuring();
                    id
                }
                Err(crate::fixtures::FixtureError::Ledger(e)) => {
                    self.state.ledger_failed(e.to_string());
                    None
                }
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
        // The iteration span runs from its first request's start to its last
        // request's end (clock readings the requests take anyway).
        let (mut first_start, mut last_end): (Option<u64>, Option<u64>) = (None, None);
        // The last client span waits to be queued with the iteration span: one lock, not two.
        let mut last_client: Option<spans::Span> = None;
        let mut captures = crate::suite::template::Captures::new();
        for (index, step) in self.scenario.steps.iter().enumerate() {
            let cx = Context {
                fixture_id: fixture_id.as_ref(),
                run_id: &self.state.run_id,
                iteration: ticket.iteration,
                n: self.state.fixtures.next_n(),
                shared: Some(&self.shared),
                captures: Some(&captures),
                ..Context::default()
            };
            let intended = if index == 0 { ticket.intended } else { None };
            let (row, client, answer) = self.step(step, index, &cx, ids, intended).await;
            let start = row.start_unix_nano.max(0) as u64;
            first_start.get_or_insert(start);
            last_end = Some(start + row.duration_ns.max(0) as u64);
            if let Some(previous) = client.and_then(|c| last_client.replace(c)) {
                self.state.spans.end(previous);
            }
            if row.expected {
                self.refusals.answered();
            }
            if let Some(relogin) = &self.state.relogin {
                if (200..300).contains(&row.status) {
                    relogin.accepted();
                } else if row.status == 401
                    && let Some(Err(e)) = relogin.on_unauthorized(&self.state.client).await
                {
                    tracing::warn!("logging in again after a 401: {e}");
                }
            }
            if let Some(outcome) = answer
                .as_ref()
                .filter(|o| crate::refusal::is_refusal(step, o))
            {
                let what = crate::refusal::describe(step, &step.path.render(&cx), outcome);
                if self.refusals.refused(what.clone()) && matches!(outcome.status, 401 | 403) {
                    self.state.refused.locked().get_or_insert(what);
                }
            }
            if let Some(outcome) = answer.filter(|_| crate::chain::reads_answer(step)) {
                let mut next = captures.clone();
                let recorded = crate::chain::after_step(
                    step,
                    &outcome,
                    &cx,
                    &self.state.fixtures,
                    &self.scenario.name,
                    &mut next,
                );
                if let Err(e) = recorded {
                    self.state.ledger_failed(e.to_string());
                }
                captures = next;
            }
            if !ticket.warmup {
                self.tally.add(&row);
                self.state.records.push(row);
            }
        }
        if !self.state.spans.on() {
            return;
        }
        let iteration = self.iteration_span(ids, &ticket, first_start.zip(last_end));
        match last_client {
            Some(client) => self.state.spans.end_all([client, iteration]),
            None => self.state.spans.end(iteration),
        }
    }

    /// The INTERNAL span of one iteration, over `times` (its first request's
    /// start, its last request's end), or at this instant when nothing was sent.
    fn iteration_span(
        &self,
        ids: SpanIds,
        ticket: &Ticket,
        times: Option<(u64, u64)>,
    ) -> spans::Span {
        let (start_unix_nano, end_unix_nano) = times.unwrap_or_else(|| {
            let now = self.state.wall_of(Instant::now()) as u64;
            (now, now)
        });
        spans::Span {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            parent_span_id: 0,
            name: self.names.iteration,
            kind: Kind::Internal,
            start_unix_nano,
            end_unix_nano,
            attributes: [
                ("tracesplit.scenario", Value::Name(self.names.scenario)),
                ("tracesplit.iteration", Value::Int(ticket.iteration as i64)),
                ("tracesplit.warmup", Value::Bool(ticket.warmup)),
            ]
            .into_iter()
            .collect(),
            error: false,
        }
    }

    /// The CLIENT span of one request, with the HTTP semantic-convention attributes.
    fn client_span(
        &self,
        index: usize,
        ids: SpanIds,
        parent: SpanIds,
        url: &Arc<str>,
        start: i64,
        outcome: &Outcome,
    ) -> spans::Span {
        let (name, route, method, _) = self.names.steps[index];
        let mut attributes = Attributes::new();
        // Pushed one by one: `extend` over an array was compiled, in some
        // builds, into a generic loop and a drop of the array's rest
        // (~380 instructions a request, measured with callgrind).
        attributes.push(("http.request.method", Value::Name(method)));
        attributes.push(("url.full", Value::Shared(url.clone())));
        attributes.push(("http.route", Value::Name(route)));
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
            name,
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
    ) -> (Row, Option<spans::Span>, Option<Outcome>) {
        let path = step.path.render_path(cx);
        let body = step
            .body
            .as_ref()
            .map(|b| bytes::Bytes::from(render_json(b, cx).to_string()));
        let url: Arc<str> = self.state.client.url(&path).into();
        let ids = iteration.child();
        let request_bytes = body.as_ref().map_or(0, |b| b.len() as u64);
        let outcome = if self.state.api_down.load(Relaxed) {
            Outcome {
                status: 0,
                started: Instant::now(),
                ttfb: None,
                duration: std::time::Duration::ZERO,
                body: bytes::Bytes::new(),
                error: Some("api_unreachable".into()),
                opening: None,
                reused: false,
                retry_after: None,
                captured: Vec::new(),
                stall: std::time::Duration::ZERO,
            }
        } else {
            let traceparent = spans::traceparent(ids);
            let o = self
                .state
                .client
                .send(step.method.clone(), &path, body, Some(traceparent.as_str()))
                .await;
            self.state.note(&o);
            o
        };
        let start_unix_nano = self.state.wall_of(outcome.started);
        // Not built when the run's spans are written from its rows afterwards.
        let client = (self.state.spans.on())
            .then(|| self.client_span(index, ids, iteration, &url, start_unix_nano, &outcome));
        let row = Row {
            step: self.names.steps[index].3,
            iteration: u32::try_from(cx.iteration).unwrap_or(u32::MAX),
            url,
            status: outcome.status,
            expected: outcome.error.is_none() && step.expect.contains(&outcome.status),
            error: outcome.error.clone(),
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            intended_start_unix_nano: intended.map_or(start_unix_nano, |i| self.state.wall_of(i)),
            start_unix_nano,
            ttfb_ns: outcome.ttfb.map(|d| d.as_nanos() as i64),
            duration_ns: outcome.duration.as_nanos() as i64,
            request_bytes,
            response_bytes: outcome.body.len() as u64,
            connect_ns: outcome.opening.map_or(0, |o| clamp_ns(o.connect_ns)),
            tls_ns: outcome.opening.map_or(0, |o| clamp_ns(o.tls_ns)),
            reused_connection: outcome.reused,
            stall_ns: clamp_ns(outcome.stall.as_nanos() as u64),
        };
        // Only a step that captures, creates or deletes keeps its answer,
        // and a refusal (to say what the API answered).
        let keep = crate::chain::reads_answer(step) || crate::refusal::is_refusal(step, &outcome);
        let answer = keep.then_some(outcome);
        (row, client, answer)
    }
}

fn clamp_ns(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}
