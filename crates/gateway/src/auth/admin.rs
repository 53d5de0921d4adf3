//! Organization MFA for admins: enforcement with an O(1) session flush, its exact preview, member
//! keys and sessions, and the WebAuthn policy.

use chrono::{DateTime, Utc};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::change::AuthzChange;
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::member::Member;
use keyward_domain::org::{Enforcement, EnforcementChange, Organization, SessionsToEnd};
use keyward_domain::repo::{
    AuditRepo, DeletedBy, MemberQuery, MemberRepo, MemberSummary, OrganizationRepo, PolicyKind, PolicyRepo,
    SecurityKeyRepo, StoredPolicy,
};
use keyward_domain::security_key::SecurityKey;
use keyward_domain::session::Session;
use keyward_domain::webauthn_policy::{CredentialFacts, WebauthnPolicy};
use keyward_domain::{DomainError, StoreError};
use serde_json::json;

use super::changes;
use super::session::Issued;
use crate::state::AppState;

fn actor(session: &Session) -> Actor {
    Actor::Member(session.member_id)
}

async fn organization(app: &AppState, org: OrgId) -> Result<Organization, DomainError> {
    app.db.organization(org).await?.ok_or(DomainError::NotFound)
}

/// The outcome of `mfaEnforcementSet`.
pub struct EnforcementOutcome {
    /// The organization afterwards.
    pub organization: Organization,
    /// Live sessions that ended (0 unless enforcement was just switched on).
    pub revoked_sessions: u64,
    /// Members who still have no key.
    pub members_without_key: u64,
}

/// Turns enforcement on or off. Switching it on bumps the organization's epoch in the same step
/// that sets the flag: every other session ends at once, on every instance, whatever their number.
pub async fn set_enforcement(
    app: &AppState,
    session: &Session,
    requested: Enforcement,
    end: SessionsToEnd,
    ip: Option<String>,
) -> Result<EnforcementOutcome, DomainError> {
    let now = Utc::now();
    let org = organization(app, session.org_id).await?;
    let admin_has_key = !app.db.keys_of(org.id, session.member_id).await?.is_empty();
    let change = org.enforcement.change_to(&requested, admin_has_key, now)?;
    if change == EnforcementChange::Enable {
        end.check(session.is_keyless())?;
    }
    let (organization, revoked_sessions) = if change == EnforcementChange::None {
        (org, 0)
    } else {
        let sessions = app.sessions.clone();
        let keep = session.token_hash.clone();
        let org_id = org.id;
        let flush: keyward_domain::repo::BeforeCommit = if change == EnforcementChange::Enable {
            Box::new(move || {
                Box::pin(async move {
                    match end {
                        SessionsToEnd::All => sessions.revoke_org(org_id, Some(&keep), now).await,
                        SessionsToEnd::Keyless => {
                            // Counted first: the O(1) flush itself cannot say how many it ended.
                            let keyless = sessions.count_keyless(org_id, now).await?;
                            sessions.revoke_keyless(org_id, now).await.map(|()| keyless)
                        }
                    }
                })
            })
        } else {
            Box::new(|| Box::pin(async { Ok(0) }))
        };
        let action = match change {
            EnforcementChange::Disable => "org.mfa_enforcement.disabled",
            EnforcementChange::Update => "org.mfa_enforcement.updated",
            _ => "org.mfa_enforcement.enabled",
        };
        let actor = actor(session);
        let audit = Box::new(move |revoked: u64| {
            AuditRecord::new(actor, action).target(format!("org:{org_id}")).ip(ip).details(json!({
                "enabled": requested.enabled,
                "gracePeriodEndsAt": requested.grace_period_ends_at,
                "revokedSessions": revoked,
                "endSessions": (change == EnforcementChange::Enable).then_some(end.as_str()),
            }))
        });
        let outcome = app.db.set_enforcement(org_id, requested, now, flush, audit).await?;
        if let Some(sessions_change) = AuthzChange::of_enforcement(change) {
            changes::apply(app, org_id, &sessions_change, Some(session), None, now).await?;
        }
        outcome
    };
    let members_without_key = app.db.count_members_without_key(organization.id).await?;
    Ok(EnforcementOutcome { organization, revoked_sessions, members_without_key })
}

