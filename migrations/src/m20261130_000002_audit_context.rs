//! Audit events record where their request came from (user agent, request ID) and a display
//! snapshot of actor and target, and which canonical form their hash covers. Existing events get
//! `hash_version = 1`: their hashes cover none of the new columns, so they verify as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    HashVersion,
    UserAgent,
    RequestId,
    ActorName,
    TargetName,
}

fn columns() -> [ColumnDef; 5] {
    [
        small_integer(AuditEvents::HashVersion).default(1).take(),
        text_null(AuditEvents::UserAgent),
        string_len_null(AuditEvents::RequestId, 128),
        string_null(AuditEvents::ActorName),
        string_null(AuditEvents::TargetName),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for mut column in columns() {
            manager.alter_table(Table::alter().table(AuditEvents::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            AuditEvents::TargetName,
            AuditEvents::ActorName,
            AuditEvents::RequestId,
            AuditEvents::UserAgent,
            AuditEvents::HashVersion,
        ] {
            manager.alter_table(Table::alter().table(AuditEvents::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
