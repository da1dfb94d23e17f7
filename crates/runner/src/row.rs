//! A measured request as a measuring task hands it over.
//!
//! A [`RequestRecord`] repeats six strings of its scenario step on every row.
//! Building them on the measuring task cost an allocation each there and a
//! free on the writer thread (a cross-thread free, the slow kind). A [`Row`]
//! refers to its step's strings by number instead; the writer thread turns it
//! into the record.

use tracesplit_model::RequestRecord;

/// What every row of one scenario step repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepNames {
    /// Run id.
    pub run_id: String,
    /// Scenario name.
    pub scenario: String,
    /// Entity type.
    pub entity_type: String,
    /// Operation.
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
    /// Step index in its scenario.
    pub step: u32,
}

/// A registered [`StepNames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRef(pub(crate) u32);

/// One measured request.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its step's strings.
    pub step: StepRef,
    /// Iteration number.
    pub iteration: u32,
    /// Full URL requested (shared with the client span's `url.full`).
    pub url: std::sync::Arc<str>,
    /// HTTP status (0: none).
    pub status: u16,
    /// The status is one the step expects.
    pub expected: bool,
    /// Failure kind.
    pub error: Option<String>,
    /// Trace id.
    pub trace_id: u128,
    /// Client span id.
    pub span_id: u64,
    /// Intended start (open model), ns since the Unix epoch.
    pub intended_start_unix_nano: i64,
    /// Send start, ns since the Unix epoch.
    pub start_unix_nano: i64,
    /// Time to first byte.
    pub ttfb_ns: Option<i64>,
    /// Send start → body fully read.
    pub duration_ns: i64,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
    /// Opening its connection, when it opened one (connect, ns).
    pub connect_ns: i64,
    /// That connection's TLS handshake (ns).
    pub tls_ns: i64,
    /// It went out on a kept-alive connection.
    pub reused_connection: bool,
    /// The wait between the answer's head and its body (ns).
    pub stall_ns: i64,
}

impl Row {
    /// The `requests.parquet` row.
    pub fn into_record(self, names: &StepNames) -> RequestRecord {
        RequestRecord {
            run_id: names.run_id.clone(),
            scenario: names.scenario.clone(),
            entity_type: names.entity_type.clone(),
            operation: names.operation.clone(),
            iteration: self.iteration,
            step: names.step,
            method: names.method.clone(),
            route: names.route.clone(),
            url: self.url.to_string(),
            status: self.status,
            expected: self.expected,
            error: self.error,
            trace_id: crate::spans::hex_trace_id(self.trace_id),
            span_id: crate::spans::hex_span_id(self.span_id),
            intended_start_unix_nano: self.intended_start_unix_nano,
            start_unix_nano: self.start_unix_nano,
            ttfb_ns: self.ttfb_ns,
            duration_ns: self.duration_ns,
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            connect_ns: self.connect_ns,
            tls_ns: self.tls_ns,
            reused_connection: self.reused_connection,
            stall_ns: self.stall_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::Recorder;

    fn step(method: &str, step: u32) -> StepNames {
        StepNames {
            run_id: "r1".into(),
            scenario: "CPU_DELETE_NO_LISTINGS".into(),
            entity_type: "cpu".into(),
            operation: "DELETE".into(),
            method: method.into(),
            route: "/v1/cpus/{id}".into(),
            step,
        }
    }

    fn row(step: StepRef, iteration: u32) -> Row {
        Row {
            step,
            iteration,
            url: format!("http://h/v1/cpus/{iteration}").into(),
            status: 204,
            expected: true,
            error: None,
            trace_id: 0x0af7651916cd43dd8448eb211c80319c,
            span_id: u64::from(iteration) + 1,
            intended_start_unix_nano: 10,
            start_unix_nano: 15,
            ttfb_ns: Some(3),
            duration_ns: 100,
            request_bytes: 0,
            response_bytes: 2,
            connect_ns: 0,
            tls_ns: 0,
            reused_connection: true,
            stall_ns: 0,
        }
    }

    /// A recorder writing `requests.parquet` in a fresh directory (kept while the guard lives).
    fn recording() -> (tempfile::TempDir, std::path::PathBuf, Recorder) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let recorder = Recorder::start(&path).unwrap();
        (dir, path, recorder)
    }

    #[test]
    fn rows_become_records_with_their_steps_strings() {
        let (_dir, path, recorder) = recording();
        let sink = recorder.sink();
        let (get, delete) = (
            sink.register(step("GET", 0)).unwrap(),
            sink.register(step("DELETE", 1)).unwrap(),
        );
        sink.push(row(get, 0));
        sink.push(row(delete, 0));
        assert_eq!(recorder.finish().unwrap(), 2);
        let back = tracesplit_store::read_requests(&path).unwrap();
        assert_eq!(back[0], row(get, 0).into_record(&step("GET", 0)));
        assert_eq!(back[0].corrected_duration_ns(), 105);
        assert_eq!(
            (
                back[1].method.as_str(),
                back[1].step,
                back[1].span_id.as_str()
            ),
            ("DELETE", 1, "0000000000000001")
        );
        assert_eq!(back[0].trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(back[0].scenario, "CPU_DELETE_NO_LISTINGS");
    }

    #[test]
    fn a_recorder_dropped_without_finish_still_completes_the_file() {
        let (_dir, path, recorder) = recording();
        let sink = recorder.sink();
        let get = sink.register(step("GET", 0)).unwrap();
        sink.push(row(get, 0));
        sink.push(row(get, 1));
        // As a run does when it returns an error half-way.
        drop(recorder);
        let back = tracesplit_store::read_requests(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1], row(get, 1).into_record(&step("GET", 0)));
    }

    #[test]
    fn a_row_without_its_step_names_fails_the_file_instead_of_going_out_nameless() {
        let (_dir, _path, recorder) = recording();
        let sink = recorder.sink();
        // A step that was never registered (the registry lost it).
        sink.push(row(StepRef(7), 0));
        let e = recorder.finish().unwrap_err().to_string();
        assert!(e.contains("never registered"), "{e}");
    }

    #[test]
    fn a_poisoned_step_lock_is_an_internal_error_and_loses_no_row() {
        let (_dir, path, recorder) = recording();
        let sink = recorder.sink();
        let get = sink.register(step("GET", 0)).unwrap();
        sink.poison_for_test();
        let put = sink.register(step("PUT", 0)).unwrap();
        sink.push(row(get, 0));
        sink.push(row(put, 1));
        assert_eq!(recorder.finish().unwrap(), 2);
        let back = tracesplit_store::read_requests(&path).unwrap();
        assert_eq!(back[1], row(put, 1).into_record(&step("PUT", 0)));
        let fault = tracesplit_model::internal::first().expect("reported");
        assert!(fault.contains("record.rs"), "{fault}");
    }
}
