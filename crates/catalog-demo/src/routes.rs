//! The router: every route of CATALOG_API.md, the trace middleware and the delay knob.

use crate::db::Db;
use crate::entity::{ENTITIES, EntitySpec};
use crate::error::ApiError;
use crate::validate::{Mode, parse_id};
use crate::{delete, handlers, listings};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tracesplit_telemetry::Telemetry;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Added to every `/v1` request (`--handler-delay-ms`).
    pub delay: Duration,
    /// Added before every `/v1` request's server span starts
    /// (`--queue-delay-ms`): a busy worker, a blocked event loop.
    pub queue_delay: Duration,
    /// Span export; `None` disables spans.
    pub telemetry: Option<Arc<Telemetry>>,
}

fn answer(status: StatusCode, result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => (status, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn no_content(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

type Q = Query<handlers::Query>;

fn entity_routes(router: Router<AppState>, spec: &'static EntitySpec) -> Router<AppState> {
    let base = format!("/v1/catalog/{}", spec.plural);
    let item = format!("{base}/{{{}}}", spec.id_param);
    let id = move |raw: &str| parse_id(spec.id_param, raw);
    router
        .route(
            &base,
            get(move |State(s): State<AppState>, Query(q): Q| async move {
                answer(StatusCode::OK, handlers::list(spec, s.db, q).await)
            })
            .post(move |State(s): State<AppState>, body: Bytes| async move {
                answer(
                    StatusCode::CREATED,
                    handlers::create(spec, s.db, body.to_vec()).await,
                )
            }),
        )
        .route(
            &item,
            get(
                move |State(s): State<AppState>, Path(raw): Path<String>| async move {
                    answer(
                        StatusCode::OK,
                        async { handlers::get_one(spec, s.db, id(&raw)?).await }.await,
                    )
                },
            )
            .put(
                move |State(s): State<AppState>, Path(raw): Path<String>, body: Bytes| async move {
                    answer(
                        StatusCode::OK,
                        async {
                            handlers::update(spec, s.db, id(&raw)?, body.to_vec(), Mode::Put).await
                        }
                        .await,
                    )
                },
            )
            .patch(
                move |State(s): State<AppState>, Path(raw): Path<String>, body: Bytes| async move {
                    answer(
                        StatusCode::OK,
                        async {
                            handlers::update(spec, s.db, id(&raw)?, body.to_vec(), Mode::Patch)
                                .await
                        }
                        .await,
                    )
                },
            )
            .delete(
                move |State(s): State<AppState>, Path(raw): Path<String>| async move {
                    no_content(async { delete::delete(spec, s.db, id(&raw)?).await }.await)
                },
            ),
        )
        .route(
            &format!("{item}/listings"),
            get(
                move |State(s): State<AppState>, Path(raw): Path<String>, Query(q): Q| async move {
                    answer(
                        StatusCode::OK,
                        async { handlers::listings_of(spec, s.db, id(&raw)?, q).await }.await,
                    )
                },
            ),
        )
}

fn listing_routes(router: Router<AppState>) -> Router<AppState> {
    let id = |raw: &str| parse_id("listing_id", raw);
    router
        .route(
            "/v1/listings/",
            post(|State(s): State<AppState>, body: Bytes| async move {
                answer(
                    StatusCode::CREATED,
                    listings::create(s.db, body.to_vec()).await,
                )
            }),
        )
        // Like the production API (FastAPI): the unslashed path redirects.
        .route(
            "/v1/listings",
            post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/v1/listings/")],
                )
                    .into_response()
            }),
        )
        .route(
            "/v1/listings/{listing_id}",
            get(
                move |State(s): State<AppState>, Path(raw): Path<String>| async move {
                    answer(
                        StatusCode::OK,
                        async { listings::get_one(s.db, id(&raw)?).await }.await,
                    )
                },
            )
            .delete(
                move |State(s): State<AppState>, Path(raw): Path<String>| async move {
                    no_content(async { listings::delete(s.db, id(&raw)?).await }.await)
                },
            ),
        )
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok", "environment": "development"})).into_response()
}

/// Time the request spends in the server before its span starts, as when it
/// waits for a worker: outside every span.
async fn queue_delay(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.queue_delay.is_zero() && req.uri().path().starts_with("/v1/") {
        tokio::time::sleep(state.queue_delay).await;
    }
    next.run(req).await
}

async fn delay(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.delay.is_zero() && req.uri().path().starts_with("/v1/") {
        tokio::time::sleep(state.delay).await;
    }
    next.run(req).await
}

/// The SERVER span: continues an incoming `traceparent`, names itself
/// `METHOD /route/{template}`, records the status.
async fn trace(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(telemetry) = state.telemetry.clone() else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let name = route
        .as_ref()
        .map_or_else(|| method.clone(), |r| format!("{method} {r}"));
    let parent = tracesplit_telemetry::extract_context(req.headers());
    async move {
        let span = tracing::info_span!(
            "http.server",
            "otel.name" = name.as_str(),
            "otel.kind" = "server",
            "otel.status_code" = tracing::field::Empty,
            "http.request.method" = method.as_str(),
            "http.route" = route.as_deref().unwrap_or(""),
            "url.path" = req.uri().path(),
            "http.response.status_code" = tracing::field::Empty,
        );
        let _ = span.set_parent(parent);
        let response = next.run(req).instrument(span.clone()).await;
        span.record("http.response.status_code", response.status().as_u16());
        if response.status().is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        response
    }
    .with_subscriber(telemetry.dispatch().clone())
    .await
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new().route("/health", get(health));
    for spec in ENTITIES {
        router = entity_routes(router, spec);
    }
    listing_routes(router)
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"detail": "Not Found"})),
            )
        })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(json!({"detail": "Method Not Allowed"})),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), delay))
        .layer(middleware::from_fn_with_state(state.clone(), trace))
        // Outermost: before the server span exists.
        .layer(middleware::from_fn_with_state(state.clone(), queue_delay))
        .with_state(state)
}
