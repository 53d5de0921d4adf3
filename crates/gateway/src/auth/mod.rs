//! Login and key-management flows: each one orchestrates the domain rules, the repositories, the
//! stores and the verifiers, so resolvers stay thin.

pub mod admin;
pub mod api_key;
pub mod approval;
pub mod approval_policy;
pub mod approval_vote;
pub mod assertion;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod discovery;
pub mod handoff;
pub mod keys;
pub mod mfa;
pub mod policy_preview;
pub mod recovery;
pub mod session;
pub mod sso;
pub mod sso_link;
pub mod sso_test;
pub mod step_up;
pub mod step_up_policy;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::ceremony::{Ceremony, CeremonyPurpose};
use keyward_domain::ids::{CeremonyId, OrgId};
use keyward_domain::rate_limit::{self, Limit, limits};
use keyward_domain::repo::{PolicyKind, PolicyRepo};
use keyward_domain::session::{Session, TokenHash};
use keyward_domain::store::Counted;
use keyward_domain::webauthn_policy::WebauthnPolicy;

use crate::state::AppState;

/// The organization's WebAuthn policy (the default when none is stored), read from the database.
pub async fn webauthn_policy(app: &AppState, org: OrgId) -> Result<WebauthnPolicy, DomainError> {
    Ok(stored_webauthn_policy(app, org).await?.1)
}

/// The stored policy and its version (0 and the default when none is stored).
async fn stored_webauthn_policy(app: &AppState, org: OrgId) -> Result<(u64, WebauthnPolicy), DomainError> {
    match app.db.policy(org, PolicyKind::Webauthn).await? {
        Some(stored) => serde_json::from_str(&stored.body).map(|policy| (stored.version, policy)).map_err(|e| {
            DomainError::Store(keyward_domain::StoreError::Unexpected(format!("stored WebAuthn policy: {e}")))
        }),
        None => Ok((0, WebauthnPolicy::default())),
    }
}

/// The WebAuthn policy in force for `session`'s organization: the version comes with the
/// session lookup, so a cached policy costs no database read; a change announced by any instance
/// is a miss here on the next request, and is read once.
pub async fn session_webauthn_policy(app: &AppState, session: &Session) -> Result<Arc<WebauthnPolicy>, DomainError> {
    let org = session.org_id;
    match session.webauthn_policy_version {
        Some(0) => return Ok(Arc::new(WebauthnPolicy::default())),
        Some(version) => {
            if let Some(policy) = app.policies.webauthn(org, version) {
                return Ok(policy);
            }
        }
        None => {}
    }
    let (version, policy) = stored_webauthn_policy(app, org).await?;
    let policy = Arc::new(policy);
    app.policies.insert_webauthn(org, version, Arc::clone(&policy));
    if session.webauthn_policy_version.is_none() {
        app.sessions.announce_policy_version(org, PolicyKind::Webauthn, version, true).await?;
    }
    Ok(policy)
}

/// Counts an attempt against each `(bucket, limit)`; refuses when any is exceeded.
pub async fn limit(app: &AppState, buckets: &[(String, Limit)], now: DateTime<Utc>) -> Result<(), DomainError> {
    for (bucket, limit) in buckets {
        rate_limit::check(app.rate_limiter.as_ref(), bucket, *limit, now).await?;
    }
    Ok(())
}

/// A ceremony ID as the client sent it.
fn ceremony_id(id: &str) -> Result<CeremonyId, DomainError> {
    id.parse().map_err(|_| DomainError::bad_input("ceremonyId", "not a ceremony ID"))
}

/// Counts a ceremony finish against the member's and the address's limits (within the
/// organization) and, unless one is exceeded, takes the ceremony out of the store (once) and checks
/// its kind, owner and age: one round trip to the store.
pub async fn take_counted_ceremony(
    app: &AppState,
    session: &Session,
    ip: Option<&str>,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Ceremony, DomainError> {
    let id = ceremony_id(id)?;
    let configured = &app.config.limits;
    let limits = [
        (
            format!("ceremony:{}", session.member_id),
            Limit { max: configured.ceremonies_per_member, ..limits::CEREMONY_PER_MEMBER },
        ),
        (
            format!("ceremony-ip:{}", ip.unwrap_or("unknown")),
            Limit { max: configured.ceremonies_per_ip, ..limits::CEREMONY_PER_IP },
        ),
    ];
    match app.ceremonies.take_counted(session.org_id, id, &limits, now).await? {
        Counted::RateLimited { retry_after_seconds } => Err(DomainError::RateLimited { retry_after_seconds }),
        Counted::Taken(ceremony) => {
            ceremony.ok_or(DomainError::CeremonyExpired)?.claim(kind, Some(&session.token_hash), now)
        }
    }
}

/// Stores a new ceremony for `session` and returns its ID.
pub async fn begin_ceremony(
    app: &AppState,
    org: OrgId,
    session: Option<TokenHash>,
    purpose: CeremonyPurpose,
    state: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<CeremonyId, DomainError> {
    let ttl = chrono::Duration::from_std(app.config.ceremony.ttl).unwrap_or(chrono::Duration::minutes(5));
    let ceremony = Ceremony {
        id: CeremonyId::new(),
        org_id: org,
        session,
        purpose,
        state,
        created_at: now,
        expires_at: now + ttl,
    };
    app.ceremonies.put(&ceremony, now).await?;
    Ok(ceremony.id)
}

/// Takes a ceremony out of the store (once) and checks its kind, owner and age.
pub async fn take_ceremony(
    app: &AppState,
    org: OrgId,
    id: &str,
    kind: &str,
    session: Option<&TokenHash>,
    now: DateTime<Utc>,
) -> Result<Ceremony, DomainError> {
    let id = ceremony_id(id)?;
    app.ceremonies.take(org, id).await?.ok_or(DomainError::CeremonyExpired)?.claim(kind, session, now)
}

/// Audits a key ceremony the caller's response failed (a refused, expired or policy-denied
/// assertion) as `action` by the session's member; other errors are not the caller's doing.
pub async fn audit_refused_ceremony<T>(
    app: &AppState,
    session: &Session,
    action: &str,
    outcome: &Result<T, DomainError>,
    ip: Option<String>,
) -> Result<(), DomainError> {
    use keyward_domain::audit::{Actor, AuditRecord};
    use keyward_domain::repo::AuditRepo;
    let Err(err) = outcome else { return Ok(()) };
    let refused = matches!(
        err,
        DomainError::CeremonyFailed(_)
            | DomainError::CeremonyExpired
            | DomainError::PolicyDenied(_)
            | DomainError::StepUpDenied { .. }
            | DomainError::BadInput { .. }
            | DomainError::ApproverIneligible(_)
            | DomainError::ApprovalExpired
            | DomainError::ApprovalNotPending(_)
    );
    if refused {
        let record = AuditRecord::new(Actor::Member(session.member_id), action)
            .target(format!("member:{}", session.member_id))
            .failed()
            .ip(ip)
            .details(serde_json::json!({ "reason": err.to_string() }));
        app.db.append_audit(session.org_id, record).await?;
    }
    Ok(())
}
