//! sea-orm entities, one module per table. Only the repositories in this crate see them.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod organization {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub slug: String,
        pub name: String,
        pub mfa_enforced: bool,
        pub grace_period_ends_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod instance_bootstrap {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "instance_bootstrap")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub org_id: Uuid,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub username: String,
        pub display_name: String,
        pub email: Option<String>,
        pub role: String,
        pub oidc_issuer: Option<String>,
        pub oidc_subject: Option<String>,
        pub created_at: DateTimeUtc,
        pub last_login_at: Option<DateTimeUtc>,
        pub deactivated_at: Option<DateTimeUtc>,
        pub idp_groups: Option<String>,
    }
    no_relations!();
}

pub mod security_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub member_id: Uuid,
        pub name: String,
        pub credential_id: Vec<u8>,
        pub credential: String,
        pub aaguid: Option<Uuid>,
        pub sign_count: i64,
        pub backup_eligible: bool,
        pub backed_up: bool,
        pub transports: String,
        pub user_verified: bool,
        pub created_at: DateTimeUtc,
        pub last_used_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

pub mod recovery_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub member_id: Uuid,
        pub code_hash: String,
        pub created_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

pub mod sso_config {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sso_configs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        pub issuer: String,
        pub client_id: String,
        pub client_secret: String,
        pub scopes: String,
        pub admin_group_claim: Option<String>,
        pub admin_group_value: Option<String>,
        pub allowed_email_domains: String,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod org_policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        pub body: String,
        pub updated_at: DateTimeUtc,
        pub updated_by: Option<Uuid>,
        pub version: i64,
    }
    no_relations!();
}

pub mod org_policy_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_policy_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub body: String,
        pub created_at: DateTimeUtc,
        pub created_by: Option<Uuid>,
    }
    no_relations!();
}

pub mod backup_credential {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "backup_credentials")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        pub member_id: Uuid,
        pub username: String,
        pub secret_hash: String,
        pub rotated_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod audit_head {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_heads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        pub seq: i64,
        pub hash: String,
    }
    no_relations!();
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub at: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub target: Option<String>,
        pub outcome: String,
        pub ip: Option<String>,
        pub details: String,
        pub hash_version: i16,
        pub user_agent: Option<String>,
        pub request_id: Option<String>,
        pub actor_name: Option<String>,
        pub target_name: Option<String>,
        pub prev_hash: String,
        pub hash: String,
    }
    no_relations!();
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub generation: i64,
        pub algorithm: String,
        pub public_jwk: String,
        pub private_key: String,
        pub created_at: DateTimeUtc,
        pub retired_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

#[path = "pipeline_entities.rs"]
mod pipeline;
pub use pipeline::{api_key, approval_request, approval_vote};
