//! `GET /.well-known/jwks.json`: the public keys of step-up tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::JwkSet;
use keyward_domain::StoreError;
use keyward_domain::step_up_token::{JWKS_MAX_AGE_SECONDS, SigningKey};

use super::{TokenError, keys};
use crate::state::AppState;

/// Where the JWKS is served.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The JWK set of `published` keys (oldest first).
pub fn jwk_set(published: &[&SigningKey]) -> Result<JwkSet, TokenError> {
    let keys = published.iter().map(|key| keys::public_jwk(key)).collect::<Result<_, _>>()?;
    Ok(JwkSet { keys })
}

/// Serves the published keys. Verifiers may cache the answer for [`JWKS_MAX_AGE_SECONDS`]: a new
/// key is published that long before it signs.
pub async fn serve(State(app): State<AppState>) -> Response {
    match app.tokens.jwks().await {
        Ok(set) => {
            let cache = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))
                .expect("a valid header value");
            ([(header::CACHE_CONTROL, cache)], Json(set)).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot serve the JWKS");
            let status = match err {
                TokenError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body = Json(serde_json::json!({ "error": "the signing keys are unavailable; retry" }));
            (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], body).into_response()
        }
    }
}
