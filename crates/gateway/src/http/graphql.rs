//! `POST /graphql` and `GET /graphql`: one request at a time (no batching), JSON only (CSRF), with
//! the caller derived once from the server-side session.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_graphql::http::GraphiQLSource;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::cookies::Cookie;
use super::session::{presented_token, resolve_caller};
use crate::error::REQUEST_ID;
use crate::graphql::KeywardSchema;
use crate::graphql::context::{CookieUpdate, RequestContext};
use crate::graphql::gates::Transport;
use crate::state::AppState;

/// The schema and state the handlers need.
#[derive(Clone)]
pub struct GraphqlState {
    /// Application state.
    pub app: AppState,
    /// The schema.
    pub schema: KeywardSchema,
}

/// A JSON error response outside GraphQL execution (malformed requests).
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn request_id(headers: &HeaderMap) -> String {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /graphql`.
pub async fn post(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A cross-site form cannot send application/json without a CORS preflight, which we never
    // grant: requiring it is the CSRF defence for cookie sessions.
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send GraphQL requests as Content-Type: application/json",
        );
    }
    // A well-formed request is read once. Anything else (not an object, no query) takes the slow
    // path, which reads it again to say exactly what is wrong.
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) if is_object && !request.query.is_empty() => request,
        _ => match checked_request(&body) {
            Ok(request) => request,
            Err(message) => return error_response(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message),
        },
    };
    execute(state, peer, headers, request, Transport::Post).await
}

/// A POST body read step by step, so that each way it can be wrong gets its own message.
fn checked_request(body: &[u8]) -> Result<async_graphql::Request, String> {
    let value: Value = serde_json::from_slice(body).map_err(|err| format!("malformed JSON: {err}"))?;
    if value.is_array() {
        return Err("batched requests are not supported".into());
    }
    if !value.get("query").is_some_and(Value::is_string) {
        return Err("the request needs a \"query\" string".into());
    }
    serde_json::from_value(value)
        .map_err(|err| format!("expected {{\"query\": …, \"variables\": …, \"operationName\": …}}: {err}"))
}

/// Query-string form of a GraphQL request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    operation_name: Option<String>,
}

/// `GET /graphql`: GraphiQL without a query (when enabled, only with introspection, under its own
/// relaxed Content-Security-Policy), otherwise a read-only query.
pub async fn get(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    let Some(query) = params.query else {
        if state.app.config.graphiql_enabled() {
            let page = Html(GraphiQLSource::build().endpoint("/graphql").finish());
            return ([(header::CONTENT_SECURITY_POLICY, super::headers::GRAPHIQL_CONTENT_SECURITY_POLICY)], page)
                .into_response();
        }
        return error_response(StatusCode::METHOD_NOT_ALLOWED, "BAD_USER_INPUT", "POST GraphQL requests to /graphql");
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        match serde_json::from_str(&variables) {
            Ok(vars) => request = request.variables(async_graphql::Variables::from_json(vars)),
            Err(err) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    &format!("malformed variables: {err}"),
                );
            }
        }
    }
    execute(state, peer, headers, request, Transport::Get).await
}

/// Deepest bracket nesting (`{`, `[`, `(`) a query text may have. async-graphql's parser bounds
/// the depth of selection sets but not of list and object values, and recurses once per level: a
/// few kilobytes of `[[[[…]]]]` would overflow a worker's stack and abort the whole process.
pub const MAX_QUERY_NESTING: usize = 64;

/// The deepest bracket nesting in a GraphQL document, not counting brackets in strings, block
/// strings or comments. One pass, no recursion, whatever the input.
pub fn nesting_depth(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

async fn execute(
    state: GraphqlState,
    peer: SocketAddr,
    headers: HeaderMap,
    request: async_graphql::Request,
    transport: Transport,
) -> Response {
    if nesting_depth(&request.query) > MAX_QUERY_NESTING {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("the query nests brackets deeper than {MAX_QUERY_NESTING} levels; send deep values as variables"),
        );
    }
    let config = &state.app.config;
    let presented = presented_token(config, &headers);
    let (caller, token) = resolve_caller(&state.app, presented.as_ref().map(|(t, _)| t.as_str())).await;
    let cookie = Arc::new(Mutex::new(CookieUpdate::Keep));
    let other_cookies = Arc::new(Mutex::new(Vec::new()));
    // Behind trusted load balancers, rate limits and the audit trail must see the client, not the proxy.
    let ip = super::client_ip::client_ip(peer, &headers, &config.trusted_proxies);
    let context = RequestContext {
        caller,
        token,
        presented: presented.map(|(t, _)| t),
        ip: Some(ip.to_string()),
        cookie: Arc::clone(&cookie),
        sso_binding: Cookie::SsoBinding.presented(config, &headers),
        other_cookies: Arc::clone(&other_cookies),
    };
    let request = request.data(context).data(transport);
    let id = request_id(&headers);
    let mut response = REQUEST_ID.scope(id, state.schema.execute(request)).await;
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        // Only async-graphql's own parse/validation/limit errors come without a code.
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
        }
        if let Some(async_graphql::Value::String(code)) = ext.get("code") {
            state.app.metrics.record_error(code);
        }
    }
    let body = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    let mut http = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    let session = std::mem::take(&mut *cookie.lock().unwrap_or_else(|p| p.into_inner()));
    let others = std::mem::take(&mut *other_cookies.lock().unwrap_or_else(|p| p.into_inner()));
    for (cookie, update) in std::iter::once((Cookie::Session, session)).chain(others) {
        if let Some(value) = cookie.header(config, &update) {
            http.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    http.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    http
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting_depth(""), 0);
        assert_eq!(nesting_depth("{ viewer { id } }"), 2);
        assert_eq!(nesting_depth("mutation { f(x: [[1], {a: [2]}]) { id } }"), 5);
        assert_eq!(nesting_depth(&format!("{{ f(x: {}1{}) }}", "[".repeat(500), "]".repeat(500))), 502);
        assert_eq!(nesting_depth(r#"{ f(s: "[[[[\"{{{{") }"#), 2, "strings, with escaped quotes");
        assert_eq!(nesting_depth("{ f(s: \"\"\"[[[ \\\"\"\" ((( \"\"\") }"), 2, "block strings");
        assert_eq!(nesting_depth("# [[[[[\n{ a }"), 1, "comments");
        assert_eq!(nesting_depth("]]]]{ a }"), 1, "stray closers do not go negative");
        assert_eq!(nesting_depth("{ \"unterminated [[[["), 1);
    }
}
