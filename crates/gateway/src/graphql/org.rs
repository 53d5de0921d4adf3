//! Organization MFA for admins: members, enforcement and its preview, the WebAuthn policy.

use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::ids::MemberId;
use keyward_domain::org::Enforcement;
use keyward_domain::repo::{MemberQuery, MemberRepo, RecoveryCodeRepo, SecurityKeyRepo, SsoConfigRepo};
use keyward_domain::webauthn_policy::WebauthnPolicy as DomainPolicy;

use super::context::ContextExt;
use super::keys::SecurityKey;
use super::login::SsoConfiguration;
use super::rollout::{MemberSession, MemberStats, RecoveryCodeStatus};
use super::types::{Member, Organization};
pub use super::webauthn_policy::{
    AttestationPreference, UserVerification, WebauthnPolicy, WebauthnPolicyChange, WebauthnPolicyPreview,
};
use crate::auth::admin;
use crate::error::{ApiError, ApiResult};

/// The most sessions the member page lists.
const MAX_LISTED_SESSIONS: usize = 100;

/// Pagination state.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow.
    pub has_next_page: bool,
    /// Pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A member in the organization's list.
#[derive(SimpleObject)]
pub struct MemberRow {
    /// The member.
    pub member: Member,
    /// How many keys they have.
    pub key_count: u64,
    /// Their live sessions.
    pub live_sessions: u64,
}

/// A page of members.
#[derive(SimpleObject)]
pub struct MemberConnection {
    /// The members, oldest first.
    pub nodes: Vec<MemberRow>,
    /// Pagination.
    pub page_info: PageInfo,
}

#[ComplexObject]
impl Organization {
    /// The WebAuthn policy (admins only).
    async fn webauthn_policy(&self, ctx: &Context<'_>) -> ApiResult<WebauthnPolicy> {
        let org_id = ctx.org_reader()?.org_id;
        Ok(crate::auth::webauthn_policy(ctx.app(), org_id).await?.into())
    }

    /// Live sessions in the organization (admins only).
    async fn live_sessions(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let org_id = ctx.org_reader()?.org_id;
        Ok(ctx.app().sessions.live_sessions(org_id, Utc::now()).await?)
    }

    /// The SSO settings, without the client secret; `null` until SSO is configured (admins only).
    async fn sso(&self, ctx: &Context<'_>) -> ApiResult<Option<SsoConfiguration>> {
        let org_id = ctx.org_reader()?.org_id;
        let app = ctx.app();
        let config = app.db.sso_config(org_id).await?;
        Ok(config.map(|config| SsoConfiguration::new(config, app)))
    }

    /// The callback URL to register at the IdP before configuring SSO (admins only).
    async fn sso_redirect_uri(&self, ctx: &Context<'_>) -> ApiResult<String> {
        ctx.org_reader()?;
        Ok(crate::auth::sso::redirect_url(ctx.app()))
    }

    /// How many active members have a key, have none, or have only one (admins only).
    async fn member_stats(&self, ctx: &Context<'_>) -> ApiResult<MemberStats> {
        let org_id = ctx.org_reader()?.org_id;
        Ok(ctx.app().db.member_stats(org_id).await?.into())
    }

    /// Members with their key counts and active sessions, oldest first (admins only). `search`
    /// keeps those whose username, display name or e-mail contains it, ignoring case (at most 100
    /// characters).
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: u64,
        after: Option<String>,
        #[graphql(default)] without_key: bool,
        search: Option<String>,
    ) -> ApiResult<MemberConnection> {
        let org_id = ctx.org_reader()?.org_id;
        let after = after
            .map(|a| {
                a.parse::<MemberId>()
                    .map_err(|_| ApiError(DomainError::bad_input("after", "not a cursor from this list")))
            })
            .transpose()?;
        let app = ctx.app();
        let page = app.db.members(org_id, MemberQuery { first, after, without_key, search }.checked()?).await?;
        let ids: Vec<MemberId> = page.items.iter().map(|s| s.member.id).collect();
        let live = app.sessions.live_sessions_of(org_id, &ids, Utc::now()).await?;
        let end_cursor = page.items.last().map(|s| s.member.id.to_string());
        let nodes = page
            .items
            .into_iter()
            .zip(live)
            .map(|(s, live_sessions)| MemberRow { member: s.member.into(), key_count: s.key_count, live_sessions })
            .collect();
        Ok(MemberConnection { nodes, page_info: PageInfo { has_next_page: page.has_more, end_cursor } })
    }
}

/// One member with everything an admin manages.
#[derive(SimpleObject)]
pub struct MemberDetail {
    /// The member.
    pub member: Member,
    /// Their keys, oldest first.
    pub keys: Vec<SecurityKey>,
    /// Their live sessions.
    pub live_sessions: u64,
    /// Unused recovery codes.
    pub unused_recovery_codes: u64,
    /// Their recovery codes: how many are left and since when.
    pub recovery_codes: RecoveryCodeStatus,
    /// Their active sessions, most recently seen first (at most 100).
    pub sessions: Vec<MemberSession>,
}

