//! `run` against an `https://` API: `serve-catalog --tls-cert/--tls-key` with
//! certificates made here (rcgen), the full suite with spans joined, an
//! untrusted certificate (exit 3, in words), `--insecure` (noted in every
//! report) and mTLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The test CA and its certificates (crates/net's test PKI) as PEM files in `dir`.
pub fn make_pki(dir: &Path) {
    tracesplit_net::test_pki::write_test_pki(dir).unwrap();
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A collector storing in `store`, serving TLS with `pki`'s server certificate.
fn tls_collect(pki: &Path, store: &Path) -> (Proc, String, String) {
    let (cert, key) = (pki.join("server.pem"), pki.join("server.key"));
    collect(store, &["--tls-cert", arg(&cert), "--tls-key", arg(&key)])
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_full_suite_runs_over_https_and_an_untrusted_certificate_is_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let pem = |name: &str| -> PathBuf { tmp.path().join(name) };
    let port = free_port();
    let (cat, url) = serve_catalog(&[
        "--tls-cert",
        arg(&pem("server.pem")),
        "--tls-key",
        arg(&pem("server.key")),
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert!(url.starts_with("https://localhost:"), "{url}");

    // Not trusted: the reason in words, exit 3, no run directory.
    let refused_dir = tmp.path().join("refused");
    let refused = run_command(&url, &refused_dir)
        .args(["--runs", "1"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("the certificate for localhost is signed by an unknown authority; pass its CA with --cacert"),
        "{stderr}"
    );
    assert!(!refused_dir.exists());

    // Trusted with --cacert: every scenario, every request joined to its server span.
    let out = tmp.path().join("run");
    let run = Command::new(bin())
        .args(["run", "--base-url", &url, "--cacert", arg(&pem("ca.pem"))])
        .args(["--runs", "2", "--span-wait", "500ms", "--out", arg(&out)])
        .args(["--collector-grpc", "127.0.0.1:0"])
        .args(["--collector-http", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let s = summary(&out);
    let coverage = &s["analysis"]["coverage"];
    assert!(coverage["requests"].as_u64().unwrap() >= 32, "{coverage}");
    assert_eq!(coverage["matched"], coverage["requests"], "{coverage}");
    assert_eq!(s["summary"]["total_tests"], 16);
    let notes = s["analysis"]["notes"].to_string();
    assert!(!notes.contains("--insecure"), "{notes}");
    // Connection phases are data: a request that opened its connection
    // carries its TLS handshake; one on a kept-alive connection (most: the
    // fixtures' setup opened the pool) carries none. The accuracy tests
    // check the handshake's time against a planted delay.
    let rows = tracesplit_store::read_requests(&out.join("requests.parquet")).unwrap();
    let opened: Vec<_> = rows.iter().filter(|r| !r.reused_connection).collect();
    assert!(opened.len() < rows.len() / 2, "{}", opened.len());
    assert!(opened.iter().all(|r| r.status == 0 || r.tls_ns > 0));
    assert!(
        rows.iter()
            .filter(|r| r.reused_connection)
            .all(|r| r.tls_ns == 0 && r.connect_ns == 0)
    );

    // --insecure: runs, and the summary and the reports say so.
    let insecure_dir = tmp.path().join("insecure");
    let md = tmp.path().join("report.md");
    let insecure = run_command(&url, &insecure_dir)
        .args(["--insecure", "--runs", "1", "--scenario", "GPU_*"])
        .args(["--markdown", arg(&md)])
        .output()
        .unwrap();
    assert!(
        matches!(insecure.status.code(), Some(0 | 1)),
        "{}",
        text(&insecure)
    );
    let said = "TLS certificate verification was off (--insecure)";
    assert!(
        summary(&insecure_dir)["analysis"]["notes"]
            .to_string()
            .contains(said)
    );
    assert!(std::fs::read_to_string(&md).unwrap().contains(said));
    assert!(text(&insecure).contains(said), "{}", text(&insecure));
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);
}

#[test]
fn mtls_needs_the_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let pem = |name: &str| -> PathBuf { tmp.path().join(name) };
    let (cat, url) = serve_catalog(&[
        "--tls-cert",
        arg(&pem("server.pem")),
        "--tls-key",
        arg(&pem("server.key")),
        "--tls-client-ca",
        arg(&pem("ca.pem")),
        "--no-telemetry",
    ]);
    let run = |out: &str, cert: bool| {
        let mut c = run_command(&url, &tmp.path().join(out));
        c.args(["--cacert", arg(&pem("ca.pem")), "--runs", "1"])
            .args(["--scenario", "CPU_DELETE_NO_LISTINGS"]);
        if cert {
            c.args([
                "--cert",
                arg(&pem("client.pem")),
                "--key",
                arg(&pem("client.key")),
            ]);
        }
        c.output().unwrap()
    };
    let without = run("without", false);
    assert_eq!(without.status.code(), Some(3), "{}", text(&without));
    assert!(
        text(&without).contains("pass --cert FILE --key FILE"),
        "{}",
        text(&without)
    );
    let with = run("with", true);
    assert!(matches!(with.status.code(), Some(0 | 1)), "{}", text(&with));
    assert!(tmp.path().join("with/requests.parquet").exists());
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);
}

#[test]
fn client_spans_reach_a_tls_collector_with_the_otlp_certificate_variable() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let pem = |name: &str| -> PathBuf { tmp.path().join(name) };
    let store = tmp.path().join("spans");
    let (collector, _, http) = tls_collect(tmp.path(), &store);
    let (cat, url) = serve_catalog(&["--no-telemetry"]);
    let out = tmp.path().join("run");
    let run = Command::new(bin())
        .args(["run", "--base-url", &url, "--runs", "2"])
        .args(["--scenario", "GPU_PATCH_SINGLE_FIELD", "--no-collect"])
        .args(["--otlp-endpoint", &http, "--out", arg(&out)])
        .env("OTEL_EXPORTER_OTLP_CERTIFICATE", pem("ca.pem"))
        .output()
        .unwrap();
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", text(&run));
    let requests = tracesplit_store::read_requests(&out.join("requests.parquet")).unwrap();
    let (code, _) = collector.terminate();
    assert_eq!(code, 0);
    let stored = tracesplit_store::read_span_dir(&store).unwrap();
    for r in &requests {
        assert!(
            stored.iter().any(
                |s| s.span_id.to_string() == r.span_id && s.service_name == "tracesplit-runner"
            ),
            "client span {} stored",
            r.span_id
        );
    }
    let _ = cat.terminate();
}

/// A Jaeger stand-in over TLS that answers every trace with 404 and keeps
/// the request heads it saw.
fn fake_https_jaeger(dir: &Path) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    let files = tracesplit_net::TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_ca: None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = tcp.local_addr().unwrap().port();
            let limits = tracesplit_net::Limits::default();
            let mut l =
                tracesplit_net::ServerListener::new(tcp, limits, Some(files.acceptor().unwrap()))
                    .unwrap();
            tx.send(port).unwrap();
            while let Some(mut conn) = l.next().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
                    let _ = conn
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = conn.shutdown().await;
                });
            }
        });
    });
    let port = rx.recv().unwrap();
    (format!("https://localhost:{port}"), heads)
}

