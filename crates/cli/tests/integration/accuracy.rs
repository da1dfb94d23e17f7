//! Accuracy against ground truth: known network delay (a delay proxy between
//! runner and catalog) and known handler delay (the catalog's knob) must come
//! back out of the P95 split; an unindexed usage check must show as cascade.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::proxy;
use std::time::Duration;
use tracesplit_analyzer::{AnalyzeConfig, analyze};
use tracesplit_catalog_demo::{CatalogConfig, CatalogServer, TlsFiles};
use tracesplit_collector::{Collector, CollectorConfig};
use tracesplit_model::analysis::{ScenarioAnalysis, Split};
use tracesplit_runner::{Collect, RunConfig, TlsOptions, run, suite};
use tracesplit_runner::{Schedule, Stop};
use tracesplit_telemetry::TelemetryConfig;

#[derive(Clone, Copy, Default)]
struct Setup {
    proxy_ms: u64,
    handler_ms: u64,
    /// A wait in the server before its span starts.
    queue_ms: u64,
    listings: u64,
    index: bool,
    scenarios: &'static str,
    runs: u64,
    /// Serve HTTPS, and send every request on a new connection (`connection: close`).
    tls_each_request: bool,
}

async fn measure(s: Setup) -> Vec<ScenarioAnalysis> {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    crate::tls_cli::make_pki(dir.path());
    let pem = |name: &str| dir.path().join(name);
    let mut cc = CollectorConfig::ephemeral(run_dir.join("spans"));
    cc.track_server_parents = true;
    let collector = Collector::start(cc).await.unwrap();
    let catalog = CatalogServer::start(CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        seed_listings: s.listings,
        listing_index: s.index,
        handler_delay: Duration::from_millis(s.handler_ms),
        queue_delay: Duration::from_millis(s.queue_ms),
        tls: s.tls_each_request.then(|| TlsFiles {
            cert: pem("server.pem"),
            key: pem("server.key"),
            client_ca: None,
        }),
        telemetry: Some(
            TelemetryConfig::new("catalog-demo").with_endpoint(collector.http_endpoint()),
        ),
        ..Default::default()
    })
    .await
    .unwrap();
    let target = if s.proxy_ms > 0 {
        proxy::start(catalog.addr(), Duration::from_millis(s.proxy_ms)).await
    } else {
        catalog.addr()
    };
    let mut suite = suite::load(None).unwrap();
    suite.select(Some(s.scenarios), None).unwrap();
    let config = RunConfig {
        schedule: Schedule {
            stop: Stop::Iterations(s.runs),
            warmup: 2,
            ..Schedule::default()
        },
        run_id: "accuracy".into(),
        tls: TlsOptions {
            cacert: Some(pem("ca.pem")),
            ..Default::default()
        },
        headers: if s.tls_each_request {
            http::HeaderMap::from_iter([(http::header::CONNECTION, "close".parse().unwrap())])
        } else {
            http::HeaderMap::new()
        },
        ..RunConfig::new(
            &if s.tls_each_request {
                format!("https://localhost:{}", target.port())
            } else {
                format!("http://{target}")
            },
            suite,
            run_dir.clone(),
            Collect::embedded(collector.span_index(), collector.own_span_sink()),
        )
    };
    let outcome = run(config).await.unwrap();
    catalog.shutdown().await;
    collector.shutdown().await.unwrap();
    assert_eq!(outcome.missing_server_spans, Some(0));
    let out = analyze(&AnalyzeConfig {
        run_dirs: vec![run_dir],
        outliers: 1,
        ..Default::default()
    })
    .unwrap();
    if std::env::var_os("ACCURACY_DEBUG").is_some() {
        let mut v: Vec<(i64, i64, i64)> = out
            .splits
            .iter()
            .filter(|x| x.matched)
            .map(|x| (x.total_ns / 1000, x.network_ns / 1000, x.handler_ns / 1000))
            .collect();
        v.sort();
        eprintln!(
            "proxy {} handler {}: (total, network, handler) µs {v:?}",
            s.proxy_ms, s.handler_ms
        );
    }
    assert_eq!(
        out.analysis.coverage.matched,
        out.analysis.coverage.requests
    );
    out.analysis.scenarios
}

