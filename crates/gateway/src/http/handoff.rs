//! `POST /cli/handoff` and `POST /cli/handoff/poll`: a terminal asks for a browser hand-off and
//! collects its result once (see the step-up contract's "CLI hand-off").
//!
//! Errors are JSON `{code, message}` with the API's stable codes (plus `field` or
//! `retryAfterSeconds`). Both routes are rate-limited per client network.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::access::{Gate, authorize};
use keyward_domain::handoff::{
    self, BoundSession, DEFAULT_TTL, Handoff, HandoffId, HandoffKind, LOGIN_ACTION, POLL_INTERVAL_SECONDS,
};
use keyward_domain::rate_limit::{self, network_of};
use keyward_domain::step_up::{validate_action, validate_resource};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client_ip::client_ip;
use super::json_error::{json_error, status_of};
use super::session::{bearer_token, resolve_caller};
use crate::state::AppState;

/// `POST /cli/handoff`'s body.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum CreateRequest {
    Login,
    StepUp {
        action: String,
        resource: Option<String>,
        #[serde(default)]
        token: bool,
    },
}

/// `POST /cli/handoff/poll`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollRequest {
    id: String,
    poll_secret: String,
}

/// A JSON error with the stable code of `err`.
pub fn error(err: &DomainError) -> Response {
    json_error(status_of(err), err)
}

/// The one answer to a poll for an unknown or expired hand-off, or with a wrong secret.
fn not_found() -> Response {
    let message = "unknown or expired hand-off (or a wrong poll secret): start again in your terminal";
    (StatusCode::NOT_FOUND, axum::Json(json!({ "code": "NOT_FOUND", "message": message }))).into_response()
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DomainError> {
    serde_json::from_slice(body).map_err(|e| DomainError::bad_input("body", format!("not a valid request: {e}")))
}

/// Counts one request of `what` against the client's network.
async fn limit(
    app: &AppState,
    what: &str,
    limit: rate_limit::Limit,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), DomainError> {
    let ip = client_ip(peer, headers, &app.config.trusted_proxies).to_string();
    let bucket = format!("{what}:{}", network_of(Some(&ip)));
    rate_limit::check(app.rate_limiter.as_ref(), &bucket, limit, Utc::now()).await
}

/// A step-up's action and resource, as `stepUpBegin` will accept them.
fn check_target(action: &str, resource: Option<&str>) -> Result<(), DomainError> {
    validate_action(action)?;
    if action == LOGIN_ACTION {
        return Err(DomainError::bad_input("action", "cli.login is for login hand-offs: use {\"kind\": \"login\"}"));
    }
    resource.map_or(Ok(()), validate_resource)
}

/// The CLI session a step-up hand-off is asked for with (`Authorization: Bearer`), if any. A
/// token that names no live, fully logged-in session is refused rather than ignored, so a
/// terminal never silently loses its binding.
async fn bound_session(app: &AppState, headers: &HeaderMap) -> Result<Option<BoundSession>, DomainError> {
    let Some(token) = bearer_token(headers) else { return Ok(None) };
    let (caller, _) = resolve_caller(app, Some(&token)).await;
    authorize(&caller, Gate::Member)?;
    Ok(caller.session().map(BoundSession::of))
}

/// The browser page that approves `handoff`: `<public_url>/step-up?action=&resource=&handoff=&code=`.
pub fn verification_url(app: &AppState, handoff: &Handoff) -> String {
    let (action, resource) = handoff.target();
    let mut url = app.config.public_url.join("step-up").unwrap_or_else(|_| app.config.public_url.clone());
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("action", &action);
        if let Some(resource) = &resource {
            query.append_pair("resource", resource);
        }
        query.append_pair("handoff", &handoff.id.to_string());
        query.append_pair("code", &handoff.user_code);
    }
    url.to_string()
}

async fn create(app: &AppState, peer: SocketAddr, headers: &HeaderMap, body: &[u8]) -> Result<Value, DomainError> {
    limit(app, "handoff-create", handoff::CREATE_PER_NETWORK, peer, headers).await?;
    let (kind, bound) = match parse::<CreateRequest>(body)? {
        CreateRequest::Login => (HandoffKind::Login, None),
        CreateRequest::StepUp { action, resource, token } => {
            check_target(&action, resource.as_deref())?;
            let bound = bound_session(app, headers).await?;
            if bound.is_none() && !token {
                return Err(DomainError::bad_input(
                    "token",
                    "without a session (Authorization: Bearer) a step-up hand-off can only deliver a token: set \"token\": true",
                ));
            }
            (HandoffKind::StepUp { action, resource, want_token: token }, bound)
        }
    };
    let now = Utc::now();
    let mut new = Handoff::create(kind, bound, rand::random(), crate::secrets::random_token_bytes(), now, DEFAULT_TTL);
    new.handoff.client_ip = Some(client_ip(peer, headers, &app.config.trusted_proxies).to_string());
    app.handoffs.create_handoff(&new.handoff, now).await?;
    Ok(json!({
        "id": new.handoff.id.to_string(),
        "userCode": new.handoff.user_code,
        "verificationUrl": verification_url(app, &new.handoff),
        "pollSecret": new.poll_secret,
        "expiresIn": new.handoff.expires_in(now),
        "interval": POLL_INTERVAL_SECONDS,
    }))
}

/// What a poll found: still pending, or the result (delivered now, once).
enum Polled {
    Pending,
    Complete(Value),
}

async fn poll(app: &AppState, peer: SocketAddr, headers: &HeaderMap, body: &[u8]) -> Result<Polled, DomainError> {
    limit(app, "handoff-poll", handoff::POLL_PER_NETWORK, peer, headers).await?;
    let request: PollRequest = parse(body)?;
    // Unknown, expired and wrong-secret polls get the same answer: nothing to learn from it.
    let id: HandoffId = request.id.parse().map_err(|_| DomainError::NotFound)?;
    let now = Utc::now();
    let found = app.handoffs.handoff(id, now).await?.ok_or(DomainError::NotFound)?;
    if found.is_expired(now) || !found.poll_secret_matches(&request.poll_secret) {
        return Err(DomainError::NotFound);
    }
    if found.result.is_none() {
        return Ok(Polled::Pending);
    }
    let taken = app.handoffs.take_completed_handoff(id, now).await?.ok_or(DomainError::NotFound)?;
    let result = taken.result.ok_or(DomainError::NotFound)?;
    let mut body = json!({ "status": "complete" });
    if let Some(session_token) = result.session_token {
        body["sessionToken"] = json!(session_token);
    }
    if let Some(token) = result.token {
        body["token"] = json!(token);
    }
    if let Some(grant) = result.grant {
        body["grant"] = grant;
    }
    Ok(Polled::Complete(body))
}

/// `POST /cli/handoff`: `{kind: "login"}` or `{kind: "step_up", action, resource, token}`,
/// optionally with `Authorization: Bearer <session>` to bind a step-up to that session.
pub async fn create_route(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match create(&app, peer, &headers, &body).await {
        Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(err) => error(&err),
    }
}

/// `POST /cli/handoff/poll`: `{id, pollSecret}` → 202 pending, 200 complete (once), 404.
pub async fn poll_route(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match poll(&app, peer, &headers, &body).await {
        Ok(Polled::Pending) => (StatusCode::ACCEPTED, axum::Json(json!({ "status": "pending" }))).into_response(),
        Ok(Polled::Complete(answer)) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(DomainError::NotFound) => not_found(),
        Err(err) => error(&err),
    }
}
