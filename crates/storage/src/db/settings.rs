//! Per-organization settings: recovery codes, SSO, policies and backup credentials.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::repo::{
    BackupCredential, BackupCredentialRepo, PolicyKind, PolicyRepo, RecoveryCodeRepo, RecoveryCodeStatus, SsoConfig,
    SsoConfigRepo, StoredPolicy,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait};

use super::audit_append::append_in;
use super::convert::corrupt;
use super::entities::{backup_credential, org_policy, org_policy_version, recovery_code, sso_config};
use super::{Database, map_err};

fn to_json(value: &[String]) -> String {
    serde_json::Value::from(value.to_vec()).to_string()
}

fn from_json(what: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

#[async_trait]
impl RecoveryCodeRepo for Database {
    async fn replace_recovery_codes(
        &self,
        org: OrgId,
        member: MemberId,
        code_hashes: Vec<String>,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::OrgId.eq(org.0))
            .filter(recovery_code::Column::MemberId.eq(member.0))
            .exec(&txn)
            .await
            .map_err(map_err)?;
        let rows = code_hashes.into_iter().map(|hash| recovery_code::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            org_id: Set(org.0),
            member_id: Set(member.0),
            code_hash: Set(hash),
            created_at: Set(at),
            used_at: Set(None),
        });
        recovery_code::Entity::insert_many(rows).exec(&txn).await.map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)
    }

    async fn consume_recovery_code(
        &self,
        org: OrgId,
        member: MemberId,
        code_hash: &str,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        // The `used_at IS NULL` condition makes the update itself the check, so two concurrent
        // uses of one code cannot both succeed.
        let result = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(at))
            .filter(recovery_code::Column::OrgId.eq(org.0))
            .filter(recovery_code::Column::MemberId.eq(member.0))
            .filter(recovery_code::Column::CodeHash.eq(code_hash))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .map_err(map_err)?;
        if result.rows_affected == 0 {
            return Ok(false);
        }
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn recovery_code_status(&self, org: OrgId, member: MemberId) -> Result<RecoveryCodeStatus, StoreError> {
        let codes: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = recovery_code::Entity::find()
            .select_only()
            .column(recovery_code::Column::CreatedAt)
            .column(recovery_code::Column::UsedAt)
            .filter(recovery_code::Column::OrgId.eq(org.0))
            .filter(recovery_code::Column::MemberId.eq(member.0))
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(RecoveryCodeStatus::of(codes))
    }
}

#[async_trait]
impl SsoConfigRepo for Database {
    async fn sso_config(&self, org: OrgId) -> Result<Option<SsoConfig>, StoreError> {
        let Some(row) = sso_config::Entity::find_by_id(org.0).one(&self.conn).await.map_err(map_err)? else {
            return Ok(None);
        };
        Ok(Some(SsoConfig {
            scopes: from_json("sso scopes", &row.scopes)?,
            allowed_email_domains: from_json("sso email domains", &row.allowed_email_domains)?,
            issuer: row.issuer,
            client_id: row.client_id,
            client_secret: row.client_secret,
            admin_group_claim: row.admin_group_claim,
            admin_group_value: row.admin_group_value,
            updated_at: row.updated_at,
        }))
    }

    async fn put_sso_config(&self, org: OrgId, config: SsoConfig, audit: AuditRecord) -> Result<(), StoreError> {
        use sso_config::Column;
        let row = sso_config::ActiveModel {
            org_id: Set(org.0),
            issuer: Set(config.issuer),
            client_id: Set(config.client_id),
            client_secret: Set(config.client_secret),
            scopes: Set(to_json(&config.scopes)),
            admin_group_claim: Set(config.admin_group_claim),
            admin_group_value: Set(config.admin_group_value),
            allowed_email_domains: Set(to_json(&config.allowed_email_domains)),
            updated_at: Set(config.updated_at),
        };
        let upsert = OnConflict::column(Column::OrgId)
            .update_columns([
                Column::Issuer,
                Column::ClientId,
                Column::ClientSecret,
                Column::Scopes,
                Column::AdminGroupClaim,
                Column::AdminGroupValue,
                Column::AllowedEmailDomains,
                Column::UpdatedAt,
            ])
            .to_owned();
        let txn = self.conn.begin().await.map_err(map_err)?;
        sso_config::Entity::insert(row).on_conflict(upsert).exec(&txn).await.map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)
    }
}

