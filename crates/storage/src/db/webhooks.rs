//! Organization webhooks, their cursors over the audit chain and the delivery log.
//!
//! Two instances may tail one organization at once: claiming locks the cursor row and inserts
//! each delivery under a unique `(org_id, audit_seq)`, and taking a due delivery moves its next
//! attempt forward only if nobody else did first, so every attempt is made by one instance.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::OrgId;
use keyward_domain::webhook::{AttemptRecord, DeliveryStatus, NewDelivery, Webhook, WebhookDelivery, WebhookRepo};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait, TryInsertResult};
use uuid::Uuid;

use super::audit_append::append_in;
use super::convert::corrupt;
use super::{Database, map_err, to_i64, to_u64};

/// Why pending deliveries end when their webhook is removed.
pub const REMOVED_ERROR: &str = "the webhook was removed before this delivery succeeded";

mod entity {
    pub mod webhook {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "webhooks")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub org_id: Uuid,
            pub url: String,
            pub events: String,
            pub secret: String,
            pub created_at: DateTimeUtc,
            pub updated_at: DateTimeUtc,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod webhook_cursor {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "webhook_cursors")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub org_id: Uuid,
            pub audit_seq: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod webhook_delivery {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "webhook_deliveries")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: Uuid,
            pub org_id: Uuid,
            pub audit_seq: i64,
            pub event: String,
            pub approval_request_id: Option<String>,
            pub payload: String,
            pub status: String,
            pub attempts: i32,
            pub last_status_code: Option<i32>,
            pub last_error: Option<String>,
            pub next_attempt_at: Option<DateTimeUtc>,
            pub created_at: DateTimeUtc,
            pub delivered_at: Option<DateTimeUtc>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entity::{webhook, webhook_cursor, webhook_delivery};

fn webhook_from(row: webhook::Model) -> Result<Webhook, StoreError> {
    let names: Vec<String> = serde_json::from_str(&row.events).map_err(|e| corrupt("webhook events", e))?;
    let events = names.iter().map(|n| n.parse()).collect::<Result<_, _>>().map_err(|e| corrupt("webhook events", e))?;
    Ok(Webhook {
        org_id: OrgId(row.org_id),
        url: row.url,
        events,
        secret: row.secret,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn delivery_from(row: webhook_delivery::Model) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: row.id,
        org_id: OrgId(row.org_id),
        audit_seq: to_u64(row.audit_seq),
        event: row.event.parse().map_err(|e| corrupt("webhook delivery event", e))?,
        approval_request_id: row.approval_request_id,
        payload: row.payload,
        status: row.status.parse().map_err(|e| corrupt("webhook delivery status", e))?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    })
}

fn new_delivery_row(new: NewDelivery) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: Set(new.id),
        org_id: Set(new.org_id.0),
        audit_seq: Set(to_i64(new.audit_seq)),
        event: Set(new.event.as_str().to_owned()),
        approval_request_id: Set(new.approval_request_id),
        payload: Set(new.payload),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        last_status_code: Set(None),
        last_error: Set(None),
        next_attempt_at: Set(Some(new.created_at)),
        created_at: Set(new.created_at),
        delivered_at: Set(None),
    }
}

fn attempts_i32(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}

#[async_trait]
impl WebhookRepo for Database {
    async fn webhook(&self, org: OrgId) -> Result<Option<Webhook>, StoreError> {
        let row = webhook::Entity::find_by_id(org.0).one(&self.conn).await.map_err(map_err)?;
        row.map(webhook_from).transpose()
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        let rows = webhook::Entity::find().all(&self.conn).await.map_err(map_err)?;
        rows.into_iter().map(webhook_from).collect()
    }

    async fn put_webhook(&self, hook: Webhook, audit: AuditRecord) -> Result<(), StoreError> {
        use webhook::Column;
        let org = hook.org_id;
        let events: Vec<&str> = hook.events.iter().map(|e| e.as_str()).collect();
        let row = webhook::ActiveModel {
            org_id: Set(org.0),
            url: Set(hook.url),
            events: Set(serde_json::Value::from(events).to_string()),
            secret: Set(hook.secret),
            created_at: Set(hook.created_at),
            updated_at: Set(hook.updated_at),
        };
        let upsert = OnConflict::column(Column::OrgId)
            .update_columns([Column::Url, Column::Events, Column::Secret, Column::UpdatedAt])
            .to_owned();
        let txn = self.conn.begin().await.map_err(map_err)?;
        webhook::Entity::insert(row).on_conflict(upsert).exec_without_returning(&txn).await.map_err(map_err)?;
        let event = append_in(&txn, org, audit).await?;
        // A new webhook starts at the head, its own event included; a replaced one keeps its place.
        let cursor = webhook_cursor::ActiveModel { org_id: Set(org.0), audit_seq: Set(to_i64(event.seq)) };
        webhook_cursor::Entity::insert(cursor)
            .on_conflict_do_nothing_on([webhook_cursor::Column::OrgId])
            .exec_without_returning(&txn)
            .await
            .map_err(map_err)?;
        txn.commit().await.map_err(map_err)
    }