/// A key the policy would refuse.
#[derive(SimpleObject)]
pub struct RefusedKey {
    /// The key.
    pub key: SecurityKey,
    /// Why.
    pub reason: String,
}

/// A member enforcement would affect.
#[derive(SimpleObject)]
pub struct AtRiskMember {
    /// The member.
    pub member: Member,
    /// Sessions of theirs that enforcing would end.
    pub live_sessions: u64,
    /// Their keys the policy refuses (for members whose every key is refused).
    pub refused_keys: Vec<RefusedKey>,
}

/// What enforcing MFA now would do.
#[derive(SimpleObject)]
pub struct EnforcementPreview {
    /// Members without a key: they must register one at their next login.
    pub members_without_key: Vec<AtRiskMember>,
    /// Members whose every key fails the WebAuthn policy: they could not log in.
    pub members_with_only_refused_keys: Vec<AtRiskMember>,
    /// Sessions that would end (every live session but yours).
    pub sessions_to_end: u64,
    /// Sessions that `endSessions: KEYLESS` would end (those no security key confirmed).
    pub keyless_sessions_to_end: u64,
}

fn at_risk(risk: admin::AtRisk) -> AtRiskMember {
    AtRiskMember {
        member: risk.member.into(),
        live_sessions: risk.live_sessions,
        refused_keys: risk
            .refused_keys
            .into_iter()
            .map(|(key, reason)| RefusedKey { key: key.into(), reason })
            .collect(),
    }
}

/// Admin queries.
#[derive(Default)]
pub struct OrgQueries;

#[Object]
impl OrgQueries {
    /// Your organization: enforcement state, policy and members.
    async fn organization(&self, ctx: &Context<'_>) -> ApiResult<Organization> {
        let org_id = ctx.org_reader()?.org_id;
        let org = keyward_domain::repo::OrganizationRepo::organization(ctx.app().db.as_ref(), org_id).await?;
        Ok(org.ok_or(ApiError(DomainError::NotFound))?.into())
    }

    /// One member with their keys.
    async fn member(&self, ctx: &Context<'_>, id: ID) -> ApiResult<MemberDetail> {
        let org_id = ctx.org_reader()?.org_id;
        let app = ctx.app();
        let id: MemberId = id.parse().map_err(|_| ApiError(DomainError::NotFound))?;
        let member = app.db.member(org_id, id).await?.ok_or(ApiError(DomainError::NotFound))?;
        let keys = app.db.keys_of(org_id, id).await?;
        let now = Utc::now();
        let sessions = app.sessions.sessions_of(org_id, id, MAX_LISTED_SESSIONS, now).await?;
        // The list is the count unless it was cut at the limit: count only then (one Redis call less).
        let live_sessions = if sessions.len() < MAX_LISTED_SESSIONS {
            sessions.len() as u64
        } else {
            app.sessions.live_sessions_of(org_id, &[id], now).await?.first().copied().unwrap_or(0)
        };
        let recovery_codes = app.db.recovery_code_status(org_id, id).await?;
        let caller = ctx.request()?.caller.session();
        Ok(MemberDetail {
            member: member.into(),
            keys: keys.into_iter().map(SecurityKey::from).collect(),
            live_sessions,
            unused_recovery_codes: recovery_codes.unused,
            recovery_codes: recovery_codes.into(),
            sessions: sessions.into_iter().map(|s| MemberSession::new(s, caller)).collect(),
        })
    }

    /// What saving `input` as the WebAuthn policy would do: the fields it changes, the members it
    /// would leave with no accepted key, and why it would be refused. Nothing is saved.
    async fn webauthn_policy_preview(
        &self,
        ctx: &Context<'_>,
        input: WebauthnPolicy,
    ) -> ApiResult<WebauthnPolicyPreview> {
        let session = ctx.org_admin()?.0;
        let app = ctx.app();
        let policy = DomainPolicy::try_from(input)?;
        policy.validate(app.rp.attestation_roots.is_some())?;
        let preview = crate::auth::policy_preview::preview(app, session, &policy).await?;
        Ok(WebauthnPolicyPreview {
            changes: preview
                .changes
                .into_iter()
                .map(|c| WebauthnPolicyChange { field: c.field.to_owned(), from: c.from, to: c.to })
                .collect(),
            members_left_without_key: preview.left_without_key.into_iter().map(at_risk).collect(),
            refusal: preview.refusal,
        })
    }

