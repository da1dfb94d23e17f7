//! An HTTP proxy that forwards every request at once but holds the answer of
//! every Nth `POST /v1/listings/` for a while: the API completes the create,
//! the client times out first — the lost answer of a slow real API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

/// The running proxy.
pub struct HoldingProxy {
    pub addr: SocketAddr,
    /// Answers held so far.
    pub held: Arc<AtomicU64>,
}

struct Plan {
    upstream: SocketAddr,
    every: u64,
    hold: Duration,
    seen: AtomicU64,
    held: Arc<AtomicU64>,
    client: Client<HttpConnector, Full<Bytes>>,
}

async fn forward(
    plan: Arc<Plan>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let hold = parts.method == http::Method::POST
        && parts.uri.path() == "/v1/listings/"
        && (plan.seen.fetch_add(1, SeqCst) + 1).is_multiple_of(plan.every);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut up = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{}{path}", plan.upstream));
    for (k, v) in &parts.headers {
        if k != http::header::HOST {
            up = up.header(k, v);
        }
    }
    let answer = match plan.client.request(up.body(Full::new(body)).unwrap()).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Full::new(Bytes::from(e.to_string())))
                .unwrap());
        }
    };
    let (rp, rb) = answer.into_parts();
    let rb = rb.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if hold {
        // The create is done upstream; its answer arrives too late.
        plan.held.fetch_add(1, SeqCst);
        tokio::time::sleep(plan.hold).await;
    }
    Ok(Response::from_parts(rp, Full::new(rb)))
}

impl HoldingProxy {
    /// Proxies to `upstream`, holding every `every`th listing create's answer for `hold`.
    pub async fn start(upstream: SocketAddr, every: u64, hold: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(AtomicU64::new(0));
        let plan = Arc::new(Plan {
            upstream,
            every,
            hold,
            seen: AtomicU64::new(0),
            held: held.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let plan = plan.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| forward(plan.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, held }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
