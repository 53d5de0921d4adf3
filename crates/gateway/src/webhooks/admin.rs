//! Setting and removing an organization's webhook. The HMAC secret is generated here, shown once
//! (on first set, or when rotated) and stored sealed with `secrets_key`, like SSO client secrets.

use chrono::{SubsecRound, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::webhook::{DELETED_ACTION, SET_ACTION, Webhook, WebhookRepo, WebhookSettings, url_origin};
use serde_json::json;

use crate::secrets::random_secret;
use crate::state::AppState;

/// A saved webhook, and its new secret when one was made.
#[derive(Debug)]
pub struct Saved {
    /// The webhook as stored (its secret sealed).
    pub webhook: Webhook,
    /// The new secret in plain text: shown this once.
    pub secret: Option<String>,
}

/// Creates or replaces `org`'s webhook. A new webhook, or `rotate_secret`, gets a new secret;
/// otherwise the secret stays. The audit event records the URL's origin only: the path and query
/// of chat-service hooks are secrets themselves.
pub async fn set(
    app: &AppState,
    org: OrgId,
    actor: Actor,
    settings: WebhookSettings,
    rotate_secret: bool,
    ip: Option<String>,
) -> Result<Saved, DomainError> {
    let settings = settings.checked()?;
    let existing = app.db.webhook(org).await?;
    // Microseconds: what both databases keep, so the answer matches later reads.
    let now = Utc::now().trunc_subsecs(6);
    let (stored_secret, secret) = match &existing {
        Some(hook) if !rotate_secret => (hook.secret.clone(), None),
        _ => {
            let secret = random_secret();
            (app.sealer.seal(&secret), Some(secret))
        }
    };
    let webhook = Webhook {
        org_id: org,
        url: settings.url,
        events: settings.events,
        secret: stored_secret,
        created_at: existing.as_ref().map_or(now, |hook| hook.created_at),
        updated_at: now,
    };
    let events: Vec<&str> = webhook.events.iter().map(|e| e.as_str()).collect();
    let record = AuditRecord::new(actor, SET_ACTION).target(format!("org:{org}")).ip(ip).details(json!({
        "urlOrigin": url_origin(&webhook.url),
        "events": events,
        "created": existing.is_none(),
        "secretRotated": secret.is_some(),
    }));
    app.db.put_webhook(webhook.clone(), record).await?;
    Ok(Saved { webhook, secret })
}

/// Removes `org`'s webhook; its pending deliveries end as FAILED. `false` when there was none.
pub async fn delete(app: &AppState, org: OrgId, actor: Actor, ip: Option<String>) -> Result<bool, DomainError> {
    let record = AuditRecord::new(actor, DELETED_ACTION).target(format!("org:{org}")).ip(ip);
    Ok(app.db.delete_webhook(org, record).await?)
}
