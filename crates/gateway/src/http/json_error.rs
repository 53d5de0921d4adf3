//! JSON error answers of the plain HTTP routes (forward auth, the terminal hand-off): the stable
//! `code` from the one mapping in `crate::error`, a message, and what a client acts on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_domain::DomainError;
use serde_json::json;

use crate::error::code_of;

/// The HTTP status that goes with `err` on these routes.
pub fn status_of(err: &DomainError) -> StatusCode {
    match code_of(err) {
        "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        "SERVICE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::FORBIDDEN,
    }
}

/// `{code, message, field?, retryAfterSeconds?}` with `status`; internals never leak.
pub fn json_error(status: StatusCode, err: &DomainError) -> Response {
    let code = code_of(err);
    let message = match code {
        "INTERNAL" => {
            tracing::error!(error = %err, "request failed");
            "internal error".to_owned()
        }
        "SERVICE_UNAVAILABLE" => "a backing service is unavailable; try again shortly".to_owned(),
        _ => err.to_string(),
    };
    let mut body = json!({ "code": code, "message": message });
    match err {
        DomainError::BadInput { field, .. } => body["field"] = json!(field),
        DomainError::RateLimited { retry_after_seconds } => body["retryAfterSeconds"] = json!(retry_after_seconds),
        _ => {}
    }
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let DomainError::RateLimited { retry_after_seconds } = err
        && let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string())
    {
        headers.insert(header::RETRY_AFTER, value);
    }
    response
}
