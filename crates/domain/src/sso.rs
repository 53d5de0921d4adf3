//! Single sign-on rules: which settings an admin may save, whose e-mail address may log in, and
//! which role the IdP's groups give.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::DomainError;
use crate::member::Role;
use crate::repo::SsoConfig;

/// What an admin submits to configure SSO (the client secret still in plain text).
#[derive(Clone, Debug, Default)]
pub struct SsoSettings {
    /// Issuer URL.
    pub issuer: String,
    /// Client ID.
    pub client_id: String,
    /// Client secret (write-only); `None` or empty keeps the stored one.
    pub client_secret: Option<String>,
    /// Extra scopes.
    pub scopes: Vec<String>,
    /// Claim holding groups.
    pub admin_group_claim: Option<String>,
    /// Group value meaning ADMIN.
    pub admin_group_value: Option<String>,
    /// Allowed e-mail domains.
    pub allowed_email_domains: Vec<String>,
}

impl SsoSettings {
    /// Checks the settings and normalizes them into the configuration to store: a trimmed issuer
    /// without a trailing slash, `openid` left out of the extra scopes, lower-case domains without
    /// `@`, and a new secret passed through `seal` (without one, `stored`'s sealed secret is kept).
    pub fn into_config(
        self,
        seal: impl FnOnce(&str) -> String,
        stored: Option<&SsoConfig>,
        now: DateTime<Utc>,
    ) -> Result<SsoConfig, DomainError> {
        let issuer = self.issuer.trim().trim_end_matches('/').to_owned();
        check_idp_url(&issuer).map_err(|why| DomainError::bad_input("issuer", why))?;
        if self.client_id.trim().is_empty() {
            return Err(DomainError::bad_input("clientId", "required"));
        }
        let client_secret = match (self.client_secret.as_deref().filter(|s| !s.is_empty()), stored) {
            (Some(new), _) => seal(new),
            (None, Some(stored)) => stored.client_secret.clone(),
            (None, None) => return Err(DomainError::bad_input("clientSecret", "required")),
        };
        if self.admin_group_claim.is_some() != self.admin_group_value.is_some() {
            return Err(DomainError::bad_input(
                "adminGroupValue",
                "set both the admin group claim and its value, or neither",
            ));
        }
        let allowed_email_domains = self
            .allowed_email_domains
            .iter()
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        Ok(SsoConfig {
            issuer,
            client_id: self.client_id.trim().to_owned(),
            client_secret,
            scopes: self.scopes.into_iter().filter(|s| s != "openid").collect(),
            admin_group_claim: self.admin_group_claim,
            admin_group_value: self.admin_group_value,
            allowed_email_domains,
            updated_at: now,
        })
    }
}

/// Checks a URL Keyward would use to reach an IdP or send a browser to (the issuer and the
/// discovery document's endpoints): `https`, or plain `http` only to this machine (`localhost`,
/// a loopback address) for development. Anything else, such as `javascript:` or `data:` handed to
/// the browser, or plain http over a network, is refused with the reason.
pub fn check_idp_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| format!("{url:?} is not a URL"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!("{url} uses plain http: use https (http is accepted only for an IdP on localhost)")),
        _ => Err(format!("{url:?} is not an https URL")),
    }
}

