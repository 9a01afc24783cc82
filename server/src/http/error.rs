//! The API's errors, always as JSON `{"error": MESSAGE}`, and the extractors that turn a bad
//! body or query into one of them instead of axum's plain-text rejections.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::time::Duration;

/// How long a client may take to send a request body (3 MiB at most): a slow sender must not
/// hold a connection and a task for ever.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors as responses: the message is for the client; nothing secret goes in it.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    /// The request conflicts with the run's state (it has ended, say).
    Conflict(String),
    Unauthorized,
    /// Well-formed, but more work than the server does for one request.
    Unprocessable(String),
    /// Too many requests of this kind at once; try again after `retry_after` seconds.
    Busy {
        retry_after: u64,
        message: String,
    },
    /// A body or query that axum's extractors refused, with their status (400, 408, 413, 415, 422).
    Rejected(StatusCode, String),
    Internal(anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (see the token the server printed at first start)".into(),
            ),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            ApiError::Busy { retry_after, message } => {
                let mut r = (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": message }))).into_response();
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                return r;
            }
            ApiError::Rejected(status, m) => (status, m),
            ApiError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log".into())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// `Json<T>` whose rejections are `ApiError`s, and whose body must arrive within
/// [`BODY_READ_TIMEOUT`].
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match tokio::time::timeout(BODY_READ_TIMEOUT, Json::<T>::from_request(req, state)).await {
            Ok(Ok(Json(v))) => Ok(ApiJson(v)),
            Ok(Err(rejection)) => Err(ApiError::Rejected(rejection.status(), rejection.body_text())),
            Err(_) => Err(ApiError::Rejected(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
            )),
        }
    }
}

/// `Query<T>` whose rejections are `ApiError`s (400 with serde's message).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(ApiError::Rejected(rejection.status(), rejection.body_text())),
        }
    }
}
