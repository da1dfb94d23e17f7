//! A transport stall named: a server that writes each answer's head and
//! body in two sends with Nagle's algorithm on (Python's socket, no
//! TCP_NODELAY) stalls every body until the client's delayed ACK; the
//! finding names it, with the stall's size. The same server with
//! TCP_NODELAY: no such finding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{PortServer, one_get_suite, run_command, summary_of, text};

use std::process::Command;

const SERVER: &str = r#"
import socket, sys, threading
nodelay = sys.argv[1] == "1"
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
def serve(c):
    if nodelay:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        _, _, buf = buf.partition(b"\r\n\r\n")
        body = b'{"ok": true}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        c.sendall(body)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// The run's findings against the server, with or without TCP_NODELAY.
fn findings(nodelay: bool) -> Vec<serde_json::Value> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", SERVER, if nodelay { "1" } else { "0" }]);
    let server = PortServer::start(cmd);
    let dir = tempfile::tempdir().unwrap();
    let suite = one_get_suite(dir.path(), "/x");
    let out = dir.path().join("run");
    let o = run_command(&server.url(), &out)
        .args(["--suite", suite.to_str().unwrap(), "--runs", "40"])
        .output()
        .unwrap();
    drop(server);
    summary_of(&out, &o)["analysis"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn nagles_stall_is_named_with_its_size_and_gone_with_tcp_nodelay() {
    let stalled = findings(false);
    let f = stalled
        .iter()
        .find(|f| f["rule"] == "transport_stall")
        .unwrap_or_else(|| panic!("no stall finding: {stalled:?}"));
    let title = f["title"].as_str().unwrap();
    assert!(title.contains("Nagle"), "{title}");
    // The planted stall is Linux's delayed-ACK timer: 40 ms.
    let ms: f64 = title
        .split("answers stall ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((36.0..=44.0).contains(&ms), "{ms} ms: {title}");
    assert!(f["next_step"].as_str().unwrap().contains("TCP_NODELAY"));
    let clean = findings(true);
    assert!(
        clean.iter().all(|f| f["rule"] != "transport_stall"),
        "{clean:?}"
    );
}

/// 300 GETs over h2c (`--http2 --concurrency 8`) against the server `cmd`
/// starts (it prints its port, and a JSON line of counts on SIGTERM): the
/// result row of summary.json, and the server's counts.
fn over_h2c(cmd: Command) -> (serde_json::Value, serde_json::Value) {
    let server = PortServer::start(cmd);
    let dir = tempfile::tempdir().unwrap();
    let suite = one_get_suite(dir.path(), "/ok");
    let out = dir.path().join("run");
    let o = run_command(&server.url(), &out)
        .args(["--suite", suite.to_str().unwrap(), "--runs", "300"])
        .args(["--http2", "--concurrency", "8"])
        .output()
        .unwrap();
    let counts = server.stop();
    let summary = summary_of(&out, &o);
    let r = summary["results"][0].clone();
    assert_eq!(r["failed_runs"].as_u64(), Some(0), "{r}\n{}", text(&o));
    (r, counts)
}

/// A server built on hyper-h2 (a library we did not write) that answers ten
/// requests a connection, then sends GOAWAY naming the tenth as the last
/// stream it processed and leaves the streams already sent above it
/// unanswered: every request is answered once (the unprocessed ones again on
/// a new connection), none fails, and one connection replaces each retired one.
#[test]
fn http2_requests_above_a_goaway_are_sent_again_and_answered_once() {
    let script = crate::support::workspace_root().join("tests-support/python/goaway_server.py");
    let mut cmd = Command::new(crate::support::python());
    cmd.args([script.to_str().unwrap(), "10"]);
    let (_, counts) = over_h2c(cmd);
    eprintln!("hyper-h2 GOAWAY server: {counts}");
    // Health check and 300 measured GETs, each processed exactly once.
    let processed = counts["processed"].as_u64().unwrap();
    assert!((300..=302).contains(&processed), "{counts}");
    assert!(counts["unprocessed"].as_u64().unwrap() > 0, "{counts}");
    assert!(counts["connections"].as_u64().unwrap() <= 45, "{counts}");
}

/// Node.js's http2 server closing each session after ten streams
/// (`session.close()`: GOAWAY, then streams that arrive later are refused).
#[test]
fn http2_through_node_sessions_closed_every_ten_streams() {
    const NODE: &str = r#"
const http2 = require('http2');
let processed = 0, connections = 0;
const server = http2.createServer();
server.on('session', (s) => { connections++; s.answered = 0; });
server.on('stream', (stream) => {
  const s = stream.session;
  processed++;
  stream.respond({ ':status': 200, 'content-length': 3 });
  stream.end('ok\n');
  if (++s.answered === 10) s.close();
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => {
  require('fs').writeSync(1, JSON.stringify({ processed, connections }) + '\n');
  process.exit(0);
});
"#;
    let mut cmd = Command::new("node");
    cmd.args(["-e", NODE]);
    let (_, counts) = over_h2c(cmd);
    eprintln!("Node.js http2 server: {counts}");
    let processed = counts["processed"].as_u64().unwrap();
    assert!((300..=302).contains(&processed), "{counts}");
    assert!(counts["connections"].as_u64().unwrap() <= 45, "{counts}");
}

/// Node.js's http2 server allowing two streams a connection
/// (SETTINGS_MAX_CONCURRENT_STREAMS 2), each answer 20 ms late: at
/// concurrency 8 the runner opens more connections rather than queueing
/// requests for a stream (which would put the queueing in their latency),
/// and never more than one per concurrent request.
#[test]
fn http2_opens_another_connection_only_when_the_streams_run_out() {
    const NODE: &str = r#"
const http2 = require('http2');
let processed = 0, connections = 0, most = 0;
const server = http2.createServer({ settings: { maxConcurrentStreams: 2 } });
server.on('session', (s) => { connections++; s.open = 0; });
server.on('stream', (stream) => {
  const s = stream.session;
  most = Math.max(most, ++s.open);
  setTimeout(() => {
    s.open--;
    processed++;
    stream.respond({ ':status': 200, 'content-length': 3 });
    stream.end('ok\n');
  }, 20);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => {
  require('fs').writeSync(1, JSON.stringify({ processed, connections, most }) + '\n');
  process.exit(0);
});
"#;
    let mut cmd = Command::new("node");
    cmd.args(["-e", NODE]);
    let (r, counts) = over_h2c(cmd);
    eprintln!("Node.js http2 server, 2 streams a connection: {counts}\n{r}");
    let connections = counts["connections"].as_u64().unwrap();
    // 8 concurrent requests, 2 streams each: 4 connections (and the health
    // check's, which joins them); a few more when requests pile onto a new
    // connection before its SETTINGS arrive — never one per request.
    assert!((4..=8).contains(&connections), "{counts}");
    assert!(counts["most"].as_u64().unwrap() <= 2, "{counts}");
    // Each request waited for its 20 ms answer, not for a stream as well.
    let p50 = r["p50_ms"].as_f64().unwrap();
    assert!(
        p50 < 35.0,
        "P50 {p50} ms: requests queued for a stream\n{r}"
    );
}

/// A Node.js http2 API whose tokens last 0.6 s: over `--http2` the run logs
/// in as its suite says, logs in again after the first 401, and the new
/// token rides on the requests after it (it used to be fixed for the run).
#[test]
fn http2_renews_an_expired_login() {
    const NODE: &str = r#"
const http2 = require('http2');
const tokens = new Map(); let logins = 0, ok = 0, unauthorized = 0, next = 1;
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const send = (status, body) => {
    const data = JSON.stringify(body);
    stream.respond({ ':status': status, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    stream.end(data);
  };
  if (headers[':method'] === 'POST' && headers[':path'] === '/login') {
    let body = '';
    stream.on('data', (c) => body += c);
    stream.on('end', () => {
      if (JSON.parse(body || '{}').password !== 's3cret') return send(401, { detail: 'bad password' });
      logins++;
      const token = 't' + next++;
      tokens.set(token, Date.now() + 600);
      send(200, { access_token: token });
    });
    return;
  }
  const auth = headers['authorization'] || '';
  const expires = tokens.get(auth.replace('Bearer ', ''));
  if (!expires || expires < Date.now()) { unauthorized++; return send(401, { detail: 'expired' }); }
  ok++;
  send(200, { ok: true });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => {
  require('fs').writeSync(1, JSON.stringify({ logins, ok, unauthorized }) + '\n');
  process.exit(0);
});
"#;
    let mut cmd = Command::new("node");
    cmd.args(["-e", NODE]);
    let server = PortServer::start(cmd);
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("login.toml");
    std::fs::write(
        &suite,
        "name = \"login\"\n\
         [auth]\npath = \"/login\"\njson = { user = \"me\", password = \"${H2_PASSWORD}\" }\n\
         [[scenario]]\nname = \"GET_OK\"\nentity_type = \"X\"\noperation = \"GET\"\ntarget_p95_ms = 1000\n\
         steps = [{ method = \"GET\", path = \"/ok\", expect = [200] }]\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = run_command(&server.url(), &out)
        .args(["--suite", suite.to_str().unwrap(), "--http2"])
        .args(["--rate", "40", "--duration", "3s"])
        .env("H2_PASSWORD", "s3cret")
        .output()
        .unwrap();
    let counts = server.stop();
    assert!(out.join("summary.json").exists(), "{}", text(&o));
    // 120 GETs over 3 s: the token expired (a 401) and was renewed each time,
    // so nearly all were answered.
    let logins = counts["logins"].as_u64().unwrap();
    let ok = counts["ok"].as_u64().unwrap();
    let unauthorized = counts["unauthorized"].as_u64().unwrap();
    assert!(logins >= 3, "{counts}\n{}", text(&o));
    assert!(ok >= 100 && unauthorized <= 20, "{counts}\n{}", text(&o));
    let manifest: serde_json::Value = crate::support::manifest_of(&out);
    assert!(
        manifest["notes"].to_string().contains("logged in again"),
        "{}",
        manifest["notes"]
    );
}
