//! Faults the runner must survive, each with its expected outcome.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;
use tracesplit_runner::ledger::{Ledger, live};
use tracesplit_runner::{Collect, RunError, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_down_at_start_is_unreachable_naming_the_url() {
    let api = FakeApi::start().await;
    let url = api.base_url();
    api.kill();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let err = run(config(&url, &suite_get("/v1/ok", None), dir.path(), 3))
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, RunError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("{url}/health")) && text.contains("refused"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_dying_mid_run_counts_the_rest_as_errors_and_keeps_the_ledger() {
    let api = FakeApi::start().await;
    api.state.die_after_ok.store(10, SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(config(
        &api.base_url(),
        &suite_get("/v1/ok", Some(3)),
        dir.path(),
        200,
    ))
    .await
    .unwrap();
    assert!(outcome.api_down);
    let r = &recorded(&outcome)["S"];
    assert_eq!(
        r.measured, 10,
        "ten requests were answered before the API died"
    );
    assert_eq!(
        r.measured + r.failed,
        200,
        "every planned request is recorded"
    );
    assert!(
        r.errors
            .keys()
            .all(|k| k == "refused" || k == "api_unreachable" || k == "reset"),
        "{:?}",
        r.errors
    );
    // Written despite the failure; the runner judges nothing (no summary.json).
    let run_dir = &outcome.run_dir;
    assert!(run_dir.join("manifest.json").exists());
    assert!(!run_dir.join("summary.json").exists());
    assert_eq!(
        tracesplit_store::read_requests(&run_dir.join("requests.parquet"))
            .unwrap()
            .len(),
        200
    );
    assert!(
        has_note(&outcome, "stopped answering"),
        "{:?}",
        outcome.manifest.notes
    );
    // Cleanup was attempted and failed: the ledger still lists the fixture,
    // its 3 listings and the listings' RAM spec and storage profile; the
    // sweep stopped at its first list.
    let left = live(&Ledger::read(&run_dir.join("ledger.jsonl")).unwrap().entries);
    assert_eq!(left.len(), 6, "{left:?}");
    assert_eq!(
        outcome.cleanup.failed.len(),
        7,
        "{:?}",
        outcome.cleanup.failed
    );
    assert!(
        outcome
            .cleanup
            .failed
            .last()
            .unwrap()
            .0
            .starts_with("sweep for")
    );
    assert!(has_note(&outcome, "tracesplit cleanup"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_unexpected_statuses_are_counted_never_measured() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        &api.base_url(),
        &suite_get("/v1/mixed", None),
        dir.path(),
        40,
    );
    let collector = with_collector(&mut cfg).await;
    let outcome = run(cfg).await.unwrap();
    let r = &recorded(&outcome)["S"];
    let counts: Vec<(u16, u64)> = r.statuses.clone().into_iter().collect();
    assert_eq!(counts, vec![(200, 10), (404, 10), (500, 10), (503, 10)]);
    assert_eq!((r.measured, r.failed), (10, 30));
    assert_eq!(r.errors.get("status 500"), Some(&10));
    // The collector received every client span (iteration + request spans).
    assert_eq!(outcome.client_spans.exported, 80);
    assert_eq!(collector.shutdown().await.unwrap().stored_spans, 80);
    let requests =
        tracesplit_store::read_requests(&outcome.run_dir.join("requests.parquet")).unwrap();
    assert_eq!(requests.iter().filter(|q| q.expected).count(), 10);
    assert!(
        requests
            .iter()
            .filter(|q| !q.expected)
            .all(|q| q.status != 200)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_counted_as_timeouts() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&api.base_url(), &suite_get("/v1/slow", None), dir.path(), 3);
    cfg.timeout = Duration::from_millis(200);
    let outcome = run(cfg).await.unwrap();
    let r = &recorded(&outcome)["S"];
    assert_eq!(
        (r.measured, r.failed, r.errors.get("timeout")),
        (0, 3, Some(&3))
    );
    let requests =
        tracesplit_store::read_requests(&outcome.run_dir.join("requests.parquet")).unwrap();
    assert!(requests.iter().all(|q| q.status == 0
        && q.error.as_deref() == Some("timeout")
        && q.duration_ns >= 200_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_reported_as_dropped_client_spans() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut cfg = config(&api.base_url(), &suite_get("/v1/ok", None), dir.path(), 5);
    cfg.collect = Collect::external(Some(endpoint));
    let outcome = run(cfg).await.unwrap();
    assert_eq!(
        (
            recorded(&outcome)["S"].measured,
            recorded(&outcome)["S"].failed
        ),
        (5, 0),
        "the run itself is unaffected"
    );
    assert!(
        outcome.client_spans.ended >= 10,
        "iteration and client spans: {:?}",
        outcome.client_spans
    );
    assert_eq!(outcome.client_spans.dropped(), outcome.client_spans.ended);
    assert!(
        has_note(&outcome, "client spans were not exported"),
        "{:?}",
        outcome.manifest.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_creation_failing_half_way_removes_what_was_created() {
    let api = FakeApi::start().await;
    api.state.listings_ok.store(5, SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        &api.base_url(),
        &suite_get("/v1/ok", Some(20)),
        dir.path(),
        3,
    );
    cfg.setup_concurrency = 1;
    let outcome = run(cfg).await.unwrap();
    let why = outcome.manifest.scenarios["S"]
        .not_measured
        .clone()
        .unwrap();
    assert!(
        why.starts_with("setup failed") && why.contains("500"),
        "{why}"
    );
    assert!(recorded(&outcome).is_empty(), "nothing measured");
    assert!(
        has_note(&outcome, "setup failed"),
        "{:?}",
        outcome.manifest.notes
    );
    let mut created = api.state.created.lock().unwrap().clone();
    let mut deleted = api.state.deleted.lock().unwrap().clone();
    created.sort();
    deleted.sort();
    assert_eq!(
        created.len(),
        8,
        "the listings' RAM spec and storage profile, the fixture and five listings"
    );
    assert_eq!(created, deleted, "everything created was removed");
    let log = api.state.log.lock().unwrap().clone();
    let first_entity_delete = log
        .iter()
        .position(|l| l.starts_with("DELETE /v1/catalog/"))
        .unwrap();
    assert!(
        log.iter()
            .rposition(|l| l.starts_with("DELETE /v1/listings/"))
            .unwrap()
            < first_entity_delete,
        "listings first"
    );
    assert!(
        live(
            &Ledger::read(&outcome.run_dir.join("ledger.jsonl"))
                .unwrap()
                .entries
        )
        .is_empty()
    );
}
