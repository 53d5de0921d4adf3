//! The system under test: a `keyward` gateway in a child process of this binary (so its memory can
//! be read on its own), on a fresh database and a flushed Redis database, plus direct access to
//! both for fixtures.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use chrono::Utc;
use keyward_domain::ids::OrgId;
use keyward_domain::member::Member;
use keyward_domain::repo::{MemberRepo, OrganizationRepo};
use keyward_domain::session::{NewSession, SessionLifetimes, SessionStage};
use keyward_domain::store::SessionStore;
use keyward_storage::db::{Database, DatabaseOptions};
use keyward_storage::redis_store::RedisStore;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// Which database the gateway runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

impl Backend {
    /// Lower-case name for the report.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Session lifetimes for sessions the bench writes itself (the gateway's defaults).
pub const LIFETIMES: SessionLifetimes = SessionLifetimes {
    absolute: chrono::Duration::hours(12),
    idle: chrono::Duration::minutes(30),
    pending: chrono::Duration::minutes(10),
};

/// Where PostgreSQL and Redis are (`KEYWARD_TEST_*`, like the tests).
pub fn postgres_url() -> String {
    std::env::var("KEYWARD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Redis database 11 of the test Redis: flushed by every stack.
pub fn redis_url() -> String {
    let base = std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    format!("{}/11", base.trim_end_matches('/'))
}

/// A fresh, migrated database: a SQLite file in a temporary directory or a new PostgreSQL database.
pub struct FreshDb {
    /// How the gateway reaches it.
    pub url: String,
    /// The migrated database.
    pub db: Arc<Database>,
    pg_name: Option<String>,
    _dir: Option<TempDir>,
}

/// A directory removed on drop.
pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl FreshDb {
    /// Creates and migrates one.
    pub async fn create(backend: Backend) -> Self {
        let (url, pg_name, dir) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("keyward-bench-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("a temporary directory");
                (format!("sqlite://{}/keyward.db?mode=rwc", dir.display()), None, Some(TempDir(dir)))
            }
            Backend::Postgres => {
                let name = format!("keyward_bench_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&DatabaseOptions::new(postgres_url()))
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", postgres_url()));
                admin
                    .connection()
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("CREATE DATABASE");
                admin.close().await;
                // Same server and options (e.g. `?sslmode=disable`), another database.
                let mut url = url::Url::parse(&postgres_url()).expect("KEYWARD_TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                let url = url.to_string();
                (url, Some(name), None)
            }
        };
        let db = Database::connect(&DatabaseOptions::new(url.clone())).await.expect("connect to the fresh database");
        db.migrate().await.expect("migrate");
        Self { url, db: Arc::new(db), pg_name, _dir: dir }
    }

    /// Drops the PostgreSQL database (SQLite files go with the directory).
    pub async fn remove(self) {
        if let Ok(db) = Arc::try_unwrap(self.db) {
            db.close().await;
        }
        if let Some(name) = &self.pg_name
            && let Ok(admin) = Database::connect(&DatabaseOptions::new(postgres_url())).await
        {
            let _ =
                admin.connection().execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            admin.close().await;
        }
    }
}

/// A connection to the bench's Redis database.
pub async fn redis_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url()).expect("redis url").get_multiplexed_async_connection().await.expect("Redis")
}

/// Empties the bench's Redis database.
pub async fn flush_redis() {
    let mut conn = redis_connection().await;
    // Emptying a million sessions takes Redis longer than the client's default response timeout
    // on a slow machine; waiting for it keeps the next scenario's memory figures clean.
    conn.set_response_timeout(std::time::Duration::from_secs(120));
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.expect("FLUSHDB");
}

/// The process ID of the Redis server the stack uses (`INFO server`). The CPU figures count that
/// process alone: other Redis servers on the machine, such as the idle Redis Cluster nodes
/// `with-services.sh` starts for the test suites, are not part of the stack.
pub async fn redis_pid() -> u32 {
    let mut conn = redis_connection().await;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await.expect("INFO server");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("INFO server names the process_id")
}

/// A server process started from this binary, with the address it listens on.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts `current_exe <subcommand>` with `env` and waits for its `listening on` line.
    pub fn spawn(subcommand: &str, env: &[(&str, String)]) -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut command = Command::new(exe);
        command.arg(subcommand).stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the server under test");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let addr = loop {
            let line =
                lines.next().and_then(Result::ok).unwrap_or_else(|| panic!("{subcommand} exited before listening"));
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().parse().expect("an address");
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { addr, child }
    }

    /// Resident memory of the process, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        rss_of(&format!("/proc/{}/status", self.pid()))
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// CPU seconds (user + system) used so far by the server side of the stack, per part.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerCpu {
    /// The gateway process (SQLite runs inside it).
    pub gateway: f64,
    /// Every PostgreSQL process.
    pub postgres: f64,
    /// Redis.
    pub redis: f64,
}

