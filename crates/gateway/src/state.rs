//! Shared application state: configuration, database, stores and metrics.

use std::ops::Deref;
use std::sync::Arc;

use keyward_domain::rate_limit::RateLimiter;
use keyward_domain::session::SessionLifetimes;
use keyward_domain::store::{CeremonyStore, HandoffStore, SessionStore};
use keyward_storage::Database;

use crate::auth::discovery::OidcProviders;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::webauthn::RelyingParty;

/// Everything requests share; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// Configuration in force.
    pub config: Config,
    /// The database (every repository trait).
    pub db: Arc<Database>,
    /// Sessions (Redis or in-process).
    pub sessions: Arc<dyn SessionStore>,
    /// Ceremony state (Redis or in-process).
    pub ceremonies: Arc<dyn CeremonyStore>,
    /// Rate limits (Redis or in-process).
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Terminal hand-offs (Redis or in-process).
    pub handoffs: Arc<dyn HandoffStore>,
    /// The WebAuthn relying party.
    pub rp: RelyingParty,
    /// OIDC discovery and JWKS cache.
    pub oidc: OidcProviders,
    /// Compiled step-up policies, per organization.
    pub policies: crate::policy::PolicyCache,
    /// Seals secrets stored in the database.
    pub sealer: crate::secrets::Sealer,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Session lifetimes from configuration.
    pub lifetimes: SessionLifetimes,
    /// Step-up tokens: signing, key rotation, the JWKS.
    pub tokens: crate::tokens::TokenIssuer,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