fn split_of<'a>(scenarios: &'a [ScenarioAnalysis], name: &str) -> &'a Split {
    scenarios
        .iter()
        .find(|s| s.scenario == name)
        .and_then(|s| s.p95_split.as_ref())
        .unwrap()
}

/// A delay the test planted (`expected` ms) comes back: at least 2 ms short
/// of it (clock granularity) and at most 10 ms over. A P95 request on a
/// shared 2-core machine is woken late while other tests run (a 30 ms sleep
/// measured 39.3 ms, a 20 ms handshake 23.2 ms in full runs): load only
/// adds. The mistakes these tests catch — a delay in the wrong component,
/// or counted twice — move 20 ms or more.
fn planted(a: f64, expected: f64) -> bool {
    (expected - 2.0..=expected + 10.0).contains(&a)
}

/// The two tests take turns: the listing sweep keeps both cores busy, and a
/// 30 ms handler sleep measured beside it wakes late by several milliseconds
/// (seen: 35.3 ms), which is the scheduler, not the split.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_and_handler_delays_come_back_out_of_the_split() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const SCENARIO: &str = "GPU_PATCH_SINGLE_FIELD";
    let setup = |proxy_ms, handler_ms| Setup {
        proxy_ms,
        handler_ms,
        index: true,
        scenarios: SCENARIO,
        runs: 20,
        ..Setup::default()
    };
    let base = measure(setup(0, 0)).await;
    let loopback = split_of(&base, SCENARIO).network_ms;
    assert!(loopback < 5.0, "loopback network {loopback} ms");
    let base_handler = split_of(&base, SCENARIO).handler_ms;

    let net = measure(setup(20, 0)).await;
    let n = split_of(&net, SCENARIO);
    assert!(
        planted(n.network_ms, 40.0 + loopback),
        "network {:.2} ms ≈ 2 × 20 ms + loopback {loopback:.2}",
        n.network_ms
    );
    // None of the 40 ms on the wire leaks into the handler (a busy machine
    // stretches a debug build's handler by a few ms; half the delay is the bound).
    assert!(
        n.handler_ms < 10.0,
        "handler {:.2} ms without a handler delay",
        n.handler_ms
    );

    let handler = measure(setup(0, 30)).await;
    let h = split_of(&handler, SCENARIO);
    assert!(
        h.handler_ms >= 30.0 && planted(h.handler_ms, 30.0 + base_handler),
        "handler {:.2} ms ≥ the 30 ms injected (+{base_handler:.2} ms without it)",
        h.handler_ms
    );
    assert!(
        h.network_ms < 10.0,
        "network {:.2} ms without a proxy",
        h.network_ms
    );

    // Each component moves only with its own knob.
    let both = measure(setup(20, 30)).await;
    let b = split_of(&both, SCENARIO);
    assert!(
        planted(b.network_ms, 40.0 + loopback),
        "network {:.2} (alone: {:.2})",
        b.network_ms,
        n.network_ms
    );
    assert!(
        planted(b.handler_ms, 30.0 + base_handler),
        "handler {:.2} (alone: {:.2})",
        b.handler_ms,
        h.handler_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unindexed_usage_check_dominates_and_grows_with_the_listings() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scenarios = "CPU_DELETE_WITH_LISTINGS_*";
    let slow = measure(Setup {
        listings: 200_000,
        index: false,
        scenarios,
        runs: 10,
        ..Setup::default()
    })
    .await;
    let (c100, c1000) = (
        split_of(&slow, "CPU_DELETE_WITH_LISTINGS_100"),
        split_of(&slow, "CPU_DELETE_WITH_LISTINGS_1000"),
    );
    assert!(
        c1000.cascade_ms > c100.cascade_ms,
        "cascade 1000 {:.2} > 100 {:.2}",
        c1000.cascade_ms,
        c100.cascade_ms
    );
    for s in [c100, c1000] {
        assert!(s.cascade_ms > 0.5 * s.total_ms, "cascade dominates: {s:?}");
    }
    let fast = measure(Setup {
        listings: 200_000,
        index: true,
        scenarios,
        runs: 10,
        ..Setup::default()
    })
    .await;
    // The index takes the scan out of the check: what is left is counting
    // the CPU's own index entries (about half a millisecond for 1000 in a
    // debug build), a small fraction of the full-table scan.
    for (name, unindexed) in [
        ("CPU_DELETE_WITH_LISTINGS_100", c100),
        ("CPU_DELETE_WITH_LISTINGS_1000", c1000),
    ] {
        let s = split_of(&fast, name);
        assert!(
            s.cascade_ms < 0.2 * unindexed.cascade_ms,
            "{name} with the index: cascade {:.2} ms, without {:.2} ms: {s:?}",
            s.cascade_ms,
            unindexed.cascade_ms
        );
    }
}

