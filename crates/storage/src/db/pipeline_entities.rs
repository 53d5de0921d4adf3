//! Rows of the pipeline tables: API keys, approval requests and their votes.

pub mod api_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub name: String,
        pub prefix: String,
        pub secret_hash: String,
        pub scopes: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

pub mod approval_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub digest: String,
        pub body: String,
        pub pipeline: String,
        pub stage: String,
        pub environment: String,
        pub status: String,
        pub reason: Option<String>,
        pub requirements: Option<String>,
        pub policy_version: i64,
        pub fired_rules: String,
        pub created_by_key: Option<Uuid>,
        pub created_by_member: Option<Uuid>,
        pub requester_member: Option<Uuid>,
        pub commit_author_member: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
        pub token: Option<String>,
        pub token_jti: Option<String>,
        pub version: i64,
    }

    /// A request's votes, so it is read with them in one query.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::approval_vote::Entity")]
        Votes,
    }

    impl Related<super::approval_vote::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Votes.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval_vote {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_votes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub request_id: Uuid,
        pub org_id: Uuid,
        pub member_id: Uuid,
        pub key_id: Uuid,
        pub credential_id: String,
        pub groups: String,
        pub decision: String,
        pub reason: Option<String>,
        pub at: DateTimeUtc,
        pub evidence: String,
    }

    /// The request a vote is on.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::approval_request::Entity",
            from = "Column::RequestId",
            to = "super::approval_request::Column::Id"
        )]
        Request,
    }

    impl Related<super::approval_request::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Request.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}
