//! Creating, listing and revoking API keys. The secret is shown once; only its hash is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::api_key::{self, ApiKey, ApiKeyScope, SECRET_PREFIX, SHOWN_PREFIX_CHARS};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{ApiKeyId, OrgId};
use keyward_domain::pipeline_repo::ApiKeyRepo;
use keyward_domain::session::Session;
use serde_json::json;

use crate::state::AppState;

/// A new key and its secret (shown once).
pub struct Created {
    /// The key.
    pub key: ApiKey,
    /// `kwk_…`.
    pub secret: String,
}

/// Creates a key for the admin's organization.
pub async fn create(
    app: &AppState,
    admin: &Session,
    name: &str,
    scopes: &[ApiKeyScope],
    expires_at: Option<DateTime<Utc>>,
    ip: Option<String>,
) -> Result<Created, DomainError> {
    let now = Utc::now();
    let (name, scopes) = api_key::validate_new_key(name, scopes, expires_at, now)?;
    let secret = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(crate::secrets::random_token_bytes()));
    let key = ApiKey {
        id: ApiKeyId::new(),
        org_id: admin.org_id,
        name,
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        scopes,
        created_by: Some(admin.member_id),
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    let scopes: Vec<&str> = key.scopes.iter().map(ApiKeyScope::as_str).collect();
    let record = AuditRecord::new(Actor::Member(admin.member_id), "api_key.created")
        .target(format!("api_key:{}", key.id))
        .target_name(key.name.clone())
        .ip(ip)
        .details(json!({ "name": key.name, "prefix": key.prefix, "scopes": scopes, "expiresAt": key.expires_at }));
    let key = app.db.create_api_key(key, api_key::hash_secret(&secret), record).await?;
    Ok(Created { key, secret })
}

/// The organization's keys, newest first.
pub async fn list(app: &AppState, org: OrgId) -> Result<Vec<ApiKey>, DomainError> {
    Ok(app.db.api_keys(org).await?)
}

/// Revokes a key: the next request with it, on any instance, is refused.
pub async fn revoke(app: &AppState, admin: &Session, id: &str, ip: Option<String>) -> Result<ApiKey, DomainError> {
    let id: ApiKeyId = id.parse().map_err(|_| DomainError::NotFound)?;
    let record = AuditRecord::new(Actor::Member(admin.member_id), "api_key.revoked")
        .target(format!("api_key:{id}"))
        .ip(ip)
        .details(json!({}));
    Ok(app.db.revoke_api_key(admin.org_id, id, Utc::now(), record).await?)
}
