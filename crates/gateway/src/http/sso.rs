//! `GET /auth/sso/callback`: where the IdP sends the browser back. It finishes the login like
//! `ssoLoginFinish` (with the browser's SSO binding cookie, which it then clears), sets the
//! session cookie and redirects into the SPA; failures redirect to the login screen with the
//! error's stable code. A linking or test callback goes on to the SPA instead, whose
//! `ssoLinkFinish` or `ssoTestFinish` carries the binding cookie.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::cookies::Cookie;
use super::session::cookie_header;
use crate::auth::sso;
use crate::error::code_of;
use crate::graphql::context::CookieUpdate;
use crate::state::AppState;

/// What the IdP appends to the redirect.
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn redirect(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_owned())]).into_response()
}

/// Finishes SSO from the browser's redirect.
pub async fn callback(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let linking = params.state.as_deref().is_some_and(sso::is_link_state);
    let testing = params.state.as_deref().is_some_and(sso::is_test_state);
    let (Some(code), Some(state)) = (params.code, params.state) else {
        let code = if params.error.as_deref() == Some("access_denied") { "FORBIDDEN" } else { "BAD_USER_INPUT" };
        let page = if linking || testing { "/org/sso" } else { "/login" };
        return redirect(&format!("{page}?error={code}"));
    };
    if linking || testing {
        // The SameSite=Strict session cookie is absent on this cross-site redirect; the SPA finishes
        // the link (`ssoLinkFinish`) or the test (`ssoTestFinish`) from the session that began it.
        let (code_param, state_param) = if linking { ("linkCode", "linkState") } else { ("testCode", "testState") };
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(code_param, &code)
            .append_pair(state_param, &state)
            .finish();
        return redirect(&format!("/org/sso?{query}"));
    }
    let ip = super::client_ip::client_ip(peer, &headers, &app.config.trusted_proxies);
    let binding = Cookie::SsoBinding.presented(&app.config, &headers);
    let finished = match sso::finish(&app, &code, &state, binding.as_deref(), Some(ip.to_string())).await {
        Ok(issued) => crate::auth::session::record_if_complete(&app, &issued).await.map(|()| issued),
        Err(err) => Err(err),
    };
    let mut response = match finished {
        Ok(issued) => {
            let mut response = redirect("/");
            response.headers_mut().append(header::SET_COOKIE, cookie_header(&app, Some(&issued.token.expose())));
            response
        }
        Err(err) => {
            tracing::info!(error = %err, "SSO callback refused");
            redirect(&format!("/login?error={}", code_of(&err)))
        }
    };
    // The ceremony is single-use, so its binding cookie is spent whatever the outcome.
    if let Some(clear) = Cookie::SsoBinding.header(&app.config, &CookieUpdate::Clear) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}