#[test]
fn an_https_span_source_gets_its_token_and_tenant_and_no_file_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let (cat, url) = serve_catalog(&["--no-telemetry"]);
    let out = tmp.path().join("run");
    let run = run_command(&url, &out)
        .args(["--runs", "2", "--scenario", "GPU_PATCH_SINGLE_FIELD"])
        .output()
        .unwrap();
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", text(&run));
    let _ = cat.terminate();
    let (jaeger, heads) = fake_https_jaeger(tmp.path());
    let analyze = |extra: &[&str]| {
        Command::new(bin())
            .args([
                "analyze",
                arg(&out),
                "--jaeger",
                &jaeger,
                "--span-wait",
                "300ms",
            ])
            .args(extra)
            .env("TRACESPLIT_SOURCE_TOKEN", "s3cr3t-token")
            .output()
            .unwrap()
    };
    // Not trusted: exit 3, and the words name the flag to use.
    let refused = analyze(&[]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert!(
        text(&refused).contains("signed by an unknown authority; pass its CA with --source-cacert"),
        "{}",
        text(&refused)
    );
    let ca = tmp.path().join("ca.pem");
    let fetched = analyze(&[
        "--source-cacert",
        arg(&ca),
        "--tenant",
        "acme",
        "--source-header",
        "X-Extra: yes",
    ]);
    assert!(
        matches!(fetched.status.code(), Some(0 | 1)),
        "{}",
        text(&fetched)
    );
    let seen = heads.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for head in &seen {
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("authorization: bearer s3cr3t-token"),
            "{head}"
        );
        assert!(
            head.contains("x-scope-orgid: acme") && head.contains("x-extra: yes"),
            "{head}"
        );
    }
    // The token is in no file of the run and in no output.
    assert!(!text(&fetched).contains("s3cr3t-token"));
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(12).any(|w| w == b"s3cr3t-token"),
                    "{} holds the token",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn grpc_exports_from_the_catalog_and_the_runner_and_a_run_over_http2() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let pem = |name: &str| -> PathBuf { tmp.path().join(name) };
    let store = tmp.path().join("spans");
    let (collector, grpc, _) = collect(&store, &[]);
    // The catalog exports over OTLP/gRPC because the environment says so.
    let mut cat = Proc::spawn_env(
        &[
            "serve-catalog",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            arg(&pem("server.pem")),
            "--tls-key",
            arg(&pem("server.key")),
            "--otlp-endpoint",
            &grpc,
        ],
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    );
    let url = cat.wait_line("catalog listening on", std::time::Duration::from_secs(60));
    // The runner too (gzipped), and it speaks HTTP/2 to the API.
    let out = tmp.path().join("run");
    let run = Command::new(bin())
        .args(["run", "--base-url", &url, "--http2", "--runs", "3"])
        .args(["--cacert", arg(&pem("ca.pem")), "--concurrency", "4"])
        .args([
            "--scenario",
            "CPU_*",
            "--no-collect",
            "--otlp-endpoint",
            &grpc,
        ])
        .args(["--out", arg(&out)])
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .output()
        .unwrap();
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", text(&run));
    let (code, _) = cat.terminate();
    assert_eq!(code, 0);
    let (code, _) = collector.terminate();
    assert_eq!(code, 0);
    let analyzed = Command::new(bin())
        .args(["analyze", arg(&out), "--spans", arg(&store), "--force"])
        .output()
        .unwrap();
    assert!(
        matches!(analyzed.status.code(), Some(0 | 1)),
        "{}",
        text(&analyzed)
    );
    let s = summary(&out);
    let coverage = &s["analysis"]["coverage"];
    assert!(coverage["requests"].as_u64().unwrap() > 0);
    assert_eq!(coverage["matched"], coverage["requests"], "{coverage}");
    assert!(
        s["analysis"]["notes"]
            .to_string()
            .contains("HTTP/2 (h2 over TLS)"),
        "{}",
        s["analysis"]["notes"]
    );
    // Every request's client span arrived too, over gRPC.
    let stored = tracesplit_store::read_span_dir(&store).unwrap();
    let requests = tracesplit_store::read_requests(&out.join("requests.parquet")).unwrap();
    assert!(
        requests
            .iter()
            .all(|r| stored.iter().any(|s| s.span_id.to_string() == r.span_id)),
        "client spans missing"
    );
}

