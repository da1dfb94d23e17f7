//! Fixtures against APIs that behave like real ones: lost answers, creates
//! that return existing rows, implicit rows, runs that die before cleanup,
//! and an API that is not the catalog at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::hold::HoldingProxy;
use crate::support::widgets::{self, WidgetsApi};
use crate::support::{assert_same_rows, config, db_rows, has_note, recorded};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;
use tracesplit_catalog_demo::{CatalogConfig, CatalogHandle, CatalogServer};
use tracesplit_runner::ApiClient;
use tracesplit_runner::FixtureRetry as Retry;
use tracesplit_runner::ledger::{Action, Ledger};
use tracesplit_runner::{RunConfig, run, suite};

/// The reference catalog on `db`, seeded with 5 CPUs and 50 listings.
async fn catalog(db: &Path) -> CatalogHandle {
    catalog_seeded(db, 5, 50).await
}

async fn catalog_seeded(db: &Path, seed_cpus: u64, seed_listings: u64) -> CatalogHandle {
    CatalogServer::start(CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        db_path: Some(db.to_owned()),
        seed_cpus,
        seed_listings,
        telemetry: None,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn one_scenario(
    base_url: &str,
    suite_text: &str,
    dir: &Path,
    runs: u64,
    scenario: &str,
) -> RunConfig {
    let mut cfg = config(base_url, suite_text, dir, runs);
    cfg.suite.select(Some(scenario), None).unwrap();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_whose_answers_time_out_are_reconciled_and_nothing_is_orphaned() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog(&db).await;
    let before = db_rows(&db);
    let proxy = HoldingProxy::start(api.addr(), 50, Duration::from_millis(900)).await;
    let mut cfg = one_scenario(
        &proxy.base_url(),
        suite::CATALOG_SUITE,
        dir.path(),
        5,
        "CPU_DELETE_WITH_LISTINGS_1000",
    );
    cfg.timeout = Duration::from_millis(400);
    cfg.setup_concurrency = 8;
    cfg.setup_retry = Retry {
        first_wait: Duration::from_millis(100),
        ..Retry::default()
    };
    let outcome = run(cfg).await.unwrap();
    let r = &recorded(&outcome)["CPU_DELETE_WITH_LISTINGS_1000"];
    assert_eq!(proxy.held.load(std::sync::atomic::Ordering::SeqCst), 20);
    assert_eq!((r.measured, r.failed), (5, 0), "{r:#?}");
    let setup = outcome.manifest.scenarios["CPU_DELETE_WITH_LISTINGS_1000"]
        .setup
        .clone()
        .expect("setup counts in the manifest");
    assert_eq!(setup.reconciled, 20, "{setup:?}");
    assert_eq!(setup.created, 1000 + 1 + 2, "{setup:?}");
    // The CPU really had its 1000 listings, no more (no create was repeated).
    assert!(
        outcome.cleanup.failed.is_empty(),
        "{:?}",
        outcome.cleanup.failed
    );
    assert_eq!(outcome.cleanup.deleted, 1003);
    assert_eq!(outcome.cleanup.swept, 0);
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_with_an_existing_row_leaves_that_row_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog(&db).await;
    // The RAM spec the suite would create already exists (same fields, same
    // tag): the catalog's get-or-create answers 201 with it.
    let suite_text = suite::CATALOG_SUITE.replace(
        "label = \"tracesplit {run_id} ram {n}\"",
        "label = \"tracesplit {run_id} ram\"",
    );
    let existing: i64 = {
        let conn = Connection::open(&db).unwrap();
        conn.execute(
            "INSERT INTO ram_specs (label, ddr_generation, speed_mhz, module_count, capacity_per_module_gb, total_capacity_gb, created_at, updated_at) \
             VALUES ('tracesplit ts-test ram', 'ddr5', 5600, 2, 8.0, 16.0, '2020-01-01T00:00:00', '2020-01-01T00:00:00')",
            [],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    let before = db_rows(&db);
    let cfg = one_scenario(
        &api.base_url(),
        &suite_text,
        dir.path(),
        3,
        "CPU_DELETE_WITH_LISTINGS_100",
    );
    let outcome = run(cfg).await.unwrap();
    let r = &recorded(&outcome)["CPU_DELETE_WITH_LISTINGS_100"];
    assert_eq!((r.measured, r.failed), (3, 0), "{r:#?}");
    let setup = outcome.manifest.scenarios["CPU_DELETE_WITH_LISTINGS_100"]
        .setup
        .clone()
        .unwrap();
    assert_eq!(setup.existing_rows.len(), 1, "{setup:?}");
    assert!(
        has_note(
            &outcome,
            &format!("ram-specs {existing}, which tracesplit did not create")
        ),
        "{:?}",
        outcome.manifest.notes
    );
    let ledger = Ledger::read(&outcome.run_dir.join("ledger.jsonl")).unwrap();
    assert!(
        ledger
            .entries
            .iter()
            .any(|e| e.action == Action::NotOurs && e.id == existing.into())
    );
    assert!(
        !ledger.entries.iter().any(|e| e.action != Action::NotOurs
            && e.entity == "ram-specs"
            && e.id == existing.into()),
        "never ledgered as ours, never deleted"
    );
    assert!(
        outcome.cleanup.failed.is_empty(),
        "{:?}",
        outcome.cleanup.failed
    );
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_api_creates_on_its_own_are_reported_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog_seeded(&db, 0, 0).await;
    // Listings without a RAM spec or storage profile: the catalog makes
    // "Unknown / 0 GB" rows for them.
    let suite_text = suite::CATALOG_SUITE.replace(
        ", ram_spec_id = \"{shared.ram-specs.id}\", primary_storage_profile_id = \"{shared.storage-profiles.id}\"",
        "",
    );
    assert_ne!(suite_text, suite::CATALOG_SUITE);
    let unknown = |table: &str| -> i64 {
        Connection::open(&db)
            .unwrap()
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE label = 'Unknown / 0 GB'"),
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(unknown("ram_specs"), 0);
    let cfg = one_scenario(
        &api.base_url(),
        &suite_text,
        dir.path(),
        2,
        "CPU_DELETE_WITH_LISTINGS_100",
    );
    let outcome = run(cfg).await.unwrap();
    let effects = &outcome.manifest.side_effects;
    let kinds: Vec<&str> = effects.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["ram-specs", "storage-profiles"], "{effects:#?}");
    for e in effects {
        assert_eq!(e.ids.len(), 1);
        assert_eq!(e.phase, "the setup of CPU_DELETE_WITH_LISTINGS_100");
        assert!(e.likely_cause.contains("POST /v1/listings/"), "{e:?}");
    }
    assert!(
        outcome
            .manifest
            .notes
            .iter()
            .any(|n| n.contains("not created by tracesplit") && n.contains("ram-specs")),
        "{:?}",
        outcome.manifest.notes
    );
    // Not ours: left in place.
    assert_eq!((unknown("ram_specs"), unknown("storage_profiles")), (1, 1));
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_sweeps_what_the_ledger_never_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let api = catalog(&db).await;
    let before = db_rows(&db);
    let mut cfg = one_scenario(
        &api.base_url(),
        suite::CATALOG_SUITE,
        dir.path(),
        2,
        "CPU_DELETE_WITH_LISTINGS_100",
    );
    cfg.keep_fixtures = true;
    let outcome = run(cfg).await.unwrap();
    assert_eq!(outcome.cleanup.kept, 103);
    // As if the runner had died with these creates in flight: the ledger
    // keeps its begin line and every third entity line.
    let path = outcome.run_dir.join("ledger.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| l.starts_with("{\"begin\"") || i % 3 == 0)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    let client = ApiClient::new(
        &api.base_url(),
        Default::default(),
        Duration::from_secs(5),
        4,
    )
    .unwrap();
    let report =
        tracesplit_runner::cleanup(&client, &Ledger::open(&path).unwrap(), false, 4, "cleanup")
            .await
            .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(report.swept > 50, "{report:?}");
    assert_eq!(report.deleted + report.swept, 103, "{report:?}");
    api.shutdown().await;
    assert_same_rows(&before, &db_rows(&db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suite_for_another_api_creates_uses_and_removes_its_fixtures() {
    let api = WidgetsApi::start().await;
    let before = api.data();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(config(&api.base_url(), widgets::SUITE, dir.path(), 3))
        .await
        .unwrap();
    let recorded = recorded(&outcome);
    assert_eq!(recorded.len(), 2);
    for r in recorded.values() {
        assert_eq!((r.measured, r.failed), (3, 0), "{r:#?}");
    }
    // The color is the API's own red, answered by its get-or-create: used by
    // every part (as a string id), never deleted.
    assert!(
        has_note(&outcome, "colors c-red, which tracesplit did not create"),
        "{:?}",
        outcome.manifest.notes
    );
    let requests =
        tracesplit_store::read_requests(&outcome.run_dir.join("requests.parquet")).unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.url.contains("/api/v2/widgets/w-")),
        "{:?}",
        requests[0].url
    );
    assert!(
        outcome.cleanup.failed.is_empty(),
        "{:?}",
        outcome.cleanup.failed
    );
    assert_eq!(
        outcome.cleanup.deleted,
        1 + 25,
        "the patched widget and its parts"
    );
    assert!(
        outcome.manifest.side_effects.is_empty(),
        "{:?}",
        outcome.manifest.side_effects
    );
    let after = api.data();
    assert_eq!(
        (after.widgets, after.parts, after.colors),
        (before.widgets, before.parts, before.colors),
        "the API holds exactly what it held before"
    );
}

#[test]
fn malformed_fixture_kinds_are_refused_with_their_place() {
    let bad = widgets::SUITE.replace("tag = \"/label\"", "tag = \"label\"");
    let e = suite::parse(&bad, "widgets.toml").unwrap_err();
    assert!(e.message.contains("not a JSON pointer"), "{e}");
    assert_eq!(e.line, 20, "{e}");
    let bad = widgets::SUITE.replace(
        "delete = \"/api/v2/parts/{id}\"",
        "delete = \"/api/v2/parts\"",
    );
    let e = suite::parse(&bad, "widgets.toml").unwrap_err();
    assert!(e.message.contains("must use {id}"), "{e}");
}
