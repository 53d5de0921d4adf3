//! GraphQL object types and their mapping from domain types.

use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::member::{Member as DomainMember, Role as DomainRole};
use keyward_domain::org::Organization as DomainOrganization;
use keyward_domain::repo::{MemberRepo, OrganizationRepo};
use keyward_domain::session::{AuthMethod as DomainAuthMethod, Session, SessionStage as DomainStage};

use super::context::ContextExt;
use crate::error::{ApiError, ApiResult};

/// How far a session has come through login.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStage {
    /// First factor done; touch a security key next (`mfaLoginBegin`).
    MfaRequired,
    /// MFA is enforced and you have no key: register one (`securityKeyRegistrationBegin`).
    MfaRegistrationRequired,
    /// Fully logged in.
    Authenticated,
}

impl From<DomainStage> for SessionStage {
    fn from(stage: DomainStage) -> Self {
        match stage {
            DomainStage::MfaRequired => Self::MfaRequired,
            DomainStage::MfaRegistrationRequired => Self::MfaRegistrationRequired,
            DomainStage::Authenticated => Self::Authenticated,
        }
    }
}

/// A member's role.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Manages the organization.
    Admin,
    /// Manages their own keys.
    Member,
}

impl From<DomainRole> for Role {
    fn from(role: DomainRole) -> Self {
        match role {
            DomainRole::Admin => Self::Admin,
            DomainRole::Member => Self::Member,
        }
    }
}

/// A factor used to log in.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// OIDC single sign-on.
    Sso,
    /// Break-glass backup credentials.
    BackupCredentials,
    /// A recovery code.
    RecoveryCode,
    /// A security-key assertion.
    SecurityKey,
}

impl From<DomainAuthMethod> for AuthMethod {
    fn from(method: DomainAuthMethod) -> Self {
        match method {
            DomainAuthMethod::Sso => Self::Sso,
            DomainAuthMethod::BackupCredentials => Self::BackupCredentials,
            DomainAuthMethod::RecoveryCode => Self::RecoveryCode,
            DomainAuthMethod::SecurityKey => Self::SecurityKey,
        }
    }
}

/// A person in an organization.
#[derive(SimpleObject, Clone, Debug)]
pub struct Member {
    /// Identifier.
    pub id: ID,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// When they joined.
    pub created_at: DateTime<Utc>,
    /// When they last finished a login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Whether an IdP account is linked, so the member can log in by SSO.
    pub sso_linked: bool,
    /// When an admin deactivated them; `null` while active. A deactivated member cannot log in.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl From<DomainMember> for Member {
    fn from(m: DomainMember) -> Self {
        Self {
            id: ID(m.id.to_string()),
            username: m.username,
            display_name: m.display_name,
            email: m.email,
            role: m.role.into(),
            created_at: m.created_at,
            last_login_at: m.last_login_at,
            sso_linked: m.oidc.is_some(),
            deactivated_at: m.deactivated_at,
        }
    }
}

/// An organization.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Organization {
    /// Identifier.
    pub id: ID,
    /// Short name typed at login.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Whether security keys are mandatory.
    pub mfa_enforced: bool,
    /// Until when members without a key may keep working.
    pub grace_period_ends_at: Option<DateTime<Utc>>,
}

impl From<DomainOrganization> for Organization {
    fn from(o: DomainOrganization) -> Self {
        Self {
            id: ID(o.id.to_string()),
            slug: o.slug,
            name: o.name,
            mfa_enforced: o.enforcement.enabled,
            grace_period_ends_at: o.enforcement.grace_period_ends_at,
        }
    }
}

/// The caller's own session.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Viewer {
    /// The member's ID.
    pub id: ID,
    /// Login progress: what the client must do next.
    pub stage: SessionStage,
    /// The member's role.
    pub role: Role,
    /// Factors used in this session.
    pub methods: Vec<AuthMethod>,
    /// Last successful security-key check in this session.
    pub mfa_verified_at: Option<DateTime<Utc>>,
    /// The key used for it.
    pub key_id: Option<ID>,
    /// MFA enforcement's grace deadline, while you still have to register a key.
    pub grace_period_ends_at: Option<DateTime<Utc>>,
    /// When the session ends at the latest.
    pub session_expires_at: DateTime<Utc>,
    #[graphql(skip)]
    pub session: Session,
}

impl From<&Session> for Viewer {
    fn from(s: &Session) -> Self {
        Self {
            id: ID(s.member_id.to_string()),
            stage: s.stage.into(),
            role: s.role.into(),
            methods: s.methods.iter().copied().map(Into::into).collect(),
            mfa_verified_at: s.mfa_verified_at,
            key_id: s.key_id.map(|k| ID(k.to_string())),
            grace_period_ends_at: s.grace_period_ends_at,
            session_expires_at: s.absolute_expires_at,
            session: s.clone(),
        }
    }
}

#[ComplexObject]
impl Viewer {
    /// The member behind the session.
    async fn member(&self, ctx: &Context<'_>) -> ApiResult<Member> {
        let repos = &ctx.app().db;
        repos
            .member(self.session.org_id, self.session.member_id)
            .await?
            .map(Member::from)
            .ok_or(ApiError(keyward_domain::DomainError::Unauthenticated))
    }

    /// Your recovery codes: how many are left and since when.
    async fn recovery_codes(&self, ctx: &Context<'_>) -> ApiResult<super::rollout::RecoveryCodeStatus> {
        use keyward_domain::repo::RecoveryCodeRepo;
        let status = ctx.app().db.recovery_code_status(self.session.org_id, self.session.member_id).await?;
        Ok(status.into())
    }

    /// The member's organization.
    async fn organization(&self, ctx: &Context<'_>) -> ApiResult<Organization> {
        let repos = &ctx.app().db;
        repos
            .organization(self.session.org_id)
            .await?
            .map(Organization::from)
            .ok_or(ApiError(keyward_domain::DomainError::Unauthenticated))
    }
}
