//! API keys: only the hash of each secret is stored; revocation is one row update, seen by the
//! next request on every instance because every request reads the key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::api_key::{ApiKey, ApiKeyScope};
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{ApiKeyId, MemberId, OrgId};
use keyward_domain::pipeline_repo::ApiKeyRepo;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use super::audit_append::append_in;
use super::convert::corrupt;
use super::entities::api_key;
use super::{Database, map_err};

fn key_from(row: api_key::Model) -> Result<ApiKey, StoreError> {
    let names: Vec<String> = serde_json::from_str(&row.scopes).map_err(|e| corrupt("API key scopes", e))?;
    let scopes = names
        .iter()
        .map(|name| ApiKeyScope::parse(name).ok_or_else(|| corrupt("API key scope", name)))
        .collect::<Result<_, _>>()?;
    Ok(ApiKey {
        id: ApiKeyId(row.id),
        org_id: OrgId(row.org_id),
        name: row.name,
        prefix: row.prefix,
        scopes,
        created_by: row.created_by.map(MemberId),
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    })
}

#[async_trait]
impl ApiKeyRepo for Database {
    async fn create_api_key(&self, key: ApiKey, secret_hash: String, audit: AuditRecord) -> Result<ApiKey, StoreError> {
        let scopes: Vec<&str> = key.scopes.iter().map(ApiKeyScope::as_str).collect();
        let row = api_key::ActiveModel {
            id: Set(key.id.0),
            org_id: Set(key.org_id.0),
            name: Set(key.name.clone()),
            prefix: Set(key.prefix.clone()),
            secret_hash: Set(secret_hash),
            scopes: Set(serde_json::Value::from(scopes).to_string()),
            created_by: Set(key.created_by.map(|m| m.0)),
            created_at: Set(key.created_at),
            expires_at: Set(key.expires_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
        };
        let txn = self.conn.begin().await.map_err(map_err)?;
        api_key::Entity::insert(row).exec(&txn).await.map_err(map_err)?;
        append_in(&txn, key.org_id, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(key)
    }

    async fn api_keys(&self, org: OrgId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::OrgId.eq(org.0))
            .order_by_desc(api_key::Column::CreatedAt)
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        rows.into_iter().map(key_from).collect()
    }

    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = api_key::Entity::find()
            .filter(api_key::Column::SecretHash.eq(secret_hash))
            .one(&self.conn)
            .await
            .map_err(map_err)?;
        row.map(key_from).transpose()
    }

    async fn revoke_api_key(
        &self,
        org: OrgId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<ApiKey, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let found = api_key::Entity::find_by_id(id.0)
            .filter(api_key::Column::OrgId.eq(org.0))
            .one(&txn)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        if found.revoked_at.is_some() {
            return key_from(found);
        }
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(at))
            .filter(api_key::Column::Id.eq(id.0))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        key_from(api_key::Model { revoked_at: Some(at), ..found })
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
            .filter(api_key::Column::Id.eq(id.0))
            .exec(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
