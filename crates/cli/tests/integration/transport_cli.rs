//! A transport stall named: a server that writes each answer's head and
//! body in two sends with Nagle's algorithm on (Python's socket, no
//! TCP_NODELAY) stalls every body until the client's delayed ACK; the
//! finding names it, with the stall's size. The same server with
//! TCP_NODELAY: no such finding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{run_command, text};
use std::io::BufRead;
use std::process::{Command, Stdio};

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
    let mut server = Command::new("python3")
        .args(["-c", SERVER, if nodelay { "1" } else { "0" }])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("s.toml");
    std::fs::write(
        &suite,
        "name = \"nagle\"\n[[scenario]]\nname = \"GET_X\"\nentity_type = \"x\"\noperation = \"GET\"\ntarget_p95_ms = 1000\nsteps = [{ method = \"GET\", path = \"/x\", expect = [200] }]\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = run_command(&format!("http://127.0.0.1:{}", port.trim()), &out)
        .args(["--suite", suite.to_str().unwrap(), "--runs", "40"])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    summary["analysis"]["findings"]
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
