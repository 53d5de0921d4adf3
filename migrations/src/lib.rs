//! Keyward's database schema: one sea-orm migration per change, run by `keyward migrate` and at start.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261130_000001_member_deactivation;
mod m20261130_000002_audit_context;
mod m20261130_000003_signing_keys;
mod m20261130_000004_policy_versions;
mod m20261130_000005_approvals;
mod m20261130_000006_webhooks;
mod m20261130_000007_idp_groups;
mod m20261201_000001_member_listing;

/// All of Keyward's migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261130_000001_member_deactivation::Migration),
            Box::new(m20261130_000002_audit_context::Migration),
            Box::new(m20261130_000003_signing_keys::Migration),
            Box::new(m20261130_000004_policy_versions::Migration),
            Box::new(m20261130_000005_approvals::Migration),
            Box::new(m20261130_000006_webhooks::Migration),
            Box::new(m20261130_000007_idp_groups::Migration),
            Box::new(m20261201_000001_member_listing::Migration),
        ]
    }
}
