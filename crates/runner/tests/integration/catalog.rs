//! The catalog suite against the reference catalog over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::config;
use crate::support::{assert_same_rows, db_rows, has_note, recorded, with_collector};
use rusqlite::Connection;
use std::path::Path;
use tracesplit_catalog_demo::{CatalogConfig, CatalogHandle, CatalogServer};
use tracesplit_model::SpanKind;
use tracesplit_runner::FixtureId;
use tracesplit_runner::ledger::{Ledger, Role, live};
use tracesplit_runner::{Schedule, Stop};
use tracesplit_runner::{run, suite};
use tracesplit_telemetry::TelemetryConfig;

async fn catalog(db: Option<&Path>, telemetry: Option<TelemetryConfig>) -> CatalogHandle {
    let cfg = CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        db_path: db.map(Path::to_owned),
        seed_cpus: 20,
        seed_listings: 200,
        telemetry,
        ..Default::default()
    };
    CatalogServer::start(cfg).await.unwrap()
}

/// A full suite run (3 iterations, 30 volume CPUs) against a catalog on `db`:
/// every table is as it was before, row for row.
async fn full_suite_leaves_every_table_as_it_found_it(seed_cpus: u64, seed_listings: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = CatalogServer::start(CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        db_path: Some(db.clone()),
        seed_cpus,
        seed_listings,
        telemetry: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let before = db_rows(&db);
    let mut cfg = config(&api.base_url(), suite::CATALOG_SUITE, dir.path(), 3);
    cfg.list_volume = 30;
    let outcome = run(cfg).await.unwrap();
    let recorded = recorded(&outcome);
    assert_eq!(recorded.len(), 16, "{:#?}", outcome.manifest.notes);
    assert!(
        recorded.values().all(|r| r.measured > 0 && r.failed == 0),
        "{recorded:#?}\nnotes: {:#?}",
        outcome.manifest.notes
    );
    assert!(
        outcome.cleanup.failed.is_empty(),
        "{:?}",
        outcome.cleanup.failed
    );
    assert!(outcome.cleanup.deleted > 1000 + 100 + 25 + 30);
    assert!(
        outcome.manifest.side_effects.is_empty(),
        "the watch saw rows appear: {:?}",
        outcome.manifest.side_effects
    );
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_suite_leaves_a_fresh_catalog_with_the_same_rows() {
    full_suite_leaves_every_table_as_it_found_it(0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_suite_leaves_a_seeded_catalog_with_the_same_rows() {
    full_suite_leaves_every_table_as_it_found_it(20, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_carries_a_trace_context_the_server_continues() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("run").join("spans");
    // The API starts first (it must know where to export); its port is the
    // collector's, started below on a port chosen now.
    let mut suite_cfg = config("http://unused", suite::CATALOG_SUITE, dir.path(), 4);
    let collector = with_collector(&mut suite_cfg).await;
    let api = catalog(
        None,
        Some(TelemetryConfig::new("catalog-demo").with_endpoint(collector.http_endpoint())),
    )
    .await;
    suite_cfg.base_url = api.base_url();
    suite_cfg.suite.select(Some("CPU_DETAIL*"), None).unwrap();
    suite_cfg.span_wait = std::time::Duration::from_secs(5);
    let outcome = run(suite_cfg).await.unwrap();
    api.shutdown().await;
    collector.shutdown().await.unwrap();
    assert_eq!(outcome.missing_server_spans, Some(0));
    assert_eq!(outcome.client_spans.dropped(), 0);

    let requests =
        tracesplit_store::read_requests(&outcome.run_dir.join("requests.parquet")).unwrap();
    assert_eq!(requests.len(), 8, "4 iterations × 2 steps");
    let spans = tracesplit_store::read_span_dir(&store).unwrap();
    for r in &requests {
        let client = spans
            .iter()
            .find(|s| s.span_id.to_string() == r.span_id)
            .expect("client span exported");
        assert_eq!(
            (client.kind, client.trace_id.to_string()),
            (SpanKind::Client, r.trace_id.clone())
        );
        assert_eq!(client.service_name, "tracesplit-runner");
        let iteration = spans
            .iter()
            .find(|s| Some(&s.span_id) == client.parent_span_id.as_ref())
            .expect("iteration span");
        assert!(iteration.name.ends_with("iteration"));
        // The iteration encloses its requests; the client span is the request as measured.
        assert!(
            iteration.start_unix_nano <= client.start_unix_nano
                && client.end_unix_nano <= iteration.end_unix_nano
        );
        assert_eq!(
            (client.start_unix_nano, client.end_unix_nano),
            (r.start_unix_nano, r.start_unix_nano + r.duration_ns)
        );
        let server = spans
            .iter()
            .find(|s| {
                s.kind == SpanKind::Server
                    && s.parent_span_id.map(|p| p.to_string()).as_deref() == Some(&r.span_id)
            })
            .expect("server span");
        assert_eq!(server.trace_id.to_string(), r.trace_id);
        assert_eq!(server.http_status_code, Some(i32::from(r.status)));
    }
    let routes: Vec<&str> = requests.iter().map(|r| r.route.as_str()).collect();
    assert!(routes.contains(&"/v1/catalog/cpus/{id}/listings"));
    // Both steps of one iteration share its trace.
    let first: Vec<_> = requests.iter().filter(|r| r.iteration == 0).collect();
    assert_eq!(first[0].trace_id.to_string(), first[1].trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_fixture_set_is_reused_topped_up_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog(Some(&db), None).await;
    let before = db_rows(&db);
    let suite_text = suite::CATALOG_SUITE;
    let mut first = config(&api.base_url(), suite_text, &dir.path().join("a"), 2);
    first
        .suite
        .select(Some("CPU_DELETE_WITH_LISTINGS_100"), None)
        .unwrap();
    first.keep_fixtures = true;
    let first = run(first).await.unwrap();
    let ledger_path = first.run_dir.join("ledger.jsonl");
    let kept = live(&Ledger::read(&ledger_path).unwrap().entries);
    assert_eq!(
        kept.len(),
        103,
        "the CPU, its 100 listings, their RAM spec and storage profile"
    );
    assert!(has_note(&first, "--fixtures"), "{:?}", first.manifest.notes);
    let FixtureId::Int(cpu) = kept.iter().find(|e| e.role == Role::Fixture).unwrap().id else {
        panic!("the catalog's ids are integers")
    };

    // Someone removes 10 of the listings; reuse adds exactly those back.
    tracesplit_net::client_tls::use_ring_by_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for l in kept.iter().filter(|e| e.role == Role::Child).take(10) {
        client
            .delete(format!("{}/v1/listings/{}", api.base_url(), l.id))
            .send()
            .await
            .unwrap();
    }
    let mut second = config(&api.base_url(), suite_text, &dir.path().join("b"), 2);
    second
        .suite
        .select(Some("CPU_DELETE_WITH_LISTINGS_100"), None)
        .unwrap();
    second.reuse_fixtures = Some(ledger_path.clone());
    let second = run(second).await.unwrap();
    let r = &recorded(&second)["CPU_DELETE_WITH_LISTINGS_100"];
    assert_eq!((r.measured, r.failed), (2, 0));
    let requests =
        tracesplit_store::read_requests(&second.run_dir.join("requests.parquet")).unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.url.ends_with(&format!("/v1/catalog/cpus/{cpu}"))),
        "the kept CPU was reused"
    );
    let entries = Ledger::read(&ledger_path).unwrap().entries;
    let listings_live = live(&entries)
        .iter()
        .filter(|e| e.role == Role::Child)
        .count();
    assert_eq!(listings_live, 100, "ledger: {} entries", entries.len());
    let count: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM listings WHERE cpu_id = ?1",
            [cpu],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 100, "topped up to 100 listings");

    let report = tracesplit_runner::cleanup(
        &tracesplit_runner::ApiClient::new(
            &api.base_url(),
            Default::default(),
            std::time::Duration::from_secs(5),
            4,
        )
        .unwrap(),
        &Ledger::open(&ledger_path).unwrap(),
        false,
        4,
        "test",
    )
    .await
    .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(live(&Ledger::read(&ledger_path).unwrap().entries).is_empty());
    let left: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM cpus WHERE id = ?1", [cpu], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(left, 0);
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_runs_record_intended_starts_and_timed_runs_stop() {
    let dir = tempfile::tempdir().unwrap();
    let api = catalog(None, None).await;
    let mut cfg = config(&api.base_url(), suite::CATALOG_SUITE, dir.path(), 1);
    cfg.suite.select(Some("GPU_LIST_ALL"), None).unwrap();
    cfg.schedule = Schedule {
        stop: Stop::Duration(std::time::Duration::from_millis(500)),
        concurrency: 2,
        max_concurrency: tracesplit_runner::DEFAULT_MAX_CONCURRENCY,
        rate: Some(100.0),
        warmup: 5,
    };
    let outcome = run(cfg).await.unwrap();
    let r = &recorded(&outcome)["GPU_LIST_ALL"];
    assert!(
        (45..=50).contains(&r.measured),
        "500 ms at 100/s: {}",
        r.measured
    );
    let schedule = outcome.manifest.schedule.clone().unwrap();
    assert_eq!(
        (schedule.model.as_str(), schedule.rate, schedule.duration_s),
        ("open", Some(100.0), Some(0.5))
    );
    let requests =
        tracesplit_store::read_requests(&outcome.run_dir.join("requests.parquet")).unwrap();
    let mut intended: Vec<i64> = requests
        .iter()
        .map(|q| q.intended_start_unix_nano)
        .collect();
    intended.sort();
    for w in intended.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (9_000_000..=11_000_000).contains(&gap),
            "intended starts 10 ms apart: {gap}"
        );
    }
    assert!(
        requests
            .iter()
            .all(|q| q.start_unix_nano >= q.intended_start_unix_nano - 1_000_000)
    );
    api.shutdown().await;
}

/// In a timed open-model run, the fixtures each iteration consumes are made
/// ahead of it (a pool, kept filled while the scenario runs): their creation
/// is not part of any iteration's start, so the corrected latency measures the
/// API, not the setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_open_model_run_keeps_its_per_iteration_fixtures_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog(Some(&db), None).await;
    let before = db_rows(&db);
    let mut cfg = config(&api.base_url(), suite::CATALOG_SUITE, dir.path(), 1);
    cfg.suite
        .select(Some("CPU_DELETE_NO_LISTINGS"), None)
        .unwrap();
    cfg.schedule = Schedule {
        stop: Stop::Duration(std::time::Duration::from_secs(2)),
        concurrency: 2,
        max_concurrency: tracesplit_runner::DEFAULT_MAX_CONCURRENCY,
        rate: Some(40.0),
        warmup: 0,
    };
    let outcome = run(cfg).await.unwrap();
    let r = &recorded(&outcome)["CPU_DELETE_NO_LISTINGS"];
    assert!(r.measured >= 70 && r.failed == 0, "{r:?}");
    let setup = outcome.manifest.scenarios["CPU_DELETE_NO_LISTINGS"]
        .setup
        .clone()
        .unwrap();
    assert!(
        setup.created > r.measured,
        "more made than consumed: {setup:?}"
    );
    assert_eq!(
        setup.made_during_measuring, 0,
        "none made inside an iteration: {setup:?}"
    );
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}

/// An API that reuses ids (SQLite hands a deleted row's rowid to the next
/// insert): the CPU a later scenario creates gets the id of a CPU an earlier
/// scenario deleted. It is a new row of this run and is ledgered as one — the
/// end-of-run sweep finds nothing the ledger missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_id_is_a_new_fixture_and_is_ledgered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog(Some(&db), None).await;
    let before = db_rows(&db);
    let mut cfg = config(&api.base_url(), suite::CATALOG_SUITE, dir.path(), 2);
    cfg.suite
        .select(
            Some("{CPU_DELETE_NO_LISTINGS,CPU_DETAIL_WITH_LISTINGS}"),
            None,
        )
        .unwrap();
    let ledger_path = cfg.run_dir.join("ledger.jsonl");
    let outcome = run(cfg).await.unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&ledger_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let created = |scenario: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                l["action"] == "created" && l["entity"] == "cpus" && l["scenario"] == scenario
            })
            .map(|l| l["id"].to_string())
            .collect()
    };
    let deleted_ids = created("CPU_DELETE_NO_LISTINGS");
    let detail = created("CPU_DETAIL_WITH_LISTINGS");
    assert_eq!(
        detail.len(),
        1,
        "the detail scenario's CPU is ledgered: {lines:?}"
    );
    assert!(
        deleted_ids.contains(&detail[0]),
        "the catalog reused a deleted CPU's id ({} among {deleted_ids:?}); this test needs it to",
        detail[0]
    );
    assert!(
        !outcome
            .manifest
            .notes
            .iter()
            .any(|n| n.contains("more fixtures by the run's tag")),
        "{:?}",
        outcome.manifest.notes
    );
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}
