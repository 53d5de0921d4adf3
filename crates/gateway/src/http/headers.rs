//! Security headers on every response, errors and SPA files included: a Content-Security-Policy
//! for the SPA that allows no inline script, no framing (clickjacking), no MIME sniffing, no
//! referrer, and HSTS when `public_url` is https. A handler that needs another policy (GraphiQL)
//! sets its own header, which is kept.

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

use crate::config::Config;

/// The policy for the SPA and every other response: the built SPA is one script and one
/// stylesheet from its own origin, and talks only to its own origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The policy of the GraphiQL page alone: it is an inline script loading React and GraphiQL from
/// unpkg.com. It is served only while introspection is on (by default only on localhost).
pub const GRAPHIQL_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'self' 'unsafe-inline' https://unpkg.com; style-src 'self' 'unsafe-inline' https://unpkg.com; \
     font-src 'self' data: https://unpkg.com; img-src 'self' data: https://graphql.org; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The headers every response carries under a configuration.
#[derive(Clone, Debug)]
pub struct SecurityHeaders(Arc<Vec<(HeaderName, HeaderValue)>>);

impl SecurityHeaders {
    /// The headers for `config`: HSTS only when `public_url` is https.
    pub fn new(config: &Config) -> Self {
        let mut headers = vec![
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ];
        if config.public_url.scheme() == "https" {
            headers.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            ));
        }
        Self(Arc::new(headers))
    }
}

impl SecurityHeaders {
    /// Adds the headers `response` does not set itself.
    pub fn apply(&self, response: &mut Response) {
        for (name, value) in self.0.iter() {
            response.headers_mut().entry(name).or_insert_with(|| value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(config: &Config) -> Vec<HeaderName> {
        SecurityHeaders::new(config).0.iter().map(|(name, _)| name.clone()).collect()
    }

    #[test]
    fn hsts_only_over_https() {
        let https = Config { public_url: "https://keyward.example.com".parse().unwrap(), ..Config::default() };
        assert!(names(&https).contains(&header::STRICT_TRANSPORT_SECURITY));
        assert!(!names(&Config::default()).contains(&header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(names(&Config::default()).len(), 4);
    }

    #[test]
    fn the_spa_policy_allows_no_inline_script() {
        let script = CONTENT_SECURITY_POLICY.split("; ").find(|d| d.starts_with("script-src")).unwrap();
        assert_eq!(script, "script-src 'self'");
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
