//! The server's errors, first: each request's error spans reduced to one
//! cause (the exception raised first), grouped per scenario by exception
//! type and message fingerprint, with a next step for the causes we know;
//! and what the server did with the requests the client gave up on.

use crate::scan::ErrorSpan;
use crate::split::RequestSplit;
use crate::table::RequestTable;
use std::collections::HashMap;
use tracesplit_model::analysis::{Finding, ScenarioAnalysis, Severity};
use tracesplit_model::server_errors::{Abandoned, ServerErrorGroup};

/// Trace ids kept per group.
const EXAMPLES: usize = 3;

/// One request's error, as its trace's spans tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cause {
    exception_type: String,
    message: String,
    first_frame: Option<String>,
}

/// The exception events (type, message, stack trace) of a stored events array.
fn exceptions(events: &str) -> Vec<Cause> {
    let Ok(serde_json::Value::Array(events)) = serde_json::from_str(events) else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|e| e.get("name").and_then(|n| n.as_str()) == Some("exception"))
        .map(|e| {
            let attr = |k: &str| {
                e.get("attributes")
                    .and_then(|a| a.get(k))
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            Cause {
                exception_type: attr("exception.type"),
                message: attr("exception.message"),
                first_frame: first_frame(&attr("exception.stacktrace")),
            }
        })
        .collect()
}

