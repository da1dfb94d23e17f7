//! Every kind of bad input gets the right answer; the collector keeps serving
//! and what it stored before stays intact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use bytes::{Buf, BufMut, Bytes};
use std::io::Write;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tracesplit_collector::{CollectorConfig, CollectorHandle};

/// A gRPC codec sending arbitrary bytes, so tests can send what no SDK would.
#[derive(Clone, Copy)]
struct Raw;
impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}
impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

async fn grpc_send(
    handle: &CollectorHandle,
    body: Vec<u8>,
    gzip: bool,
    token: Option<&str>,
) -> Result<(), Status> {
    let channel = tonic::transport::Channel::from_shared(handle.grpc_endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    if gzip {
        grpc = grpc.send_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(Bytes::from(body));
    if let Some(t) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    grpc.unary(request, path, Raw).await.map(|_| ())
}

/// (what, content type, body, extra headers, expected status, expected message part)
type HttpCase = (
    &'static str,
    &'static str,
    Vec<u8>,
    Vec<(&'static str, &'static str)>,
    u16,
    &'static str,
);

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn bad_ids() -> Vec<u8> {
    use prost::Message;
    let mut req = export(9, 2);
    req.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![1, 2, 3];
    req.encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http_bodies_are_refused_with_named_problems_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::ephemeral(dir.path());
    config.max_body = 64 * 1024;
    let handle = start_with(config).await;
    assert_eq!(
        post(&handle, "application/x-protobuf", protobuf(1, 5), &[])
            .await
            .status(),
        200
    );
    handle.flush().await.unwrap();

    let cases: Vec<HttpCase> = vec![
        (
            "garbage",
            "application/x-protobuf",
            b"\xff\xff\xff\xff garbage".to_vec(),
            vec![],
            400,
            "not a valid OTLP",
        ),
        (
            "truncated",
            "application/x-protobuf",
            protobuf(2, 3)[..40].to_vec(),
            vec![],
            400,
            "protobuf",
        ),
        (
            "content type",
            "text/plain",
            protobuf(2, 3),
            vec![],
            400,
            "unsupported Content-Type",
        ),
        (
            "json",
            "application/json",
            b"{\"resourceSpans\": [{".to_vec(),
            vec![],
            400,
            "not valid OTLP JSON",
        ),
        (
            "ids",
            "application/x-protobuf",
            bad_ids(),
            vec![],
            400,
            "traceId: trace id must be 16 bytes",
        ),
        (
            "bomb",
            "application/x-protobuf",
            gzip(&vec![0u8; 8 << 20]),
            vec![("content-encoding", "gzip")],
            400,
            "expands beyond",
        ),
        (
            "not gzip",
            "application/x-protobuf",
            b"plain".to_vec(),
            vec![("content-encoding", "gzip")],
            400,
            "not valid gzip",
        ),
        (
            "too large",
            "application/x-protobuf",
            vec![0u8; 65 * 1024],
            vec![],
            413,
            "exceeds the limit of 65536 bytes",
        ),
    ];
    for (what, content_type, body, headers, status, needle) in cases {
        let r = post(&handle, content_type, body, &headers).await;
        assert_eq!(r.status().as_u16(), status, "{what}");
        let is_json = r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json");
        let body = r.bytes().await.unwrap();
        // Every refusal is a google.rpc.Status in the request's encoding
        // (protobuf when the content type itself was wrong).
        let (code, message) = if is_json {
            let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (
                status["code"].as_i64().unwrap() as i32,
                status["message"].as_str().unwrap().to_owned(),
            )
        } else {
            let status = <tonic_types::pb::Status as prost::Message>::decode(&body[..]).unwrap();
            (status.code, status.message)
        };
        assert!(message.contains(needle), "{what}: {message}");
        assert_eq!(code, if status == 413 { 11 } else { 3 }, "{what}");
    }
    let r = http()
        .get(format!("{}/v1/traces", handle.http_endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    // Still serving, and the first export is intact.
    assert_eq!(
        post(&handle, "application/x-protobuf", protobuf(3, 2), &[])
            .await
            .status(),
        200
    );
    let stats = handle.shutdown().await.unwrap();
    assert_eq!(stats.rejected_exports, 8);
    let spans = stored(dir.path());
    assert_eq!(spans.len(), 7);
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.trace_id.to_string() == "01".repeat(16))
            .count(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_grpc_messages_get_invalid_argument_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::ephemeral(dir.path());
    config.max_body = 1 << 20;
    let handle = start_with(config).await;
    grpc_send(&handle, protobuf(1, 4), false, None)
        .await
        .unwrap();
    grpc_send(&handle, protobuf(2, 4), true, None)
        .await
        .unwrap();

    let cases: Vec<(&str, Vec<u8>, bool, Code, &str)> = vec![
        (
            "garbage",
            b"\xff\xff\xff\xff garbage".to_vec(),
            false,
            Code::InvalidArgument,
            "not a valid OTLP",
        ),
        (
            "truncated",
            protobuf(3, 3)[..40].to_vec(),
            false,
            Code::InvalidArgument,
            "protobuf",
        ),
        (
            "ids",
            bad_ids(),
            false,
            Code::InvalidArgument,
            "trace id must be 16 bytes",
        ),
        (
            "bomb",
            vec![0u8; 16 << 20],
            true,
            Code::InvalidArgument,
            "expands beyond the limit",
        ),
        (
            "too large",
            vec![0u8; 2 << 20],
            false,
            Code::OutOfRange,
            "too large",
        ),
    ];
    for (what, body, gz, code, needle) in cases {
        let status = grpc_send(&handle, body, gz, None).await.unwrap_err();
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert!(
            status.message().contains(needle),
            "{what}: {}",
            status.message()
        );
    }
    grpc_send(&handle, protobuf(4, 1), false, None)
        .await
        .unwrap();
    handle.shutdown().await.unwrap();
    let spans = stored(dir.path());
    assert_eq!(spans.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_required_on_both_transports() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::ephemeral(dir.path());
    config.auth_token = Some("s3cret".into());
    let handle = start_with(config).await;

    let r = post(&handle, "application/x-protobuf", protobuf(1, 2), &[]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let status =
        <tonic_types::pb::Status as prost::Message>::decode(&r.bytes().await.unwrap()[..]).unwrap();
    assert_eq!(status.code, 16, "UNAUTHENTICATED: {status:?}");
    let r = post(&handle, "application/json", b"{}".to_vec(), &[]).await;
    assert_eq!(r.status(), 401);
    let status: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(status["code"], 16);
    let r = post(
        &handle,
        "application/x-protobuf",
        protobuf(1, 2),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = post(
        &handle,
        "application/x-protobuf",
        protobuf(1, 2),
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(r.status(), 200);

    assert_eq!(
        grpc_send(&handle, protobuf(2, 2), false, None)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        grpc_send(&handle, protobuf(2, 2), false, Some("x"))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    grpc_send(&handle, protobuf(2, 2), false, Some("s3cret"))
        .await
        .unwrap();
    let stats = handle.shutdown().await.unwrap();
    assert_eq!(stored(dir.path()).len(), 4);
    // The exit line's count: the two refused HTTP exports' spans (2 each; the
    // JSON one is empty); refused gRPC bodies are not read.
    assert_eq!((stats.rejected_exports, stats.rejected_spans), (5, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_answers_retryable_codes_and_never_drops_silently() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::ephemeral(dir.path());
    config.segment_spans = 1000;
    config.max_buffered_spans = 1000;
    let handle = std::sync::Arc::new(start_with(config).await);

    // Exports of 600 spans: any two in flight at once exceed the buffer.
    let mut senders = Vec::new();
    for sender in 0..8u8 {
        let handle = handle.clone();
        senders.push(tokio::spawn(async move {
            let (mut ok, mut refused, mut retry_after) = (0u64, 0u64, true);
            for round in 0..40u8 {
                let body = protobuf(sender.wrapping_mul(41).wrapping_add(round).max(1), 600);
                if round % 2 == 0 {
                    let r = post(&handle, "application/x-protobuf", body, &[]).await;
                    match r.status().as_u16() {
                        200 => ok += 600,
                        503 => {
                            retry_after &= r.headers().get("retry-after").is_some_and(|v| v == "1");
                            refused += 600;
                        }
                        other => panic!("unexpected status {other}"),
                    }
                } else {
                    match grpc_send(&handle, body, false, None).await {
                        Ok(()) => ok += 600,
                        Err(s)
                            if s.code() == Code::Unavailable
                                && s.message().contains("buffer is full") =>
                        {
                            refused += 600
                        }
                        Err(s) => panic!("unexpected status {s:?}"),
                    }
                }
            }
            (ok, refused, retry_after)
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for s in senders {
        let (o, r, retry_after) = s.await.unwrap();
        assert!(retry_after, "every 503 carries Retry-After");
        ok += o;
        refused += r;
    }
    assert!(
        refused > 0,
        "concurrent exports larger than the buffer were never refused"
    );
    let stats = std::sync::Arc::into_inner(handle)
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    assert_eq!(
        (stats.received_spans, stats.rejected_spans),
        (ok, refused),
        "every span is either acknowledged or refused"
    );
    assert_eq!(stats.stored_spans, ok);
    assert_eq!(stored(dir.path()).len() as u64, ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_larger_than_the_whole_buffer_is_refused_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::ephemeral(dir.path());
    config.segment_spans = 100;
    config.max_buffered_spans = 100;
    let handle = start_with(config).await;
    let r = post(&handle, "application/x-protobuf", protobuf(1, 101), &[]).await;
    assert_eq!(
        r.status(),
        413,
        "retrying would never succeed, so the answer is not retryable"
    );
    let status = grpc_send(&handle, protobuf(1, 101), false, None)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange);
    assert!(
        status.message().contains("--max-buffered-spans"),
        "{}",
        status.message()
    );
    handle.shutdown().await.unwrap();
}
