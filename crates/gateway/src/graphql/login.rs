//! Login operations: SSO, backup credentials, the security-key step, and logout.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::repo::AuditRepo;
use serde_json::Value;

use super::context::{ContextExt, Cookie, CookieUpdate, RequestContext};
use super::keys::WebauthnChallenge;
use super::types::{Member, SessionStage, Viewer};
use crate::auth::session::Issued;
use crate::auth::{backup, mfa, sso, sso_link};
use crate::error::ApiResult;
use crate::state::AppState;

/// A session just started or advanced.
#[derive(SimpleObject)]
pub struct LoginPayload {
    /// The session token (also set as the session cookie: `__Host-keyward_session`, or
    /// `keyward_session` when Keyward runs on localhost); scripts send it as
    /// `Authorization: Bearer`.
    pub session_token: String,
    /// What to do next: `MFA_REQUIRED` → `mfaLoginBegin`; `MFA_REGISTRATION_REQUIRED` →
    /// `securityKeyRegistrationBegin`; `AUTHENTICATED` → done.
    pub stage: SessionStage,
    /// While MFA enforcement's grace period runs and you have no key: register one before this.
    pub grace_period_ends_at: Option<DateTime<Utc>>,
    /// The new session.
    pub viewer: Viewer,
}

async fn finish_login(app: &AppState, request: &RequestContext, issued: Issued) -> ApiResult<LoginPayload> {
    crate::auth::session::record_if_complete(app, &issued).await?;
    Ok(login_payload(request, issued))
}

/// Sets the session cookie and describes the new session.
fn login_payload(request: &RequestContext, issued: Issued) -> LoginPayload {
    let token = request.rotated(&issued);
    LoginPayload {
        session_token: token,
        stage: issued.session.stage.into(),
        grace_period_ends_at: issued.session.grace_period_ends_at,
        viewer: Viewer::from(&issued.session),
    }
}

/// Where to send the browser to log in.
#[derive(SimpleObject)]
pub struct SsoLoginStartPayload {
    /// The IdP's authorization URL (with state, nonce and PKCE challenge).
    pub authorization_url: String,
}

/// Sets the binding cookie of an SSO login or link begun and tells where to send the browser.
pub(super) fn sso_started(request: &RequestContext, started: sso::Started) -> SsoLoginStartPayload {
    request.set_other_cookie(Cookie::SsoBinding, CookieUpdate::Set(started.binding));
    SsoLoginStartPayload { authorization_url: started.authorization_url }
}

/// SSO settings an admin submits.
#[derive(InputObject)]
pub struct SsoConfigureInput {
    /// The issuer URL (its `/.well-known/openid-configuration` must load).
    pub issuer: String,
    /// The client ID registered at the IdP.
    pub client_id: String,
    /// The client secret (write-only: never returned). Null or empty keeps the stored one.
    pub client_secret: Option<String>,
    /// Scopes besides `openid` (e.g. `email`, `profile`, `groups`).
    #[graphql(default)]
    pub scopes: Vec<String>,
    /// ID-token claim listing the member's groups.
    pub admin_group_claim: Option<String>,
    /// The group in that claim that makes a member ADMIN.
    pub admin_group_value: Option<String>,
    /// When set, only verified e-mail addresses in these domains may log in.
    #[graphql(default)]
    pub allowed_email_domains: Vec<String>,
}

impl From<SsoConfigureInput> for keyward_domain::sso::SsoSettings {
    fn from(input: SsoConfigureInput) -> Self {
        Self {
            issuer: input.issuer,
            client_id: input.client_id,
            client_secret: input.client_secret,
            scopes: input.scopes,
            admin_group_claim: input.admin_group_claim,
            admin_group_value: input.admin_group_value,
            allowed_email_domains: input.allowed_email_domains,
        }
    }
}

