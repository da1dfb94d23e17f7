//! The wire format against scripted servers: every framing, interim
//! responses, broken answers, and what is sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A server that, per request, sends the next scripted answer in the pieces
/// given (to exercise partial reads), then closes when the script says so.
/// Every request it read comes back on the channel.
async fn scripted(
    answers: Vec<(Vec<&'static [u8]>, bool)>,
) -> (String, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        for (pieces, close) in answers {
            let request = read_request(&mut stream).await;
            let _ = tx.send(request);
            for piece in pieces {
                stream.write_all(piece).await.unwrap();
                stream.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            if close {
                return;
            }
        }
        // Keep the connection open until the client is done with it.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    });
    (addr, rx)
}

async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            return buf;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).to_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    buf.extend(body);
    buf
}

fn head(w: &mut Vec<u8>) {
    w.extend_from_slice(b"GET /x HTTP/1.1\r\nhost: test\r\n");
}

async fn get(conn: &mut Conn) -> Result<Response, WireError> {
    conn.exchange(&Method::GET, head, b"").await
}

#[tokio::test]
async fn content_length_chunked_and_interim_responses_on_one_connection() {
    let (addr, mut seen) = scripted(vec![
        (
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Le",
                b"ngth: 5\r\n\r\nhel",
                b"lo",
            ],
            false,
        ),
        (
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n",
                b"2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
            ],
            false,
        ),
        (
            vec![
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
            ],
            false,
        ),
        (vec![b"HTTP/1.1 204 No Content\r\n\r\n"], false),
    ])
    .await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let r = get(&mut conn).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..], r.keep_alive),
        (200, &b"hello"[..], true)
    );
    assert!(conn.reused);
    let r = get(&mut conn).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"abcde"[..]));
    let r = get(&mut conn).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (201, &b"{}"[..]));
    let r = get(&mut conn).await.unwrap();
    assert_eq!((r.status, r.body.len(), r.keep_alive), (204, 0, true));
    let first = seen.recv().await.unwrap();
    assert_eq!(first, b"GET /x HTTP/1.1\r\nhost: test\r\n\r\n");
}

#[tokio::test]
async fn bodies_are_sent_with_their_length_and_head_answers_have_none() {
    let (addr, mut seen) = scripted(vec![
        (
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"],
            false,
        ),
        (
            vec![b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
            false,
        ),
        (vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], false),
    ])
    .await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let head_req = |w: &mut Vec<u8>| w.extend_from_slice(b"HEAD /x HTTP/1.1\r\n");
    let r = conn.exchange(&Method::HEAD, head_req, b"").await.unwrap();
    assert_eq!(
        (r.status, r.body.len()),
        (200, 0),
        "HEAD: Content-Length describes a body not sent"
    );
    let post = |w: &mut Vec<u8>| w.extend_from_slice(b"POST /x HTTP/1.1\r\n");
    conn.exchange(&Method::POST, post, b"{\"a\":1}")
        .await
        .unwrap();
    let _ = seen.recv().await.unwrap();
    let sent = String::from_utf8(seen.recv().await.unwrap()).unwrap();
    assert!(
        sent.ends_with("content-length: 7\r\n\r\n{\"a\":1}"),
        "{sent}"
    );
    // A POST without a body still says so: some servers wait for a length.
    conn.exchange(&Method::POST, post, b"").await.unwrap();
    let sent = String::from_utf8(seen.recv().await.unwrap()).unwrap();
    assert!(sent.ends_with("content-length: 0\r\n\r\n"), "{sent}");
}

#[tokio::test]
async fn close_delimited_bodies_and_connection_close_end_keep_alive() {
    let (addr, _seen) = scripted(vec![(
        vec![b"HTTP/1.0 200 OK\r\n\r\nuntil ", b"close"],
        true,
    )])
    .await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let r = get(&mut conn).await.unwrap();
    assert_eq!((&r.body[..], r.keep_alive), (&b"until close"[..], false));

    let (addr, _seen) = scripted(vec![(
        vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
        true,
    )])
    .await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    assert!(!get(&mut conn).await.unwrap().keep_alive);
}

#[tokio::test]
async fn broken_answers_are_errors_that_say_what_broke() {
    let cases: Vec<(&'static [u8], &str)> = vec![
        (b"NOT HTTP\r\n\r\n", "malformed"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
            "Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "conflicting",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "inside the response body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
            "CRLF",
        ),
        (b"HTTP/1.1 200 O", "inside the response headers"),
        (b"", "closed before a response"),
    ];
    for (answer, expected) in cases {
        let (addr, _seen) = scripted(vec![(vec![answer], true)]).await;
        let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
        let err = get(&mut conn).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{answer:?}: {err}");
    }
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_not_open() {
    let (addr, _seen) = scripted(vec![(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
        true,
    )])
    .await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    get(&mut conn).await.unwrap();
    // The FIN arrives shortly after the response; poll until it is seen.
    let mut open = true;
    for _ in 0..200 {
        open = conn.is_open();
        if !open {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!open);
}

#[tokio::test]
async fn a_response_arriving_one_byte_at_a_time_reads_the_same() {
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n";
    const LENGTH: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
    let (addr, _seen) = scripted(vec![
        (CHUNKED.chunks(1).collect(), false),
        (LENGTH.chunks(1).collect(), false),
    ])
    .await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let r = get(&mut conn).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"wikipedia"[..]));
    let r = get(&mut conn).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..], r.keep_alive),
        (404, &b"not found"[..], true)
    );
}

#[tokio::test]
async fn bodies_larger_than_the_read_buffer_arrive_whole() {
    let body = "x".repeat(300_000);
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let head: &'static [u8] = Box::leak(head.into_bytes().into_boxed_slice());
    let body_bytes: &'static [u8] = Box::leak(body.clone().into_bytes().into_boxed_slice());
    let (addr, _seen) = scripted(vec![(vec![head, body_bytes], false)]).await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let r = get(&mut conn).await.unwrap();
    assert_eq!(r.body.len(), body.len());
    assert!(r.body.iter().all(|b| *b == b'x'));
}

fn plain(address: &str) -> crate::http1::Target {
    crate::http1::Target {
        address: address.to_owned(),
        host: "127.0.0.1".into(),
        tls: None,
    }
}

#[tokio::test]
async fn a_head_of_hundreds_of_fields_reads_as_curl_reads_it() {
    let head_of = |fields: usize| -> &'static [u8] {
        let mut text = String::from("HTTP/1.1 302 Found\r\nContent-Length: 2\r\n");
        for k in 0..fields {
            text.push_str(&format!("x-field-{k}: {k}\r\n"));
        }
        text.push_str("\r\nok");
        Box::leak(text.into_bytes().into_boxed_slice())
    };
    let (addr, _seen) = scripted(vec![(vec![head_of(150)], true)]).await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let r = get(&mut conn).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (302, &b"ok"[..]));
    let (addr, _seen) = scripted(vec![(vec![head_of(1200)], true)]).await;
    let mut conn = Conn::connect(&plain(&addr)).await.unwrap();
    let err = get(&mut conn).await.unwrap_err().to_string();
    assert!(err.contains("more than 1000 header fields"), "{err}");
}
