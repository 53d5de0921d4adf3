//! Keyward's gateway: the axum + async-graphql API in front of the domain and storage, and the
//! pieces of the `keyward` binary.

pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod cli_client;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod secrets;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod webauthn;
pub mod webhooks;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use keyward_domain::StoreError;
use keyward_domain::rate_limit::RateLimiter;
use keyward_domain::session::SessionLifetimes;
use keyward_domain::store::{CeremonyStore, HandoffStore, SessionStore};
use keyward_storage::{Database, DatabaseOptions, MemoryStore, RedisStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bootstrap::BackupCredentials;
use crate::config::Config;
use crate::state::{AppState, Inner};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database is unreachable or could not be migrated.
    #[error("database at {url}: {source}")]
    Database {
        /// The URL, without its password.
        url: String,
        /// What went wrong.
        source: StoreError,
    },
    /// Redis is unreachable.
    #[error("redis at {url}: {source}")]
    Redis {
        /// The URL, without its password.
        url: String,
        /// What went wrong.
        source: StoreError,
    },
    /// First-start bootstrap failed.
    #[error("bootstrap: {0}")]
    Bootstrap(StoreError),
    /// A file the configuration names cannot be used.
    #[error("{key}: {why}")]
    Config {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The listener failed.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
    /// The management listener could not be opened.
    #[error("cannot listen on {addr} (setting management_listen): {source}")]
    Management {
        /// The configured address.
        addr: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// A URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // A cluster URL (`redis+cluster://user:secret@h1:7000,h2:7001`) is no single URL.
        Err(_) => redact_userinfo(url),
    }
}

/// Masks the password in `scheme://user:password@hosts...` without parsing the rest.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_owned() };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_database(config: &Config) -> Result<Database, StartError> {
    let url = config.database_url.clone();
    let fail = |source| StartError::Database { url: redact(&url), source };
    if url.starts_with("sqlite:") {
        ensure_sqlite_dir(&url).map_err(|e| fail(StoreError::Unavailable(e.to_string())))?;
    }
    let db = Database::connect(&DatabaseOptions::new(url.clone())).await.map_err(fail)?;
    db.migrate().await.map_err(fail)?;
    Ok(db)
}

// The default SQLite file lives under ./data; create its folder, but only once the configuration
// has been validated, so a bad configuration leaves nothing behind.
fn ensure_sqlite_dir(url: &str) -> std::io::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// A running gateway.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The address of the management listener (`/metrics`, `/readyz`).
    pub management_addr: SocketAddr,
    /// Backup credentials, when this start created the first organization.
    pub credentials: Option<BackupCredentials>,
    /// Shared state (tests reach the stores through it).
    pub state: AppState,
    shutdown: Option<watch::Sender<bool>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests, and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(err) => Err(std::io::Error::other(err)),
        }
    }

    /// Asks the server to shut down gracefully.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }
}

/// Starts the gateway on `listener`: database, session store, bootstrap, then HTTP.
pub async fn start(config: Config, listener: TcpListener) -> Result<Running, StartError> {
    let mut db = open_database(&config).await?;
    if telemetry::enabled(&config) {
        telemetry::db::trace_statements(&mut db);
    }
    let db = Arc::new(db);
    let stores = match &config.redis_url {
        Some(url) => {
            let store = RedisStore::connect(url, "kw")
                .await
                .map_err(|source| StartError::Redis { url: redact(url), source })?
                .with_session_ttl(config.session.absolute_ttl);
            Stores::shared(Arc::new(store))
        }
        None => Stores::shared(Arc::new(MemoryStore::new())),
    };
    start_with(config, listener, db, stores).await
}

/// The session, ceremony and rate-limit stores a gateway uses.
#[derive(Clone)]
pub struct Stores {
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Ceremonies.
    pub ceremonies: Arc<dyn CeremonyStore>,
    /// Rate limits.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Terminal hand-offs.
    pub handoffs: Arc<dyn HandoffStore>,
}

impl Stores {
    /// One store for all of them (Redis or in-process).
    pub fn shared<S: SessionStore + CeremonyStore + RateLimiter + HandoffStore + 'static>(store: Arc<S>) -> Self {
        Self { sessions: store.clone(), ceremonies: store.clone(), rate_limiter: store.clone(), handoffs: store }
    }
}

/// Starts the gateway with stores the caller made (tests use their own Redis namespace). The
/// management listener is opened from `config.management_listen`.
pub async fn start_with(
    config: Config,
    listener: TcpListener,
    db: Arc<Database>,
    stores: Stores,
) -> Result<Running, StartError> {
    let attestation_roots = match &config.webauthn.attestation_roots {
        Some(path) => Some(
            webauthn::attestation::load_roots(path)
                .map_err(|why| StartError::Config { key: "webauthn.attestation_roots", why })?,
        ),
        None => None,
    };
    // Before bootstrap, so a start that fails here has not created (and lost) backup credentials.
    let addr = config.management_listen;
    let management = TcpListener::bind(addr).await.map_err(|source| StartError::Management { addr, source })?;
    let credentials = bootstrap::bootstrap(db.as_ref(), &config.bootstrap).await.map_err(StartError::Bootstrap)?;
    let lifetimes = SessionLifetimes {
        absolute: chrono::Duration::from_std(config.session.absolute_ttl).unwrap_or(chrono::Duration::hours(12)),
        idle: chrono::Duration::from_std(config.session.idle_ttl).unwrap_or(chrono::Duration::minutes(30)),
        pending: chrono::Duration::from_std(config.session.pending_ttl).unwrap_or(chrono::Duration::minutes(10)),
    };
    let sealer = secrets::Sealer::new(config.secrets_key.as_deref())
        .map_err(|why| StartError::Bootstrap(StoreError::Unexpected(format!("secrets_key: {why}"))))?;
    let tokens = tokens::TokenIssuer::new(db.clone(), sealer.clone(), tokens::TokenSettings::from_config(&config));
    let state = AppState::new(Inner {
        config: config.clone(),
        db,
        sessions: stores.sessions,
        ceremonies: stores.ceremonies,
        rate_limiter: stores.rate_limiter,
        handoffs: stores.handoffs,
        rp: webauthn::RelyingParty {
            id: config.rp_id(),
            name: config.webauthn.rp_name.clone(),
            origins: config.origins(),
            attestation_roots,
        },
        oidc: Default::default(),
        policies: Default::default(),
        sealer,
        metrics: Default::default(),
        lifetimes,
        tokens,
    });
    let schema = graphql::build(state.clone(), &config);
    let app = http::router(state.clone(), schema);
    let ops = http::management_router(state.clone());
    let addr = listener.local_addr()?;
    let management_addr = management.local_addr()?;
    let (tx, rx) = watch::channel(false);
    auth::approval::spawn_expiry(state.clone(), rx.clone());
    webhooks::spawn(state.clone(), rx.clone());
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let public = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(rx.clone()));
    let management = axum::serve(management, ops.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(rx));
    let task =
        tokio::spawn(async move { tokio::try_join!(public.into_future(), management.into_future()).map(|_| ()) });
    Ok(Running { addr, management_addr, credentials, state, shutdown: Some(tx), task })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_masked_in_node_and_cluster_urls() {
        assert_eq!(redact("postgres://kw:hunter2@db:5432/kw"), "postgres://kw:***@db:5432/kw");
        assert_eq!(redact("redis+cluster://kw:hunter2@h1:7000,h2:7001"), "redis+cluster://kw:***@h1:7000,h2:7001");
        assert_eq!(redact("redis+cluster://h1:7000,h2:7001"), "redis+cluster://h1:7000,h2:7001");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
