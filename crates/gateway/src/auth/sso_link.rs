//! Linking an IdP account to a member who has none, typically the first admin, who starts with
//! the backup credentials. The IdP sends the browser back to the one registered callback; since
//! the session cookie is `SameSite=Strict`, that cross-site redirect does not carry it, so the
//! callback hands `code` and `state` to the SPA, which finishes with `ssoLinkFinish` from the
//! session that began the link. The ceremony belongs to that session, so nobody can link their
//! IdP account to somebody else's member.

use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::member::{Member, OidcIdentity, Role};
use keyward_domain::repo::{AuditRepo, MemberRepo, SsoConfigRepo};
use keyward_domain::session::Session;
use keyward_domain::{DomainError, StoreError};
use serde_json::json;

use super::sso::{Flow, Started, authorization_url, check_binding, take_session_ceremony, verify};
use crate::state::AppState;

/// Starts linking for the member of `session`: the IdP authorization URL, and the binding cookie
/// for the browser.
pub async fn start(app: &AppState, session: &Session) -> Result<Started, DomainError> {
    let now = Utc::now();
    let member = app.db.member(session.org_id, session.member_id).await?.ok_or(DomainError::NotFound)?;
    if member.oidc.is_some() {
        return Err(DomainError::SsoAlreadyLinked("your member already has an IdP account linked".into()));
    }
    let config = app.db.sso_config(session.org_id).await?.ok_or(DomainError::SsoNotConfigured)?;
    authorization_url(app, session.org_id, &config, Flow::Link(session.token_hash.clone()), now).await
}

/// Finishes linking with the `code` and `state` the IdP redirected back with, from the browser
/// presenting `binding` (its SSO binding cookie).
pub async fn finish(
    app: &AppState,
    session: &Session,
    code: &str,
    state: &str,
    binding: Option<&str>,
    ip: Option<String>,
) -> Result<Member, DomainError> {
    let ceremony = take_session_ceremony(app, session, state, "SSO_LINK", "link").await?;
    let org_id = session.org_id;
    let config = app.db.sso_config(org_id).await?.ok_or(DomainError::SsoNotConfigured)?;
    let member = app.db.member(org_id, session.member_id).await?.ok_or(DomainError::NotFound)?;
    let result = match check_binding(&ceremony.state, binding) {
        Ok(()) => verify(app, &config, &ceremony.state, code).await,
        Err(err) => Err(err),
    };
    let identity = match result {
        Ok(identity) => identity,
        Err(err) => {
            let record = AuditRecord::new(Actor::Member(member.id), "member.sso.linked")
                .failed()
                .target(format!("member:{}", member.id))
                .ip(ip)
                .details(json!({ "reason": err.to_string() }));
            app.db.append_audit(org_id, record).await?;
            return Err(err);
        }
    };
    config.check_email(identity.email.as_deref(), identity.email_verified)?;
    // Role sync would demote an admin at their next SSO login; with backup credentials leading to
    // the same member, that could leave the organization without an admin.
    if member.role == Role::Admin && config.role_from_claims(&identity.raw) == Some(Role::Member) {
        return Err(DomainError::PolicyDenied(
            "this IdP account is not in the admin group, so linking it would make you a member at your next SSO login"
                .into(),
        ));
    }
    let oidc = OidcIdentity { issuer: identity.issuer.clone(), subject: identity.subject.clone() };
    if app.db.member_by_oidc(org_id, &oidc).await?.is_some() {
        return Err(DomainError::SsoAlreadyLinked("that IdP account already belongs to another member".into()));
    }
    let record = AuditRecord::new(Actor::Member(member.id), "member.sso.linked")
        .target(format!("member:{}", member.id))
        .ip(ip)
        .details(json!({ "issuer": identity.issuer, "subject": identity.subject }));
    app.db.link_oidc(org_id, member.id, oidc, record).await.map_err(|err| match err {
        StoreError::Conflict(_) => {
            DomainError::SsoAlreadyLinked("that IdP account or this member was linked a moment ago".into())
        }
        other => other.into(),
    })
}
