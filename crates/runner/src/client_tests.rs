//! The client against local servers: failures as outcomes, the retry rule,
//! what a server receives, base URLs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn headers_parse_and_errors_hide_values() {
    let map = parse_headers(&["Authorization: Bearer s3cret".into()]).unwrap();
    assert!(map["authorization"].is_sensitive());
    let err = parse_headers(&["Bad Header Name: s3cret".into()])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test]
async fn refused_and_timeouts_are_outcomes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = |addr, timeout| {
        ApiClient::new(&format!("http://{addr}"), HeaderMap::new(), timeout, 1).unwrap()
    };
    let o = client(addr, Duration::from_secs(2))
        .send(Method::GET, "/health", None, None)
        .await;
    assert_eq!((o.status, o.error.as_deref()), (0, Some("refused")));
    assert!(o.is_connection_failure());

    // A server that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let o = client(addr, Duration::from_millis(200))
        .send(Method::GET, "/health", None, None)
        .await;
    assert_eq!((o.status, o.error.as_deref()), (0, Some("timeout")));
}

/// A server that answers the first request of every connection and
/// closes the connection on the second without answering — what a
/// keep-alive timeout looks like when it races a request.
async fn one_answer_per_connection() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if s.read(&mut buf).await.unwrap_or(0) > 0 {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                }
                let _ = s.read(&mut buf).await;
            });
        }
    });
    (format!("http://{addr}"), connections)
}

#[tokio::test]
async fn a_closed_keep_alive_connection_is_retried_only_when_idempotent() {
    let (base, connections) = one_answer_per_connection().await;
    let client = ApiClient::new(&base, HeaderMap::new(), Duration::from_secs(2), 4).unwrap();
    for _ in 0..3 {
        let o = client.send(Method::GET, "/x", None, None).await;
        assert_eq!((o.status, &o.body[..]), (200, &b"ok"[..]), "{:?}", o.error);
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);
    // The POST may have reached the server: it is not sent twice.
    let o = client
        .send(Method::POST, "/x", Some("{}".into()), None)
        .await;
    assert_eq!((o.status, o.error.as_deref()), (0, Some("reset")));
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn requests_carry_host_headers_trace_context_and_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.ends_with(b"{\"a\":1}") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(seen).unwrap()
    });
    let headers = parse_headers(&["Authorization: Bearer s3cret".into()]).unwrap();
    let client = ApiClient::new(
        &format!("http://{addr}/api"),
        headers,
        Duration::from_secs(2),
        1,
    )
    .unwrap();
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let o = client
        .send(Method::POST, "/v1/x", Some("{\"a\":1}".into()), Some(tp))
        .await;
    assert_eq!(o.status, 201, "{:?}", o.error);
    let request = server.await.unwrap();
    assert!(
        request.starts_with("POST /api/v1/x HTTP/1.1\r\n"),
        "{request}"
    );
    for line in [
        format!("host: {addr}"),
        "authorization: Bearer s3cret".into(),
        format!("traceparent: {tp}"),
        "content-type: application/json".into(),
        "content-length: 7".into(),
    ] {
        assert!(
            request.contains(&format!("{line}\r\n")),
            "{line} in {request}"
        );
    }
}

#[tokio::test]
async fn paths_that_are_not_url_paths_are_refused_before_sending() {
    let client = ApiClient::new(
        "http://127.0.0.1:9",
        HeaderMap::new(),
        Duration::from_secs(1),
        1,
    )
    .unwrap();
    let o = client.send(Method::GET, "/a b", None, None).await;
    assert!(o.error.unwrap().starts_with("invalid request"));
}

#[test]
fn base_urls() {
    let client = |url: &str| ApiClient::new(url, HeaderMap::new(), Duration::from_secs(1), 1);
    let c = client("http://localhost:8000/api/").unwrap();
    assert_eq!(c.url("/v1/x"), "http://localhost:8000/api/v1/x");
    let v6 = client("http://[::1]:8000").unwrap();
    assert_eq!(v6.inner.target.address, "[::1]:8000");
    assert_eq!(v6.base_url(), "http://[::1]:8000");
    let default_port = client("http://api.internal").unwrap();
    assert_eq!(default_port.inner.target.address, "api.internal:80");
    assert!(
        default_port
            .inner
            .fixed_headers
            .starts_with(b"host: api.internal\r\n")
    );
    let https = client("https://api.internal/v2").unwrap();
    assert_eq!(https.inner.target.address, "api.internal:443");
    assert!(https.inner.target.tls.is_some());
    assert_eq!(https.url("/x"), "https://api.internal/v2/x");
    let https_v6 = client("https://[::1]:8443").unwrap();
    assert_eq!(https_v6.inner.target.address, "[::1]:8443");
    assert!(client("localhost:8000").is_err());
    assert!(client("ftp://x").is_err());
    // Named as tracesplit, unless a -H names the client.
    let ua = String::from_utf8_lossy(&default_port.inner.fixed_headers).into_owned();
    assert!(
        ua.contains(&format!("user-agent: {USER_AGENT}\r\n")),
        "{ua}"
    );
    assert!(USER_AGENT.starts_with("tracesplit/"));
    let mut own = HeaderMap::new();
    own.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static("k6/1.0"),
    );
    let mine = ApiClient::new("http://x", own, Duration::from_secs(1), 1).unwrap();
    let text = String::from_utf8_lossy(&mine.inner.fixed_headers).into_owned();
    assert!(
        text.contains("user-agent: k6/1.0") && !text.contains("tracesplit/"),
        "{text}"
    );
}

#[test]
fn one_retry_rule_for_both_protocols() {
    let (get, post) = (Method::GET, Method::POST);
    // Never processed: sent again whatever the method, up to the attempts.
    assert!(send_again(&WireError::NotProcessed, &post, 0, false));
    assert!(send_again(
        &WireError::NotProcessed,
        &post,
        ATTEMPTS - 2,
        true
    ));
    assert!(!send_again(
        &WireError::NotProcessed,
        &get,
        ATTEMPTS - 1,
        true
    ));
    // A kept-alive connection closed under it: idempotent methods, once.
    assert!(send_again(&WireError::ClosedEarly, &get, 0, true));
    assert!(!send_again(&WireError::ClosedEarly, &get, 0, false));
    assert!(!send_again(&WireError::ClosedEarly, &get, 1, true));
    assert!(!send_again(&WireError::ClosedEarly, &post, 0, true));
    let cut = WireError::Truncated("cut".into());
    assert!(!send_again(&cut, &get, 0, true));
}
