//! Issuing and rotating session tokens: every authentication event gets a fresh token.

use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::member::Member;
use keyward_domain::org::Organization;
use keyward_domain::repo::{AuditRepo, MemberRepo, SecurityKeyRepo};
use keyward_domain::session::{
    AuthMethod, MAX_SESSIONS_PER_MEMBER, NewSession, Session, SessionFacts, SessionStage, SessionToken, initial_stage,
};
use keyward_domain::store::Created;
use serde_json::json;

use crate::secrets::random_token_bytes;
use crate::state::AppState;

/// A session just issued: its token (for the cookie and the payload) and its state.
pub struct Issued {
    /// The client's token.
    pub token: SessionToken,
    /// The session.
    pub session: Session,
}

/// Records the member's login time when `issued` finished the login (stage `AUTHENTICATED`); a
/// session still waiting for its key records nothing yet.
pub async fn record_if_complete(app: &AppState, issued: &Issued) -> Result<(), DomainError> {
    if issued.session.stage == SessionStage::Authenticated {
        app.db.record_login(issued.session.org_id, issued.session.member_id, Utc::now()).await?;
    }
    Ok(())
}

/// Where a login came from: what the session keeps for the step-up policy.
#[derive(Clone, Debug, Default)]
pub struct LoginOrigin {
    /// The client's address.
    pub ip: Option<String>,
    /// The IdP groups (SSO only).
    pub groups: Vec<String>,
}

/// Starts a session after a first factor, at the stage the rules give (DESIGN §4). Every login
/// path comes through here, so a deactivated member is refused here for all of them.
pub async fn start(
    app: &AppState,
    org: &Organization,
    member: &Member,
    method: AuthMethod,
    origin: LoginOrigin,
    now: DateTime<Utc>,
) -> Result<Issued, DomainError> {
    member.ensure_active()?;
    let has_key = !app.db.keys_of(org.id, member.id).await?.is_empty();
    let stage = initial_stage(has_key, &org.enforcement, now);
    let grace = if has_key { None } else { org.enforcement.grace_deadline(now) };
    let token = SessionToken::from_random(org.id, random_token_bytes());
    let created = app
        .sessions
        .create(
            NewSession {
                token_hash: token.hash(),
                org_id: org.id,
                member_id: member.id,
                role: member.role,
                stage,
                methods: vec![method],
                grace_period_ends_at: grace,
                facts: SessionFacts {
                    username: member.username.clone(),
                    groups: origin.groups,
                    login_ip: origin.ip,
                    device: keyward_storage::request_context::current()
                        .and_then(|meta| meta.user_agent)
                        .and_then(|agent| keyward_domain::device::describe_user_agent(&agent)),
                    key: None,
                },
            },
            app.lifetimes,
            now,
        )
        .await?;
    audit_evicted(app, &created).await?;
    Ok(Issued { token, session: created.session })
}

/// Records the member's oldest sessions a new one ended at the cap
/// ([`MAX_SESSIONS_PER_MEMBER`]), if it ended any.
pub(super) async fn audit_evicted(app: &AppState, created: &Created) -> Result<(), DomainError> {
    if created.evicted == 0 {
        return Ok(());
    }
    let session = &created.session;
    let record = AuditRecord::new(Actor::Member(session.member_id), "session.evicted")
        .target(format!("member:{}", session.member_id))
        .details(json!({ "endedSessions": created.evicted, "limit": MAX_SESSIONS_PER_MEMBER }));
    app.db.append_audit(session.org_id, record).await?;
    Ok(())
}

/// Replaces `current` with `changed` under a new token; `UNAUTHENTICATED` if `current` died.
pub async fn rotate(
    app: &AppState,
    current: &Session,
    mut changed: Session,
    now: DateTime<Utc>,
) -> Result<Issued, DomainError> {
    let token = SessionToken::from_random(current.org_id, random_token_bytes());
    changed.token_hash = token.hash();
    changed.last_seen_at = now;
    if !app.sessions.replace(&current.token_hash, &changed, now).await? {
        return Err(DomainError::Unauthenticated);
    }
    Ok(Issued { token, session: changed })
}
