//! The run's own spans written from its records after the run, when they go
//! to the embedded collector in this process: the spans the export thread
//! would have sent — an iteration span per iteration, a CLIENT span per
//! request, with the same ids, names, attributes and resource — built from
//! `requests.parquet` once the measuring is over, so that encoding and
//! storing them takes no core from the requests being measured. Warm-up
//! iterations have no rows, so they have no spans here.

use super::export::envelope;
use super::otlp::encode;
use super::{Attributes, Kind, Name, Span, Value, iteration_span_id};
use std::collections::HashMap;
use std::path::Path;
use tracesplit_export::ExportCounts;
use tracesplit_model::RequestRecord;
use tracesplit_model::span::OwnSpanSink;

/// Rows read, and spans handed over, at a time.
const BATCH_ROWS: usize = 4096;

/// Why the run's own spans could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum OwnSpansError {
    /// `requests.parquet` could not be read.
    #[error(transparent)]
    Read(#[from] tracesplit_store::StoreError),
    /// A row's trace or span id is not hex.
    #[error("request row of {scenario}: {what} {value:?} is not a hex id")]
    Id {
        /// The row's scenario.
        scenario: String,
        /// `trace id` or `span id`.
        what: &'static str,
        /// The text found.
        value: String,
    },
    /// The collector did not take them.
    #[error("the embedded collector did not store them: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

/// An iteration whose rows are not all read yet.
struct Open {
    start: u64,
    end: u64,
    scenario: Name,
    name: Name,
    iteration: u32,
    rows: usize,
    steps: usize,
}

/// Spans built so far, and the strings they name.
#[derive(Default)]
struct Builder {
    names: Vec<String>,
    index: HashMap<String, Name>,
    spans: Vec<Span>,
    open: HashMap<u128, Open>,
    stored: u64,
}

impl Builder {
    fn name(&mut self, text: &str) -> Name {
        if let Some(n) = self.index.get(text) {
            return *n;
        }
        let n = Name(u32::try_from(self.names.len()).unwrap_or(u32::MAX));
        self.names.push(text.to_owned());
        self.index.insert(text.to_owned(), n);
        n
    }

    /// The request's CLIENT span, and its iteration's span once its last row is in.
    fn add(&mut self, r: RequestRecord, steps: usize) -> Result<(), OwnSpansError> {
        let bad = |what, value: &str| OwnSpansError::Id {
            scenario: r.scenario.clone(),
            what,
            value: value.to_owned(),
        };
        let trace = (r.trace_id.parse::<tracesplit_model::TraceId>())
            .map(|t| u128::from_be_bytes(t.0))
            .map_err(|_| bad("trace id", &r.trace_id))?;
        let span = (r.span_id.parse::<tracesplit_model::SpanId>())
            .map(|s| u64::from_be_bytes(s.0))
            .map_err(|_| bad("span id", &r.span_id))?;
        let (start, end) = (
            r.start_unix_nano.max(0) as u64,
            (r.start_unix_nano + r.duration_ns).max(0) as u64,
        );
        let mut attributes = Attributes::new();
        attributes.push(("http.request.method", Value::Name(self.name(&r.method))));
        attributes.push(("url.full", Value::Owned(r.url)));
        attributes.push(("http.route", Value::Name(self.name(&r.route))));
        if r.status != 0 {
            attributes.push(("http.response.status_code", Value::Int(i64::from(r.status))));
        }
        let error = r.error.is_some() || r.status >= 400;
        if let Some(e) = r.error {
            attributes.push(("error.type", Value::Owned(e)));
        }
        let name = self.name(&format!("{} {}", r.method, r.route));
        self.spans.push(Span {
            trace_id: trace,
            span_id: span,
            parent_span_id: iteration_span_id(trace),
            name,
            kind: Kind::Client,
            start_unix_nano: start,
            end_unix_nano: end,
            attributes,
            error,
        });
        let (scenario, iteration_name) = (
            self.name(&r.scenario),
            self.name(&format!("{} iteration", r.scenario)),
        );
        let open = self.open.entry(trace).or_insert(Open {
            start,
            end,
            scenario,
            name: iteration_name,
            iteration: r.iteration,
            rows: 0,
            steps: steps.max(1),
        });
        (open.start, open.end, open.rows) =
            (open.start.min(start), open.end.max(end), open.rows + 1);
        if open.rows >= open.steps
            && let Some(done) = self.open.remove(&trace)
        {
            self.spans.push(iteration(trace, &done));
        }
        Ok(())
    }

    /// Hands the spans built so far to `sink` as one OTLP export.
    fn flush(&mut self, sink: &dyn OwnSpanSink, service_name: &str) -> Result<(), OwnSpansError> {
        if self.spans.is_empty() {
            return Ok(());
        }
        let (mut lens, mut out) = (Vec::new(), Vec::new());
        encode(
            &envelope(service_name),
            &self.names,
            &self.spans,
            &mut lens,
            &mut out,
        );
        sink.store(out).map_err(OwnSpansError::Store)?;
        self.stored += self.spans.len() as u64;
        self.spans.clear();
        Ok(())
    }
}

/// The INTERNAL span of an iteration, over its requests.
fn iteration(trace: u128, it: &Open) -> Span {
    Span {
        trace_id: trace,
        span_id: iteration_span_id(trace),
        parent_span_id: 0,
        name: it.name,
        kind: Kind::Internal,
        start_unix_nano: it.start,
        end_unix_nano: it.end,
        attributes: [
            ("tracesplit.scenario", Value::Name(it.scenario)),
            ("tracesplit.iteration", Value::Int(i64::from(it.iteration))),
            ("tracesplit.warmup", Value::Bool(false)),
        ]
        .into_iter()
        .collect(),
        error: false,
    }
}

/// Writes the spans of every request in `requests` (and of their
/// iterations; `steps`: each scenario's steps per iteration) to `sink`,
/// a few thousand at a time. Blocking. The counts say how many were stored.
pub fn store_from_requests(
    requests: &Path,
    sink: &dyn OwnSpanSink,
    steps: &HashMap<String, usize>,
    service_name: &str,
) -> (ExportCounts, Option<OwnSpansError>) {
    let mut b = Builder::default();
    let result = tracesplit_store::for_each_request_batch(requests, BATCH_ROWS, |rows| {
        for r in rows {
            let n = steps.get(&r.scenario).copied().unwrap_or(1);
            b.add(r, n)?;
        }
        b.flush(sink, service_name)
    })
    .and_then(|()| {
        // Iterations cut short (a cancelled run) end at their last request.
        let open: Vec<(u128, Open)> = b.open.drain().collect();
        for (trace, it) in &open {
            b.spans.push(iteration(*trace, it));
        }
        b.flush(sink, service_name)
    });
    // What a failure left unstored counts as failed (the rest was never built).
    let failed = b.spans.len() as u64;
    let counts = ExportCounts {
        ended: b.stored + failed,
        exported: b.stored,
        failed,
    };
    (counts, result.err())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    use std::sync::Mutex;

    /// Keeps every payload it is given.
    #[derive(Default)]
    struct Kept(Mutex<Vec<Vec<u8>>>);

    impl OwnSpanSink for Kept {
        fn store(&self, p: Vec<u8>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            self.0.lock().unwrap().push(p);
            Ok(())
        }
    }

    fn row(scenario: &str, trace: u128, span: u64, step: u32, start: i64) -> RequestRecord {
        RequestRecord {
            scenario: scenario.into(),
            step,
            method: "GET".into(),
            route: "/items/{id}".into(),
            url: format!("http://api/items/{span}"),
            status: if step == 1 { 503 } else { 200 },
            trace_id: format!("{trace:032x}"),
            span_id: format!("{span:016x}"),
            start_unix_nano: start,
            duration_ns: 1_000,
            ..Default::default()
        }
    }

    #[test]
    fn the_spans_of_a_run_are_built_from_its_rows_with_their_iterations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let mut w = tracesplit_store::RequestFileWriter::create(&path).unwrap();
        // A two-step iteration whose rows are apart, and a one-step one.
        w.append(row("TWO", 7, 71, 0, 10_000)).unwrap();
        w.append(row("ONE", 9, 91, 0, 12_000)).unwrap();
        w.append(row("TWO", 7, 72, 1, 15_000)).unwrap();
        w.finish().unwrap();
        let sink = Kept::default();
        let steps = HashMap::from([("TWO".to_owned(), 2), ("ONE".to_owned(), 1)]);
        let (counts, error) = store_from_requests(&path, &sink, &steps, "svc");
        assert!(error.is_none(), "{error:?}");
        assert_eq!((counts.ended, counts.exported, counts.failed), (5, 5, 0));
        let mut spans = Vec::new();
        for p in sink.0.lock().unwrap().iter() {
            let r = ExportTraceServiceRequest::decode(p.as_slice()).unwrap();
            for rs in r.resource_spans {
                let service = &rs.resource.unwrap().attributes[0];
                assert_eq!(service.key, "service.name");
                spans.extend(rs.scope_spans.into_iter().flat_map(|s| s.spans));
            }
        }
        let by_name = |n: &str| spans.iter().filter(|s| s.name == n).collect::<Vec<_>>();
        let two = by_name("TWO iteration");
        assert_eq!(two.len(), 1);
        let (it, clients) = (two[0], by_name("GET /items/{id}"));
        assert_eq!(clients.len(), 3);
        assert_eq!(
            (it.start_time_unix_nano, it.end_time_unix_nano),
            (10_000, 16_000)
        );
        assert_eq!(it.span_id, iteration_span_id(7).to_be_bytes().to_vec());
        // Each CLIENT span is a child of its iteration span; the 503 is an error.
        for c in &clients {
            let trace = u128::from_be_bytes(c.trace_id.clone().try_into().unwrap());
            assert_eq!(
                c.parent_span_id,
                iteration_span_id(trace).to_be_bytes().to_vec()
            );
        }
        let failed = clients
            .iter()
            .find(|c| c.span_id == 72u64.to_be_bytes())
            .unwrap();
        assert_eq!(failed.status.as_ref().unwrap().code, 2);
        assert_eq!(by_name("ONE iteration").len(), 1);
    }

    #[test]
    fn a_row_with_a_bad_id_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let mut w = tracesplit_store::RequestFileWriter::create(&path).unwrap();
        let mut bad = row("ONE", 1, 2, 0, 0);
        bad.trace_id = "not hex".into();
        w.append(bad).unwrap();
        w.finish().unwrap();
        let (_, error) = store_from_requests(&path, &Kept::default(), &HashMap::new(), "svc");
        let e = error.unwrap().to_string();
        assert!(e.contains("ONE") && e.contains("not hex"), "{e}");
    }
}
