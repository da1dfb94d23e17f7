use super::*;

fn span(end: i64, server: bool, http: Option<i32>, events: Option<&str>) -> ErrorSpan {
    ErrorSpan {
        trace: 1,
        span: 2,
        server,
        name: "GET /items/{id}".into(),
        status_message: String::new(),
        http_status: http,
        end,
        events: events.map(str::to_owned),
    }
}

fn exception(kind: &str, message: &str) -> String {
    serde_json::json!([{
        "name": "exception",
        "time_unix_nano": 1,
        "attributes": {
            "exception.type": kind,
            "exception.message": message,
            "exception.stacktrace": "Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in get\n    x()\n  File \"/app/db.py\", line 9, in x\n    raise E\n"
        }
    }])
    .to_string()
}

#[test]
fn the_fingerprint_strips_numbers_ids_and_quoted_values_but_keeps_words() {
    assert_eq!(
        fingerprint(
            "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"
        ),
        "QueuePool limit of size … overflow … reached, connection timed out, timeout …"
    );
    assert_eq!(
        fingerprint("item 7f1c1d2e-8a9b-4c3d-9e8f-001122334455 not found in 'catalog_2'"),
        "item … not found in '…'"
    );
    assert_eq!(
        fingerprint("span 5eed01 of a deadbeef face"),
        "span … of a deadbeef face"
    );
    assert_eq!(fingerprint("first line 1\nsecond 2"), "first line …");
    assert_eq!(fingerprint("utf8 ünïcode 3"), "utf8 ünïcode …");
}

#[test]
fn known_causes_get_a_next_step_and_others_none() {
    let pool = known_cause(
        "sqlalchemy.exc.TimeoutError",
        "QueuePool limit of size 5 overflow 10 reached",
    );
    assert_eq!(pool.map(|k| k.0), Some("the connection pool is exhausted"));
    assert!(pool.is_some_and(|k| k.1.contains("pool_size")));
    let timeout = known_cause(
        "psycopg.errors.QueryCanceled",
        "canceling statement due to statement timeout",
    );
    assert_eq!(
        timeout.map(|k| k.0),
        Some("a statement hit the statement timeout")
    );
    assert!(known_cause("psycopg.errors.DeadlockDetected", "deadlock detected").is_some());
    assert!(known_cause("OperationalError", "connection refused").is_some());
    assert!(known_cause("RuntimeError", "boom").is_none());
}

#[test]
fn the_cause_is_the_exception_raised_first_then_the_5xx_answer() {
    let inner = exception("sqlalchemy.exc.TimeoutError", "QueuePool limit of size 1");
    let outer = exception("RuntimeError", "wrapped");
    let spans = [
        span(30, true, Some(500), Some(&outer)),
        span(20, false, None, Some(&inner)),
        span(25, false, None, None),
    ];
    let c = cause_of(&spans.iter().collect::<Vec<_>>());
    assert_eq!(c.exception_type, "sqlalchemy.exc.TimeoutError");
    assert_eq!(c.message, "QueuePool limit of size 1");
    assert_eq!(
        c.first_frame.as_deref(),
        Some("File \"/app/db.py\", line 9, in x")
    );
    let plain = [span(25, false, None, None), span(30, true, Some(503), None)];
    let c = cause_of(&plain.iter().collect::<Vec<_>>());
    assert_eq!(c.exception_type, "HTTP 503");
}

#[test]
fn a_java_stack_names_its_first_at_frame() {
    let stack = "java.sql.SQLTransientConnectionException: x\n\tat com.zaxxer.hikari.pool.HikariPool.get(HikariPool.java:1)\n\tat app.Repo.find(Repo.java:2)";
    assert_eq!(
        first_frame(stack).as_deref(),
        Some("at com.zaxxer.hikari.pool.HikariPool.get(HikariPool.java:1)")
    );
    assert_eq!(first_frame(""), None);
}

#[test]
fn exception_types_are_read_from_the_events_for_the_tail() {
    let events = exception("psycopg.errors.DeadlockDetected", "deadlock detected");
    assert_eq!(
        exception_types(&events),
        ["psycopg.errors.DeadlockDetected"]
    );
    assert!(exception_types("[{\"name\":\"retry\",\"attributes\":{}}]").is_empty());
    assert!(exception_types("not json").is_empty());
}
