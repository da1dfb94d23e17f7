//! A span first met on a thread without the component's dispatch must still be
//! recorded under it. Its own test binary on purpose: the tracing-core
//! shortcut this guards against (tokio-rs/tracing#3611) only shows in a process
//! where the component's dispatch would be the only one registered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tracesplit_telemetry::{Telemetry, TelemetryConfig};

/// One callsite, as a database statement span is in the catalog.
fn statement_span() -> tracing::Span {
    tracing::info_span!("db.statement", "otel.kind" = "client")
}

#[test]
fn a_span_first_met_without_our_dispatch_is_still_recorded_under_it() {
    // Nothing listens there; no span is exported in this test.
    let telemetry =
        Telemetry::start(&TelemetryConfig::new("interest").with_endpoint("http://127.0.0.1:9"))
            .unwrap();
    // Another component's thread, with no dispatch: the first to reach the callsite.
    std::thread::spawn(|| assert!(statement_span().is_disabled()))
        .join()
        .unwrap();
    let recorded =
        tracing::dispatcher::with_default(telemetry.dispatch(), || !statement_span().is_disabled());
    assert!(
        recorded,
        "the span was disabled for good by the first thread's (absent) subscriber"
    );
}
