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

use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::ceremony::{Ceremony, CeremonyPurpose};
use keyward_domain::ids::{CeremonyId, OrgId};
use keyward_domain::rate_limit::{self, Limit, limits};
use keyward_domain::repo::{PolicyKind, PolicyRepo};
use keyward_domain::session::{Session, TokenHash};
use keyward_domain::webauthn_policy::WebauthnPolicy;

use crate::state::AppState;

/// The organization's WebAuthn policy (the default when none is stored).
pub async fn webauthn_policy(app: &AppState, org: OrgId) -> Result<WebauthnPolicy, DomainError> {
    match app.db.policy(org, PolicyKind::Webauthn).await? {
        Some(stored) => serde_json::from_str(&stored.body).map_err(|e| {
            DomainError::Store(keyward_domain::StoreError::Unexpected(format!("stored WebAuthn policy: {e}")))
        }),
        None => Ok(WebauthnPolicy::default()),
    }
}

/// Counts an attempt against each `(bucket, limit)`; refuses when any is exceeded.
pub async fn limit(app: &AppState, buckets: &[(String, Limit)], now: DateTime<Utc>) -> Result<(), DomainError> {
    for (bucket, limit) in buckets {
        rate_limit::check(app.rate_limiter.as_ref(), bucket, *limit, now).await?;
    }
    Ok(())
}

/// Counts a ceremony finish against the member's and the address's limits.
pub async fn limit_ceremony(
    app: &AppState,
    session: &Session,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let configured = &app.config.limits;
    limit(
        app,
        &[
            (
                format!("ceremony:{}", session.member_id),
                Limit { max: configured.ceremonies_per_member, ..limits::CEREMONY_PER_MEMBER },
            ),
            (
                format!("ceremony-ip:{}", ip.unwrap_or("unknown")),
                Limit { max: configured.ceremonies_per_ip, ..limits::CEREMONY_PER_IP },
            ),
        ],
        now,
    )
    .await
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
    let id: CeremonyId = id.parse().map_err(|_| DomainError::bad_input("ceremonyId", "not a ceremony ID"))?;
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
