//! The cookies Keyward sets. Away from localhost their names carry the `__Host-` prefix: the
//! browser then accepts them only `Secure`, with `Path=/` and no `Domain`, so no sibling subdomain
//! can plant or overwrite them (which would defeat the SSO binding cookie).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};

use crate::config::Config;
use crate::graphql::context::CookieUpdate;

/// A cookie Keyward sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookie {
    /// The session token (`SameSite=Strict`, lives as long as a session may).
    Session,
    /// Binds an SSO login or link to the browser that started it (RFC 6749 §10.12): a random
    /// value whose hash the ceremony keeps. `SameSite=Lax`, so the browser sends it on the IdP's
    /// top-level redirect to the callback; `Path=/`, so both the callback and `POST /graphql`
    /// (`ssoLoginFinish`, `ssoLinkFinish`) receive it, which a cookie scoped to the callback's
    /// path would not be, and because the `__Host-` prefix requires it. Lives a minute longer
    /// than a ceremony, so a login that took too long is reported as `CEREMONY_EXPIRED`.
    SsoBinding,
}

impl Cookie {
    /// The cookie's name under `config`.
    pub fn name(self, config: &Config) -> &'static str {
        match (self, config.is_local()) {
            (Cookie::Session, true) => "keyward_session",
            (Cookie::Session, false) => "__Host-keyward_session",
            (Cookie::SsoBinding, true) => "keyward_sso",
            (Cookie::SsoBinding, false) => "__Host-keyward_sso",
        }
    }

    /// The value the request presents for this cookie (under the name in force only).
    pub fn presented(self, config: &Config, headers: &HeaderMap) -> Option<String> {
        let name = self.name(config);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }

    /// The `Set-Cookie` value that applies `update`, if it changes anything.
    pub fn header(self, config: &Config, update: &CookieUpdate) -> Option<HeaderValue> {
        let (same_site, lifetime) = match self {
            Cookie::Session => ("Strict", config.session.absolute_ttl),
            Cookie::SsoBinding => ("Lax", config.ceremony.ttl + Duration::from_secs(60)),
        };
        let (value, max_age) = match update {
            CookieUpdate::Keep => return None,
            CookieUpdate::Set(value) => (value.as_str(), lifetime.as_secs()),
            CookieUpdate::Clear => ("", 0),
        };
        let secure = if config.is_local() { "" } else { "; Secure" };
        let name = self.name(config);
        let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}");
        HeaderValue::from_str(&cookie).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public_url: &str) -> Config {
        Config { public_url: public_url.parse().unwrap(), ..Config::default() }
    }

    #[test]
    fn away_from_localhost_cookies_are_host_prefixed_and_secure() {
        let public = config("https://keyward.example.com");
        let set = Cookie::Session.header(&public, &CookieUpdate::Set("t".into())).unwrap();
        assert_eq!(set, "__Host-keyward_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure");
        let binding = Cookie::SsoBinding.header(&public, &CookieUpdate::Set("b".into())).unwrap();
        assert_eq!(binding, "__Host-keyward_sso=b; Path=/; HttpOnly; SameSite=Lax; Max-Age=360; Secure");
        let local = config("http://localhost:8080");
        let clear = Cookie::Session.header(&local, &CookieUpdate::Clear).unwrap();
        assert_eq!(clear, "keyward_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        assert_eq!(Cookie::Session.header(&local, &CookieUpdate::Keep), None);
    }

    #[test]
    fn only_the_name_in_force_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("keyward_session=plain; __Host-keyward_sso=b"));
        let (public, local) = (config("https://keyward.example.com"), config("http://localhost:8080"));
        assert_eq!(Cookie::Session.presented(&public, &headers), None);
        assert_eq!(Cookie::Session.presented(&local, &headers).as_deref(), Some("plain"));
        assert_eq!(Cookie::SsoBinding.presented(&public, &headers).as_deref(), Some("b"));
        assert_eq!(Cookie::SsoBinding.presented(&local, &headers), None);
    }
}
