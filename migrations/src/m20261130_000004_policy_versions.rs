//! Versioned organization policies: `org_policies.version` counts saves, and every saved text is
//! kept in `org_policy_versions`, so the audit trail's "version 3 → 4" can always be read back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrgPolicies {
    Table,
    Version,
}

#[derive(DeriveIden)]
enum OrgPolicyVersions {
    Table,
    OrgId,
    Kind,
    Version,
    Body,
    CreatedAt,
    CreatedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrgPolicies::Table)
                    .add_column(big_integer(OrgPolicies::Version).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrgPolicyVersions::Table)
                    .col(uuid(OrgPolicyVersions::OrgId))
                    .col(string(OrgPolicyVersions::Kind))
                    .col(big_integer(OrgPolicyVersions::Version))
                    .col(text(OrgPolicyVersions::Body))
                    .col(timestamp_with_time_zone(OrgPolicyVersions::CreatedAt))
                    .col(uuid_null(OrgPolicyVersions::CreatedBy))
                    .primary_key(
                        Index::create()
                            .col(OrgPolicyVersions::OrgId)
                            .col(OrgPolicyVersions::Kind)
                            .col(OrgPolicyVersions::Version),
                    )
                    .to_owned(),
            )
            .await?;
        // Policies saved before versions existed become version 1 of their history.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO org_policy_versions (org_id, kind, version, body, created_at, created_by) \
                 SELECT org_id, kind, 1, body, updated_at, updated_by FROM org_policies",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OrgPolicyVersions::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(OrgPolicies::Table).drop_column(OrgPolicies::Version).to_owned()).await
    }
}
