//! Test fixtures: a fresh database (SQLite file or PostgreSQL schema) and a fresh Redis namespace
//! per test, so tests never depend on each other or on their order.

pub mod browser;
pub mod cluster;
pub mod proxy;

pub use cluster::{RedisCluster, redis_cluster_store, redis_cluster_url};

use std::sync::Arc;

use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::member::{Member, NewMember, Role};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::{Bootstrap, MemberRepo, OrganizationRepo};
use keyward_domain::session::{AuthMethod, NewSession, SessionStage, SessionToken, TokenHash};
use keyward_storage::{Database, DatabaseOptions, MemoryStore, RedisStore};
use sea_orm::ConnectionTrait;

/// PostgreSQL for tests (`KEYWARD_TEST_DATABASE_URL`).
pub fn postgres_url() -> String {
    std::env::var("KEYWARD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Redis for tests (`KEYWARD_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", Utc::now().timestamp(), uuid::Uuid::new_v4().simple())
}

/// A migrated, empty database that is removed when dropped (SQLite) or at the next run (PostgreSQL).
pub struct TestDb {
    /// The database.
    pub db: Arc<Database>,
    /// How to reach it (for the `keyward` binary).
    pub url: String,
    /// The PostgreSQL schema, if any.
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/keyward.db?mode=rwc", dir.path().display());
        let db = Database::connect(&DatabaseOptions::new(url.clone())).await.unwrap();
        db.migrate().await.unwrap();
        Self { db: Arc::new(db), url, schema: None, _dir: Some(dir) }
    }

    /// A fresh PostgreSQL schema.
    pub async fn postgres() -> Self {
        Self::postgres_at(&postgres_url()).await
    }

    /// A fresh PostgreSQL schema, reached through `url` (e.g. a [`proxy::TcpProxy`]'s rewrite).
    pub async fn postgres_at(url: &str) -> Self {
        let schema = fresh_pg_schema().await;
        let mut options = DatabaseOptions::new(url);
        options.schema = Some(schema.clone());
        let db = Database::connect(&options).await.unwrap();
        db.migrate().await.unwrap();
        Self { db: Arc::new(db), url: url.to_owned(), schema: Some(schema), _dir: None }
    }
}

/// Creates a new PostgreSQL schema for one test, dropping leftovers older than an hour.
pub async fn fresh_pg_schema() -> String {
    let admin = Database::connect(&DatabaseOptions::new(postgres_url()))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", postgres_url()));
    let conn = admin.connection();
    let cutoff = Utc::now().timestamp() - 3600;
    let stale = conn
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kwt\\_%'",
        ))
        .await
        .unwrap();
    for row in stale {
        let name: String = row.try_get("", "nspname").unwrap();
        let created: i64 = name.split('_').nth(1).and_then(|t| t.parse().ok()).unwrap_or(0);
        if created < cutoff {
            let _ = conn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        }
    }
    let schema = unique("kwt");
    conn.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    admin.close().await;
    schema
}

/// A Redis store in a namespace of its own.
pub async fn redis_store() -> RedisStore {
    RedisStore::connect(&redis_url(), &unique("kwt"))
        .await
        .unwrap_or_else(|e| panic!("Redis at {} is not reachable: {e}", redis_url()))
}

/// A fresh in-process store.
pub fn memory_store() -> MemoryStore {
    MemoryStore::new()
}

/// Bootstraps an organization with an admin; returns both.
pub async fn bootstrap(db: &Database) -> (Organization, Member) {
    let org = Organization {
        id: OrgId::new(),
        slug: "acme".into(),
        name: "Acme".into(),
        enforcement: Enforcement::default(),
        created_at: Utc::now(),
    };
    let admin = db
        .bootstrap(
            Bootstrap {
                organization: org.clone(),
                admin: NewMember {
                    org_id: org.id,
                    username: "admin".into(),
                    display_name: "Admin".into(),
                    email: None,
                    role: Role::Admin,
                    oidc: None,
                },
                backup_username: "admin".into(),
                backup_secret_hash: "$argon2id$fake".into(),
            },
            AuditRecord::new(Actor::System, "org.bootstrapped"),
        )
        .await
        .unwrap()
        .expect("first bootstrap creates the organization");
    (org, admin)
}

/// Adds a member.
pub async fn member(db: &Database, org: OrgId, username: &str) -> Member {
    db.create_member(
        NewMember {
            org_id: org,
            username: username.into(),
            display_name: username.into(),
            email: Some(format!("{username}@example.com")),
            role: Role::Member,
            oidc: None,
        },
        Utc::now(),
        AuditRecord::new(Actor::System, "member.created").target(format!("member:{username}")),
    )
    .await
    .unwrap()
}

/// Runs an async test body against SQLite and against PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestDb::postgres().await).await;
                }
            )*
        }
    };
}

/// A session record for `member` at `stage` after an SSO login, and the token that opens it, for
/// fixtures that write sessions straight to a store.
pub fn sso_session(member: &Member, stage: SessionStage) -> (SessionToken, NewSession) {
    let token = SessionToken::from_random(member.org_id, rand::random());
    let new = NewSession { role: member.role, stage, ..member_sso_session(token.hash(), member.org_id, member.id) };
    (token, new)
}

/// An `AUTHENTICATED` SSO session record of a `Role::Member` by ID alone (stores never look the
/// member up), under `token_hash`.
pub fn member_sso_session(token_hash: TokenHash, org_id: OrgId, member_id: MemberId) -> NewSession {
    NewSession {
        token_hash,
        org_id,
        member_id,
        role: Role::Member,
        stage: SessionStage::Authenticated,
        methods: vec![AuthMethod::Sso],
        grace_period_ends_at: None,
        facts: Default::default(),
    }
}

/// Generates one test per session store, for conformance suites: each named `async fn(&S)` runs
/// against a Redis node and the Redis Cluster (each in a namespace of its own, removed afterwards)
/// and against the in-process store.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = $crate::redis_store().await;
                    super::$name(&store).await;
                    store.delete_namespace().await.unwrap();
                }
            )*
        }
        mod redis_cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = $crate::redis_cluster_store().await;
                    super::$name(&store).await;
                    store.delete_namespace().await.unwrap();
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&$crate::memory_store()).await;
                }
            )*
        }
    };
}
