//! One journal line per request (`requests.journal.jsonl`), written by hand.
//!
//! A line is the record as a JSON array, its fields in declaration order:
//! serde reads a struct from an array as well as from an object, so recovery
//! stays `serde_json::from_str::<RequestRecord>` (and still reads the object
//! lines of older journals). Without the field names a line is ~40 % shorter,
//! and the journal's writes were a sixth of the writer thread's time at
//! 130k requests/s. Written by hand, strings that need no escaping (ids,
//! names, URLs) skip serde's per-character escape pass.

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
    out.push(b',');
}

fn text(out: &mut Vec<u8>, s: &str) {
    string(out, s);
    out.push(b',');
}

/// Appends `r` as one JSON array and a newline.
pub(crate) fn write_line(out: &mut Vec<u8>, r: &RequestRecord) {
    out.push(b'[');
    for s in [&r.run_id, &r.scenario, &r.entity_type, &r.operation] {
        text(out, s);
    }
    int(out, r.iteration);
    int(out, r.step);
    for s in [&r.method, &r.route, &r.url] {
        text(out, s);
    }
    int(out, r.status);
    out.extend_from_slice(if r.expected { b"true," } else { b"false," });
    match &r.error {
        Some(e) => text(out, e),
        None => out.extend_from_slice(b"null,"),
    }
    text(out, &r.trace_id);
    text(out, &r.span_id);
    int(out, r.intended_start_unix_nano);
    int(out, r.start_unix_nano);
    match r.ttfb_ns {
        Some(t) => int(out, t),
        None => out.extend_from_slice(b"null,"),
    }
    int(out, r.duration_ns);
    int(out, r.request_bytes);
    int(out, r.response_bytes);
    // Connection setup is zero on all but a connection's first request: one
    // copy for the line's end then (this runs once per request).
    if r.connect_ns == 0 && r.tls_ns == 0 {
        out.extend_from_slice(if r.reused_connection {
            b"0,0,true,"
        } else {
            b"0,0,false,"
        });
    } else {
        int(out, r.connect_ns);
        int(out, r.tls_ns);
        out.extend_from_slice(if r.reused_connection {
            b"true,"
        } else {
            b"false,"
        });
    }
    out.extend_from_slice(itoa::Buffer::new().format(r.stall_ns).as_bytes());
    out.extend_from_slice(b"]\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn awkward_short() -> RequestRecord {
        RequestRecord {
            response_bytes: 17,
            connect_ns: 5,
            tls_ns: 6,
            reused_connection: true,
            ..Default::default()
        }
    }

    #[test]
    fn lines_read_back_with_serde_as_the_same_record() {
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
            connect_ns: 120_000,
            tls_ns: 2_400_000,
            reused_connection: false,
            stall_ns: 40_123_456,
        };
        let awkward = RequestRecord {
            scenario: "quote \" backslash \\ tab \t nul \u{0} del \u{7f} é 😀".into(),
            url: "http://h/ü\"".into(),
            error: Some("status \"500\"\n".into()),
            ttfb_ns: None,
            expected: false,
            connect_ns: 0,
            tls_ns: 0,
            reused_connection: true,
            ..plain.clone()
        };
        for r in [plain.clone(), awkward, RequestRecord::default()] {
            let mut line = Vec::new();
            write_line(&mut line, &r);
            let text = String::from_utf8(line).unwrap();
            assert!(text.starts_with('[') && text.ends_with("]\n") && text.lines().count() == 1);
            // Read by position: a field out of order would not come back equal.
            let values: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            assert_eq!(values.len(), 24);
            assert_eq!(serde_json::from_str::<RequestRecord>(&text).unwrap(), r);
        }
        // Lines of the version before the stall column (23 values) and before
        // the connection columns (20 values) read with zeros.
        let mut line = Vec::new();
        write_line(&mut line, &plain);
        let mut values: Vec<serde_json::Value> = serde_json::from_slice(&line).unwrap();
        values.truncate(23);
        let read = serde_json::from_str::<RequestRecord>(&serde_json::to_string(&values).unwrap())
            .unwrap();
        assert_eq!((read.tls_ns, read.stall_ns), (2_400_000, 0));
        let mut line = Vec::new();
        write_line(&mut line, &awkward_short());
        let mut values: Vec<serde_json::Value> = serde_json::from_slice(&line).unwrap();
        values.truncate(20);
        let old_line = serde_json::to_string(&values).unwrap();
        let read = serde_json::from_str::<RequestRecord>(&old_line).unwrap();
        assert_eq!(
            (read.connect_ns, read.tls_ns, read.reused_connection),
            (0, 0, false)
        );
        assert_eq!(read.response_bytes, 17);
        // Journals of older versions (objects) still read.
        let old = serde_json::to_string(&RequestRecord::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<RequestRecord>(&old).unwrap(),
            RequestRecord::default()
        );
    }
}
