//! Finding the caller's session: from `Authorization: Bearer` or the session cookie, looked up in
//! the session store in one round trip. If the store cannot be asked, nobody is authenticated.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use keyward_domain::access::Caller;
use keyward_domain::api_key::{self, ApiKeyCaller};
use keyward_domain::session::SessionToken;
use tracing::Instrument;

use super::cookies::Cookie;
use crate::config::Config;
use crate::graphql::context::CookieUpdate;
use crate::state::AppState;

/// Where the token came from: cookie requests need CSRF protection, bearer requests do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// The session cookie.
    Cookie,
}

/// The raw token the request presents, and where it came from. Only the session cookie name in
/// force counts (see [`Cookie::name`]).
pub fn presented_token(config: &Config, headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(token) = bearer_token(headers) {
        return Some((token, TokenSource::Bearer));
    }
    Cookie::Session.presented(config, headers).map(|value| (value, TokenSource::Cookie))
}

/// The token of an `Authorization: Bearer` header (empty when the header has another scheme).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or_default();
    Some(token.trim().to_owned())
}

/// Resolves the caller from a presented token: an API key (`kwk_…`) or a session token. Traced
/// as `session.lookup` (what was presented and the outcome; never the token).
pub async fn resolve_caller(state: &AppState, raw: Option<&str>) -> (Caller, Option<SessionToken>) {
    let span = crate::telemetry::session_span(&state.config);
    let (credential, caller, token) = resolve(state, raw).instrument(span.clone()).await;
    crate::telemetry::record_caller(&span, credential, &caller);
    (caller, token)
}

async fn resolve(state: &AppState, raw: Option<&str>) -> (&'static str, Caller, Option<SessionToken>) {
    if let Some(secret) = raw.filter(|raw| api_key::looks_like_secret(raw)) {
        return ("api_key", resolve_api_key(state, secret).await, None);
    }
    let Some(token) = raw.and_then(SessionToken::parse) else {
        return (if raw.is_some() { "session" } else { "none" }, Caller::Anonymous, None);
    };
    let now = Utc::now();
    let caller = match state.sessions.lookup(token.org_id(), &token.hash(), now).await {
        Ok(Some(mut session)) => {
            session.stage = session.effective_stage(now);
            Caller::Session(Box::new(session))
        }
        Ok(None) => Caller::Anonymous,
        Err(err) => {
            tracing::warn!(error = %err, "session store unavailable; failing closed");
            Caller::Unavailable(err.to_string())
        }
    };
    ("session", caller, Some(token))
}

/// The caller an API key secret makes: read from the database on every request, so a revocation
/// or an expiry takes effect on every instance at once.
async fn resolve_api_key(state: &AppState, secret: &str) -> Caller {
    use keyward_domain::pipeline_repo::ApiKeyRepo;
    let now = Utc::now();
    match state.db.api_key_by_hash(&api_key::hash_secret(secret)).await {
        Ok(Some(key)) if key.is_active(now) => {
            if key.last_use_stale(now) {
                let db = state.db.clone();
                // Recording the use must not slow the request, nor fail it.
                tokio::spawn(async move {
                    if let Err(err) = db.touch_api_key(key.id, now).await {
                        tracing::warn!(error = %err, key = %key.id, "could not record an API key's use");
                    }
                });
            }
            let caller = ApiKeyCaller { id: key.id, org_id: key.org_id, name: key.name, scopes: key.scopes };
            Caller::ApiKey(Box::new(caller))
        }
        Ok(_) => Caller::Anonymous,
        Err(err) => {
            tracing::warn!(error = %err, "database unavailable for an API key; failing closed");
            Caller::Unavailable(err.to_string())
        }
    }
}

/// A `Set-Cookie` value that sets or clears the session cookie.
pub fn cookie_header(state: &AppState, token: Option<&str>) -> HeaderValue {
    let update = match token {
        Some(token) => CookieUpdate::Set(token.to_owned()),
        None => CookieUpdate::Clear,
    };
    Cookie::Session.header(&state.config, &update).unwrap_or_else(|| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_wins_over_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; keyward_session=cookie-token"));
        let config = Config::default();
        assert_eq!(presented_token(&config, &headers), Some(("cookie-token".into(), TokenSource::Cookie)));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer bearer-token"));
        assert_eq!(presented_token(&config, &headers), Some(("bearer-token".into(), TokenSource::Bearer)));
    }

    #[test]
    fn no_token_means_none() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(presented_token(&Config::default(), &headers), None);
    }
}
