//! `GET /auth/verify?action=A&resource=R`: step-up for tools behind Keyward, on the contract of
//! nginx `auth_request`, Traefik ForwardAuth and Envoy `ext_authz`. It runs on every request of
//! the protected tool, so it costs what the session check costs: one Redis round trip (the
//! session, its grants and the policy version together) and a cached, compiled policy.
//!
//! 200 with `X-Keyward-Member`, `X-Keyward-User` and `X-Keyward-Org` when the session meets the
//! policy; 401 without a (fully logged-in) session; 403 with `{code: "STEP_UP_REQUIRED",
//! stepUpUrl, …}` (and the URL in `X-Keyward-Step-Up-Url`) when a fresh key touch is needed, or `{code: "POLICY_DENIED", reason}`; 400 for
//! a malformed request; 503 when the session store cannot be asked. Never 200 otherwise.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::access::{Caller, Gate, authorize};
use serde_json::{Value, json};

use super::json_error::{json_error, status_of};
use super::session::{presented_token, resolve_caller};
use crate::auth::step_up::{Ask, require};
use crate::error::code_of;
use crate::state::AppState;

/// The parameters: `action` (required), `resource`, and `label.<name>=<value>` for the policy.
#[derive(Debug, Default, PartialEq)]
struct Params {
    action: String,
    resource: Option<String>,
    labels: serde_json::Map<String, Value>,
}

const MAX_LABELS: usize = 16;

fn parse(query: Option<&str>) -> Result<Params, String> {
    let mut params = Params::default();
    let mut action = None;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "action" if action.is_none() => action = Some(value.into_owned()),
            "resource" if params.resource.is_none() => params.resource = Some(value.into_owned()),
            "action" | "resource" => return Err(format!("{name} is given twice")),
            other => {
                let Some(label) = other.strip_prefix("label.").filter(|l| !l.is_empty() && l.len() <= 64) else {
                    return Err(format!("unknown parameter {other:?}"));
                };
                if params.labels.len() >= MAX_LABELS {
                    return Err(format!("at most {MAX_LABELS} labels"));
                }
                params.labels.insert(label.to_owned(), Value::from(value.chars().take(200).collect::<String>()));
            }
        }
    }
    params.action = action.ok_or("the action parameter is required, e.g. ?action=k8s.exec&resource=prod/cluster-a")?;
    Ok(params)
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Only a same-origin path may be returned to: `/…`, never `//host` or `/\host`.
fn safe_return(uri: Option<&str>) -> Option<&str> {
    uri.filter(|u| u.starts_with('/') && !u.starts_with("//") && !u.starts_with("/\\") && u.len() <= 2048)
        .filter(|u| !u.chars().any(char::is_control))
}

/// Where the person completes the step-up in the SPA, returning to `original` afterwards.
fn step_up_url(app: &AppState, params: &Params, original: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("action", &params.action);
    if let Some(resource) = &params.resource {
        query.append_pair("resource", resource);
    }
    if let Some(original) = safe_return(original) {
        query.append_pair("return", original);
    }
    let mut url = app.config.public_url.clone();
    url.set_path("/step-up");
    url.set_query(Some(&query.finish()));
    url.to_string()
}

/// The handler.
pub async fn verify(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parse(query.as_deref()) {
        Ok(params) => params,
        Err(message) => {
            return answer(StatusCode::BAD_REQUEST, json!({ "code": "BAD_USER_INPUT", "message": message }));
        }
    };
    let presented = presented_token(&app.config, &headers);
    let (caller, _) = resolve_caller(&app, presented.as_ref().map(|(t, _)| t.as_str())).await;
    if let Err(err) = authorize(&caller, Gate::Member) {
        return refused(&app, &params, &headers, err);
    }
    let Caller::Session(session) = &caller else {
        return answer(StatusCode::UNAUTHORIZED, json!({ "code": "UNAUTHENTICATED" }));
    };
    let ip = super::client_ip::client_ip(peer, &headers, &app.config.trusted_proxies);
    let facts = super::request_meta::request_facts(Some(ip.to_string()));
    let ask =
        Ask { own: false, action: &params.action, resource: params.resource.as_deref(), labels: params.labels.clone() };
    match require(&app, session, &ask, &facts, Utc::now()).await {
        Ok(()) => {
            let mut response = answer(StatusCode::OK, json!({ "code": "OK" }));
            let out = response.headers_mut();
            let mut set = |name: &'static str, value: String| {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    out.insert(name, value);
                }
            };
            set("x-keyward-member", session.member_id.to_string());
            set("x-keyward-org", session.org_id.to_string());
            set("x-keyward-user", session.facts.username.clone());
            response
        }
        Err(err) => refused(&app, &params, &headers, err),
    }
}

fn refused(app: &AppState, params: &Params, headers: &HeaderMap, err: DomainError) -> Response {
    let code = code_of(&err);
    match err {
        DomainError::StepUpRequired { action, resource, max_age_seconds, reason } => {
            let original = headers.get("x-original-uri").and_then(|v| v.to_str().ok());
            let url = step_up_url(app, params, original);
            let body = json!({
                "code": code,
                "stepUpUrl": url,
                "action": action,
                "resource": resource,
                "maxAgeSeconds": max_age_seconds,
                "reason": reason,
            });
            // Proxies can read headers of the subrequest but not its body (nginx `auth_request_set`).
            let mut response = answer(StatusCode::FORBIDDEN, body);
            if let Ok(value) = HeaderValue::from_str(&url) {
                response.headers_mut().insert("x-keyward-step-up-url", value);
            }
            response
        }
        DomainError::PolicyDenied(reason) | DomainError::StepUpDenied { reason, .. } => {
            answer(StatusCode::FORBIDDEN, json!({ "code": code, "reason": reason }))
        }
        // A login that has not touched its key is no session yet, for the proxy as for the tool.
        DomainError::MfaRequired | DomainError::MfaRegistrationRequired => json_error(StatusCode::UNAUTHORIZED, &err),
        other => json_error(status_of(&other), &other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_parsed_strictly() {
        let params = parse(Some("action=k8s.exec&resource=prod%2Fcluster-a&label.team=infra")).unwrap();
        assert_eq!(params.action, "k8s.exec");
        assert_eq!(params.resource.as_deref(), Some("prod/cluster-a"));
        assert_eq!(params.labels["team"], "infra");
        assert!(parse(None).is_err());
        assert!(parse(Some("resource=x")).is_err());
        assert!(parse(Some("action=a.b&action=c.d")).is_err(), "a second action could confuse a proxy");
        assert!(parse(Some("action=a.b&user=root")).is_err());
        let many: String = (0..=MAX_LABELS).map(|i| format!("&label.l{i}=v")).collect();
        assert!(parse(Some(&format!("action=a.b{many}"))).is_err());
    }

    #[test]
    fn only_same_origin_paths_are_returned_to() {
        assert_eq!(safe_return(Some("/grafana/d/1?x=1")), Some("/grafana/d/1?x=1"));
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "", "/a\r\nb"] {
            assert_eq!(safe_return(Some(bad)), None, "{bad:?}");
        }
    }
}
