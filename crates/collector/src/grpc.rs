//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on tonic.
//!
//! The service receives raw message bytes (a pass-through codec) instead of
//! tonic's prost codec for two reasons: tonic reports undecodable messages as
//! INTERNAL where OTLP wants INVALID_ARGUMENT, and the raw bytes are what the
//! write-ahead log stores.

use crate::ingest::{Ingest, decode_records};
use crate::payload::Encoding;
use crate::{CollectorConfig, IngestError};
use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::BoxFuture;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Status};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Codec that hands message bytes through unchanged.
#[derive(Default, Clone, Copy)]
struct RawCodec;

struct RawCoder;

impl Encoder for RawCoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCoder;
    type Decoder = RawCoder;
    fn encoder(&mut self) -> RawCoder {
        RawCoder
    }
    fn decoder(&mut self) -> RawCoder {
        RawCoder
    }
}

fn to_status(e: &IngestError) -> Status {
    let code = match e {
        IngestError::InvalidArgument(_) => Code::InvalidArgument,
        IngestError::TooLarge { .. } | IngestError::BatchTooLarge { .. } => Code::OutOfRange,
        IngestError::Unauthenticated => Code::Unauthenticated,
        IngestError::Overloaded { .. } | IngestError::Store(_) | IngestError::ShuttingDown => {
            Code::Unavailable
        }
    };
    Status::new(code, e.to_string())
}

struct ExportSvc(Arc<Ingest>);

impl UnaryService<Bytes> for ExportSvc {
    type Response = Bytes;
    type Future = BoxFuture<tonic::Response<Bytes>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let ingest = self.0.clone();
        Box::pin(async move {
            let payload = request.into_inner();
            let records = decode_records(&payload, Encoding::Protobuf).map_err(|e| {
                ingest.reject(0);
                to_status(&e)
            })?;
            ingest
                .accept(Encoding::Protobuf, &payload, records)
                .map_err(|e| to_status(&e))?;
            Ok(tonic::Response::new(Bytes::from(
                ExportTraceServiceResponse::default().encode_to_vec(),
            )))
        })
    }
}

/// The TraceService, with bearer-token checking and OTLP-conformant error codes.
#[derive(Clone)]
struct TraceService {
    ingest: Arc<Ingest>,
    auth_header: Option<Arc<str>>,
    max_body: usize,
}

impl NamedService for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

/// tonic reports a decompression bomb as RESOURCE_EXHAUSTED, which OTLP
/// clients treat as retryable; it is a client error, so answer INVALID_ARGUMENT.
fn reclassify_bomb(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    if let Some(status) = Status::from_header_map(response.headers())
        && status.code() == Code::ResourceExhausted
        && status.message().contains("decompressing")
    {
        let replaced = Status::invalid_argument(format!(
            "gzip message expands beyond the limit (--max-body): {}",
            status.message()
        ));
        let headers = response.headers_mut();
        headers.remove("grpc-message");
        headers.remove("grpc-status");
        if let Err(e) = replaced.add_header(headers) {
            tracing::warn!("cannot rewrite gRPC status: {e}");
        }
    }
    response
}

impl tower::Service<http::Request<tonic::body::Body>> for TraceService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if req.uri().path() != EXPORT_PATH {
                return Ok(
                    Status::unimplemented(format!("no method {}", req.uri().path())).into_http(),
                );
            }
            if let Some(expected) = &this.auth_header {
                let given = req
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if given != Some(&**expected) {
                    this.ingest.reject(0);
                    return Ok(to_status(&IngestError::Unauthenticated).into_http());
                }
            }
            let mut grpc = Grpc::new(RawCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(this.max_body);
            let response = grpc.unary(ExportSvc(this.ingest.clone()), req).await;
            Ok(reclassify_bomb(response))
        })
    }
}

pub(crate) async fn serve(
    listener: tracesplit_net::ServerListener,
    ingest: Arc<Ingest>,
    config: CollectorConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = TraceService {
        ingest,
        auth_header: config
            .auth_token
            .as_deref()
            .map(|t| Arc::from(format!("Bearer {t}"))),
        max_body: config.max_body,
    };
    let incoming = listener.into_incoming();
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, stop)
        .await
    {
        tracing::error!("OTLP/gRPC server stopped: {e}");
    }
}
