//! The first schema: organizations, members, security keys, recovery codes, SSO, policies, backup
//! credentials and the audit chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Slug,
    Name,
    MfaEnforced,
    GracePeriodEndsAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InstanceBootstrap {
    Table,
    Id,
    OrgId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    OrgId,
    Username,
    DisplayName,
    Email,
    Role,
    OidcIssuer,
    OidcSubject,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum SecurityKeys {
    Table,
    Id,
    OrgId,
    MemberId,
    Name,
    CredentialId,
    Credential,
    Aaguid,
    SignCount,
    BackupEligible,
    BackedUp,
    Transports,
    UserVerified,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    OrgId,
    MemberId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum SsoConfigs {
    Table,
    OrgId,
    Issuer,
    ClientId,
    ClientSecret,
    Scopes,
    AdminGroupClaim,
    AdminGroupValue,
    AllowedEmailDomains,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgPolicies {
    Table,
    OrgId,
    Kind,
    Body,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum BackupCredentials {
    Table,
    OrgId,
    MemberId,
    Username,
    SecretHash,
    RotatedAt,
}

#[derive(DeriveIden)]
enum AuditHeads {
    Table,
    OrgId,
    Seq,
    Hash,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    OrgId,
    Seq,
    At,
    Actor,
    Action,
    Target,
    Outcome,
    Ip,
    Details,
    PrevHash,
    Hash,
}

fn org_fk(from_table: impl IntoIden, from_col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn member_fk(from_table: impl IntoIden, from_col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(Members::Table, Members::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(uuid(Organizations::Id).primary_key())
                    .col(string_len_uniq(Organizations::Slug, 63))
                    .col(string(Organizations::Name))
                    .col(boolean(Organizations::MfaEnforced).default(false))
                    .col(timestamp_with_time_zone_null(Organizations::GracePeriodEndsAt))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // One row, ever: the primary key makes concurrent first starts race for it, and only the
        // winner's transaction (with its organization) commits.
        manager
            .create_table(
                Table::create()
                    .table(InstanceBootstrap::Table)
                    .col(integer(InstanceBootstrap::Id).primary_key())
                    .col(uuid(InstanceBootstrap::OrgId))
                    .col(timestamp_with_time_zone(InstanceBootstrap::CreatedAt))
                    .foreign_key(&mut org_fk(InstanceBootstrap::Table, InstanceBootstrap::OrgId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .col(uuid(Members::Id).primary_key())
                    .col(uuid(Members::OrgId))
                    .col(string_len(Members::Username, 255))
                    .col(string(Members::DisplayName))
                    .col(string_null(Members::Email))
                    .col(string_len(Members::Role, 16))
                    .col(string_null(Members::OidcIssuer))
                    .col(string_null(Members::OidcSubject))
                    .col(timestamp_with_time_zone(Members::CreatedAt))
                    .col(timestamp_with_time_zone_null(Members::LastLoginAt))
                    .foreign_key(&mut org_fk(Members::Table, Members::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("members_org_username")
                    .table(Members::Table)
                    .col(Members::OrgId)
                    .col(Members::Username)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("members_org_oidc")
                    .table(Members::Table)
                    .col(Members::OrgId)
                    .col(Members::OidcIssuer)
                    .col(Members::OidcSubject)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SecurityKeys::Table)
                    .col(uuid(SecurityKeys::Id).primary_key())
                    .col(uuid(SecurityKeys::OrgId))
                    .col(uuid(SecurityKeys::MemberId))
                    .col(string_len(SecurityKeys::Name, 255))
                    .col(var_binary(SecurityKeys::CredentialId, 1023).unique_key())
                    .col(text(SecurityKeys::Credential))
                    .col(uuid_null(SecurityKeys::Aaguid))
                    .col(big_integer(SecurityKeys::SignCount))
                    .col(boolean(SecurityKeys::BackupEligible))
                    .col(boolean(SecurityKeys::BackedUp))
                    .col(text(SecurityKeys::Transports))
                    .col(boolean(SecurityKeys::UserVerified))
                    .col(timestamp_with_time_zone(SecurityKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(SecurityKeys::LastUsedAt))
                    .foreign_key(&mut org_fk(SecurityKeys::Table, SecurityKeys::OrgId))
                    .foreign_key(&mut member_fk(SecurityKeys::Table, SecurityKeys::MemberId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("security_keys_member")
                    .table(SecurityKeys::Table)
                    .col(SecurityKeys::MemberId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(uuid(RecoveryCodes::Id).primary_key())
                    .col(uuid(RecoveryCodes::OrgId))
                    .col(uuid(RecoveryCodes::MemberId))
                    .col(string_len(RecoveryCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone(RecoveryCodes::CreatedAt))
                    .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
                    .foreign_key(&mut org_fk(RecoveryCodes::Table, RecoveryCodes::OrgId))
                    .foreign_key(&mut member_fk(RecoveryCodes::Table, RecoveryCodes::MemberId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("recovery_codes_member_hash")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::MemberId)
                    .col(RecoveryCodes::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SsoConfigs::Table)
                    .col(uuid(SsoConfigs::OrgId).primary_key())
                    .col(string(SsoConfigs::Issuer))
                    .col(string(SsoConfigs::ClientId))
                    .col(text(SsoConfigs::ClientSecret))
                    .col(text(SsoConfigs::Scopes))
                    .col(string_null(SsoConfigs::AdminGroupClaim))
                    .col(string_null(SsoConfigs::AdminGroupValue))
                    .col(text(SsoConfigs::AllowedEmailDomains))
                    .col(timestamp_with_time_zone(SsoConfigs::UpdatedAt))
                    .foreign_key(&mut org_fk(SsoConfigs::Table, SsoConfigs::OrgId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrgPolicies::Table)
                    .col(uuid(OrgPolicies::OrgId))
                    .col(string_len(OrgPolicies::Kind, 32))
                    .col(text(OrgPolicies::Body))
                    .col(timestamp_with_time_zone(OrgPolicies::UpdatedAt))
                    .col(uuid_null(OrgPolicies::UpdatedBy))
                    .primary_key(Index::create().col(OrgPolicies::OrgId).col(OrgPolicies::Kind))
                    .foreign_key(&mut org_fk(OrgPolicies::Table, OrgPolicies::OrgId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BackupCredentials::Table)
                    .col(uuid(BackupCredentials::OrgId).primary_key())
                    .col(uuid(BackupCredentials::MemberId))
                    .col(string_len(BackupCredentials::Username, 255))
                    .col(text(BackupCredentials::SecretHash))
                    .col(timestamp_with_time_zone(BackupCredentials::RotatedAt))
                    .foreign_key(&mut org_fk(BackupCredentials::Table, BackupCredentials::OrgId))
                    .foreign_key(&mut member_fk(BackupCredentials::Table, BackupCredentials::MemberId))
                    .to_owned(),
            )
            .await?;

        // The head row is what concurrent appenders lock, so the chain can never fork.
        manager
            .create_table(
                Table::create()
                    .table(AuditHeads::Table)
                    .col(uuid(AuditHeads::OrgId).primary_key())
                    .col(big_integer(AuditHeads::Seq))
                    .col(string_len(AuditHeads::Hash, 64))
                    .foreign_key(&mut org_fk(AuditHeads::Table, AuditHeads::OrgId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(uuid(AuditEvents::OrgId))
                    .col(big_integer(AuditEvents::Seq))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(string(AuditEvents::Actor))
                    .col(string(AuditEvents::Action))
                    .col(string_null(AuditEvents::Target))
                    .col(string_len(AuditEvents::Outcome, 16))
                    .col(string_null(AuditEvents::Ip))
                    .col(text(AuditEvents::Details))
                    .col(string_len(AuditEvents::PrevHash, 64))
                    .col(string_len(AuditEvents::Hash, 64))
                    .primary_key(Index::create().col(AuditEvents::OrgId).col(AuditEvents::Seq))
                    .foreign_key(&mut org_fk(AuditEvents::Table, AuditEvents::OrgId))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("audit_events_action", AuditEvents::Action),
            ("audit_events_actor", AuditEvents::Actor),
            ("audit_events_target", AuditEvents::Target),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(AuditEvents::OrgId)
                        .col(column)
                        .col(AuditEvents::Seq)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            AuditHeads::Table.into_iden(),
            BackupCredentials::Table.into_iden(),
            OrgPolicies::Table.into_iden(),
            SsoConfigs::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            SecurityKeys::Table.into_iden(),
            Members::Table.into_iden(),
            InstanceBootstrap::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
