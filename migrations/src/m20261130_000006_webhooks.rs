//! Organization webhooks: the webhook itself (one per organization, its HMAC secret sealed like
//! SSO client secrets), its cursor over the audit chain, and the delivery log. A delivery is unique
//! per `(org_id, audit_seq)`: that insert is how an instance claims an event, so two instances
//! never both notify it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    OrgId,
    Url,
    Events,
    Secret,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookCursors {
    Table,
    OrgId,
    AuditSeq,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    OrgId,
    AuditSeq,
    Event,
    ApprovalRequestId,
    Payload,
    Status,
    Attempts,
    LastStatusCode,
    LastError,
    NextAttemptAt,
    CreatedAt,
    DeliveredAt,
}

fn org_fk(from_table: impl IntoIden, from_col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(uuid(Webhooks::OrgId).primary_key())
                    .col(text(Webhooks::Url))
                    .col(text(Webhooks::Events))
                    .col(text(Webhooks::Secret))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(&mut org_fk(Webhooks::Table, Webhooks::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookCursors::Table)
                    .col(uuid(WebhookCursors::OrgId).primary_key())
                    .col(big_integer(WebhookCursors::AuditSeq))
                    .foreign_key(&mut org_fk(WebhookCursors::Table, WebhookCursors::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::OrgId))
                    .col(big_integer(WebhookDeliveries::AuditSeq))
                    .col(string_len(WebhookDeliveries::Event, 64))
                    .col(string_len_null(WebhookDeliveries::ApprovalRequestId, 128))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(integer_null(WebhookDeliveries::LastStatusCode))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                    .foreign_key(&mut org_fk(WebhookDeliveries::Table, WebhookDeliveries::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_org_seq")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::OrgId)
                    .col(WebhookDeliveries::AuditSeq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The worker's "what is due" scan.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [WebhookDeliveries::Table.into_iden(), WebhookCursors::Table.into_iden(), Webhooks::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