/// A server that makes requests wait before its span starts (a busy worker):
/// the wait is the server's, not the network's — alone, and beside a wire
/// delay, each comes back where it belongs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_before_the_server_span_is_queue_and_the_wire_stays_network() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const SCENARIO: &str = "GPU_PATCH_SINGLE_FIELD";
    let setup = |proxy_ms, queue_ms| Setup {
        proxy_ms,
        queue_ms,
        index: true,
        scenarios: SCENARIO,
        runs: 20,
        ..Setup::default()
    };
    let waited = measure(setup(0, 30)).await;
    let s = waited.iter().find(|s| s.scenario == SCENARIO).unwrap();
    let w = s.p95_split.unwrap();
    assert!(
        w.queue_ms >= 0.9 * 30.0,
        "at least 90 % of the planted 30 ms wait outside network: {w:?}"
    );
    assert!(
        s.components.network.p95_ms < 1.0 && w.network_ms < 1.0,
        "network on loopback stays under 1 ms at P95: {:?} {w:?}",
        s.components.network
    );

    let both = measure(setup(20, 30)).await;
    let b = split_of(&both, SCENARIO);
    assert!(
        planted(b.network_ms, 40.0),
        "network {:.2} ≈ 2 × 20 ms: {b:?}",
        b.network_ms
    );
    assert!(
        planted(b.queue_ms, 30.0),
        "queue {:.2} ≈ the 30 ms wait: {b:?}",
        b.queue_ms
    );
}

/// Opening a TLS connection for every request through a 10 ms-each-way
/// proxy: the handshake's round trip (20 ms) is network, and the split says
/// that part was connection setup; none of it is queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_per_request_is_network_and_named_connection_setup() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const SCENARIO: &str = "GPU_PATCH_SINGLE_FIELD";
    let scenarios = measure(Setup {
        proxy_ms: 10,
        index: true,
        scenarios: SCENARIO,
        runs: 20,
        tls_each_request: true,
        ..Setup::default()
    })
    .await;
    let s = split_of(&scenarios, SCENARIO);
    // One round trip through the proxy (20 ms), not two (40).
    assert!(
        planted(s.connection_setup_ms, 20.0),
        "setup {:.2} ms ≈ the handshake's 2 × 10 ms: {s:?}",
        s.connection_setup_ms
    );
    assert!(
        planted(s.network_ms, 40.0),
        "network {:.2} ms ≈ handshake 20 + request 20: {s:?}",
        s.network_ms
    );
    assert!(s.connection_setup_ms <= s.network_ms, "{s:?}");
    assert!(s.queue_ms < 5.0, "the handshake is not queue: {s:?}");
}
