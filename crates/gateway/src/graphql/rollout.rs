//! What admins need to drive a rollout and members need to stay unblocked: recovery-code status,
//! member counts, a member's sessions, readable audit actions and authenticator model names.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::repo::{MemberStats as DomainStats, RecoveryCodeStatus as DomainRecoveryCodes};
use keyward_domain::session::Session;

use super::context::ContextExt;
use super::types::{AuthMethod, SessionStage};
use crate::error::ApiResult;

/// Recovery codes of a member: how many are left and since when.
#[derive(SimpleObject, Clone, Copy)]
pub struct RecoveryCodeStatus {
    /// Codes in the current set (10), or 0 when none were ever generated.
    pub total: u64,
    /// Codes of the current set not used yet.
    pub unused: u64,
    /// When the current set was generated; null when none was.
    pub generated_at: Option<DateTime<Utc>>,
}

impl From<DomainRecoveryCodes> for RecoveryCodeStatus {
    fn from(s: DomainRecoveryCodes) -> Self {
        Self { total: s.total, unused: s.unused, generated_at: s.generated_at }
    }
}

/// How many active members have keys (deactivated members are not counted).
#[derive(SimpleObject, Clone, Copy)]
pub struct MemberStats {
    /// Active members.
    pub members: u64,
    /// Active members with at least one security key.
    pub with_key: u64,
    /// Active members without a security key.
    pub without_key: u64,
    /// Active members with exactly one key (one lost key from being locked out).
    pub with_one_key: u64,
    /// Deactivated members.
    pub deactivated: u64,
}

impl From<DomainStats> for MemberStats {
    fn from(s: DomainStats) -> Self {
        Self {
            members: s.members,
            with_key: s.with_key,
            without_key: s.without_key(),
            with_one_key: s.with_one_key,
            deactivated: s.deactivated,
        }
    }
}

/// One live session of a member.
#[derive(SimpleObject)]
pub struct MemberSession {
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Last request seen (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// The client's address at login.
    pub ip: Option<String>,
    /// Browser and system, read from the user agent at login ("Chrome 131 on macOS"); null when
    /// unknown.
    pub device: Option<String>,
    /// Login progress.
    pub stage: SessionStage,
    /// Factors used, in order.
    pub methods: Vec<AuthMethod>,
    /// True for the session making this request.
    pub current: bool,
}

impl MemberSession {
    /// The session as an admin sees it; `current` when it is the caller's own.
    pub fn new(session: Session, caller: Option<&Session>) -> Self {
        Self {
            current: caller.is_some_and(|c| c.token_hash == session.token_hash),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.absolute_expires_at,
            stage: session.stage.into(),
            methods: session.methods.iter().copied().map(Into::into).collect(),
            ip: session.facts.login_ip,
            device: session.facts.device,
        }
    }
}

/// An audit action with its readable label.
#[derive(SimpleObject)]
pub struct AuditAction {
    /// The action as stored (`org.mfa_enforcement.enabled`).
    pub action: String,
    /// What people read ("MFA enforcement turned on").
    pub label: String,
}

/// An authenticator model from the AAGUID list Keyward ships.
#[derive(SimpleObject)]
pub struct AuthenticatorModel {
    /// Its AAGUID.
    pub aaguid: String,
    /// Its name ("YubiKey 5 Series with NFC").
    pub name: String,
}

/// Vocabulary queries for the admin screens.
#[derive(Default)]
pub struct RolloutQueries;

#[Object]
impl RolloutQueries {
    /// Every action Keyward writes to the audit trail, with its label, sorted by label.
    async fn audit_actions(&self, ctx: &Context<'_>) -> ApiResult<Vec<AuditAction>> {
        ctx.org_reader()?;
        let mut actions: Vec<AuditAction> = keyward_domain::audit::labels::ACTIONS
            .iter()
            .map(|(action, label)| AuditAction { action: (*action).to_owned(), label: (*label).to_owned() })
            .collect();
        actions.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(actions)
    }

    /// Authenticator models Keyward knows by name, for the allow and deny lists, sorted by name.
    async fn authenticator_models(&self, ctx: &Context<'_>) -> ApiResult<Vec<AuthenticatorModel>> {
        ctx.org_admin()?;
        Ok(crate::webauthn::aaguid::all_models()
            .into_iter()
            .map(|(aaguid, name)| AuthenticatorModel { aaguid: aaguid.to_string(), name: name.to_owned() })
            .collect())
    }
}
