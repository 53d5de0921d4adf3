//! Security keys, with the last-key rule checked against a locked member row.

use async_trait::async_trait;
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::repo::{DeletedBy, SecurityKeyRepo, key_deletion_allowed};
use keyward_domain::security_key::{
    KeyUse, LoginBasis, NewSecurityKey, SIGN_COUNT_CHANGED, SecurityKey, StoredSecurityKey,
};
use keyward_domain::{DomainError, StoreError};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionTrait,
};

use super::audit_append::{append_in, resolve_names};
use super::convert::key_from;
use super::entities::{member, organization, security_key};
use super::key_login::KeyLogin;
use super::{Database, map_err};

#[async_trait]
impl SecurityKeyRepo for Database {
    async fn insert_key(&self, new: NewSecurityKey, audit: AuditRecord) -> Result<SecurityKey, StoreError> {
        let key = new.key;
        let transports = serde_json::to_string(&key.transports).map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let txn = self.conn.begin().await.map_err(map_err)?;
        let row = security_key::ActiveModel {
            id: Set(key.id.0),
            org_id: Set(key.org_id.0),
            member_id: Set(key.member_id.0),
            name: Set(key.name.clone()),
            credential_id: Set(key.credential_id.clone()),
            credential: Set(new.credential),
            aaguid: Set(key.aaguid),
            sign_count: Set(i64::from(key.sign_count)),
            backup_eligible: Set(key.backup_eligible),
            backed_up: Set(key.backed_up),
            transports: Set(transports),
            user_verified: Set(key.user_verified),
            created_at: Set(key.created_at),
            last_used_at: Set(key.last_used_at),
        }
        .insert(&txn)
        .await
        .map_err(|err| match map_err(err) {
            StoreError::Conflict(_) => StoreError::Conflict("credential_id".into()),
            other => other,
        })?;
        append_in(&txn, key.org_id, audit).await?;
        txn.commit().await.map_err(map_err)?;
        // The row as stored (PostgreSQL keeps microseconds), so callers see what a reread gives.
        Ok(key_from(row)?.key)
    }

    async fn stored_keys_of(&self, org: OrgId, member: MemberId) -> Result<Vec<StoredSecurityKey>, StoreError> {
        security_key::Entity::find()
            .filter(security_key::Column::OrgId.eq(org.0))
            .filter(security_key::Column::MemberId.eq(member.0))
            .order_by_asc(security_key::Column::CreatedAt)
            .order_by_asc(security_key::Column::Id)
            .all(&self.conn)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(key_from)
            .collect()
    }

    async fn keys_in_org(&self, org: OrgId) -> Result<Vec<SecurityKey>, StoreError> {
        security_key::Entity::find()
            .filter(security_key::Column::OrgId.eq(org.0))
            .order_by_asc(security_key::Column::MemberId)
            .order_by_asc(security_key::Column::CreatedAt)
            .all(&self.conn)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(|row| key_from(row).map(|stored| stored.key))
            .collect()
    }

    async fn key(&self, org: OrgId, id: SecurityKeyId) -> Result<Option<StoredSecurityKey>, StoreError> {
        security_key::Entity::find_by_id(id.0)
            .filter(security_key::Column::OrgId.eq(org.0))
            .one(&self.conn)
            .await
            .map_err(map_err)?
            .map(key_from)
            .transpose()
    }

    async fn key_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredSecurityKey>, StoreError> {
        security_key::Entity::find()
            .filter(security_key::Column::CredentialId.eq(credential_id.to_vec()))
            .one(&self.conn)
            .await
            .map_err(map_err)?
            .map(key_from)
            .transpose()
    }

    async fn rename_key(
        &self,
        org: OrgId,
        id: SecurityKeyId,
        name: &str,
        audit: AuditRecord,
    ) -> Result<SecurityKey, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let exists = security_key::Entity::find_by_id(id.0)
            .filter(security_key::Column::OrgId.eq(org.0))
            .one(&txn)
            .await
            .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let row = security_key::ActiveModel { id: Set(id.0), name: Set(name.to_owned()), ..Default::default() }
            .update(&txn)
            .await
            .map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(key_from(row)?.key)
    }

    async fn delete_key(
        &self,
        org: OrgId,
        id: SecurityKeyId,
        by: DeletedBy,
        audit: AuditRecord,
    ) -> Result<(SecurityKey, u64), DomainError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let key = security_key::Entity::find_by_id(id.0)
            .filter(security_key::Column::OrgId.eq(org.0))
            .one(&txn)
            .await
            .map_err(map_err)?
            .ok_or(DomainError::NotFound)?;
        // Locking the owner's row serializes concurrent deletions of their keys, so the count
        // below cannot be stale when two requests race for the last two keys.
        member::Entity::find_by_id(key.member_id)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(map_err)?
            .ok_or(DomainError::NotFound)?;
        let keys_before = security_key::Entity::find()
            .filter(security_key::Column::MemberId.eq(key.member_id))
            .count(&txn)
            .await
            .map_err(map_err)?;
        let enforced = organization::Entity::find_by_id(org.0)
            .one(&txn)
            .await
            .map_err(map_err)?
            .is_some_and(|org| org.mfa_enforced);
        key_deletion_allowed(by, enforced, keys_before)?;
        // The snapshot of the key's name must be taken while the key is still there.
        let audit = resolve_names(&txn, org, audit).await?;
        security_key::Entity::delete_by_id(id.0).exec(&txn).await.map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok((key_from(key)?.key, keys_before - 1))
    }

    async fn record_key_use(&self, org: OrgId, id: SecurityKeyId, used: KeyUse) -> Result<(), StoreError> {
        update_key_use(&self.conn, org, id, used).await
    }

    async fn key_for_login(&self, credential_id: &[u8]) -> Result<Option<(StoredSecurityKey, LoginBasis)>, StoreError> {
        super::key_login::key_for_login(&self.conn, credential_id).await
    }

    async fn record_key_login(
        &self,
        org: OrgId,
        member: MemberId,
        key: SecurityKeyId,
        used: KeyUse,
        audit: Vec<AuditRecord>,
        basis: LoginBasis,
    ) -> Result<(), StoreError> {
        super::key_login::record(&self.conn, KeyLogin { org, member, key, used, audit }, basis).await
    }
}

/// The key's use as a compare-and-set on its counter: a concurrent assertion that got there first
/// makes this one write nothing, so the counter can never move backwards.
pub(super) async fn update_key_use(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: SecurityKeyId,
    used: KeyUse,
) -> Result<(), StoreError> {
    let expected = i64::from(used.expected_sign_count);
    let result = security_key::Entity::update_many()
        .set(security_key::ActiveModel {
            last_used_at: Set(Some(used.at)),
            sign_count: Set(i64::from(used.sign_count.max(used.expected_sign_count))),
            backed_up: Set(used.backed_up),
            credential: Set(used.credential),
            ..Default::default()
        })
        .filter(security_key::Column::Id.eq(id.0))
        .filter(security_key::Column::OrgId.eq(org.0))
        .filter(security_key::Column::SignCount.eq(expected))
        .exec(conn)
        .await
        .map_err(map_err)?;
    if result.rows_affected == 0 {
        let exists = security_key::Entity::find_by_id(id.0)
            .filter(security_key::Column::OrgId.eq(org.0))
            .count(conn)
            .await
            .map_err(map_err)?;
        return Err(if exists == 0 { StoreError::NotFound } else { StoreError::Conflict(SIGN_COUNT_CHANGED.into()) });
    }
    Ok(())
}
