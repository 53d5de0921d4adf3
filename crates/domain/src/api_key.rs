//! API keys: how pipelines and scripts call Keyward. A key is a caller of its own kind, never a
//! member: it passes only the gates its scopes name, never steps up and never approves.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::DomainError;
use crate::ids::{ApiKeyId, MemberId, OrgId};

/// Every secret starts with this, so scanners and people recognize it.
pub const SECRET_PREFIX: &str = "kwk_";
/// Characters of the secret shown in lists (`kwk_` and 8 more).
pub const SHOWN_PREFIX_CHARS: usize = 12;
/// Base64url characters after the prefix (32 random bytes).
pub const SECRET_BODY_CHARS: usize = 43;
/// The longest name.
pub const NAME_MAX_CHARS: usize = 64;
/// The longest life a key may be given.
pub const MAX_LIFETIME_DAYS: i64 = 366;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApiKeyScope {
    /// Create approval requests and read the ones it created.
    ApprovalsRequest,
    /// Read-only admin queries.
    OrgRead,
}

impl ApiKeyScope {
    /// The stable spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApprovalsRequest => "APPROVALS_REQUEST",
            Self::OrgRead => "ORG_READ",
        }
    }

    /// Parses [`Self::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::ApprovalsRequest, Self::OrgRead].into_iter().find(|s| s.as_str() == text)
    }
}

/// An API key as stored (never its secret: only the secret's hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Its ID.
    pub id: ApiKeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// A name people recognize (`github-actions-prod`).
    pub name: String,
    /// The secret's first characters, to recognize it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<ApiKeyScope>,
    /// The admin who created it.
    pub created_by: Option<MemberId>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether it works at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }

    /// Whether its last use should be written again at `now` (at most once a minute).
    pub fn last_use_stale(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at.is_none_or(|at| now - at >= Duration::minutes(1))
    }
}

/// The caller an API key makes of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyCaller {
    /// The key.
    pub id: ApiKeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// Its name (for the audit trail).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<ApiKeyScope>,
}

impl ApiKeyCaller {
    /// Whether it holds `scope`.
    pub fn has(&self, scope: ApiKeyScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Whether `raw` has the shape of an API key secret (so a session token is never looked up as one).
pub fn looks_like_secret(raw: &str) -> bool {
    raw.strip_prefix(SECRET_PREFIX).is_some_and(|body| {
        body.len() == SECRET_BODY_CHARS && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The stored form of a secret: SHA-256, hex. The secret has 256 random bits, so a plain hash is
/// as good as a slow one, and lookups stay one indexed read.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks a new key's name, scopes and expiry at `now`; returns the trimmed name and the scopes
/// without duplicates.
pub fn validate_new_key(
    name: &str,
    scopes: &[ApiKeyScope],
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(String, Vec<ApiKeyScope>), DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(DomainError::bad_input("name", format!("1 to {NAME_MAX_CHARS} printable characters")));
    }
    let mut unique = Vec::new();
    for scope in scopes {
        if !unique.contains(scope) {
            unique.push(*scope);
        }
    }
    if unique.is_empty() {
        return Err(DomainError::bad_input("scopes", "give the key at least one scope"));
    }
    if let Some(at) = expires_at {
        if at <= now {
            return Err(DomainError::bad_input("expiresAt", "must be in the future"));
        }
        if at > now + Duration::days(MAX_LIFETIME_DAYS) {
            return Err(DomainError::bad_input("expiresAt", format!("at most {MAX_LIFETIME_DAYS} days from now")));
        }
    }
    Ok((name.to_owned(), unique))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(now: DateTime<Utc>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::new(),
            org_id: OrgId::new(),
            name: "ci".into(),
            prefix: "kwk_abcdefgh".into(),
            scopes: vec![ApiKeyScope::ApprovalsRequest],
            created_by: None,
            created_at: now,
            expires_at: Some(now + Duration::days(1)),
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn keys_stop_working_when_revoked_or_expired() {
        let now = Utc::now();
        assert!(key(now).is_active(now));
        assert!(!key(now).is_active(now + Duration::days(1)));
        let revoked = ApiKey { revoked_at: Some(now), ..key(now) };
        assert!(!revoked.is_active(now));
        assert!(ApiKey { expires_at: None, ..key(now) }.is_active(now + Duration::days(1000)));
    }

    #[test]
    fn only_secret_shaped_tokens_are_api_keys() {
        let body = "a".repeat(SECRET_BODY_CHARS);
        assert!(looks_like_secret(&format!("kwk_{body}")));
        assert!(!looks_like_secret(&format!("kwk_{body}x")));
        assert!(!looks_like_secret(&format!("kws_{body}")));
        assert!(!looks_like_secret(&format!("kwk_{}", "a!".repeat(22).get(..43).unwrap())));
        assert_eq!(hash_secret("kwk_x").len(), 64);
    }

    #[test]
    fn new_keys_are_checked() {
        let now = Utc::now();
        let scopes = [ApiKeyScope::OrgRead, ApiKeyScope::OrgRead];
        let (name, scopes) = validate_new_key("  ci  ", &scopes, None, now).unwrap();
        assert_eq!((name.as_str(), scopes), ("ci", vec![ApiKeyScope::OrgRead]));
        assert!(validate_new_key("", &[ApiKeyScope::OrgRead], None, now).is_err());
        assert!(validate_new_key("ci", &[], None, now).is_err());
        assert!(validate_new_key("ci", &[ApiKeyScope::OrgRead], Some(now), now).is_err());
        assert!(validate_new_key("ci", &[ApiKeyScope::OrgRead], Some(now + Duration::days(400)), now).is_err());
        assert_eq!(ApiKeyScope::parse("ORG_READ"), Some(ApiKeyScope::OrgRead));
    }

    #[test]
    fn last_use_is_written_at_most_once_a_minute() {
        let now = Utc::now();
        let used = ApiKey { last_used_at: Some(now), ..key(now) };
        assert!(!used.last_use_stale(now + Duration::seconds(59)));
        assert!(used.last_use_stale(now + Duration::seconds(60)));
    }
}
