//! Signing keys of step-up tokens (ES256), shared by every gateway instance. `generation` is unique:
//! a key's successor takes the next number, so two instances rotating at once cannot both add one.
//! The private key is stored sealed with the instance's `secrets_key` (as SSO client secrets are).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Generation,
    Algorithm,
    PublicJwk,
    PrivateKey,
    CreatedAt,
    RetiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string_len(SigningKeys::Kid, 128).primary_key())
                    .col(big_integer_uniq(SigningKeys::Generation))
                    .col(string_len(SigningKeys::Algorithm, 16))
                    .col(text(SigningKeys::PublicJwk))
                    .col(text(SigningKeys::PrivateKey))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await
    }
}
