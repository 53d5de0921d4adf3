//! OIDC discovery: each issuer's discovery document and JWKS, fetched without following redirects,
//! checked before use, and cached for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use keyward_domain::sso::check_idp_url;
use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;

/// How long discovery documents and JWKS are cached.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// Discovery documents (with their JWKS) per issuer, and the HTTP client to fetch them.
pub struct OidcProviders {
    pub(crate) http: reqwest::Client,
    cache: Mutex<HashMap<String, (CoreProviderMetadata, Instant)>>,
}

impl Default for OidcProviders {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            // Following redirects would let an IdP response steer us to other hosts (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a TLS-capable HTTP client");
        Self { http, cache: Mutex::new(HashMap::new()) }
    }
}

/// Why an issuer's discovery document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// It did not load (network, HTTP status, malformed JSON, issuer mismatch).
    #[error("could not load the discovery document: {0}")]
    Unreachable(String),
    /// It loaded but names an endpoint Keyward must not use.
    #[error("the discovery document is refused: {0}")]
    Unsafe(String),
}

impl OidcProviders {
    /// The issuer's discovery document and JWKS, from cache unless `refresh`. Only documents that
    /// pass [`check_discovery`] are returned or cached.
    pub async fn metadata(&self, issuer: &str, refresh: bool) -> Result<CoreProviderMetadata, DiscoveryError> {
        if !refresh
            && let Some((metadata, at)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(issuer)
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let url =
            IssuerUrl::new(issuer.to_owned()).map_err(|e| DiscoveryError::Unreachable(format!("not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| DiscoveryError::Unreachable(describe_error(&e)))?;
        check_discovery(&metadata).map_err(DiscoveryError::Unsafe)?;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(issuer.to_owned(), (metadata.clone(), Instant::now()));
        Ok(metadata)
    }
}

/// Checks the URLs of a discovery document that Keyward fetches from or hands to the browser:
/// the SPA navigates to `authorization_endpoint`, so a `javascript:` URL there would run script in
/// Keyward's origin. Each must pass [`check_idp_url`] (https, or http on localhost).
pub fn check_discovery(metadata: &CoreProviderMetadata) -> Result<(), String> {
    let token_endpoint = metadata.token_endpoint().ok_or("token_endpoint is missing")?;
    let urls = [
        ("issuer", metadata.issuer().as_str()),
        ("authorization_endpoint", metadata.authorization_endpoint().as_str()),
        ("token_endpoint", token_endpoint.as_str()),
        ("jwks_uri", metadata.jwks_uri().as_str()),
    ];
    for (name, url) in urls {
        check_idp_url(url).map_err(|why| format!("{name}: {why}"))?;
    }
    Ok(())
}

/// An error with its chain of sources, for messages.
pub(super) fn describe_error(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn document(overrides: Value) -> CoreProviderMetadata {
        let mut doc = json!({
            "issuer": "https://idp.example.com",
            "authorization_endpoint": "https://idp.example.com/authorize",
            "token_endpoint": "https://idp.example.com/token",
            "jwks_uri": "https://idp.example.com/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                doc.as_object_mut().unwrap().remove(key);
            } else {
                doc[key] = value.clone();
            }
        }
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn https_and_local_http_documents_pass() {
        assert_eq!(check_discovery(&document(json!({}))), Ok(()));
        for origin in ["http://localhost:9401", "http://127.0.0.1:9401"] {
            let local = document(json!({
                "issuer": origin,
                "authorization_endpoint": format!("{origin}/auth"),
                "token_endpoint": format!("{origin}/token"),
                "jwks_uri": format!("{origin}/jwks"),
            }));
            assert_eq!(check_discovery(&local), Ok(()), "{origin}");
        }
    }

    #[test]
    fn script_data_and_plain_http_endpoints_are_refused_by_name() {
        let cases = [
            ("authorization_endpoint", "javascript:alert(document.domain)//"),
            ("authorization_endpoint", "data:text/html,<script>alert(1)</script>"),
            ("token_endpoint", "http://idp.example.com/token"),
            ("jwks_uri", "http://10.0.0.5/jwks"),
            ("issuer", "http://idp.example.com"),
        ];
        for (name, url) in cases {
            let overrides = Value::Object([(name.to_owned(), json!(url))].into_iter().collect());
            let why = check_discovery(&document(overrides)).unwrap_err();
            assert!(why.starts_with(&format!("{name}: ")), "{name} = {url}: {why}");
        }
        let why = check_discovery(&document(json!({ "token_endpoint": null }))).unwrap_err();
        assert!(why.contains("token_endpoint"), "{why}");
    }
}
