//! First start: create the first organization, its first admin and one-time backup credentials.

use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::member::{NewMember, Role};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::{Bootstrap, OrganizationRepo};
use serde_json::json;

use crate::config::BootstrapConfig;
use crate::secrets::{hash_secret, random_secret};

/// Backup credentials, shown once.
#[derive(Clone, Debug)]
pub struct BackupCredentials {
    /// The organization's slug.
    pub organization: String,
    /// Username.
    pub username: String,
    /// The secret (never stored; only its argon2id hash is).
    pub secret: String,
}

/// Creates the first organization when the database has none. Returns the credentials only to
/// the one instance whose transaction created it; restarts and racing instances get `None`.
pub async fn bootstrap(
    repo: &dyn OrganizationRepo,
    config: &BootstrapConfig,
) -> Result<Option<BackupCredentials>, StoreError> {
    if !repo.organizations().await?.is_empty() {
        return Ok(None);
    }
    let secret = random_secret();
    let to_hash = secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hash_secret(&to_hash))
        .await
        .map_err(|e| StoreError::Unexpected(format!("hashing task failed: {e}")))?;
    let organization = Organization {
        id: OrgId::new(),
        slug: config.organization_slug.clone(),
        name: config.organization_name.clone(),
        enforcement: Enforcement::default(),
        created_at: Utc::now(),
    };
    let org_id = organization.id;
    let first = Bootstrap {
        admin: NewMember {
            org_id,
            username: config.admin_username.clone(),
            display_name: "Administrator".into(),
            email: None,
            role: Role::Admin,
            oidc: None,
        },
        organization,
        backup_username: config.admin_username.clone(),
        backup_secret_hash: secret_hash,
    };
    let audit = AuditRecord::new(Actor::System, "org.bootstrapped")
        .target(format!("org:{org_id}"))
        .details(json!({ "slug": config.organization_slug, "admin": config.admin_username }));
    Ok(repo.bootstrap(first, audit).await?.map(|_| BackupCredentials {
        organization: config.organization_slug.clone(),
        username: config.admin_username.clone(),
        secret,
    }))
}

/// The banner printed once on first start.
pub fn banner(credentials: &BackupCredentials, url: &str) -> String {
    let lines = [
        "Keyward created your first organization.".to_owned(),
        String::new(),
        format!("  organization: {}", credentials.organization),
        format!("  username:     {}", credentials.username),
        format!("  secret:       {}", credentials.secret),
        String::new(),
        "These backup credentials are shown ONCE and stored only as an argon2id hash.".to_owned(),
        "Keep them somewhere safe: they are your way in before SSO is set up,".to_owned(),
        "and when your identity provider is down.".to_owned(),
        format!("Log in at {url}"),
    ];
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) + 2;
    let mut out = format!("+{}+\n", "-".repeat(width));
    for line in lines {
        out.push_str(&format!("| {line:<w$} |\n", w = width - 2));
    }
    out.push_str(&format!("+{}+", "-".repeat(width)));
    out
}
