//! Fixtures the repository suites share.

// Each suite is its own crate and uses a part of them.
#![allow(dead_code)]

use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::{OrganizationRepo, SecurityKeyRepo};
use keyward_domain::security_key::{KeyUse, NewSecurityKey, SecurityKey};
use keyward_storage::Database;

/// An event by the system.
pub fn audit(action: &str) -> AuditRecord {
    AuditRecord::new(Actor::System, action)
}

/// A key of `member` with `credential_id`.
pub fn new_key(org: OrgId, member: MemberId, credential_id: &[u8]) -> NewSecurityKey {
    NewSecurityKey {
        key: SecurityKey {
            id: SecurityKeyId::new(),
            org_id: org,
            member_id: member,
            name: format!("key {}", credential_id[0]),
            credential_id: credential_id.to_vec(),
            aaguid: Some(uuid::Uuid::new_v4()),
            sign_count: 0,
            backup_eligible: false,
            backed_up: false,
            transports: vec!["usb".into(), "nfc".into()],
            user_verified: true,
            created_at: Utc::now(),
            last_used_at: None,
        },
        credential: "{\"cred\":1}".into(),
    }
}

/// A key's use that read counter `expected` and saw `n`.
pub fn key_use(expected: u32, n: u32) -> KeyUse {
    KeyUse {
        at: Utc::now(),
        expected_sign_count: expected,
        sign_count: n,
        backed_up: false,
        credential: format!("{{\"n\":{n}}}"),
    }
}

/// A second organization, `other`.
pub async fn second_org(db: &Database) -> Organization {
    db.create_organization(
        Organization {
            id: OrgId::new(),
            slug: "other".into(),
            name: "Other".into(),
            enforcement: Enforcement::default(),
            created_at: Utc::now(),
        },
        audit("org.created"),
    )
    .await
    .unwrap()
}

/// A key login as the login path makes it: the basis read with the key, then the write.
pub async fn key_login(
    db: &Database,
    org: OrgId,
    member: MemberId,
    key: &SecurityKey,
    used: KeyUse,
    audit: Vec<AuditRecord>,
) -> Result<(), StoreError> {
    let (_, basis) = db.key_for_login(&key.credential_id).await.unwrap().expect("the key exists");
    db.record_key_login(org, member, key.id, used, audit, basis).await
}
