//! Organizations, bootstrap and enforcement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::member::Member;
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::{BeforeCommit, Bootstrap, OrganizationRepo};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use super::audit_append::{append_in, create_head};
use super::convert::organization_from;
use super::entities::{backup_credential, instance_bootstrap, organization};
use super::members::insert_member;
use super::{Database, map_err};

#[async_trait]
impl OrganizationRepo for Database {
    async fn organization(&self, id: OrgId) -> Result<Option<Organization>, StoreError> {
        let row = organization::Entity::find_by_id(id.0).one(&self.conn).await.map_err(map_err)?;
        Ok(row.map(organization_from))
    }

    async fn organization_by_slug(&self, slug: &str) -> Result<Option<Organization>, StoreError> {
        let row = organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug))
            .one(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(row.map(organization_from))
    }

    async fn organizations(&self) -> Result<Vec<Organization>, StoreError> {
        let rows = organization::Entity::find()
            .order_by_asc(organization::Column::CreatedAt)
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(rows.into_iter().map(organization_from).collect())
    }

    async fn bootstrap(&self, first: Bootstrap, audit: AuditRecord) -> Result<Option<Member>, StoreError> {
        let existing = organization::Entity::find().count(&self.conn).await.map_err(map_err)?;
        if existing > 0 {
            return Ok(None);
        }
        match self.bootstrap_once(first, audit).await {
            // Another instance won the race for the bootstrap row (or the slug) and committed.
            Err(StoreError::Conflict(_)) => Ok(None),
            other => other.map(Some),
        }
    }

    async fn create_organization(&self, org: Organization, audit: AuditRecord) -> Result<Organization, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        insert_organization(&txn, &org).await?;
        create_head(&txn, org.id).await?;
        append_in(&txn, org.id, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(org)
    }

    async fn set_enforcement(
        &self,
        org: OrgId,
        enforcement: Enforcement,
        at: DateTime<Utc>,
        flush: BeforeCommit,
        audit: Box<dyn FnOnce(u64) -> AuditRecord + Send>,
    ) -> Result<(Organization, u64), StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let row = organization::ActiveModel {
            id: Set(org.0),
            mfa_enforced: Set(enforcement.enabled),
            grace_period_ends_at: Set(enforcement.grace_period_ends_at),
            updated_at: Set(at),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(map_err)?;
        // Dropping the transaction on error rolls the flag back: enforcement never half-happens.
        let flushed = flush().await?;
        append_in(&txn, org, audit(flushed)).await?;
        txn.commit().await.map_err(map_err)?;
        Ok((organization_from(row), flushed))
    }
}

async fn insert_organization(db: &impl ConnectionTrait, org: &Organization) -> Result<(), StoreError> {
    organization::ActiveModel {
        id: Set(org.id.0),
        slug: Set(org.slug.clone()),
        name: Set(org.name.clone()),
        mfa_enforced: Set(org.enforcement.enabled),
        grace_period_ends_at: Set(org.enforcement.grace_period_ends_at),
        created_at: Set(org.created_at),
        updated_at: Set(org.created_at),
    }
    .insert(db)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl Database {
    async fn bootstrap_once(&self, first: Bootstrap, audit: AuditRecord) -> Result<Member, StoreError> {
        let org = &first.organization;
        let txn = self.conn.begin().await.map_err(map_err)?;
        insert_organization(&txn, org).await?;
        instance_bootstrap::ActiveModel { id: Set(1), org_id: Set(org.id.0), created_at: Set(org.created_at) }
            .insert(&txn)
            .await
            .map_err(map_err)?;
        create_head(&txn, org.id).await?;
        let admin = insert_member(&txn, MemberId::new(), first.admin, org.created_at).await?;
        backup_credential::ActiveModel {
            org_id: Set(org.id.0),
            member_id: Set(admin.id.0),
            username: Set(first.backup_username),
            secret_hash: Set(first.backup_secret_hash),
            rotated_at: Set(org.created_at),
        }
        .insert(&txn)
        .await
        .map_err(map_err)?;
        append_in(&txn, org.id, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(admin)
    }
}
