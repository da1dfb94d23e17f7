//! API errors in the catalog's wire format (`{"detail": …}`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// An error answer of the catalog API.
#[derive(Debug)]
pub enum ApiError {
    /// 404 with a message.
    NotFound(String),
    /// 409 with a message (usage check, only default profile).
    Conflict(String),
    /// 400 with a message (duplicate create, empty get-or-create body).
    BadRequest(String),
    /// 422 with a message (rename to a taken name).
    Unprocessable(String),
    /// 422 with pydantic-style error items.
    Validation(Vec<Value>),
    /// 500 "Database error occurred" (details logged, not sent).
    Database(String),
}

/// One pydantic-style validation item.
pub fn item(kind: &str, loc: &[&str], msg: &str, input: Value) -> Value {
    json!({"type": kind, "loc": loc, "msg": msg, "input": input})
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match self {
            Self::NotFound(m) => (StatusCode::NOT_FOUND, Value::String(m)),
            Self::Conflict(m) => (StatusCode::CONFLICT, Value::String(m)),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, Value::String(m)),
            Self::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, Value::String(m)),
            Self::Validation(items) => (StatusCode::UNPROCESSABLE_ENTITY, Value::Array(items)),
            Self::Database(m) => {
                tracing::error!("database error: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Value::String("Database error occurred. Please try again later.".into()),
                )
            }
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}
