//! The relational store: sea-orm on SQLite or PostgreSQL, behind the domain's repository traits.

mod api_keys;
mod approvals;
mod audit;
mod audit_append;
mod convert;
pub(crate) mod entities;
mod key_login;
mod keys;
mod members;
mod orgs;
mod request_write;
mod settings;
mod signing_keys;
mod vote_write;
mod webhooks;

use std::time::Duration;

use keyward_domain::StoreError;
use keyward_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, DatabaseConnection, DbBackend, DbErr, RuntimeErr, SqlErr};

pub use audit::{verify_chain, verify_chain_expecting};

/// Which database engine a URL points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite: one instance only.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// One SQL statement the pool ran, as [`Database::on_statement`] reports it.
#[derive(Clone, Copy, Debug)]
pub struct StatementInfo<'a> {
    /// The SQL text as sent, with placeholders (`$1`, `?`): bound values are never part of it.
    pub sql: &'a str,
    /// How long it took, from sending to the last row.
    pub elapsed: Duration,
    /// Whether the database answered with an error.
    pub failed: bool,
}

/// A connection pool that implements every repository trait of the domain.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct DatabaseOptions {
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub url: String,
    /// PostgreSQL schema to use instead of `public` (tests use a fresh one each).
    pub schema: Option<String>,
    /// Most pooled connections (PostgreSQL; SQLite always uses one writer).
    pub max_connections: u32,
    /// How long to wait for a connection before reporting the database unavailable.
    pub acquire_timeout: Duration,
}

/// How long a pooled connection may sit idle before it is checked before use.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(10);

impl DatabaseOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), schema: None, max_connections: 16, acquire_timeout: Duration::from_secs(3) }
    }
}

impl Database {
    /// Connects (without migrating).
    pub async fn connect(options: &DatabaseOptions) -> Result<Self, StoreError> {
        let mut connect = ConnectOptions::new(options.url.clone());
        connect.acquire_timeout(options.acquire_timeout).connect_timeout(options.acquire_timeout).sqlx_logging(false);
        // sqlx checks every connection it gets back before pooling it again, so a check on the
        // way out too would add a round trip to every query; only a connection that sat idle
        // (whose server may have gone away meanwhile) is checked before use.
        connect.test_before_acquire_if_idle_for(IDLE_BEFORE_CHECK);
        if engine_of(&options.url) == Some(Engine::Sqlite) {
            // One connection serializes writers, so read-then-write transactions never hit
            // SQLITE_BUSY; SQLite is the single-instance option anyway.
            connect.max_connections(1).min_connections(1);
            connect.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
            });
        } else {
            connect.max_connections(options.max_connections);
        }
        if let Some(schema) = &options.schema {
            connect.set_schema_search_path(schema.clone());
        }
        let conn = sea_orm::Database::connect(connect).await.map_err(map_err)?;
        Ok(Self { conn })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.conn, None).await.map_err(map_err)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await.map_err(map_err)
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match self.conn.get_database_backend() {
            DbBackend::Sqlite => Engine::Sqlite,
            _ => Engine::Postgres,
        }
    }

    /// Calls `callback` after each statement this pool (and every clone made from now on) runs,
    /// in the task that awaited it, so request-scoped context (tracing spans, task-locals) is the
    /// caller's. Replaces an earlier callback. Unprepared SQL (`execute_unprepared`) is not reported.
    pub fn on_statement(&mut self, callback: impl Fn(&StatementInfo<'_>) + Send + Sync + 'static) {
        self.conn.set_metric_callback(move |info| {
            callback(&StatementInfo { sql: &info.statement.sql, elapsed: info.elapsed, failed: info.failed })
        });
    }

    /// The underlying connection, for benchmarks and tests that need raw SQL.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes the pool.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// The engine a database URL names, if it names one Keyward supports.
pub fn engine_of(url: &str) -> Option<Engine> {
    if url.starts_with("sqlite:") {
        Some(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Engine::Postgres)
    } else {
        None
    }
}

/// Maps sea-orm's errors onto the domain's: unreachable databases are `Unavailable` (so callers
/// fail closed with `SERVICE_UNAVAILABLE`), uniqueness clashes are `Conflict`.
pub(crate) fn map_err(err: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        return StoreError::Conflict(detail);
    }
    match &err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(err.to_string()),
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))
            if is_connection_failure(inner) =>
        {
            StoreError::Unavailable(err.to_string())
        }
        DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => StoreError::NotFound,
        _ => StoreError::Unexpected(err.to_string()),
    }
}

fn is_connection_failure(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    matches!(err, Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed)
        || matches!(err, Error::Protocol(_))
}

/// Converts an unsigned count or sequence number for a signed column.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Converts a signed column back.
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    /// sqlx-core 0.9.0 from crates.io opens PostgreSQL sockets without `TCP_NODELAY`, and each new
    /// connection then waits about 120 ms on delayed ACKs. Until a release carries the fix, the
    /// build must use the patched copy in `vendor/sqlx-core`, which the lockfile records without
    /// a registry source.
    #[test]
    fn sqlx_core_0_9_0_is_the_patched_copy() {
        let lock = include_str!("../../../../Cargo.lock");
        let sqlx_core = lock
            .split("[[package]]")
            .find(|package| package.contains("name = \"sqlx-core\"\n"))
            .expect("sqlx-core is in the lockfile");
        if sqlx_core.contains("version = \"0.9.0\"\n") {
            assert!(
                !sqlx_core.contains("source = "),
                "sqlx-core 0.9.0 must come from vendor/sqlx-core (see vendor/README.md): {sqlx_core}"
            );
        }
    }
}