impl ServerCpu {
    /// Reads the counters now for gateway `pid`, every PostgreSQL process and the Redis server
    /// `redis_pid`. Clock ticks are taken as 100 per second (Linux's `USER_HZ`).
    pub fn now(pid: u32, redis_pid: u32) -> Self {
        let mut cpu = ServerCpu::default();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            let Some((head, rest)) = stat.rsplit_once(") ") else { continue };
            let (process, comm) = head.split_once(" (").unwrap_or(("", ""));
            // After the command: state is field 3, utime 14 and stime 15 (1-based).
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let seconds = (field(14) + field(15)) as f64 / 100.0;
            let process: u32 = process.trim().parse().unwrap_or(0);
            if process == pid {
                cpu.gateway += seconds;
            } else if comm == "postgres" {
                cpu.postgres += seconds;
            } else if process == redis_pid {
                cpu.redis += seconds;
            }
        }
        cpu
    }

    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: ServerCpu) -> ServerCpu {
        ServerCpu {
            gateway: self.gateway - earlier.gateway,
            postgres: self.postgres - earlier.postgres,
            redis: self.redis - earlier.redis,
        }
    }

    /// All parts together.
    pub fn total(self) -> f64 {
        self.gateway + self.postgres + self.redis
    }

    /// CPU microseconds of each part per operation, over `ops` operations, for a report note.
    pub fn per_op(self, ops: usize) -> String {
        let per = |seconds: f64| seconds * 1e6 / ops as f64;
        format!(
            "gateway {:.0} µs, PostgreSQL {:.0} µs, Redis {:.0} µs",
            per(self.gateway),
            per(self.postgres),
            per(self.redis)
        )
    }
}

/// `VmRSS` in KiB from a `/proc/<pid>/status` path (0 when unreadable).
pub fn rss_of(status_path: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway with its database and Redis, and handles to both.
pub struct Stack {
    /// The gateway process.
    pub server: Server,
    /// The database.
    pub fresh: FreshDb,
    /// The session store, as the gateway sees it.
    pub store: RedisStore,
    /// The bootstrapped organization.
    pub org: OrgId,
    /// Its first admin.
    pub admin: Member,
    /// GraphQL over HTTP.
    pub http: reqwest::Client,
}

impl Stack {
    /// Starts a gateway on a fresh `backend` database and a flushed Redis.
    pub async fn start(backend: Backend) -> Self {
        flush_redis().await;
        let fresh = FreshDb::create(backend).await;
        let server = Server::spawn(
            "serve-gateway",
            &[
                ("KEYWARD_DATABASE_URL", fresh.url.clone()),
                ("KEYWARD_REDIS_URL", redis_url()),
                ("KEYWARD_TRUSTED_PROXIES", "[127.0.0.1]".into()),
                ("KEYWARD_LOG__LEVEL", "error".into()),
            ],
        );
        let store = RedisStore::connect(&redis_url(), "kw").await.expect("Redis is reachable");
        let org = fresh.db.organization_by_slug("default").await.expect("org").expect("bootstrapped org");
        let admin = fresh.db.member_by_username(org.id, "admin").await.expect("admin").expect("bootstrapped admin");
        Self { server, fresh, store, org: org.id, admin, http: reqwest::Client::new() }
    }

    /// The browser origin the gateway accepts (its public URL).
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.server.addr.port())
    }

    /// A new session's token and record for `member` at `stage` (not stored yet).
    pub fn new_session(&self, member: &Member, stage: SessionStage) -> (String, NewSession) {
        let (token, new) = keyward_testkit::sso_session(member, stage);
        (token.expose(), new)
    }

    /// A session for `member` at `stage`, written straight to the store; returns its token.
    pub async fn session(&self, member: &Member, stage: SessionStage) -> String {
        let (token, new) = self.new_session(member, stage);
        self.store.create(new, LIFETIMES, Utc::now()).await.expect("create a session");
        token
    }

    /// Registers a key held by `key` for the session `token`, through GraphQL as a browser would;
    /// returns the session token to go on with (registration may rotate it).
    pub async fn register_key(&self, token: &str, key: &mut SoftPasskey, ip: &str) -> String {
        let begin = self
            .ok(
                "mutation { securityKeyRegistrationBegin(name: \"Bench key\") { ceremonyId options } }",
                json!({}),
                Some(token),
                ip,
            )
            .await;
        let begin = &begin["securityKeyRegistrationBegin"];
        let response = crate::login_verify::create(key, &begin["options"], &self.origin());
        let finish = self
            .ok(
                "mutation($c: ID!, $r: JSON!) { securityKeyRegistrationFinish(ceremonyId: $c, response: $r) { sessionToken } }",
                json!({ "c": begin["ceremonyId"], "r": response }),
                Some(token),
                ip,
            )
            .await;
        finish["securityKeyRegistrationFinish"]["sessionToken"].as_str().unwrap_or(token).to_owned()
    }

    /// A GraphQL request as `token` from client address `ip`; returns the whole body.
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>, ip: &str) -> Value {
        let mut request = self
            .http
            .post(format!("http://{}/graphql", self.server.addr))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the gateway answers").json().await.expect("a JSON body")
    }

    /// Like [`Stack::graphql`], but panics on errors and returns `data`.
    pub async fn ok(&self, query: &str, variables: Value, token: Option<&str>, ip: &str) -> Value {
        let body = self.graphql(query, variables, token, ip).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// Stops the gateway and removes the database.
    pub async fn stop(self) {
        drop(self.server);
        self.fresh.remove().await;
    }
}