    /// Who enforcing MFA would lock out, before anyone flips the switch.
    async fn enforcement_preview(&self, ctx: &Context<'_>) -> ApiResult<EnforcementPreview> {
        let session = ctx.org_admin()?.0;
        let preview = admin::preview(ctx.app(), session, Utc::now()).await?;
        Ok(EnforcementPreview {
            members_without_key: preview.without_key.into_iter().map(at_risk).collect(),
            members_with_only_refused_keys: preview.only_refused_keys.into_iter().map(at_risk).collect(),
            sessions_to_end: preview.sessions_to_end,
            keyless_sessions_to_end: preview.keyless_sessions_to_end,
        })
    }
}

/// Enforcement settings.
#[derive(InputObject)]
pub struct MfaEnforcementInput {
    /// Require security keys.
    pub enabled: bool,
    /// Members without a key may keep working until then (at most 90 days out).
    pub grace_period_ends_at: Option<DateTime<Utc>>,
    /// Which sessions switching enforcement on ends (ignored when it is already on).
    #[graphql(default_with = "SessionsToEnd::All")]
    pub end_sessions: SessionsToEnd,
}

/// Which sessions switching MFA enforcement on ends.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum SessionsToEnd {
    /// Every session but yours.
    All,
    /// Only sessions no security key has confirmed: members who already log in with a key keep
    /// working.
    Keyless,
}

impl From<SessionsToEnd> for keyward_domain::org::SessionsToEnd {
    fn from(end: SessionsToEnd) -> Self {
        match end {
            SessionsToEnd::All => Self::All,
            SessionsToEnd::Keyless => Self::Keyless,
        }
    }
}

/// The result of changing enforcement.
#[derive(SimpleObject)]
pub struct MfaEnforcementPayload {
    /// The organization afterwards.
    pub organization: Organization,
    /// Sessions that ended now (only when enforcement was switched on; yours is kept).
    pub revoked_sessions: u64,
    /// Members who still have no key.
    pub members_without_key: u64,
}

/// The result of an admin deleting a member's key.
#[derive(SimpleObject)]
pub struct MemberSecurityKeyDeletePayload {
    /// The deleted key's ID.
    pub deleted_key_id: ID,
    /// The key's owner.
    pub member_id: ID,
    /// Keys the member has left.
    pub remaining_keys: u64,
    /// The member's sessions that ended.
    pub revoked_sessions: u64,
    /// Your session's new token (also set as the cookie) when you deleted one of your own keys:
    /// your other sessions ended and this one was rotated.
    pub session_token: Option<String>,
}

/// Admin mutations.
#[derive(Default)]
pub struct OrgMutations;

#[Object]
impl OrgMutations {
    /// Turns MFA enforcement on or off, or moves its grace deadline. Turning it on ends every
    /// other session of the organization at once (or, with `endSessions: KEYLESS`, only those no
    /// security key confirmed); you must have a key.
    async fn mfa_enforcement_set(
        &self,
        ctx: &Context<'_>,
        input: MfaEnforcementInput,
    ) -> ApiResult<MfaEnforcementPayload> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        let requested = Enforcement { enabled: input.enabled, grace_period_ends_at: input.grace_period_ends_at };
        let outcome = admin::set_enforcement(ctx.app(), session, requested, input.end_sessions.into(), ip).await?;
        Ok(MfaEnforcementPayload {
            organization: outcome.organization.into(),
            revoked_sessions: outcome.revoked_sessions,
            members_without_key: outcome.members_without_key,
        })
    }

    /// Deletes any member's key, even their last; their sessions end at once.
    async fn member_security_key_delete(&self, ctx: &Context<'_>, id: ID) -> ApiResult<MemberSecurityKeyDeletePayload> {
        let session = ctx.org_admin()?.0;
        let request = ctx.request()?;
        let (key, remaining_keys, revoked_sessions, rotated) =
            admin::delete_member_key(ctx.app(), session, &id, request.ip.clone()).await?;
        Ok(MemberSecurityKeyDeletePayload {
            deleted_key_id: ID(key.id.to_string()),
            member_id: ID(key.member_id.to_string()),
            remaining_keys,
            revoked_sessions,
            session_token: rotated.map(|issued| request.rotated(&issued)),
        })
    }

    /// Ends all of a member's sessions. Returns how many ended.
    async fn member_sessions_revoke(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<u64> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(admin::revoke_member_sessions(ctx.app(), session, &member_id, ip).await?)
    }

    /// Sets the organization's WebAuthn policy.
    async fn webauthn_policy_update(&self, ctx: &Context<'_>, input: WebauthnPolicy) -> ApiResult<WebauthnPolicy> {
        let session = ctx.org_admin()?.0;
        let request = ctx.request()?;
        let policy = DomainPolicy::try_from(input)?;
        let (policy, rotated) = admin::set_webauthn_policy(ctx.app(), session, policy, request.ip.clone()).await?;
        if let Some(issued) = rotated {
            request.rotated(&issued);
        }
        Ok(policy.into())
    }
}
