//! Approving a terminal's hand-off inside the step-up ceremony: [`check`] at `stepUpBegin`,
//! [`pending`] and [`complete`] when `stepUpFinish` succeeded (see
//! `auth::step_up::finish_with_handoff`).

use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::handoff::{Handoff, HandoffId, HandoffKind, HandoffResult};
use keyward_domain::ids::SecurityKeyId;
use keyward_domain::repo::{AuditRepo, MemberRepo};
use keyward_domain::session::{KeyFacts, NewSession, Session, SessionFacts, SessionStage, SessionToken};
use keyward_domain::step_up::{Grant, GrantScope};
use serde_json::{Value, json};

use super::session::{Issued, record_if_complete};
use super::step_up::{Finished, grant_to};
use crate::secrets::random_token_bytes;
use crate::state::AppState;

fn gone() -> DomainError {
    DomainError::bad_input(
        "handoff",
        "this terminal request is unknown or expired: run the command in your terminal again",
    )
}

/// At `stepUpBegin(action, resource, handoff)`: the hand-off must exist, be pending, be for
/// exactly this action and resource (a login: `cli.login` on `handoff:<id>`), and may be
/// approved by `approver` (a hand-off bound to a CLI session only by that session's member).
pub async fn check(
    app: &AppState,
    approver: &Session,
    action: &str,
    resource: Option<&str>,
    handoff: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id: HandoffId = handoff.parse().map_err(|_| DomainError::bad_input("handoff", "not a hand-off ID"))?;
    let found = app.handoffs.handoff(id, now).await?.ok_or_else(gone)?;
    found.check_approval(approver, action, resource, now)
}

/// A new key-backed session for the approver of a login hand-off: fully authenticated, with the
/// approver's methods plus the security key, confirmed by the key that signed at `now`, and
/// started from the terminal's address.
async fn login_session(
    app: &AppState,
    approver: &Session,
    (key, key_facts): (SecurityKeyId, KeyFacts),
    client_ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<Issued, DomainError> {
    let member = app.db.member(approver.org_id, approver.member_id).await?.ok_or(DomainError::Unauthenticated)?;
    member.ensure_active()?;
    let token = SessionToken::from_random(approver.org_id, random_token_bytes());
    // The terminal's session: its address and device, not those of the browser that approved it.
    let facts =
        SessionFacts { login_ip: client_ip, device: Some("Keyward CLI".into()), key: None, ..approver.facts.clone() };
    let created = app
        .sessions
        .create(
            NewSession {
                token_hash: token.hash(),
                org_id: approver.org_id,
                member_id: member.id,
                role: member.role,
                stage: SessionStage::MfaRequired,
                methods: approver.methods.clone(),
                grace_period_ends_at: None,
                facts,
            },
            app.lifetimes,
            now,
        )
        .await?;
    super::session::audit_evicted(app, &created).await?;
    let pending = created.session;
    let confirmed = pending.confirmed_by_key(key, key_facts, app.lifetimes, now);
    if !app.sessions.replace(&pending.token_hash, &confirmed, now).await? {
        return Err(DomainError::Unauthenticated);
    }
    Ok(Issued { token, session: confirmed })
}

/// The grant as the API shows it (`StepUpGrant`): `{action, resource, reuse, expiresAt}`.
fn grant_json(grant: &Grant) -> Value {
    let (action, reuse) = match &grant.scope {
        GrantScope::Action(action) => (action, "ACTION"),
        GrantScope::Class(class) => (class, "CLASS"),
    };
    json!({ "action": action, "resource": grant.resource, "reuse": reuse, "expiresAt": grant.expires_at })
}

/// The hand-off a finished step-up completes, read once (`None` when it names none).
pub async fn pending(app: &AppState, finished: &Finished, now: DateTime<Utc>) -> Result<Option<Handoff>, DomainError> {
    let Some(id) = &finished.handoff else { return Ok(None) };
    let id: HandoffId = id.parse().map_err(|_| gone())?;
    Ok(Some(app.handoffs.handoff(id, now).await?.ok_or_else(gone)?))
}

/// At `stepUpFinish`, after the assertion verified: completes `found`, the hand-off `finished`
/// names ([`pending`]). A login gets a new key-backed session for the approver; a
/// step-up bound to a CLI session puts the grant on that session (rotated; its new token goes to
/// the terminal); `jwt` is delivered when the terminal asked for a token. The approval is
/// checked again, so a hand-off that expired or was approved elsewhere meanwhile is refused.
pub async fn complete(
    app: &AppState,
    approver: &Session,
    finished: &Finished,
    found: Handoff,
    jwt: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = found.id;
    found.check_approval(approver, &finished.action, finished.resource.as_deref(), now)?;
    let (issued, grant, token) = match &found.kind {
        HandoffKind::Login => {
            let issued = login_session(app, approver, finished.key, found.client_ip.clone(), now).await?;
            (Some(issued), None, None)
        }
        HandoffKind::StepUp { want_token, .. } => {
            if *want_token && jwt.is_none() {
                return Err(DomainError::bad_input("issueToken", "this terminal asked for a step-up token"));
            }
            let issued = match &found.bound {
                Some(bound) => {
                    let ended = || {
                        DomainError::bad_input("handoff", "the terminal's session has ended: run keyward login again")
                    };
                    let cli = app.sessions.lookup(bound.org_id, &bound.token_hash, now).await?.ok_or_else(ended)?;
                    Some(grant_to(app, &cli, finished.grant.clone(), now).await.map_err(|_| ended())?)
                }
                None => None,
            };
            let grant = issued.as_ref().map(|_| grant_json(&finished.grant));
            (issued, grant, jwt.filter(|_| *want_token))
        }
    };
    let result = HandoffResult {
        org_id: approver.org_id,
        member_id: approver.member_id,
        session_token: issued.as_ref().map(|i| i.token.expose()),
        token,
        grant,
    };
    if !app.handoffs.complete_handoff(id, &result, now).await? {
        // Approved elsewhere or expired meanwhile (a bound CLI session was rotated all the same:
        // its member approved twice at once). A login session made for it must not outlive it.
        if let Some(issued) = &issued
            && found.kind == HandoffKind::Login
        {
            let _ = app.sessions.revoke(issued.session.org_id, &issued.session.token_hash, now).await;
        }
        return Err(gone());
    }
    if let Some(issued) = issued.as_ref().filter(|_| found.kind == HandoffKind::Login) {
        record_if_complete(app, issued).await?;
        let record = AuditRecord::new(Actor::Member(approver.member_id), "cli.login")
            .target(format!("member:{}", approver.member_id))
            .ip(found.client_ip.clone())
            .details(json!({ "handoff": id.to_string(), "keyId": finished.key.0.to_string() }));
        app.db.append_audit(approver.org_id, record).await?;
    }
    Ok(())
}
