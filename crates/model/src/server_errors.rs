//! What the server said went wrong: its error spans grouped by exception,
//! and what became of the requests the client gave up on.

use serde::{Deserialize, Serialize};

/// Requests of one scenario that failed on the server with one kind of
/// error: the same exception type and message fingerprint (the message with
/// its numbers, ids and quoted values stripped).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerErrorGroup {
    /// The exception type as the server's span recorded it
    /// (`sqlalchemy.exc.TimeoutError`); for an error without an exception
    /// event, `HTTP 500` or the span status.
    pub exception_type: String,
    /// The first message seen of the group.
    pub message: String,
    /// The message with numbers, ids and quoted values replaced by `…`.
    pub fingerprint: String,
    /// The first frame of the stack trace the exception event carried, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<String>,
    /// Requests whose trace holds this error.
    pub requests: u64,
    /// Of them, requests the client had given up on (timeout).
    #[serde(default)]
    pub abandoned: u64,
    /// A few of their trace ids (hex), to open in a trace viewer.
    pub trace_ids: Vec<String>,
    /// The known cause (`connection pool exhausted`, `statement timeout`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What to do about a known cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
}

impl ServerErrorGroup {
    /// `sqlalchemy.exc.TimeoutError: QueuePool limit …`, or the type alone.
    pub fn describe(&self) -> String {
        if self.message.is_empty() {
            self.exception_type.clone()
        } else {
            format!("{}: {}", self.exception_type, self.message)
        }
    }
}

/// Requests the client gave up on (timeouts), and what the server did with them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Abandoned {
    /// Requests the client gave up on.
    pub requests: u64,
    /// Of them, requests whose server span arrived: the server went on with them.
    pub finished_on_server: u64,
    /// How much later than the client's giving up the server finished, on average (ms).
    pub mean_later_ms: f64,
    /// Of those, requests whose trace holds a server error.
    pub with_error: u64,
}

impl Abandoned {
    /// One sentence for the reports.
    pub fn describe(&self) -> String {
        let were = if self.requests == 1 { "was" } else { "were" };
        let mut s = format!(
            "{} timed out on the client and {were} left out of the split and the clock check",
            crate::stats::counted(self.requests, "request")
        );
        if self.finished_on_server > 0 {
            s.push_str(&format!(
                "; {} of them finished on the server after the client gave up, {:.1} ms later on average",
                self.finished_on_server, self.mean_later_ms
            ));
            if self.with_error > 0 {
                s.push_str(&format!("; {} of them with an error", self.with_error));
            }
        }
        s
    }
}