pub(super) async fn all_members(
    app: &AppState,
    org: OrgId,
    without_key: bool,
) -> Result<Vec<MemberSummary>, StoreError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = app.db.members(org, MemberQuery { first: 500, after, without_key, search: None }).await?;
        after = page.items.last().map(|s| s.member.id);
        all.extend(page.items);
        if !page.has_more {
            return Ok(all);
        }
    }
}

/// A member who would be locked out, and why.
pub struct AtRisk {
    /// The member.
    pub member: Member,
    /// Their live sessions (which enforcing would end).
    pub live_sessions: u64,
    /// Their keys that the policy would refuse, with the reason for each.
    pub refused_keys: Vec<(SecurityKey, String)>,
}

/// What enforcing now would do.
pub struct Preview {
    /// Members without any key: they must register at their next login.
    pub without_key: Vec<AtRisk>,
    /// Members whose every key fails the WebAuthn policy: they could not log in at all.
    pub only_refused_keys: Vec<AtRisk>,
    /// Sessions that would end (all but the caller's).
    pub sessions_to_end: u64,
    /// Sessions that ending only keyless sessions would end.
    pub keyless_sessions_to_end: u64,
}

/// Who enforcement would lock out, exactly, before anyone flips the switch.
pub async fn preview(app: &AppState, session: &Session, now: DateTime<Utc>) -> Result<Preview, DomainError> {
    let org = session.org_id;
    let policy = super::webauthn_policy(app, org).await?;
    let members = all_members(app, org, false).await?;
    let ids: Vec<MemberId> = members.iter().map(|m| m.member.id).collect();
    let live = app.sessions.live_sessions_of(org, &ids, now).await?;
    let mut keys_by_member: std::collections::HashMap<MemberId, Vec<SecurityKey>> = std::collections::HashMap::new();
    for key in app.db.keys_in_org(org).await? {
        keys_by_member.entry(key.member_id).or_default().push(key);
    }
    let mut without_key = Vec::new();
    let mut only_refused_keys = Vec::new();
    for (summary, live_sessions) in members.into_iter().zip(live) {
        // A deactivated member cannot log in at all: enforcement locks nobody else out there.
        if !summary.member.is_active() {
            continue;
        }
        let keys = keys_by_member.remove(&summary.member.id).unwrap_or_default();
        if keys.is_empty() {
            without_key.push(AtRisk { member: summary.member, live_sessions, refused_keys: vec![] });
            continue;
        }
        let models = verified_models(app, &policy, org, summary.member.id).await?;
        let refused: Vec<(SecurityKey, String)> = keys
            .iter()
            .filter_map(|key| policy.check(&key_facts(key, &models)).err().map(|reason| (key.clone(), reason)))
            .collect();
        if refused.len() == keys.len() {
            only_refused_keys.push(AtRisk { member: summary.member, live_sessions, refused_keys: refused });
        }
    }
    let live_total = app.sessions.live_sessions(org, now).await?;
    let keyless_sessions_to_end = app.sessions.count_keyless(org, now).await?;
    Ok(Preview {
        without_key,
        only_refused_keys,
        sessions_to_end: live_total.saturating_sub(1),
        keyless_sessions_to_end,
    })
}

