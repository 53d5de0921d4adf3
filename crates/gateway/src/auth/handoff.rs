//! Approving a terminal's hand-off inside the step-up ceremony: [`check`] at `stepUpBegin`,
//! [`complete`] when `stepUpFinish` succeeded.
//!
//! The lead's ceremony calls them like this:
//! ```ignore
//! // stepUpBegin(action, resource, handoff): keep the approval in the ceremony state.
//! let approval = handoff::check(&app, &session, &action, resource.as_deref(), &handoff_id, now).await?;
//! // stepUpFinish, after the assertion verified (key = the key that signed, grant = what it earned):
//! let completed = handoff::complete(&app, &session, &approval, key_id, &grant, jwt, now).await?;
//! ```

use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::handoff::{HandoffId, HandoffKind, HandoffResult};
use keyward_domain::ids::SecurityKeyId;
use keyward_domain::repo::{AuditRepo, MemberRepo};
use keyward_domain::session::{NewSession, Session, SessionStage, SessionToken};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::session::Issued;
use crate::secrets::random_token_bytes;
use crate::state::AppState;

/// A hand-off the approver may complete, checked at `stepUpBegin`: keep it in the ceremony's
/// state and pass it to [`complete`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffApproval {
    /// The hand-off.
    pub id: HandoffId,
    /// Whether it is a login (a new session for the approver).
    pub login: bool,
    /// Whether the terminal wants a step-up JWT: `stepUpFinish` must issue one (as with
    /// `issueToken: true`) and pass it to [`complete`].
    pub want_token: bool,
    /// Whether the grant goes to the terminal's session rather than the approver's.
    pub bound: bool,
}

/// What [`complete`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The grant went to the terminal's CLI session: the approver's own session does not get it
    /// (and `StepUpFinishPayload.sessionToken` is null).
    pub grant_went_to_cli_session: bool,
}

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
) -> Result<HandoffApproval, DomainError> {
    let id: HandoffId = handoff.parse().map_err(|_| DomainError::bad_input("handoff", "not a hand-off ID"))?;
    let found = app.handoffs.handoff(id, now).await?.ok_or_else(gone)?;
    found.check_approval(approver, action, resource, now)?;
    let (login, want_token) = match &found.kind {
        HandoffKind::Login => (true, false),
        HandoffKind::StepUp { want_token, .. } => (false, *want_token),
    };
    Ok(HandoffApproval { id, login, want_token, bound: found.bound.is_some() })
}

#[allow(dead_code)] // completed after the merge with the step-up core
/// A new key-backed session for the approver of a login hand-off: fully authenticated, the
/// approver's methods plus the security key, confirmed by `key` at `now`.
async fn login_session(
    app: &AppState,
    approver: &Session,
    key: SecurityKeyId,
    now: DateTime<Utc>,
) -> Result<Issued, DomainError> {
    let member = app.db.member(approver.org_id, approver.member_id).await?.ok_or(DomainError::Unauthenticated)?;
    member.ensure_active()?;
    let token = SessionToken::from_random(approver.org_id, random_token_bytes());
    let pending = app
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
            },
            app.lifetimes,
            now,
        )
        .await?;
    let confirmed = pending.confirmed_by_key(key, app.lifetimes, now);
    if !app.sessions.replace(&pending.token_hash, &confirmed, now).await? {
        return Err(DomainError::Unauthenticated);
    }
    Ok(Issued { token, session: confirmed })
}
