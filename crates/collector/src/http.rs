//! OTLP/HTTP: `POST /v1/traces`, protobuf or JSON, optionally gzip-encoded.

use crate::ingest::{Ingest, decode_records};
use crate::payload::{Encoding, gunzip_limited};
use crate::{CollectorConfig, IngestError};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
struct AppState {
    ingest: Arc<Ingest>,
    auth_header: Option<Arc<str>>,
    max_body: usize,
}

fn status_of(e: &IngestError) -> StatusCode {
    match e {
        IngestError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        IngestError::TooLarge { .. } | IngestError::BatchTooLarge { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        IngestError::Unauthenticated => StatusCode::UNAUTHORIZED,
        IngestError::Overloaded { .. } | IngestError::Store(_) | IngestError::ShuttingDown => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

fn grpc_code_of(e: &IngestError) -> i32 {
    match e {
        IngestError::InvalidArgument(_) => 3,
        IngestError::TooLarge { .. } | IngestError::BatchTooLarge { .. } => 11,
        IngestError::Unauthenticated => 16,
        _ => 14,
    }
}

/// Error answer: a `google.rpc.Status` in the request's encoding, as OTLP/HTTP
/// specifies — protobuf (the OTLP default) when the request's content type
/// was missing or unknown.
fn error_response(e: &IngestError, encoding: Option<Encoding>) -> Response {
    let status = status_of(e);
    let rpc = tonic_types::pb::Status {
        code: grpc_code_of(e),
        message: e.to_string(),
        details: vec![],
    };
    let (content_type, body) = match encoding.unwrap_or(Encoding::Protobuf) {
        Encoding::Protobuf => (Encoding::Protobuf.content_type(), rpc.encode_to_vec()),
        Encoding::Json => (
            Encoding::Json.content_type(),
            serde_json::json!({"code": rpc.code, "message": rpc.message})
                .to_string()
                .into_bytes(),
        ),
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

async fn read_body(body: Body, headers: &HeaderMap, max: usize) -> Result<Vec<u8>, IngestError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(IngestError::TooLarge { limit: max });
    }
    let collected = Limited::new(body, max).collect().await.map_err(|e| {
        if e.downcast_ref::<LengthLimitError>().is_some() {
            IngestError::TooLarge { limit: max }
        } else {
            IngestError::InvalidArgument(format!("cannot read request body: {e}"))
        }
    })?;
    let bytes = collected.to_bytes();
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => false,
        Some(v) if v.eq_ignore_ascii_case("gzip") => true,
        Some(other) => {
            return Err(IngestError::InvalidArgument(format!(
                "unsupported Content-Encoding {other:?}: send gzip or no encoding"
            )));
        }
    };
    if gzip {
        gunzip_limited(&bytes, max)
    } else {
        Ok(bytes.to_vec())
    }
}

async fn export(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Some(expected) = &state.auth_header {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(&**expected) {
            let encoding = Encoding::from_content_type(content_type).ok();
            // A refused export's spans still count, when its body decodes.
            let spans = match encoding {
                Some(e) => read_body(body, &headers, state.max_body)
                    .await
                    .ok()
                    .and_then(|p| decode_records(&p, e).ok())
                    .map_or(0, |r| r.len()),
                None => 0,
            };
            state.ingest.reject(spans);
            return error_response(&IngestError::Unauthenticated, encoding);
        }
    }
    let encoding = match Encoding::from_content_type(content_type) {
        Ok(e) => e,
        Err(e) => {
            state.ingest.reject(0);
            return error_response(&e, None);
        }
    };
    let result = async {
        let payload = read_body(body, &headers, state.max_body).await?;
        let records = decode_records(&payload, encoding)?;
        state.ingest.accept(encoding, &payload, records)
    }
    .await;
    match result {
        Ok(()) => {
            let body = match encoding {
                Encoding::Protobuf => ExportTraceServiceResponse::default().encode_to_vec(),
                Encoding::Json => b"{}".to_vec(),
            };
            ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Err(e) => {
            // accept() counts its own refusals; decode failures are counted here.
            if matches!(
                e,
                IngestError::InvalidArgument(_) | IngestError::TooLarge { .. }
            ) {
                state.ingest.reject(0);
            }
            tracing::debug!("refused OTLP/HTTP export: {e}");
            error_response(&e, Some(encoding))
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "tracesplit collector: OTLP/HTTP traces are accepted at POST /v1/traces\n",
    )
        .into_response()
}

pub(crate) async fn serve(
    listener: tracesplit_net::ServerListener,
    ingest: Arc<Ingest>,
    config: CollectorConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = AppState {
        ingest,
        auth_header: config
            .auth_token
            .as_deref()
            .map(|t| Arc::from(format!("Bearer {t}"))),
        max_body: config.max_body,
    };
    let app = Router::new()
        .route("/v1/traces", post(export))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("OTLP/HTTP server stopped: {e}");
    }
}
