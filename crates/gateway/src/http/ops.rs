//! Operational endpoints: liveness (on both listeners), readiness and metrics (on the management
//! listener only).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use keyward_domain::repo::OrganizationRepo;
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#).into_response()
}

/// `GET /readyz` and `GET /metrics` on the public listener: 404, they are served on the
/// management listener only.
pub async fn on_management_listener() -> Response {
    let body = r#"{"error":"not found: this endpoint is served on the management listener (management_listen)"}"#;
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /readyz`: 200 only when the database and the session store answer; 503 with the reasons.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (db, sessions) = tokio::join!(state.db.ping(), state.sessions.ping());
    let describe = |result: &Result<(), keyward_domain::StoreError>| match result {
        Ok(()) => "ok".to_owned(),
        Err(err) => err.to_string(),
    };
    let ready = db.is_ok() && sessions.is_ok();
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": describe(&db),
        "sessionStore": describe(&sessions),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `GET /metrics`: Prometheus text format. Live-session gauges are refreshed at scrape time.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let now = Utc::now();
    match state.db.organizations().await {
        Ok(orgs) => {
            for org in orgs {
                match state.sessions.live_sessions(org.id, now).await {
                    Ok(count) => state.metrics.set_live_sessions(&org.slug, count),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot count live sessions for metrics")
                    }
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot list organizations for metrics"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
        .into_response()
}
