//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket (`graphql-transport-ws`, and the older
//! `graphql-ws`). The caller is whoever the `connection_init` payload's `Authorization: Bearer`
//! names, or else the session cookie of the upgrade request. A cookie only counts when the
//! browser's `Origin` is one of Keyward's own, so another site cannot open a socket as its
//! visitor (cross-site WebSocket hijacking).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::Value;

use super::cookies::Cookie;
use super::graphql::GraphqlState;
use super::session::resolve_caller;
use crate::graphql::context::{CookieUpdate, RequestContext};
use crate::graphql::gates::Transport;

/// The path.
pub const WS_PATH: &str = "/graphql/ws";

fn same_origin(state: &GraphqlState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    state.app.config.origins().iter().any(|allowed| allowed.origin().ascii_serialization() == origin)
}

fn bearer_of(payload: &Value) -> Option<String> {
    let value = payload.get("Authorization").or_else(|| payload.get("authorization"))?.as_str()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

/// Upgrades to a GraphQL WebSocket.
pub async fn upgrade(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let config = &state.app.config;
    let cookie = Cookie::Session.presented(config, &headers).filter(|_| same_origin(&state, &headers));
    let ip = super::client_ip::client_ip(peer, &headers, &config.trusted_proxies).to_string();
    let schema = state.schema.clone();
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        GraphQLWebSocket::new(socket, schema, protocol)
            .on_connection_init(move |payload| async move {
                let presented = bearer_of(&payload).or(cookie);
                let (caller, token) = resolve_caller(&state.app, presented.as_deref()).await;
                let mut data = Data::default();
                data.insert(RequestContext {
                    caller,
                    token,
                    presented,
                    ip: Some(ip),
                    cookie: Arc::new(Mutex::new(CookieUpdate::Keep)),
                    sso_binding: None,
                    other_cookies: Arc::new(Mutex::new(Vec::new())),
                });
                data.insert(Transport::WebSocket);
                Ok(data)
            })
            .serve()
            .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_may_carry_a_bearer_token() {
        assert_eq!(bearer_of(&serde_json::json!({"Authorization": "Bearer kwk_x"})), Some("kwk_x".into()));
        assert_eq!(bearer_of(&serde_json::json!({"authorization": "bearer s"})), Some("s".into()));
        assert_eq!(bearer_of(&serde_json::json!({"Authorization": "Basic x"})), None);
        assert_eq!(bearer_of(&serde_json::json!(null)), None);
    }
}