impl SsoConfig {
    /// Refuses an identity outside the allowed e-mail domains, when there are any: the address
    /// must be verified by the IdP and its domain listed.
    pub fn check_email(&self, email: Option<&str>, verified: bool) -> Result<(), DomainError> {
        if self.allowed_email_domains.is_empty() {
            return Ok(());
        }
        let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_lowercase());
        if verified && domain.is_some_and(|d| self.allowed_email_domains.contains(&d)) {
            Ok(())
        } else {
            Err(DomainError::PolicyDenied(
                "your verified e-mail address is not in a domain this organization accepts".into(),
            ))
        }
    }

    /// The IdP groups in the ID token's `claims` (the configured group claim, else `groups`), for
    /// the step-up policy: at most 50, each at most 200 characters.
    pub fn groups_from_claims(&self, claims: &Value) -> Vec<String> {
        let claim = self.admin_group_claim.as_deref().unwrap_or("groups");
        let groups: Vec<&str> = match claims.get(claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        };
        groups.into_iter().take(50).map(|g| g.chars().take(200).collect()).collect()
    }

    /// The role the ID token's `claims` give, or `None` when no admin group is configured (then
    /// the IdP does not decide roles).
    pub fn role_from_claims(&self, claims: &Value) -> Option<Role> {
        let (Some(claim), Some(value)) = (&self.admin_group_claim, &self.admin_group_value) else {
            return None;
        };
        let admin = match claims.get(claim) {
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(value.as_str())),
            Some(Value::String(s)) => s == value,
            _ => false,
        };
        Some(if admin { Role::Admin } else { Role::Member })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> SsoSettings {
        SsoSettings {
            issuer: " https://idp.example.com/ ".into(),
            client_id: " keyward ".into(),
            client_secret: Some("s3cret".into()),
            scopes: vec!["openid".into(), "email".into(), "groups".into()],
            admin_group_claim: Some("groups".into()),
            admin_group_value: Some("keyward-admins".into()),
            allowed_email_domains: vec![" @Example.COM ".into(), "".into()],
        }
    }

    fn field_of(err: DomainError) -> String {
        match err {
            DomainError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn settings_are_normalized_and_the_secret_sealed() {
        let config = settings().into_config(|s| format!("sealed:{s}"), None, Utc::now()).unwrap();
        assert_eq!(config.issuer, "https://idp.example.com");
        assert_eq!(config.client_id, "keyward");
        assert_eq!(config.client_secret, "sealed:s3cret");
        assert_eq!(config.scopes, vec!["email", "groups"]);
        assert_eq!(config.allowed_email_domains, vec!["example.com"]);
        let kept = SsoSettings { client_secret: None, ..settings() };
        let again = kept.into_config(|s| format!("resealed:{s}"), Some(&config), Utc::now()).unwrap();
        assert_eq!(again.client_secret, "sealed:s3cret", "no new secret keeps the stored one");
        let blank = SsoSettings { client_secret: Some(String::new()), ..settings() };
        assert_eq!(
            blank.into_config(|s| s.to_owned(), Some(&config), Utc::now()).unwrap().client_secret,
            "sealed:s3cret"
        );
        let replaced = settings().into_config(|s| format!("new:{s}"), Some(&again), Utc::now()).unwrap();
        assert_eq!(replaced.client_secret, "new:s3cret");
    }

    #[test]
    fn bad_settings_name_their_field() {
        let seal = |s: &str| s.to_owned();
        let cases: [(SsoSettings, &str); 5] = [
            (SsoSettings { issuer: "idp.example.com".into(), ..settings() }, "issuer"),
            (SsoSettings { issuer: "ftp://idp.example.com".into(), ..settings() }, "issuer"),
            (SsoSettings { client_id: "  ".into(), ..settings() }, "clientId"),
            (SsoSettings { client_secret: Some(String::new()), ..settings() }, "clientSecret"),
            (SsoSettings { admin_group_value: None, ..settings() }, "adminGroupValue"),
        ];
        for (bad, field) in cases {
            assert_eq!(field_of(bad.into_config(seal, None, Utc::now()).unwrap_err()), field);
        }
    }

    #[test]
    fn idp_urls_are_https_or_local_http() {
        for good in [
            "https://idp.example.com/authorize",
            "http://localhost:9401/auth",
            "http://127.0.0.1:9401/token",
            "http://[::1]:8080/jwks",
        ] {
            assert_eq!(check_idp_url(good), Ok(()), "{good}");
        }
        for bad in [
            "javascript:alert(document.domain)//",
            "data:text/html,<script>alert(1)</script>",
            "http://idp.example.com/authorize",
            "http://localhost.evil.example/authorize",
            "ftp://idp.example.com",
            "/relative",
        ] {
            assert!(check_idp_url(bad).is_err(), "{bad}");
        }
        let plain = SsoSettings { issuer: "http://idp.example.com".into(), ..settings() };
        assert_eq!(field_of(plain.into_config(|s| s.to_owned(), None, Utc::now()).unwrap_err()), "issuer");
    }

    #[test]
    fn only_verified_addresses_in_allowed_domains_pass() {
        let config = settings().into_config(|s| s.to_owned(), None, Utc::now()).unwrap();
        assert!(config.check_email(Some("ada@EXAMPLE.com"), true).is_ok());
        assert!(config.check_email(Some("ada@example.com"), false).is_err());
        assert!(config.check_email(Some("ada@example.org"), true).is_err());
        assert!(config.check_email(None, true).is_err());
        let open = SsoConfig { allowed_email_domains: vec![], ..config };
        assert!(open.check_email(None, false).is_ok());
    }

    #[test]
    fn groups_decide_the_role_only_when_configured() {
        let config = settings().into_config(|s| s.to_owned(), None, Utc::now()).unwrap();
        assert_eq!(config.role_from_claims(&json!({ "groups": ["x", "keyward-admins"] })), Some(Role::Admin));
        assert_eq!(config.role_from_claims(&json!({ "groups": "keyward-admins" })), Some(Role::Admin));
        assert_eq!(config.role_from_claims(&json!({ "groups": ["x"] })), Some(Role::Member));
        assert_eq!(config.role_from_claims(&json!({})), Some(Role::Member));
        let unmanaged = SsoConfig { admin_group_claim: None, admin_group_value: None, ..config };
        assert_eq!(unmanaged.role_from_claims(&json!({ "groups": ["keyward-admins"] })), None);
    }
}