/// SSO settings as stored (without the secret).
#[derive(SimpleObject)]
pub struct SsoConfiguration {
    /// Issuer URL.
    pub issuer: String,
    /// Client ID.
    pub client_id: String,
    /// Extra scopes.
    pub scopes: Vec<String>,
    /// Group claim.
    pub admin_group_claim: Option<String>,
    /// Admin group.
    pub admin_group_value: Option<String>,
    /// Allowed e-mail domains.
    pub allowed_email_domains: Vec<String>,
    /// Where the IdP must redirect to (register this at the IdP).
    pub redirect_uri: String,
    /// A client secret is stored (it is never returned; `ssoConfigure` keeps it unless given a
    /// new one).
    pub has_client_secret: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl SsoConfiguration {
    /// The stored settings as shown to admins: everything but the client secret.
    pub fn new(config: keyward_domain::repo::SsoConfig, app: &AppState) -> Self {
        SsoConfiguration {
            issuer: config.issuer,
            client_id: config.client_id,
            scopes: config.scopes,
            admin_group_claim: config.admin_group_claim,
            admin_group_value: config.admin_group_value,
            allowed_email_domains: config.allowed_email_domains,
            redirect_uri: sso::redirect_url(app),
            has_client_secret: !config.client_secret.is_empty(),
            updated_at: config.updated_at,
        }
    }
}

/// New backup credentials, shown once.
#[derive(SimpleObject)]
pub struct BackupCredentialsPayload {
    /// Organization slug.
    pub organization: String,
    /// Username.
    pub username: String,
    /// The new secret: store it now, it is never shown again.
    pub secret: String,
}

/// Login operations.
#[derive(Default)]
pub struct LoginMutations;

#[Object]
impl LoginMutations {
    /// Starts SSO for an organization: send the browser to the returned URL. The response sets
    /// an SSO binding cookie: only the browser holding it can finish this login.
    async fn sso_login_start(&self, ctx: &Context<'_>, organization: String) -> ApiResult<SsoLoginStartPayload> {
        let request = ctx.request()?;
        let started = sso::start(ctx.app(), &organization, request.ip.clone()).await?;
        Ok(sso_started(request, started))
    }

    /// Finishes SSO with the `code` and `state` the IdP redirected back with, from the browser
    /// that started it (`SSO_STATE_MISMATCH` otherwise).
    async fn sso_login_finish(&self, ctx: &Context<'_>, code: String, state: String) -> ApiResult<LoginPayload> {
        let request = ctx.request()?;
        // The ceremony is single-use, so its binding cookie is spent whatever the outcome.
        request.set_other_cookie(Cookie::SsoBinding, CookieUpdate::Clear);
        let binding = request.sso_binding.as_deref();
        let issued = sso::finish(ctx.app(), &code, &state, binding, request.ip.clone()).await?;
        finish_login(ctx.app(), request, issued).await
    }

    /// Logs in with the organization's backup credentials. They never skip the security key: an
    /// admin with a key lands at `MFA_REQUIRED`.
    async fn backup_credentials_login(
        &self,
        ctx: &Context<'_>,
        organization: String,
        username: String,
        secret: String,
    ) -> ApiResult<LoginPayload> {
        let request = ctx.request()?;
        let issued = backup::login(ctx.app(), &organization, &username, &secret, request.ip.clone()).await?;
        finish_login(ctx.app(), request, issued).await
    }

    /// Begins the security-key step of login.
    async fn mfa_login_begin(&self, ctx: &Context<'_>) -> ApiResult<WebauthnChallenge> {
        let session = ctx.session_for(keyward_domain::access::Gate::MfaPending)?;
        Ok(mfa::begin(ctx.app(), session).await?.into())
    }

    /// Finishes the security-key step with the authenticator's `AuthenticationResponseJSON`. The
    /// session token is rotated: the old one stops working.
    async fn mfa_login_finish(
        &self,
        ctx: &Context<'_>,
        ceremony_id: ID,
        response: Json<Value>,
    ) -> ApiResult<LoginPayload> {
        let session = ctx.session_for(keyward_domain::access::Gate::MfaPending)?;
        let request = ctx.request()?;
        let issued = mfa::finish(ctx.app(), session, &ceremony_id, &response.0, request.ip.clone()).await?;
        // mfa::finish recorded the login with the key's use, in one transaction.
        Ok(login_payload(request, issued))
    }