    async fn delete_webhook(&self, org: OrgId, audit: AuditRecord) -> Result<bool, StoreError> {
        use webhook_delivery::Column;
        let txn = self.conn.begin().await.map_err(map_err)?;
        // The cursor first: claiming locks it, so a claim in flight finishes before this goes on,
        // and a later one finds no cursor and claims nothing.
        webhook_cursor::Entity::delete_by_id(org.0).exec(&txn).await.map_err(map_err)?;
        let deleted = webhook::Entity::delete_by_id(org.0).exec(&txn).await.map_err(map_err)?;
        if deleted.rows_affected == 0 {
            return Ok(false);
        }
        webhook_delivery::Entity::update_many()
            .col_expr(Column::Status, Expr::value(DeliveryStatus::Failed.as_str()))
            .col_expr(Column::LastError, Expr::value(REMOVED_ERROR))
            .col_expr(Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(Column::OrgId.eq(org.0))
            .filter(Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&txn)
            .await
            .map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn webhook_cursor(&self, org: OrgId) -> Result<Option<u64>, StoreError> {
        let row = webhook_cursor::Entity::find_by_id(org.0).one(&self.conn).await.map_err(map_err)?;
        Ok(row.map(|r| to_u64(r.audit_seq)))
    }

    async fn claim_deliveries(
        &self,
        org: OrgId,
        deliveries: Vec<NewDelivery>,
        through: u64,
    ) -> Result<u64, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let Some(cursor) =
            webhook_cursor::Entity::find_by_id(org.0).lock_exclusive().one(&txn).await.map_err(map_err)?
        else {
            return Ok(0);
        };
        let from = to_u64(cursor.audit_seq);
        let mut inserted = 0;
        for new in deliveries.into_iter().filter(|d| d.org_id == org && d.audit_seq > from && d.audit_seq <= through) {
            let result = webhook_delivery::Entity::insert(new_delivery_row(new))
                .on_conflict_do_nothing_on([webhook_delivery::Column::OrgId, webhook_delivery::Column::AuditSeq])
                .exec_without_returning(&txn)
                .await
                .map_err(map_err)?;
            if matches!(result, TryInsertResult::Inserted(n) if n > 0) {
                inserted += 1;
            }
        }
        if through > from {
            webhook_cursor::Entity::update_many()
                .col_expr(webhook_cursor::Column::AuditSeq, Expr::value(to_i64(through)))
                .filter(webhook_cursor::Column::OrgId.eq(org.0))
                .exec(&txn)
                .await
                .map_err(map_err)?;
        }
        txn.commit().await.map_err(map_err)?;
        Ok(inserted)
    }

    async fn take_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        use webhook_delivery::Column;
        let pending = DeliveryStatus::Pending.as_str();
        let due = webhook_delivery::Entity::find()
            .filter(Column::Status.eq(pending))
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_asc(Column::NextAttemptAt)
            .limit(limit)
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        let mut taken = Vec::with_capacity(due.len());
        for mut row in due {
            // Conditional on what was read: of two instances taking the same row, one moves it.
            let moved = webhook_delivery::Entity::update_many()
                .col_expr(Column::NextAttemptAt, Expr::value(lease_until))
                .filter(Column::Id.eq(row.id))
                .filter(Column::Status.eq(pending))
                .filter(Column::Attempts.eq(row.attempts))
                .filter(Column::NextAttemptAt.lte(now))
                .exec(&self.conn)
                .await
                .map_err(map_err)?;
            if moved.rows_affected == 1 {
                row.next_attempt_at = Some(lease_until);
                taken.push(delivery_from(row)?);
            }
        }
        Ok(taken)
    }

    async fn record_attempt(&self, id: Uuid, attempts_before: u32, record: AttemptRecord) -> Result<bool, StoreError> {
        use webhook_delivery::Column;
        let result = webhook_delivery::Entity::update_many()
            .col_expr(Column::Status, Expr::value(record.status.as_str()))
            .col_expr(Column::Attempts, Expr::value(attempts_i32(record.attempts)))
            .col_expr(Column::LastStatusCode, Expr::value(record.last_status_code.map(i32::from)))
            .col_expr(Column::LastError, Expr::value(record.last_error))
            .col_expr(Column::NextAttemptAt, Expr::value(record.next_attempt_at))
            .col_expr(Column::DeliveredAt, Expr::value(record.delivered_at))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(Column::Attempts.eq(attempts_i32(attempts_before)))
            .exec(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(result.rows_affected == 1)
    }

    async fn webhook_deliveries(&self, org: OrgId, first: u64) -> Result<Vec<WebhookDelivery>, StoreError> {
        use webhook_delivery::Column;
        let rows = webhook_delivery::Entity::find()
            .filter(Column::OrgId.eq(org.0))
            .order_by_desc(Column::AuditSeq)
            .limit(first)
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        rows.into_iter().map(delivery_from).collect()
    }
}