#[test]
fn the_catalog_exports_to_a_tls_collector_over_http_and_grpc() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let pem = |name: &str| -> PathBuf { tmp.path().join(name) };
    for protocol in ["http/protobuf", "grpc"] {
        let store = tmp.path().join(protocol.replace('/', "-"));
        let (collector, grpc, http) = tls_collect(tmp.path(), &store);
        let endpoint = if protocol == "grpc" { grpc } else { http };
        let ca = pem("ca.pem");
        let mut cat = Proc::spawn_env(
            &[
                "serve-catalog",
                "--listen",
                "127.0.0.1:0",
                "--otlp-endpoint",
                &endpoint,
            ],
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", arg(&ca)),
            ],
        );
        let url = cat.wait_line("catalog listening on", std::time::Duration::from_secs(60));
        for _ in 0..3 {
            let r = http_client()
                .get(format!("{url}/v1/catalog/cpus"))
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let (code, lines) = cat.terminate();
        assert_eq!(code, 0, "{lines:?}");
        let (code, _) = collector.terminate();
        assert_eq!(code, 0);
        let stored = tracesplit_store::read_span_dir(&store).unwrap();
        assert!(
            stored
                .iter()
                .filter(|s| s.name.contains("/v1/catalog/cpus"))
                .count()
                >= 3,
            "{protocol}: {} spans stored; catalog said {lines:?}",
            stored.len()
        );
    }
}

/// The most common self-signed certificate for localhost, as users make it:
/// `openssl req -x509 -newkey rsa:2048 -nodes … -addext subjectAltName=…`.
fn openssl_self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("self.pem"), dir.join("self.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .args(["-keyout", arg(&key), "-out", arg(&cert)])
        .output()
        .unwrap();
    assert!(made.status.success(), "openssl: {}", text(&made));
    (cert, key)
}

/// `python3 -c SCRIPT ARGS…`, which prints its port first; (child, port).
fn python_server(script: &str, args: &[&str]) -> PortServer {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .args(args)
        .stderr(std::process::Stdio::null());
    PortServer::start(cmd)
}

/// The most common self-signed certificate — `openssl req -x509`, which says
/// CA:TRUE — works with `--cacert` as it does with curl; a server certificate
/// it does not vouch for is still refused in words (exit 3).
#[test]
fn an_openssl_self_signed_certificate_is_trusted_with_cacert() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_self_signed(tmp.path());
    let (cat, url) = serve_catalog(&[
        "--no-telemetry",
        "--tls-cert",
        arg(&cert),
        "--tls-key",
        arg(&key),
    ]);
    let out = tmp.path().join("run");
    let o = run_command(&url, &out)
        .args([
            "--cacert",
            arg(&cert),
            "--runs",
            "2",
            "--scenario",
            "GPU_PATCH_SINGLE_FIELD",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Another self-signed certificate given instead: not this server's.
    make_pki(tmp.path());
    let other = run_command(&url, &tmp.path().join("other"))
        .args(["--cacert", arg(&tmp.path().join("ca.pem")), "--runs", "1"])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(3), "{}", text(&other));
    cat.terminate();
}

