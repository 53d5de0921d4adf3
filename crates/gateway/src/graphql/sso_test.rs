//! Test sign-in: an admin tries SSO settings at the IdP before saving them.

use async_graphql::{Context, Object, SimpleObject};

use super::context::{ContextExt, Cookie, CookieUpdate};
use super::login::{SsoConfigureInput, SsoLoginStartPayload, sso_started};
use super::types::{Member, Role};
use crate::auth::sso_test;
use crate::error::ApiResult;

/// What a test sign-in with candidate SSO settings showed (nothing was saved).
#[derive(SimpleObject)]
pub struct SsoTestResult {
    /// The IdP's subject for the account that signed in.
    pub subject: String,
    /// The e-mail address the IdP gave.
    pub email: Option<String>,
    /// Whether the IdP verified it.
    pub email_verified: bool,
    /// Whether these settings' allowed e-mail domains accept it.
    pub email_allowed: bool,
    /// The groups in the group claim (the admin group claim, else `groups`).
    pub groups: Vec<String>,
    /// The role these settings would give this account; null when the settings name no admin
    /// group.
    pub role: Option<Role>,
    /// The member this IdP account is linked to, if any.
    pub member: Option<Member>,
    /// Plain-language problems a real login with these settings would hit; empty when it would
    /// work.
    pub problems: Vec<String>,
}

/// Test sign-in mutations (admins).
#[derive(Default)]
pub struct SsoTestMutations;

#[Object]
impl SsoTestMutations {
    /// Starts a test sign-in with `input` (nothing is saved; an empty `clientSecret` uses the
    /// stored one): send the browser to the returned URL. The IdP's redirect comes back to
    /// `/org/sso?testCode=…&testState=…`, where the SPA calls `ssoTestFinish`.
    async fn sso_test_start(&self, ctx: &Context<'_>, input: SsoConfigureInput) -> ApiResult<SsoLoginStartPayload> {
        let session = ctx.org_admin()?.0;
        let started = sso_test::start(ctx.app(), session, input.into()).await?;
        Ok(sso_started(ctx.request()?, started))
    }

    /// Finishes a test sign-in from the session and browser that started it, and says what a real
    /// login with those settings would do. The account's groups are remembered for the member it
    /// is linked to (what `ssoConfigure`'s admin-group check reads).
    async fn sso_test_finish(&self, ctx: &Context<'_>, code: String, state: String) -> ApiResult<SsoTestResult> {
        let session = ctx.org_admin()?.0;
        let request = ctx.request()?;
        request.set_other_cookie(Cookie::SsoBinding, CookieUpdate::Clear);
        let binding = request.sso_binding.as_deref();
        let outcome = sso_test::finish(ctx.app(), session, &code, &state, binding, request.ip.clone()).await?;
        Ok(SsoTestResult {
            subject: outcome.subject,
            email: outcome.email,
            email_verified: outcome.email_verified,
            email_allowed: outcome.email_allowed,
            groups: outcome.groups,
            role: outcome.role.map(Into::into),
            member: outcome.member.map(Into::into),
            problems: outcome.problems,
        })
    }
}