/// The model each of a member's keys has proven by a verified attestation, as a login would judge
/// it; empty when the policy lists no models (none is needed) or the server has no roots.
pub(super) async fn verified_models(
    app: &AppState,
    policy: &WebauthnPolicy,
    org: OrgId,
    member: MemberId,
) -> Result<std::collections::HashMap<SecurityKeyId, uuid::Uuid>, DomainError> {
    let mut models = std::collections::HashMap::new();
    if !policy.needs_attestation() || app.rp.attestation_roots.is_none() {
        return Ok(models);
    }
    for stored in app.db.stored_keys_of(org, member).await? {
        let Ok(credential) = serde_json::from_str(&stored.credential) else { continue };
        let at = std::time::SystemTime::from(stored.key.created_at);
        if let Some(model) = crate::webauthn::verified_model(&app.rp, policy, &credential, at)? {
            models.insert(stored.key.id, model);
        }
    }
    Ok(models)
}

/// Deletes any member's key (even the last); that member's sessions end at once (when the admin
/// deletes their own key, their current session is rotated instead, and returned).
pub async fn delete_member_key(
    app: &AppState,
    session: &Session,
    key_id: &str,
    ip: Option<String>,
) -> Result<(SecurityKey, u64, u64, Option<Issued>), DomainError> {
    let id: SecurityKeyId = key_id.parse().map_err(|_| DomainError::NotFound)?;
    let key = app.db.key(session.org_id, id).await?.ok_or(DomainError::NotFound)?.key;
    let record = AuditRecord::new(actor(session), "member.security_key.deleted")
        .target(format!("member:{}", key.member_id))
        .ip(ip.clone())
        .details(json!({
            "keyId": key.id.to_string(),
            "keyName": key.name,
            "aaguid": key.aaguid.map(|a| a.to_string()),
            "member": key.member_id.to_string(),
        }));
    let (deleted, remaining) = app.db.delete_key(session.org_id, key.id, DeletedBy::Admin, record).await?;
    let change = AuthzChange::KeyDeleted(deleted.member_id);
    let applied = changes::apply(app, session.org_id, &change, Some(session), None, Utc::now()).await?;
    audit_revocation(app, session, deleted.member_id, applied.ended, "key deleted by an admin", ip).await?;
    Ok((deleted, remaining, applied.ended, applied.rotated))
}

/// Deactivates a member (offboarding): no login path lets them in, and every session of theirs
/// ends at once, on every instance. The last active admin, and the caller, cannot be
/// deactivated.
pub async fn deactivate_member(
    app: &AppState,
    session: &Session,
    member_id: &str,
    ip: Option<String>,
) -> Result<(Member, u64), DomainError> {
    let id: MemberId = member_id.parse().map_err(|_| DomainError::NotFound)?;
    let now = Utc::now();
    let record = AuditRecord::new(actor(session), "member.deactivated").target(format!("member:{id}")).ip(ip.clone());
    let member = app.db.set_deactivated(session.org_id, session.member_id, id, Some(now), record).await?;
    let applied =
        changes::apply(app, session.org_id, &AuthzChange::MemberDeactivated(id), Some(session), None, now).await?;
    audit_revocation(app, session, id, applied.ended, "member deactivated", ip).await?;
    Ok((member, applied.ended))
}

/// Reactivates a deactivated member: they can log in again (their old sessions stay ended).
pub async fn reactivate_member(
    app: &AppState,
    session: &Session,
    member_id: &str,
    ip: Option<String>,
) -> Result<Member, DomainError> {
    let id: MemberId = member_id.parse().map_err(|_| DomainError::NotFound)?;
    let record = AuditRecord::new(actor(session), "member.reactivated").target(format!("member:{id}")).ip(ip);
    app.db.set_deactivated(session.org_id, session.member_id, id, None, record).await
}

/// Ends all of a member's sessions (but the caller's own current one).
pub async fn revoke_member_sessions(
    app: &AppState,
    session: &Session,
    member_id: &str,
    ip: Option<String>,
) -> Result<u64, DomainError> {
    let id: MemberId = member_id.parse().map_err(|_| DomainError::NotFound)?;
    let member = app.db.member(session.org_id, id).await?.ok_or(DomainError::NotFound)?;
    let keep = (member.id == session.member_id).then_some(&session.token_hash);
    let revoked = app.sessions.revoke_member(session.org_id, member.id, keep, Utc::now()).await?;
    audit_revocation(app, session, member.id, revoked, "revoked by an admin", ip).await?;
    Ok(revoked)
}

