//! One journal line per request (`requests.journal.jsonl`), written by hand.
//!
//! The line is exactly what `serde_json` writes for a [`RequestRecord`] (the
//! tests compare them), so recovery reads it with serde. Writing it by hand
//! skips serde's per-character escape pass on strings that need none (ids,
//! names, URLs): that pass was half of the writer thread's time at 100k
//! requests per second.

use tracesplit_model::RequestRecord;

fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing into a Vec cannot fail; keep the line valid regardless.
        out.extend_from_slice(b"null");
    }
}

fn int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn key(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends `r` as one JSON object and a newline.
pub(crate) fn write_line(out: &mut Vec<u8>, r: &RequestRecord) {
    out.push(b'{');
    let strings = [
        ("run_id", &r.run_id),
        ("scenario", &r.scenario),
        ("entity_type", &r.entity_type),
        ("operation", &r.operation),
    ];
    for (i, (name, value)) in strings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key(out, name);
        string(out, value);
    }
    out.push(b',');
    key(out, "iteration");
    int(out, r.iteration);
    out.push(b',');
    key(out, "step");
    int(out, r.step);
    for (name, value) in [("method", &r.method), ("route", &r.route), ("url", &r.url)] {
        out.push(b',');
        key(out, name);
        string(out, value);
    }
    out.push(b',');
    key(out, "status");
    int(out, r.status);
    out.push(b',');
    key(out, "expected");
    out.extend_from_slice(if r.expected { b"true" } else { b"false" });
    out.push(b',');
    key(out, "error");
    match &r.error {
        Some(e) => string(out, e),
        None => out.extend_from_slice(b"null"),
    }
    write_tail(out, r);
}

/// The ids and numbers after `error`.
fn write_tail(out: &mut Vec<u8>, r: &RequestRecord) {
    out.push(b',');
    key(out, "trace_id");
    string(out, &r.trace_id);
    out.push(b',');
    key(out, "span_id");
    string(out, &r.span_id);
    out.push(b',');
    key(out, "intended_start_unix_nano");
    int(out, r.intended_start_unix_nano);
    out.push(b',');
    key(out, "start_unix_nano");
    int(out, r.start_unix_nano);
    out.push(b',');
    key(out, "ttfb_ns");
    match r.ttfb_ns {
        Some(t) => int(out, t),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
    key(out, "duration_ns");
    int(out, r.duration_ns);
    out.push(b',');
    key(out, "request_bytes");
    int(out, r.request_bytes);
    out.push(b',');
    key(out, "response_bytes");
    int(out, r.response_bytes);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_are_what_serde_writes() {
        let plain = RequestRecord {
            run_id: "ts-20261127-010203-abcd".into(),
            scenario: "CPU_DELETE_NO_LISTINGS".into(),
            entity_type: "cpu".into(),
            operation: "DELETE".into(),
            iteration: u32::MAX,
            step: 2,
            method: "DELETE".into(),
            route: "/v1/cpus/{id}".into(),
            url: "http://127.0.0.1:8000/v1/cpus/42?x=1".into(),
            status: 204,
            expected: true,
            error: None,
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "00f067aa0ba902b7".into(),
            intended_start_unix_nano: i64::MIN,
            start_unix_nano: 1_700_000_000_000_000_000,
            ttfb_ns: Some(-5),
            duration_ns: 0,
            request_bytes: u64::MAX,
            response_bytes: 17,
        };
        let awkward = RequestRecord {
            scenario: "quote \" backslash \\ tab \t nul \u{0} del \u{7f} é 😀".into(),
            url: "http://h/ü\"".into(),
            error: Some("status \"500\"\n".into()),
            ttfb_ns: None,
            expected: false,
            ..plain.clone()
        };
        for r in [plain, awkward, RequestRecord::default()] {
            let mut line = Vec::new();
            write_line(&mut line, &r);
            let serde = serde_json::to_string(&r).unwrap() + "\n";
            assert_eq!(String::from_utf8(line).unwrap(), serde);
        }
    }
}
