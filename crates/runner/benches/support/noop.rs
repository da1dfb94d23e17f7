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

fn start_server_with(
    served: Arc<AtomicU64>,
    tls: Option<tokio_rustls::TlsAcceptor>,
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
                    async move {
                        if req.method() == hyper::Method::POST {
                            // The OTLP sink: read the export, answer an empty ExportTraceServiceResponse.
                            let _ = http_body_util::BodyExt::collect(req.into_body()).await;
                            let mut response = hyper::Response::new(Full::new(Bytes::new()));
                            response.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/x-protobuf"),
                            );
                            return Ok::<_, std::convert::Infallible>(response);
                        }
                        served.fetch_add(1, Relaxed);
                        Ok(hyper::Response::new(Full::new(Bytes::from_static(b"{}"))))
                    }
                });
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
