//! The benches' no-op API on loopback (its own runtime).
#![allow(dead_code, clippy::unwrap_used)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The no-op API (`GET /noop` → `{}`) and an OTLP sink (`POST /v1/traces` → 200, body discarded).
pub fn start_server() -> (SocketAddr, tokio::runtime::Runtime) {
    start_counting_server(Arc::new(AtomicU64::new(0)))
}

/// As [`start_server`], counting the `GET`s it answers in `served`.
pub fn start_counting_server(served: Arc<AtomicU64>) -> (SocketAddr, tokio::runtime::Runtime) {
    start_server_with(served, None)
}

/// As [`start_server`], serving TLS with `acceptor` (HTTP/1.1).
pub fn start_tls_server(
    acceptor: tokio_rustls::TlsAcceptor,
) -> (SocketAddr, tokio::runtime::Runtime) {
    start_server_with(Arc::new(AtomicU64::new(0)), Some(acceptor))
}

/// The no-op API over h2c (HTTP/2 with prior knowledge): `GET` → `{}`, and
/// a gRPC sink (`POST` with `application/grpc` → its body read, an empty
/// `ExportTraceServiceResponse` and `grpc-status: 0`).
pub fn start_h2_server() -> (SocketAddr, tokio::runtime::Runtime) {
    serve(Arc::new(AtomicU64::new(0)), None, true)
}

fn start_server_with(
    served: Arc<AtomicU64>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (SocketAddr, tokio::runtime::Runtime) {
    serve(served, tls, false)
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// The answer to one request (see [`start_server`] and [`start_h2_server`]).
async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    served: &AtomicU64,
) -> Result<hyper::Response<Body>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    if req.method() != hyper::Method::POST {
        served.fetch_add(1, Relaxed);
        return Ok(hyper::Response::new(
            Full::new(Bytes::from_static(b"{}")).boxed(),
        ));
    }
    let grpc = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    // A sink: read the export, answer an empty ExportTraceServiceResponse.
    let _ = req.into_body().collect().await;
    let (body, content_type) = if grpc {
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
        let frames = [
            Ok(hyper::body::Frame::data(Bytes::from_static(&[
                0, 0, 0, 0, 0,
            ]))),
            Ok(hyper::body::Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames)).boxed();
        (body, "application/grpc")
    } else {
        (Full::new(Bytes::new()).boxed(), "application/x-protobuf")
    };
    let mut response = hyper::Response::new(body);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    Ok(response)
}

/// Serves [`answer`] on a free loopback port, on its own two-thread
/// runtime: HTTP/1.1 (behind `tls` when given) or h2c.
fn serve(
    served: Arc<AtomicU64>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    http2: bool,
) -> (SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let served = served.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let served = served.clone();
                    async move { answer(req, &served).await }
                });
                if http2 {
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .max_concurrent_streams(1024)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                    return;
                }
                let http1 = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = http1.serve_connection(TokioIo::new(stream), service).await;
                    }
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            let _ = http1.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                }
            });
        }
    });
    (addr, rt)
}
