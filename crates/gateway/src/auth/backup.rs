//! Backup credentials: the organization's break-glass login. They never bypass a security key.

use std::sync::LazyLock;

use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::rate_limit::{FailureBudget, limits, network_of};
use keyward_domain::repo::{AuditRepo, BackupCredentialRepo, MemberRepo, OrganizationRepo};
use keyward_domain::session::AuthMethod;
use serde_json::json;

use super::session::{self, Issued};
use crate::secrets::{hash_secret, random_secret, verify_secret};
use crate::state::AppState;

/// A hash to verify against when the organization or username does not exist, so a wrong guess
/// costs the same time either way.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_secret("keyward-dummy-secret"));

/// Logs in with backup credentials. The session lands at `MFA_REQUIRED` when the admin has a key.
///
/// This is break-glass access, so nobody may lock it out: only failures count, per client network
/// and across the service, and there is no per-account bucket that a stranger could fill to refuse
/// the real secret (it has 256 bits; the network and global limits stop guessing). Unknown
/// organizations and usernames cost the same argon2 verification and get the same answer.
pub async fn login(
    app: &AppState,
    organization: &str,
    username: &str,
    secret: &str,
    ip: Option<String>,
) -> Result<Issued, DomainError> {
    let now = Utc::now();
    let budget = FailureBudget::take(
        app.rate_limiter.as_ref(),
        &[
            (format!("secret-net:{}", network_of(ip.as_deref())), limits::SECRET_LOGIN_PER_NETWORK),
            ("secret-global".to_owned(), limits::SECRET_LOGIN_GLOBAL),
        ],
        now,
    )
    .await?;
    let org = app.db.organization_by_slug(organization).await?;
    let credential = match &org {
        Some(org) => app.db.backup_credential(org.id, username).await?,
        None => None,
    };
    let hash = credential.as_ref().map(|c| c.secret_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let given = secret.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_secret(&hash, &given))
        .await
        .map_err(|e| DomainError::Store(keyward_domain::StoreError::Unexpected(e.to_string())))?;
    let (Some(org), Some(credential), true) = (&org, credential, matches) else {
        budget.failed();
        if let Some(org) = &org {
            let record = AuditRecord::new(Actor::Anonymous, "backup_credentials.login")
                .failed()
                .ip(ip)
                .details(json!({ "username": username }));
            app.db.append_audit(org.id, record).await?;
        }
        return Err(DomainError::InvalidCredentials);
    };
    budget.succeeded().await?;
    let member = app.db.member(org.id, credential.member_id).await?.ok_or(DomainError::InvalidCredentials)?;
    let origin = session::LoginOrigin { ip: ip.clone(), groups: Vec::new() };
    let issued = session::start(app, org, &member, AuthMethod::BackupCredentials, origin, now).await?;
    let record = AuditRecord::new(Actor::Member(member.id), "backup_credentials.login")
        .target(format!("member:{}", member.id))
        .ip(ip)
        .details(json!({ "stage": issued.session.stage }));
    app.db.append_audit(org.id, record).await?;
    Ok(issued)
}

/// Rotates the organization's backup secret; returns the username and the new secret (shown once).
pub async fn rotate(
    app: &AppState,
    org: OrgId,
    actor: Actor,
    ip: Option<String>,
) -> Result<(String, String), DomainError> {
    let secret = random_secret();
    let to_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || hash_secret(&to_hash))
        .await
        .map_err(|e| DomainError::Store(keyward_domain::StoreError::Unexpected(e.to_string())))?;
    let record = AuditRecord::new(actor, "backup_credentials.rotated").ip(ip);
    let credential = app.db.rotate_backup_credential(org, hash, Utc::now(), record).await?;
    Ok((credential.username, secret))
}