/// Validates and stores the organization's WebAuthn policy. The sessions of members holding a key
/// it now refuses end; when that includes the caller, their session is rotated and returned.
pub async fn set_webauthn_policy(
    app: &AppState,
    session: &Session,
    policy: WebauthnPolicy,
    ip: Option<String>,
) -> Result<(WebauthnPolicy, Option<Issued>), DomainError> {
    policy.validate(app.rp.attestation_roots.is_some())?;
    let preview = super::policy_preview::preview(app, session, &policy).await?;
    if let Some(refusal) = preview.refusal {
        return Err(DomainError::PolicyDenied(refusal));
    }
    let body = serde_json::to_string(&policy).map_err(|e| DomainError::Store(StoreError::Unexpected(e.to_string())))?;
    let record = AuditRecord::new(actor(session), "org.webauthn_policy.updated")
        .target(format!("org:{}", session.org_id))
        .ip(ip)
        .details(serde_json::to_value(&policy).unwrap_or_default());
    let current = app.db.policy(session.org_id, PolicyKind::Webauthn).await?.map_or(0, |p| p.version);
    let stored = StoredPolicy {
        kind: PolicyKind::Webauthn,
        body,
        updated_at: Utc::now(),
        updated_by: Some(session.member_id),
        version: current + 1,
    };
    app.db.put_policy(session.org_id, stored, current, record).await?;
    app.policies.insert_webauthn(session.org_id, current + 1, std::sync::Arc::new(policy.clone()));
    app.sessions.announce_policy_version(session.org_id, PolicyKind::Webauthn, current + 1, false).await?;
    // Sessions confirmed by a key the policy now refuses must not outlive the policy change.
    // One query for every key; the verified models are read per member only when the policy lists
    // models (verified_models answers at once otherwise).
    let mut by_member: std::collections::BTreeMap<uuid::Uuid, Vec<SecurityKey>> = std::collections::BTreeMap::new();
    for key in app.db.keys_in_org(session.org_id).await? {
        by_member.entry(key.member_id.0).or_default().push(key);
    }
    let mut refused = Vec::new();
    for (member, keys) in by_member {
        let member = MemberId(member);
        let models = verified_models(app, &policy, session.org_id, member).await?;
        if keys.iter().any(|key| policy.check(&key_facts(key, &models)).is_err()) {
            refused.push(member);
        }
    }
    if refused.is_empty() {
        return Ok((policy, None));
    }
    let change = AuthzChange::KeysRefused(refused);
    let applied = changes::apply(app, session.org_id, &change, Some(session), None, Utc::now()).await?;
    Ok((policy, applied.rotated))
}

/// What the policy judges of a key: the model only as far as a verified attestation proves it.
pub(super) fn key_facts(
    key: &SecurityKey,
    models: &std::collections::HashMap<SecurityKeyId, uuid::Uuid>,
) -> CredentialFacts {
    CredentialFacts {
        aaguid: models.get(&key.id).copied(),
        backup_eligible: key.backup_eligible,
        user_verified: key.user_verified,
    }
}

/// Records sessions ended by an admin action.
async fn audit_revocation(
    app: &AppState,
    session: &Session,
    member: MemberId,
    revoked: u64,
    why: &str,
    ip: Option<String>,
) -> Result<(), StoreError> {
    let record = AuditRecord::new(actor(session), "member.sessions.revoked")
        .target(format!("member:{member}"))
        .ip(ip)
        .details(json!({ "revokedSessions": revoked, "reason": why }));
    app.db.append_audit(session.org_id, record).await.map(|_| ())
}