/// The `Conflict` of a policy save that lost a race with another save.
pub const POLICY_CHANGED: &str = "the policy was changed by someone else meanwhile: reload it and save again";

#[async_trait]
impl PolicyRepo for Database {
    async fn policy(&self, org: OrgId, kind: PolicyKind) -> Result<Option<StoredPolicy>, StoreError> {
        let row =
            org_policy::Entity::find_by_id((org.0, kind.as_str().to_owned())).one(&self.conn).await.map_err(map_err)?;
        Ok(row.map(|row| StoredPolicy {
            kind,
            body: row.body,
            updated_at: row.updated_at,
            updated_by: row.updated_by.map(MemberId),
            version: u64::try_from(row.version).unwrap_or_default(),
        }))
    }

    async fn put_policy(
        &self,
        org: OrgId,
        policy: StoredPolicy,
        expected_version: u64,
        audit: AuditRecord,
    ) -> Result<u64, StoreError> {
        use org_policy::Column;
        let stale = || StoreError::Conflict(POLICY_CHANGED.into());
        let unique_is_stale = |err| match map_err(err) {
            StoreError::Conflict(_) => stale(),
            other => other,
        };
        let expected = i64::try_from(expected_version).map_err(|_| stale())?;
        let version = expected + 1;
        let kind = policy.kind.as_str().to_owned();
        let txn = self.conn.begin().await.map_err(map_err)?;
        if expected == 0 {
            let row = org_policy::ActiveModel {
                org_id: Set(org.0),
                kind: Set(kind.clone()),
                body: Set(policy.body.clone()),
                updated_at: Set(policy.updated_at),
                updated_by: Set(policy.updated_by.map(|id| id.0)),
                version: Set(version),
            };
            // A concurrent first save hits the primary key: the loser is told to reload.
            org_policy::Entity::insert(row).exec(&txn).await.map_err(unique_is_stale)?;
        } else {
            let updated = org_policy::Entity::update_many()
                .col_expr(Column::Body, Expr::value(policy.body.clone()))
                .col_expr(Column::UpdatedAt, Expr::value(policy.updated_at))
                .col_expr(Column::UpdatedBy, Expr::value(policy.updated_by.map(|id| id.0)))
                .col_expr(Column::Version, Expr::value(version))
                .filter(Column::OrgId.eq(org.0))
                .filter(Column::Kind.eq(kind.clone()))
                .filter(Column::Version.eq(expected))
                .exec(&txn)
                .await
                .map_err(map_err)?;
            if updated.rows_affected != 1 {
                return Err(stale());
            }
        }
        let history = org_policy_version::ActiveModel {
            org_id: Set(org.0),
            kind: Set(kind),
            version: Set(version),
            body: Set(policy.body),
            created_at: Set(policy.updated_at),
            created_by: Set(policy.updated_by.map(|id| id.0)),
        };
        org_policy_version::Entity::insert(history).exec(&txn).await.map_err(unique_is_stale)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(expected_version + 1)
    }
}

fn backup_from(row: backup_credential::Model) -> BackupCredential {
    BackupCredential {
        org_id: OrgId(row.org_id),
        member_id: MemberId(row.member_id),
        username: row.username,
        secret_hash: row.secret_hash,
        rotated_at: row.rotated_at,
    }
}

#[async_trait]
impl BackupCredentialRepo for Database {
    async fn backup_credential(&self, org: OrgId, username: &str) -> Result<Option<BackupCredential>, StoreError> {
        let row = backup_credential::Entity::find_by_id(org.0)
            .filter(backup_credential::Column::Username.eq(username))
            .one(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(row.map(backup_from))
    }

    async fn rotate_backup_credential(
        &self,
        org: OrgId,
        secret_hash: String,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<BackupCredential, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let row = backup_credential::ActiveModel {
            org_id: Set(org.0),
            secret_hash: Set(secret_hash),
            rotated_at: Set(at),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(backup_from(row))
    }
}