    /// Uses one of your recovery codes in place of your security key, at the key step of login
    /// (after SSO or backup credentials). Your other sessions end, and this one moves under a new
    /// token to `MFA_REGISTRATION_REQUIRED`: register a new key to continue. A wrong or used code
    /// answers `BAD_USER_INPUT` (field `code`).
    async fn mfa_recovery_code_finish(&self, ctx: &Context<'_>, code: String) -> ApiResult<LoginPayload> {
        let session = ctx.session_for(keyward_domain::access::Gate::MfaPending)?;
        let request = ctx.request()?;
        let issued = crate::auth::recovery::finish(ctx.app(), session, &code, request.ip.clone()).await?;
        Ok(login_payload(request, issued))
    }

    /// Ends the current session (and clears the session cookie). Returns `true`.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let session = ctx.any_session()?.0;
        let request = ctx.request()?;
        let app = ctx.app();
        app.sessions.revoke(session.org_id, &session.token_hash, Utc::now()).await?;
        request.set_cookie(CookieUpdate::Clear);
        let record = AuditRecord::new(Actor::Member(session.member_id), "session.logout")
            .target(format!("member:{}", session.member_id))
            .ip(request.ip.clone());
        app.db.append_audit(session.org_id, record).await?;
        Ok(true)
    }
}

/// Login settings: SSO configuration and linking (the member's own), backup credentials (admin only).
#[derive(Default)]
pub struct LoginSettingsMutations;

#[Object]
impl LoginSettingsMutations {
    /// Configures OIDC single sign-on (checked by loading the issuer's discovery document). An
    /// admin group that no admin is known to be in is refused (`POLICY_DENIED`): every admin would
    /// become a member at their next SSO login. `ssoTestStart` first lets Keyward see your groups.
    async fn sso_configure(&self, ctx: &Context<'_>, input: SsoConfigureInput) -> ApiResult<SsoConfiguration> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        let app = ctx.app();
        let config = sso::configure(app, session.org_id, Actor::Member(session.member_id), input.into(), ip).await?;
        Ok(SsoConfiguration::new(config, app))
    }

    /// Starts linking your IdP account to the member you are logged in as (for the first admin,
    /// who starts with backup credentials): send the browser to the returned URL. Afterwards you
    /// log in by SSO as this member, with the same keys.
    async fn sso_link_start(&self, ctx: &Context<'_>) -> ApiResult<SsoLoginStartPayload> {
        let session = ctx.self_service()?.0;
        let started = sso_link::start(ctx.app(), session).await?;
        Ok(sso_started(ctx.request()?, started))
    }

    /// Finishes linking with the `code` and `state` the IdP sent back (the SSO callback hands
    /// them to the SPA at `/org/sso?linkCode=…&linkState=…`). Must come from the session that
    /// began the link, in the browser that began it (`SSO_STATE_MISMATCH` otherwise).
    async fn sso_link_finish(&self, ctx: &Context<'_>, code: String, state: String) -> ApiResult<Member> {
        let session = ctx.self_service()?.0;
        let request = ctx.request()?;
        request.set_other_cookie(Cookie::SsoBinding, CookieUpdate::Clear);
        let binding = request.sso_binding.as_deref();
        Ok(sso_link::finish(ctx.app(), session, &code, &state, binding, request.ip.clone()).await?.into())
    }

    /// Replaces the organization's backup secret and shows the new one once.
    async fn backup_credentials_rotate(&self, ctx: &Context<'_>) -> ApiResult<BackupCredentialsPayload> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        let app = ctx.app();
        let (username, secret) = backup::rotate(app, session.org_id, Actor::Member(session.member_id), ip).await?;
        let org = keyward_domain::repo::OrganizationRepo::organization(app.db.as_ref(), session.org_id)
            .await?
            .map(|o| o.slug)
            .unwrap_or_default();
        Ok(BackupCredentialsPayload { organization: org, username, secret })
    }
}
