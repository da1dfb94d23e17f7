//! One HTTP request the runner sent: a row of `requests.parquet`.

use serde::{Deserialize, Serialize};

/// One HTTP request of a measured iteration, as the runner observed it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Run id (also in the manifest and in fixture names).
    pub run_id: String,
    /// Scenario name, e.g. `CPU_DELETE_WITH_LISTINGS_1000`.
    pub scenario: String,
    /// Entity type as the seed names it: `CPU`, `GPU`, `PROFILE`, …
    pub entity_type: String,
    /// Operation as the seed names it: `PATCH`, `PUT`, `DELETE`, `LIST`, `GET`.
    pub operation: String,
    /// Iteration number within the scenario (0-based, warm-up excluded).
    pub iteration: u32,
    /// Index of the request inside its iteration.
    pub step: u32,
    /// HTTP method.
    pub method: String,
    /// Route template, e.g. `/v1/catalog/cpus/{id}`.
    pub route: String,
    /// Full URL sent.
    pub url: String,
    /// HTTP status; 0 when no response arrived.
    pub status: u16,
    /// Whether `status` is in the scenario's expected set.
    pub expected: bool,
    /// What went wrong when there was no usable response: `timeout`, `refused`, …
    pub error: Option<String>,
    /// Trace id sent in `traceparent` (32 lowercase hex).
    pub trace_id: String,
    /// The client span id, sent as the parent id in `traceparent` (16 lowercase hex).
    pub span_id: String,
    /// When the schedule meant to send it (open model); equals `start_unix_nano` in the closed model.
    pub intended_start_unix_nano: i64,
    /// When sending started.
    pub start_unix_nano: i64,
    /// Send start → first response byte; `None` when no response.
    pub ttfb_ns: Option<i64>,
    /// Send start → body fully read (or failure).
    pub duration_ns: i64,
    /// Bytes of the request body.
    pub request_bytes: u64,
    /// Bytes of the response body.
    pub response_bytes: u64,
    /// Opening the connection it went out on, when it opened one: name
    /// resolution and TCP connect (ns); 0 on a reused connection. Part of
    /// `duration_ns`. (Files of older versions have no such column: 0.)
    #[serde(default)]
    pub connect_ns: i64,
    /// That connection's TLS handshake (ns); 0 without TLS or when reused.
    #[serde(default)]
    pub tls_ns: i64,
    /// It went out on a kept-alive connection an earlier request opened.
    #[serde(default)]
    pub reused_connection: bool,
    /// The wait between the answer's head and its body's first byte (ns): 0
    /// when they came together. Nagle's algorithm on a server that writes
    /// them apart stalls the body until the client's delayed ACK (~40 ms).
    #[serde(default)]
    pub stall_ns: i64,
}

impl RequestRecord {
    /// Connection setup this request waited for (connect + TLS, ns).
    pub fn connection_setup_ns(&self) -> i64 {
        self.connect_ns.saturating_add(self.tls_ns).max(0)
    }

    /// Latency corrected for coordinated omission: from the intended start to the end.
    pub fn corrected_duration_ns(&self) -> i64 {
        corrected_duration_ns(
            self.intended_start_unix_nano,
            self.start_unix_nano,
            self.duration_ns,
        )
    }
}

/// Latency of a request sent at `start` but intended for `intended` (open
/// model): the wait for the late start counts too (never negative).
pub fn corrected_duration_ns(intended: i64, start: i64, duration: i64) -> i64 {
    (start - intended).max(0) + duration
}
