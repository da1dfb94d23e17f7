//! `https://` APIs: the reference catalog serving TLS with certificates made
//! here (rcgen), reached with the system roots plus `--cacert`, mTLS and
//! `--insecure`; handshake failures in words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http::{HeaderMap, Method};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracesplit_catalog_demo::{CatalogConfig, CatalogHandle, CatalogServer, TlsFiles};
use tracesplit_runner::ApiClient;
use tracesplit_runner::TlsOptions;

/// A test CA and what it signed, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        tracesplit_net::test_pki::write_test_pki(dir.path()).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

async fn https_catalog(pki: &Pki, stem: &str, client_ca: Option<&Path>) -> CatalogHandle {
    CatalogServer::start(CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        telemetry: None,
        tls: Some(TlsFiles {
            cert: pki.path(&format!("{stem}.pem")),
            key: pki.path(&format!("{stem}.key")),
            client_ca: client_ca.map(Path::to_owned),
        }),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn client(url: &str, tls: TlsOptions) -> ApiClient {
    ApiClient::with_tls(url, HeaderMap::new(), Duration::from_secs(10), 4, &tls).unwrap()
}

#[tokio::test]
async fn https_with_the_test_ca_answers_records_the_handshake_and_resumes_the_session() {
    let pki = Pki::new();
    let api = https_catalog(&pki, "server", None).await;
    assert!(api.base_url().starts_with("https://localhost:"));
    let c = client(
        &api.base_url(),
        TlsOptions {
            cacert: Some(pki.path("ca.pem")),
            ..Default::default()
        },
    );
    let (status, first) = c.probe("/health").await.unwrap();
    assert_eq!(status, 200);
    assert!(first.tls_ns > 0 && first.connect_ns > 0, "{first:?}");
    assert!(!first.resumed, "{first:?}");
    // A request on the pooled connection reads the server's session tickets.
    let outcome = c.send(Method::GET, "/v1/catalog/cpus", None, None).await;
    assert_eq!((outcome.status, outcome.error), (200, None));
    let (_, second) = c.probe("/health").await.unwrap();
    assert!(
        second.resumed,
        "a reconnect resumes the TLS session: {second:?}"
    );
    api.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_certificate_and_a_wrong_name_are_refused_in_words() {
    let pki = Pki::new();
    let api = https_catalog(&pki, "server", None).await;
    let e = client(&api.base_url(), TlsOptions::default())
        .probe("/health")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the certificate for localhost is signed by an unknown authority")
            && e.contains("--cacert"),
        "{e}"
    );
    // --insecure skips the verification.
    let insecure = client(
        &api.base_url(),
        TlsOptions {
            insecure: true,
            ..Default::default()
        },
    );
    assert_eq!(insecure.probe("/health").await.unwrap().0, 200);
    api.shutdown().await;

    let elsewhere = https_catalog(&pki, "elsewhere", None).await;
    let e = client(
        &elsewhere.base_url(),
        TlsOptions {
            cacert: Some(pki.path("ca.pem")),
            ..Default::default()
        },
    )
    .probe("/health")
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("is not valid for the name localhost"), "{e}");
    elsewhere.shutdown().await;
}

#[tokio::test]
async fn mtls_needs_the_client_certificate_and_says_so_without_it() {
    let pki = Pki::new();
    let api = https_catalog(&pki, "server", Some(&pki.path("ca.pem"))).await;
    let trusting = |cert: bool| TlsOptions {
        cacert: Some(pki.path("ca.pem")),
        cert: cert.then(|| pki.path("client.pem")),
        key: cert.then(|| pki.path("client.key")),
        ..Default::default()
    };
    let e = client(&api.base_url(), trusting(false))
        .probe("/health")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("--cert FILE --key FILE"), "{e}");
    let with_cert = client(&api.base_url(), trusting(true));
    assert_eq!(with_cert.probe("/health").await.unwrap().0, 200);
    api.shutdown().await;
}

