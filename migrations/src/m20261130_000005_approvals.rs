//! Pipeline approvals: API keys (only their secrets' hashes), approval requests (unique per
//! organization and digest) and the votes on them with the raw assertions as evidence. Votes keep
//! no foreign key to security keys: the evidence must outlive a deleted key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    OrgId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApprovalRequests {
    Table,
    Id,
    OrgId,
    Digest,
    Body,
    Pipeline,
    Stage,
    Environment,
    Status,
    Reason,
    Requirements,
    PolicyVersion,
    FiredRules,
    CreatedByKey,
    CreatedByMember,
    RequesterMember,
    CommitAuthorMember,
    CreatedAt,
    ExpiresAt,
    DecidedAt,
    Token,
    TokenJti,
    Version,
}

#[derive(DeriveIden)]
enum ApprovalVotes {
    Table,
    Id,
    RequestId,
    OrgId,
    MemberId,
    KeyId,
    CredentialId,
    Groups,
    Decision,
    Reason,
    At,
    Evidence,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(uuid(ApiKeys::Id).primary_key())
                    .col(uuid(ApiKeys::OrgId))
                    .col(string(ApiKeys::Name))
                    .col(string(ApiKeys::Prefix))
                    .col(string(ApiKeys::SecretHash).unique_key())
                    .col(text(ApiKeys::Scopes))
                    .col(uuid_null(ApiKeys::CreatedBy))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("api_keys_org").table(ApiKeys::Table).col(ApiKeys::OrgId).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApprovalRequests::Table)
                    .col(uuid(ApprovalRequests::Id).primary_key())
                    .col(uuid(ApprovalRequests::OrgId))
                    .col(string(ApprovalRequests::Digest))
                    .col(text(ApprovalRequests::Body))
                    .col(string(ApprovalRequests::Pipeline))
                    .col(string(ApprovalRequests::Stage))
                    .col(string(ApprovalRequests::Environment))
                    .col(string(ApprovalRequests::Status))
                    .col(text_null(ApprovalRequests::Reason))
                    .col(text_null(ApprovalRequests::Requirements))
                    .col(big_integer(ApprovalRequests::PolicyVersion))
                    .col(text(ApprovalRequests::FiredRules))
                    .col(uuid_null(ApprovalRequests::CreatedByKey))
                    .col(uuid_null(ApprovalRequests::CreatedByMember))
                    .col(uuid_null(ApprovalRequests::RequesterMember))
                    .col(uuid_null(ApprovalRequests::CommitAuthorMember))
                    .col(timestamp_with_time_zone(ApprovalRequests::CreatedAt))
                    .col(timestamp_with_time_zone(ApprovalRequests::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApprovalRequests::DecidedAt))
                    .col(text_null(ApprovalRequests::Token))
                    .col(string_null(ApprovalRequests::TokenJti))
                    .col(big_integer(ApprovalRequests::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApprovalRequests::Table, ApprovalRequests::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("approval_requests_digest")
                .table(ApprovalRequests::Table)
                .col(ApprovalRequests::OrgId)
                .col(ApprovalRequests::Digest)
                .unique()
                .to_owned(),
            Index::create()
                .name("approval_requests_org_created")
                .table(ApprovalRequests::Table)
                .col(ApprovalRequests::OrgId)
                .col(ApprovalRequests::CreatedAt)
                .to_owned(),
            Index::create()
                .name("approval_requests_due")
                .table(ApprovalRequests::Table)
                .col(ApprovalRequests::Status)
                .col(ApprovalRequests::ExpiresAt)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ApprovalVotes::Table)
                    .col(uuid(ApprovalVotes::Id).primary_key())
                    .col(uuid(ApprovalVotes::RequestId))
                    .col(uuid(ApprovalVotes::OrgId))
                    .col(uuid(ApprovalVotes::MemberId))
                    .col(uuid(ApprovalVotes::KeyId))
                    .col(string(ApprovalVotes::CredentialId))
                    .col(text(ApprovalVotes::Groups))
                    .col(string(ApprovalVotes::Decision))
                    .col(text_null(ApprovalVotes::Reason))
                    .col(timestamp_with_time_zone(ApprovalVotes::At))
                    .col(text(ApprovalVotes::Evidence))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApprovalVotes::Table, ApprovalVotes::RequestId)
                            .to(ApprovalRequests::Table, ApprovalRequests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("approval_votes_one_per_member")
                    .table(ApprovalVotes::Table)
                    .col(ApprovalVotes::RequestId)
                    .col(ApprovalVotes::MemberId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApprovalVotes::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApprovalRequests::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await
    }
}
