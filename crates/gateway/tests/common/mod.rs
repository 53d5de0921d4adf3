//! Gateway test harness: the real app on port 0 against a fresh database and session store.

#![allow(dead_code)]

pub mod approvals;
pub mod authn;
pub mod flagkey;
pub mod oidc;
pub mod server;

use std::sync::Arc;

use chrono::Utc;
use keyward_domain::ids::OrgId;
use keyward_domain::member::Member;
use keyward_domain::repo::{MemberRepo, OrganizationRepo};
use keyward_domain::session::SessionStage;
use keyward_gateway::config::Config;
use keyward_gateway::{Running, Stores};
use keyward_storage::Database;
use keyward_testkit::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Which session store the app uses.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    Redis,
    Memory,
}

pub struct TestApp {
    pub running: Running,
    pub url: String,
    /// The management listener (`/metrics`, `/readyz`).
    pub management_url: String,
    pub client: reqwest::Client,
    pub db: Arc<Database>,
    pub org: OrgId,
    _test_db: TestDb,
    redis: Option<keyward_storage::RedisStore>,
    /// The test browser's SSO binding cookie (see `graphql_in_browser`).
    sso_cookie: std::sync::Mutex<Option<String>>,
}

pub fn test_config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        management_listen: "127.0.0.1:0".parse().unwrap(),
        // No web app: the tests that need one set their own (spa.rs serves the embedded one).
        static_dir: Some("/nonexistent".into()),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn start(test_db: TestDb, store: Store) -> Self {
        Self::start_with_config(test_db, store, test_config()).await
    }

    pub async fn start_with_config(test_db: TestDb, store: Store, config: Config) -> Self {
        let (stores, redis) = match store {
            Store::Redis => {
                let redis = keyward_testkit::redis_store().await;
                (Stores::shared(Arc::new(redis.clone())), Some(redis))
            }
            Store::Memory => (Stores::shared(Arc::new(keyward_storage::MemoryStore::new())), None),
        };
        Self::start_with_stores(test_db, config, stores, redis).await
    }

    pub async fn start_with_stores(
        test_db: TestDb,
        config: Config,
        stores: Stores,
        redis: Option<keyward_storage::RedisStore>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let db = Arc::clone(&test_db.db);
        let running = keyward_gateway::start_with(config, listener, Arc::clone(&db), stores).await.unwrap();
        let url = format!("http://{}", running.addr);
        let management_url = format!("http://{}", running.management_addr);
        let org = db.organizations().await.unwrap()[0].id;
        let sso_cookie = Default::default();
        let client = reqwest::Client::new();
        Self { running, url, management_url, client, db, org, _test_db: test_db, redis, sso_cookie }
    }

    /// An app whose Redis traffic goes through a [`TcpProxy`](keyward_testkit::proxy::TcpProxy)
    /// (to count round trips or play outages).
    pub async fn behind_redis_proxy(test_db: TestDb) -> (Self, keyward_testkit::proxy::TcpProxy) {
        let redis_url = keyward_testkit::redis_url();
        let proxy = keyward_testkit::proxy::TcpProxy::start(&redis_url).await;
        let store = keyward_storage::RedisStore::connect(&proxy.rewrite(&redis_url), &keyward_testkit::unique("kwt"))
            .await
            .unwrap();
        let app =
            Self::start_with_stores(test_db, test_config(), Stores::shared(Arc::new(store.clone())), Some(store)).await;
        (app, proxy)
    }

    pub async fn stop(self) {
        if let Some(redis) = &self.redis {
            redis.delete_namespace().await.unwrap();
        }
        self.running.stop().await;
    }

    /// POSTs a GraphQL request, with a bearer token when given.
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> (StatusCode, Value) {
        let mut request =
            self.client.post(format!("{}/graphql", self.url)).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The bootstrap admin.
    pub async fn admin(&self) -> Member {
        self.db.member_by_username(self.org, "admin").await.unwrap().unwrap()
    }

    /// A session for `member` at `stage`, created straight in the store; returns its token.
    pub async fn session_for(&self, member: &Member, stage: SessionStage) -> String {
        let (token, new) = keyward_testkit::sso_session(member, stage);
        self.running.state.sessions.create(new, self.running.state.lifetimes, Utc::now()).await.unwrap();
        token.expose()
    }

    /// A fully logged-in session for `member` whose login key touch was `touched_ago` ago (so
    /// step-up counts it fresh or stale), created straight in the store; returns its token.
    pub async fn key_session_for(&self, member: &Member, touched_ago: chrono::Duration) -> String {
        let (token, new) = keyward_testkit::sso_session(member, SessionStage::Authenticated);
        let now = Utc::now();
        let sessions = &self.running.state.sessions;
        let created = sessions.create(new, self.running.state.lifetimes, now).await.unwrap().session;
        let next_token = keyward_domain::session::SessionToken::from_random(member.org_id, rand::random());
        let mut touched = created.clone();
        touched.token_hash = next_token.hash();
        touched.key_id = Some(keyward_domain::ids::SecurityKeyId::new());
        touched.mfa_verified_at = Some(now - touched_ago);
        touched.methods.push(keyward_domain::session::AuthMethod::SecurityKey);
        assert!(sessions.replace(&created.token_hash, &touched, now).await.unwrap());
        let _ = token;
        next_token.expose()
    }

    /// A new member (role MEMBER).
    pub async fn member(&self, username: &str) -> Member {
        keyward_testkit::member(&self.db, self.org, username).await
    }

    /// The app's step-up token issuer.
    pub fn tokens(&self) -> &keyward_gateway::tokens::TokenIssuer {
        &self.running.state.tokens
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("<none>")
}

/// Generates one test per backend pair: SQLite with the in-process store, PostgreSQL with Redis.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::common::TestApp::start(
                        keyward_testkit::TestDb::sqlite().await,
                        $crate::common::Store::Memory,
                    ).await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::common::TestApp::start(
                        keyward_testkit::TestDb::postgres().await,
                        $crate::common::Store::Redis,
                    ).await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}
