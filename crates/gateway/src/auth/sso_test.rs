//! An admin's test sign-in with SSO settings before they are saved: the same authorization-code
//! flow as a login, with the candidate settings kept in the ceremony, and no session, member or
//! setting changed, except that the signed-in account's IdP groups are remembered for the member
//! it is linked to (what the admin-group check needs). The result says what a real login with
//! those settings would do.

use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::member::{Member, OidcIdentity, Role};
use keyward_domain::repo::{AuditRepo, MemberRepo, SsoConfig};
use keyward_domain::session::Session;
use keyward_domain::sso::SsoSettings;
use keyward_domain::sso_groups::group_claims;
use serde_json::json;

use super::sso::{Flow, Identity, Started, authorization_url, check_binding, checked_config};
use super::sso::{take_session_ceremony, verify};
use crate::state::AppState;

/// What a test sign-in showed.
pub struct TestOutcome {
    /// The IdP's subject.
    pub subject: String,
    /// The e-mail address the IdP gave.
    pub email: Option<String>,
    /// Whether the IdP verified it.
    pub email_verified: bool,
    /// Whether the settings' allowed domains accept it.
    pub email_allowed: bool,
    /// The groups in the group claim.
    pub groups: Vec<String>,
    /// The role the settings would give; `None` when they name no admin group.
    pub role: Option<Role>,
    /// The member the IdP account is linked to.
    pub member: Option<Member>,
    /// What a real login would run into, in words.
    pub problems: Vec<String>,
}

/// Starts a test sign-in with `settings` (unsaved; an empty secret means the stored one).
pub async fn start(app: &AppState, session: &Session, settings: SsoSettings) -> Result<Started, DomainError> {
    let config = checked_config(app, session.org_id, settings).await?;
    authorization_url(app, session.org_id, &config, Flow::Test(session.token_hash.clone()), Utc::now()).await
}

/// Finishes a test sign-in from the browser presenting `binding`, and audits it.
pub async fn finish(
    app: &AppState,
    session: &Session,
    code: &str,
    state: &str,
    binding: Option<&str>,
    ip: Option<String>,
) -> Result<TestOutcome, DomainError> {
    let ceremony = take_session_ceremony(app, session, state, "SSO_TEST", "test").await?;
    let org_id = session.org_id;
    let candidate: SsoConfig = serde_json::from_value(ceremony.state["candidate"].clone())
        .map_err(|e| DomainError::CeremonyFailed(format!("corrupt test state: {e}")))?;
    let verified = match check_binding(&ceremony.state, binding) {
        Ok(()) => verify(app, &candidate, &ceremony.state, code).await,
        Err(err) => Err(err),
    };
    let actor = Actor::Member(session.member_id);
    let identity = match verified {
        Ok(identity) => identity,
        Err(err) => {
            let record = AuditRecord::new(actor, "org.sso.tested")
                .failed()
                .target(format!("org:{org_id}"))
                .ip(ip)
                .details(json!({ "issuer": candidate.issuer, "reason": err.to_string() }));
            app.db.append_audit(org_id, record).await?;
            return Err(err);
        }
    };
    let oidc = OidcIdentity { issuer: identity.issuer.clone(), subject: identity.subject.clone() };
    let member = app.db.member_by_oidc(org_id, &oidc).await?;
    if let Some(member) = &member {
        app.db.record_idp_groups(org_id, member.id, &group_claims(&identity.raw)).await?;
    }
    let outcome = judge(&candidate, &identity, member);
    let record = AuditRecord::new(actor, "org.sso.tested").target(format!("org:{org_id}")).ip(ip).details(json!({
        "issuer": candidate.issuer,
        "subject": outcome.subject,
        "email": outcome.email,
        "role": outcome.role.map(|r| r.as_str()),
        "problems": outcome.problems,
    }));
    app.db.append_audit(org_id, record).await?;
    Ok(outcome)
}

fn judge(config: &SsoConfig, identity: &Identity, member: Option<Member>) -> TestOutcome {
    let email_allowed = config.check_email(identity.email.as_deref(), identity.email_verified).is_ok();
    let role = config.role_from_claims(&identity.raw);
    let mut problems = Vec::new();
    if !email_allowed {
        problems.push(match &identity.email {
            Some(email) if identity.email_verified => {
                format!("{email} is not in an allowed e-mail domain: this account could not log in")
            }
            Some(email) => format!("the IdP did not verify {email}: this account could not log in"),
            None => "the IdP sent no e-mail address, and allowed domains are set: this account could not log in".into(),
        });
    }
    if let Some(member) = &member
        && member.is_admin()
        && role == Some(Role::Member)
    {
        problems.push(format!(
            "{} is an admin, but this account is not in the admin group: they would become a member at their next login",
            member.username
        ));
    }
    if config.admin_group_claim.is_some()
        && identity.raw.get(config.admin_group_claim.as_deref().unwrap_or("")).is_none()
    {
        problems.push("the ID token has no claim named like the admin group claim: ask the IdP to send it".into());
    }
    TestOutcome {
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        email_verified: identity.email_verified,
        email_allowed,
        groups: config.groups_from_claims(&identity.raw),
        role,
        member,
        problems,
    }
}
