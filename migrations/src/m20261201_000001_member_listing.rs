//! The member listing pages by ID within an organization: an index on `(org_id, id)` lets a page
//! read only its own rows, however many members the organization has (`make bench` measures the
//! listing at 1,000, 10,000 and 100,000 members).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Members {
    Table,
    OrgId,
    Id,
}

const INDEX: &str = "members_org_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name(INDEX).table(Members::Table).col(Members::OrgId).col(Members::Id).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(Members::Table).to_owned()).await
    }
}
