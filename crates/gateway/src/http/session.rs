//! Finding the caller's session: from `Authorization: Bearer` or the session cookie, looked up in
//! the session store in one round trip. If the store cannot be asked, nobody is authenticated.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use keyward_domain::access::Caller;
use keyward_domain::session::SessionToken;

use crate::state::AppState;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "keyward_session";

/// Where the token came from: cookie requests need CSRF protection, bearer requests do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// The session cookie.
    Cookie,
}

/// The raw token the request presents, and where it came from.
pub fn presented_token(headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or_default();
        return Some((token.trim().to_owned(), TokenSource::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| (value.to_owned(), TokenSource::Cookie))
}

/// Resolves the caller from a presented token.
pub async fn resolve_caller(state: &AppState, raw: Option<&str>) -> (Caller, Option<SessionToken>) {
    let Some(token) = raw.and_then(SessionToken::parse) else {
        return (Caller::Anonymous, None);
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
    (caller, Some(token))
}

/// A `Set-Cookie` value that sets or clears the session cookie.
pub fn cookie_header(state: &AppState, token: Option<&str>) -> HeaderValue {
    let secure = if state.config.is_local() { "" } else { "; Secure" };
    let value = match token {
        Some(token) => format!(
            "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            state.config.session.absolute_ttl.as_secs()
        ),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_wins_over_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; keyward_session=cookie-token"));
        assert_eq!(presented_token(&headers), Some(("cookie-token".into(), TokenSource::Cookie)));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer bearer-token"));
        assert_eq!(presented_token(&headers), Some(("bearer-token".into(), TokenSource::Bearer)));
    }

    #[test]
    fn no_token_means_none() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(presented_token(&headers), None);
    }
}
