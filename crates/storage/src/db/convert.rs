//! Conversions between sea-orm rows and domain types.

use keyward_domain::StoreError;
use keyward_domain::audit::AuditEvent;
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::member::{Member, OidcIdentity};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::security_key::{SecurityKey, StoredSecurityKey};

use super::entities::{audit_event, member, organization, security_key};
use super::to_u64;

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("corrupt {what}: {err}"))
}

pub(crate) fn organization_from(row: organization::Model) -> Organization {
    Organization {
        id: OrgId(row.id),
        slug: row.slug,
        name: row.name,
        enforcement: Enforcement { enabled: row.mfa_enforced, grace_period_ends_at: row.grace_period_ends_at },
        created_at: row.created_at,
    }
}

pub(crate) fn member_from(row: member::Model) -> Result<Member, StoreError> {
    let oidc = match (row.oidc_issuer, row.oidc_subject) {
        (Some(issuer), Some(subject)) => Some(OidcIdentity { issuer, subject }),
        _ => None,
    };
    Ok(Member {
        id: MemberId(row.id),
        org_id: OrgId(row.org_id),
        username: row.username,
        display_name: row.display_name,
        email: row.email,
        role: row.role.parse().map_err(|e| corrupt("member role", e))?,
        oidc,
        created_at: row.created_at,
        last_login_at: row.last_login_at,
        deactivated_at: row.deactivated_at,
    })
}

pub(crate) fn key_from(row: security_key::Model) -> Result<StoredSecurityKey, StoreError> {
    let transports = serde_json::from_str(&row.transports).map_err(|e| corrupt("key transports", e))?;
    Ok(StoredSecurityKey {
        key: SecurityKey {
            id: SecurityKeyId(row.id),
            org_id: OrgId(row.org_id),
            member_id: MemberId(row.member_id),
            name: row.name,
            credential_id: row.credential_id,
            aaguid: row.aaguid,
            sign_count: u32::try_from(row.sign_count).unwrap_or(u32::MAX),
            backup_eligible: row.backup_eligible,
            backed_up: row.backed_up,
            transports,
            user_verified: row.user_verified,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        },
        credential: row.credential,
    })
}

pub(crate) fn audit_from(row: audit_event::Model) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        org_id: OrgId(row.org_id),
        seq: to_u64(row.seq),
        at: row.at,
        actor: row.actor,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        ip: row.ip,
        details: serde_json::from_str(&row.details).map_err(|e| corrupt("audit details", e))?,
        // An out-of-range version cannot verify; 0 makes the verifier say so.
        hash_version: u8::try_from(row.hash_version).unwrap_or(0),
        user_agent: row.user_agent,
        request_id: row.request_id,
        actor_name: row.actor_name,
        target_name: row.target_name,
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}