/// The types of the exception events of a stored events array (for the
/// tail's attribute comparison: `exception.type` is a value it can name).
pub fn exception_types(events: &str) -> Vec<String> {
    exceptions(events)
        .into_iter()
        .map(|c| c.exception_type)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The frame the exception was raised in: a Python traceback's last
/// `File "…", line N, in f`; a Java or JavaScript trace's first `at …`.
fn first_frame(stack: &str) -> Option<String> {
    let lines = stack.lines().map(str::trim);
    lines
        .clone()
        .rfind(|l| l.starts_with("File \""))
        .or_else(|| lines.clone().find(|l| l.starts_with("at ")))
        .map(str::to_owned)
}

/// The cause of one request's failure among its trace's error spans: the
/// exception raised first (the earliest-ending span with an exception
/// event: the innermost); without one, the 5xx answer or the status message.
fn cause_of(spans: &[&ErrorSpan]) -> Cause {
    let mut raised: Vec<(i64, Cause)> = spans
        .iter()
        .flat_map(|s| {
            let found = s.events.as_deref().map(exceptions).unwrap_or_default();
            found.into_iter().map(move |c| (s.end, c))
        })
        .collect();
    raised.sort_by_key(|(end, _)| *end);
    if let Some((_, c)) = raised.into_iter().next() {
        return c;
    }
    let answered = spans.iter().find(|s| s.server && s.http_status.is_some());
    let first = answered.or(spans.first());
    Cause {
        exception_type: match first.and_then(|s| s.http_status) {
            Some(code) => format!("HTTP {code}"),
            None => format!("error status on span {}", first.map_or("", |s| &s.name)),
        },
        message: first.map_or(String::new(), |s| s.status_message.clone()),
        first_frame: None,
    }
}

/// `message` with what varies between occurrences replaced by `…`: quoted
/// values, UUIDs and hex ids, numbers.
pub fn fingerprint(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or("");
    let mut out = String::with_capacity(first_line.len());
    let chars: Vec<char> = first_line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c == '\'' || c == '"')
            && let Some(len) = chars[i + 1..].iter().position(|&q| q == c)
        {
            out.push(c);
            out.push('…');
            out.push(c);
            i += len + 2;
            continue;
        }
        let word_start = i == 0 || !chars[i - 1].is_alphanumeric();
        if word_start && (c.is_ascii_hexdigit()) {
            let end = (i..chars.len())
                .find(|&k| !(chars[k].is_ascii_hexdigit() || chars[k] == '-' || chars[k] == '.'))
                .unwrap_or(chars.len());
            let token: String = chars[i..end].iter().collect();
            let digits = token.chars().filter(char::is_ascii_digit).count();
            let alphabetic_word = end < chars.len() && chars[end].is_alphanumeric();
            if digits > 0 && !alphabetic_word {
                out.push('…');
                i = end;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A known cause's name and next step, from the exception's type and message.
pub fn known_cause(exception_type: &str, message: &str) -> Option<(&'static str, &'static str)> {
    let text = format!("{exception_type}: {message}").to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if any(&[
        "queuepool limit",
        "pool exhausted",
        "pool timeout",
        "connection is not available",
        "remaining connection slots",
        "too many clients",
    ]) {
        return Some((
            "the connection pool is exhausted",
            "raise the pool size (SQLAlchemy pool_size/max_overflow, HikariCP maximumPoolSize) or lower the concurrency; look for connections held across slow work",
        ));
    }
    if any(&[
        "statement timeout",
        "querycanceled",
        "query_canceled",
        "canceling statement",
    ]) {
        return Some((
            "a statement hit the statement timeout",
            "find the slow statement in these traces and EXPLAIN ANALYZE it (a missing index?), or raise statement_timeout",
        ));
    }
    if any(&["deadlock"]) {
        return Some((
            "transactions deadlocked",
            "take row locks in one order in every transaction, keep transactions short, and retry on deadlock",
        ));
    }
    if any(&[
        "connection refused",
        "could not connect",
        "econnrefused",
        "connectionrefused",
    ]) {
        return Some((
            "a connection was refused (the database or a dependency is down or full)",
            "check that the dependency is up and accepts this many connections (max_connections, listen backlog)",
        ));
    }
    if any(&[
        "workertimeout",
        "worker timeout",
        "gateway timeout",
        "http 504",
    ]) {
        return Some((
            "a worker timed out",
            "make the handler faster or raise the worker timeout; add workers if they are all busy",
        ));
    }
    None
}

/// What the error spans say, per scenario (in the table's scenario order).
pub struct ServerErrors {
    /// Each scenario's error groups, most requests first.
    pub per_scenario: Vec<Vec<ServerErrorGroup>>,
    /// The requests the client gave up on (`None`: none).
    pub abandoned: Option<Abandoned>,
}

/// A request the client gave up on.
pub fn abandoned(t: &RequestTable, i: usize) -> bool {
    t.error.get(i) == Some("timeout")
}

/// Groups the error spans by the requests whose traces hold them; counts
/// the abandoned requests from their splits (before they are set aside).
pub fn gather(spans: &[ErrorSpan], t: &RequestTable, splits: &[RequestSplit]) -> ServerErrors {
    // Only the error spans' traces are looked up: a run without errors
    // costs one pass over its requests, with nothing to hash.
    let traces: std::collections::HashSet<u128> = spans.iter().map(|s| s.trace).collect();
    let mut row_of: HashMap<u128, usize> = HashMap::new();
    let mut client = std::collections::HashSet::new();
    if !traces.is_empty() {
        for i in 0..t.len() {
            if let Some(id) = crate::load::trace_of(t, i).filter(|id| traces.contains(id)) {
                row_of.entry(id).or_insert(i);
                // The client's own spans (a timed-out request's is an error) are not the server's.
                client.insert(t.client_span(i));
            }
        }
    }
    let mut by_row: HashMap<usize, Vec<&ErrorSpan>> = HashMap::new();
    for s in spans.iter().filter(|s| !client.contains(&s.span)) {
        if let Some(&i) = row_of.get(&s.trace) {
            by_row.entry(i).or_default().push(s);
        }
    }
    let mut rows: Vec<usize> = by_row.keys().copied().collect();
    rows.sort_unstable();
    let mut groups: Vec<HashMap<(String, String), ServerErrorGroup>> =
        vec![HashMap::new(); t.scenarios.len()];
    for &i in &rows {
        let c = cause_of(&by_row[&i]);
        let print = fingerprint(&c.message);
        let Some(scenario) = groups.get_mut(t.scenario[i] as usize) else {
            continue;
        };
        let g = scenario
            .entry((c.exception_type.clone(), print.clone()))
            .or_insert_with(|| {
                let known = known_cause(&c.exception_type, &c.message);
                ServerErrorGroup {
                    exception_type: c.exception_type.clone(),
                    message: c.message.lines().next().unwrap_or("").to_owned(),
                    fingerprint: print,
                    first_frame: c.first_frame.clone(),
                    cause: known.map(|k| k.0.to_owned()),
                    next_step: known.map(|k| k.1.to_owned()),
                    ..Default::default()
                }
            });
        g.requests += 1;
        g.abandoned += u64::from(abandoned(t, i));
        if g.trace_ids.len() < EXAMPLES {
            g.trace_ids.push(t.trace_id.text(i));
        }
    }
    let per_scenario = groups
        .into_iter()
        .map(|g| {
            let mut v: Vec<ServerErrorGroup> = g.into_values().collect();
            v.sort_by(|a, b| {
                b.requests
                    .cmp(&a.requests)
                    .then_with(|| a.fingerprint.cmp(&b.fingerprint))
            });
            v
        })
        .collect();
    ServerErrors {
        per_scenario,
        abandoned: abandoned_summary(t, splits, &by_row),
    }
}

/// The abandoned requests and what their server spans say.
fn abandoned_summary(
    t: &RequestTable,
    splits: &[RequestSplit],
    errors: &HashMap<usize, Vec<&ErrorSpan>>,
) -> Option<Abandoned> {
    let mut a = Abandoned::default();
    let mut later_sum = 0i128;
    for i in (0..t.len()).filter(|&i| abandoned(t, i)) {
        a.requests += 1;
        let Some(sp) = splits.get(i).filter(|s| s.matched) else {
            continue;
        };
        a.finished_on_server += 1;
        let client_end = t.start[i] + t.duration[i];
        later_sum += i128::from(sp.server_start_ns + sp.server_ns - client_end);
        a.with_error += u64::from(errors.contains_key(&i));
    }
    if a.finished_on_server > 0 {
        a.mean_later_ms = later_sum as f64 / a.finished_on_server as f64 / 1e6;
    }
    (a.requests > 0).then_some(a)
}

/// Sets aside the splits of requests that got no answer (timed out, reset,
/// refused): their server spans say nothing about the clocks or the split
/// of the answered requests.
pub fn set_aside_unanswered(t: &RequestTable, splits: &mut [RequestSplit]) {
    for (i, sp) in splits.iter_mut().enumerate() {
        if sp.matched && t.error.get(i).is_some() {
            // Its server span was found (coverage counts it): kept as a count.
            *sp = RequestSplit {
                server_candidates: sp.server_candidates,
                ..RequestSplit::unmatched(sp.total_ns)
            };
        }
    }
}

/// The server's errors, one finding per scenario and error (ranked above
/// the latency findings: they are pushed first, and sorting is stable).
pub fn rules(scenarios: &[ScenarioAnalysis], abandoned: Option<&Abandoned>) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in scenarios {
        let total = s.stats.count + s.failed;
        for g in &s.server_errors {
            let what = g.describe();
            let title = match &g.cause {
                Some(cause) => format!(
                    "{}: {} of {total} requests failed on the server: {what} — {cause}",
                    s.scenario, g.requests
                ),
                None => format!(
                    "{}: {} of {total} requests failed on the server: {what}",
                    s.scenario, g.requests
                ),
            };
            let mut detail = format!(
                "the server recorded this error in {} of the scenario's traces (e.g. {})",
                g.requests,
                g.trace_ids.join(", ")
            );
            if g.abandoned > 0 {
                detail.push_str(&format!(
                    "; {} of them the client had given up on",
                    g.abandoned
                ));
            }
            if let Some(frame) = &g.first_frame {
                detail.push_str(&format!("; raised at {frame}"));
            }
            out.push(Finding {
                severity: Severity::Critical,
                rule: "server_errors".into(),
                scenario: Some(s.scenario.clone()),
                title,
                detail,
                next_step: Some(g.next_step.clone().unwrap_or_else(|| {
                    format!("open one of the traces and fix the cause of: {what}")
                })),
            });
        }
    }
    // One finding for the run: the instrumentation is the service's, not a
    // scenario's, and sixteen copies of it would bury the rest.
    let overlapping: Vec<&ScenarioAnalysis> = scenarios
        .iter()
        .filter(|s| s.db_spans.duplicates > 0)
        .collect();
    if !overlapping.is_empty() {
        let copies: u64 = overlapping.iter().map(|s| s.db_spans.duplicates).sum();
        let names: Vec<&str> = overlapping.iter().map(|s| s.scenario.as_str()).collect();
        out.push(Finding {
            severity: Severity::Info,
            rule: "overlapping_instrumentation".into(),
            scenario: (names.len() == 1).then(|| names[0].to_owned()),
            title: "two instrumentations span the same statements".into(),
            detail: format!(
                "{copies} DB spans lay inside a span of the same statement (an ORM's span around its driver's) and were counted once, as the outer span, in {} of {} scenarios: {}",
                names.len(),
                scenarios.len(),
                names.join(", ")
            ),
            next_step: Some("nothing to do: counts and the tail use one span per statement; disable one instrumentation to save span volume".into()),
        });
    }
    if let Some(a) = abandoned {
        out.push(Finding {
            severity: Severity::Warning,
            rule: "abandoned".into(),
            scenario: None,
            title: format!("{} timed out on the client", tracesplit_model::stats::counted(a.requests, "request")),
            detail: a.describe(),
            next_step: Some("raise --timeout to see how long they really take, or lower the load until they answer".into()),
        });
    }
    out
}

#[cfg(test)]
mod tests;