#[test]
fn unusable_tls_files_are_named() {
    let pki = Pki::new();
    let empty = pki.path("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    let e = ApiClient::with_tls(
        "https://localhost:1",
        HeaderMap::new(),
        Duration::from_secs(1),
        1,
        &TlsOptions {
            cacert: Some(empty.clone()),
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("--cacert") && e.contains("empty.pem"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_multiplexes_requests_on_one_connection_over_tls_and_h2c() {
    let pki = Pki::new();
    let tls_api = https_catalog(&pki, "server", None).await;
    let plain_api = CatalogServer::start(CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        telemetry: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let trusting = TlsOptions {
        cacert: Some(pki.path("ca.pem")),
        ..Default::default()
    };
    for url in [tls_api.base_url(), plain_api.base_url()] {
        let c = ApiClient::with_http2(
            &url,
            HeaderMap::new(),
            Duration::from_secs(10),
            20,
            &trusting,
        )
        .unwrap();
        assert!(c.is_http2());
        assert_eq!(c.probe("/health").await.unwrap().0, 200, "{url}");
        let sends = (0..20).map(|_| {
            c.send(
                Method::GET,
                "/v1/catalog/cpus",
                None,
                Some("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"),
            )
        });
        let outcomes = futures::future::join_all(sends).await;
        assert!(
            outcomes
                .iter()
                .all(|o| o.status == 200 && o.error.is_none()),
            "{url}: {outcomes:?}"
        );
        // The probe opened the one connection; every request shared it.
        assert!(
            outcomes.iter().all(|o| o.reused && o.opening.is_none()),
            "{url}"
        );
    }
    tls_api.shutdown().await;
    plain_api.shutdown().await;
}

/// The handshake's time is measured, not guessed: behind a proxy that holds
/// every chunk 60 ms each way, a TLS 1.3 handshake takes at least one round
/// trip (120 ms) and the TCP connect to the proxy next to nothing; the
/// request's own round trip is not in the handshake's figure. Over HTTP/1.1
/// and HTTP/2 alike; the next request on the connection opened nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_handshake_times_are_the_planted_delays_over_http1_and_http2() {
    let one_way = Duration::from_millis(60);
    let round_trip = 2 * one_way.as_nanos() as u64;
    let pki = Pki::new();
    let api = https_catalog(&pki, "server", None).await;
    let proxy = tracesplit_net::test_proxy::start(api.addr(), one_way).await;
    let url = format!("https://localhost:{}", proxy.port());
    let tls = TlsOptions {
        cacert: Some(pki.path("ca.pem")),
        ..Default::default()
    };
    for http2 in [false, true] {
        let (headers, timeout) = (HeaderMap::new(), Duration::from_secs(10));
        let c = if http2 {
            ApiClient::with_http2(&url, headers, timeout, 4, &tls).unwrap()
        } else {
            ApiClient::with_tls(&url, headers, timeout, 4, &tls).unwrap()
        };
        let first = c.send(Method::GET, "/v1/catalog/cpus", None, None).await;
        assert_eq!((first.status, &first.error), (200, &None), "h2 {http2}");
        let opening = first
            .opening
            .expect("the first request opened a connection");
        assert!(!first.reused);
        assert!(
            opening.connect_ns < one_way.as_nanos() as u64,
            "h2 {http2}: connecting to the proxy is not delayed: {opening:?}"
        );
        assert!(
            opening.tls_ns >= round_trip,
            "h2 {http2}: the handshake crossed the proxy both ways: {opening:?}"
        );
        let duration = first.duration.as_nanos() as u64;
        assert!(
            duration >= opening.connect_ns + opening.tls_ns + round_trip,
            "h2 {http2}: the request's own round trip comes after the handshake: {duration} {opening:?}"
        );
        let second = c.send(Method::GET, "/v1/catalog/cpus", None, None).await;
        assert_eq!(second.status, 200);
        assert!(second.reused && second.opening.is_none(), "h2 {http2}");
        assert!(second.duration.as_nanos() as u64 >= round_trip);
    }
    api.shutdown().await;
}