/// An HTTP/1.1-only server (Python's http.server, plain and over TLS with
/// ALPN http/1.1): `--http2` is refused in words naming HTTP/2, exit 2 — not
/// "cannot reach the API".
#[test]
fn http2_against_a_server_without_it_is_refused_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_self_signed(tmp.path());
    let server = r#"
import http.server, ssl, sys
srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
if len(sys.argv) > 1:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    ctx.set_alpn_protocols(["http/1.1"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;
    for tls in [false, true] {
        let args = if tls {
            vec![arg(&cert), arg(&key)]
        } else {
            Vec::new()
        };
        let python = python_server(server, &args);
        let url = format!(
            "{}://localhost:{}",
            if tls { "https" } else { "http" },
            python.port
        );
        let o = run_command(&url, &tmp.path().join(format!("run-{tls}")))
            .args(["--http2", "--runs", "1", "--cacert", arg(&cert)])
            .output()
            .unwrap();
        drop(python);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let want = if tls {
            "does not speak HTTP/2 over TLS"
        } else {
            "does not speak HTTP/2 without TLS"
        };
        assert!(
            text(&o).contains(want) && text(&o).contains("drop --http2"),
            "{}",
            text(&o)
        );
    }
}

/// Debian's nginx over TLS with h2 and `keepalive_requests 10`: it sends a
/// GOAWAY every ten requests. `--http2 --concurrency 8`, 300 GETs: none
/// fails (streams it did not process are sent again), and a retired
/// connection is replaced by one, not by one per waiting request — nginx's
/// own access log counts the connections.
#[test]
fn http2_rides_through_nginx_goaways() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (cert, key) = openssl_self_signed(tmp.path());
    let port = free_port();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  log_format conn '$connection $status';\n  access_log {d}/access.log conn;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port} ssl http2;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
             keepalive_requests 10;\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
        d = d.display(),
        cert = cert.display(),
        key = key.display()
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok())
        .expect("nginx is missing: scripts/test.sh installs Debian's nginx");
    let mut server = Command::new(nginx)
        .args(["-c", arg(&d.join("nginx.conf")), "-p", arg(d)])
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let suite = one_get_suite(d, "/ok");
    let out = d.join("run");
    let o = run_command(&format!("https://localhost:{port}"), &out)
        .args(["--suite", arg(&suite), "--cacert", arg(&cert)])
        .args(["--http2", "--concurrency", "8", "--runs", "300"])
        .output()
        .unwrap();
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
    let summary = summary(&out);
    let r = &summary["results"][0];
    assert_eq!(r["failed_runs"].as_u64(), Some(0), "{}\n{}", r, text(&o));
    let log = std::fs::read_to_string(d.join("access.log")).unwrap();
    let served = log.lines().filter(|l| l.ends_with(" 200")).count();
    let mut connections: Vec<&str> = log.lines().filter_map(|l| l.split(' ').next()).collect();
    connections.sort_unstable();
    connections.dedup();
    eprintln!(
        "nginx: {served} answered on {} connections",
        connections.len()
    );
    assert!(served >= 300, "{served} answered");
    assert!(
        connections.len() <= 45,
        "{} connections for {served} requests",
        connections.len()
    );
}

/// A TLS server that ends a body delimited by the connection's end without
/// close_notify (Python's ssl, the socket closed bare): the answer may be
/// cut, and the request is counted as `truncated`, not as a reset API.
#[test]
fn a_tls_body_ended_without_close_notify_is_a_truncated_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_self_signed(tmp.path());
    let server = r#"
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
def serve(raw):
    try:
        c = ctx.wrap_socket(raw, server_side=True)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d:
                return
            buf += d
        c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"ok\": true}")
        # The TCP socket closed under the TLS session: no close_notify.
        raw.shutdown(socket.SHUT_RDWR)
        raw.close()
    except Exception:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;
    let python = python_server(server, &[arg(&cert), arg(&key)]);
    let suite = one_get_suite(tmp.path(), "/x");
    let out = tmp.path().join("run");
    let o = run_command(&format!("https://localhost:{}", python.port), &out)
        .args([
            "--suite",
            arg(&suite),
            "--cacert",
            arg(&cert),
            "--runs",
            "3",
        ])
        .output()
        .unwrap();
    drop(python);
    let r = &summary(&out)["results"][0];
    assert_eq!(
        r["errors"]["truncated"].as_u64(),
        Some(3),
        "{r}\n{}",
        text(&o)
    );
}
