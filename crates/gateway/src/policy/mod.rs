//! Step-up policies: the Rego engine and the per-organization cache of compiled policies.
//!
//! The version in force comes with every session lookup (`Session::policy_version`, one Redis
//! round trip with the session): a save announces its version to every instance at once, and
//! the request path never parses Rego, it only clones a compiled policy out of this cache. The
//! WebAuthn policy is kept the same way (`Session::webauthn_policy_version`), so a login reads
//! no policy from the database.

pub mod approval;
pub mod engine;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyward_domain::ids::OrgId;
use keyward_domain::repo::{PolicyKind, PolicyRepo};
use keyward_domain::session::Session;
use keyward_domain::webauthn_policy::WebauthnPolicy;
use keyward_domain::{DomainError, StoreError};

pub use engine::{CompiledPolicy, PolicyError};

use crate::state::AppState;

/// The organization's policy as the request path uses it.
#[derive(Clone, Debug)]
pub enum ActivePolicy {
    /// No policy saved: the built-in one (version 0).
    BuiltIn,
    /// A saved policy.
    Saved {
        /// Its version.
        version: u64,
        /// Compiled, shared by every request of the organization.
        policy: Arc<CompiledPolicy>,
    },
}

impl ActivePolicy {
    /// The version (0 for the built-in policy).
    pub fn version(&self) -> u64 {
        match self {
            ActivePolicy::BuiltIn => 0,
            ActivePolicy::Saved { version, .. } => *version,
        }
    }
}

/// One policy per organization, at the latest version seen.
struct Versioned<T>(Mutex<HashMap<OrgId, (u64, Arc<T>)>>);

impl<T> Default for Versioned<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T> Versioned<T> {
    /// The organization's policy, if `version` is the one kept.
    fn get(&self, org: OrgId, version: u64) -> Option<Arc<T>> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(&org).filter(|(v, _)| *v == version).map(|(_, policy)| Arc::clone(policy))
    }

    /// Keeps `policy` as the organization's `version`, unless a newer one is kept.
    fn insert(&self, org: OrgId, version: u64, policy: Arc<T>) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.get(&org).is_none_or(|(v, _)| *v <= version) {
            kept.insert(org, (version, policy));
        }
    }
}

/// Compiled policies, one per organization (the latest version seen).
#[derive(Default)]
pub struct PolicyCache {
    compiled: Versioned<CompiledPolicy>,
    approvals: Versioned<approval::ApprovalPolicy>,
    webauthn: Versioned<WebauthnPolicy>,
}

impl PolicyCache {
    fn get(&self, org: OrgId, version: u64) -> Option<Arc<CompiledPolicy>> {
        self.compiled.get(org, version)
    }

    /// Keeps `policy` as the organization's `version`, unless a newer one is already cached.
    pub fn insert(&self, org: OrgId, version: u64, policy: Arc<CompiledPolicy>) {
        self.compiled.insert(org, version, policy);
    }

    /// The organization's compiled approval policy, if `version` is the one cached.
    pub fn approval(&self, org: OrgId, version: u64) -> Option<Arc<approval::ApprovalPolicy>> {
        self.approvals.get(org, version)
    }

    /// Keeps an approval policy as the organization's `version`, unless a newer one is cached.
    pub fn insert_approval(&self, org: OrgId, version: u64, policy: Arc<approval::ApprovalPolicy>) {
        self.approvals.insert(org, version, policy);
    }

    /// The organization's WebAuthn policy, if `version` is the one cached.
    pub fn webauthn(&self, org: OrgId, version: u64) -> Option<Arc<WebauthnPolicy>> {
        self.webauthn.get(org, version)
    }

    /// Keeps a WebAuthn policy as the organization's `version`, unless a newer one is cached.
    pub fn insert_webauthn(&self, org: OrgId, version: u64, policy: Arc<WebauthnPolicy>) {
        self.webauthn.insert(org, version, policy);
    }
}

/// The step-up policy in force for `session`'s organization. A saved policy that no longer
/// compiles (it was valid when saved, so only an engine change could do this) is an error: the
/// caller denies.
pub async fn active(app: &AppState, session: &Session) -> Result<ActivePolicy, DomainError> {
    let org = session.org_id;
    match session.policy_version {
        Some(0) => return Ok(ActivePolicy::BuiltIn),
        Some(version) => {
            if let Some(policy) = app.policies.get(org, version) {
                return Ok(ActivePolicy::Saved { version, policy });
            }
        }
        None => {}
    }
    // A miss: read the current version from the database (once per instance and version).
    let stored = app.db.policy(org, PolicyKind::StepUp).await?;
    let Some(stored) = stored else {
        app.sessions.announce_policy_version(org, PolicyKind::StepUp, 0, true).await?;
        return Ok(ActivePolicy::BuiltIn);
    };
    let policy = Arc::new(CompiledPolicy::compile(&stored.body).map_err(|err| {
        DomainError::Store(StoreError::Unexpected(format!("stored step-up policy v{}: {err}", stored.version)))
    })?);
    app.policies.insert(org, stored.version, Arc::clone(&policy));
    if session.policy_version.is_none() {
        app.sessions.announce_policy_version(org, PolicyKind::StepUp, stored.version, true).await?;
    }
    Ok(ActivePolicy::Saved { version: stored.version, policy })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_version_asked_is_served_and_an_older_one_never_replaces_a_newer() {
        let kept = Versioned::<&str>::default();
        let org = OrgId::new();
        kept.insert(org, 2, Arc::new("v2"));
        assert_eq!(kept.get(org, 2).as_deref(), Some(&"v2"));
        assert!(kept.get(org, 3).is_none(), "a newer announced version is a miss");
        kept.insert(org, 1, Arc::new("v1"));
        assert_eq!(kept.get(org, 2).as_deref(), Some(&"v2"), "a late read of an older version is ignored");
        assert!(kept.get(OrgId::new(), 2).is_none());
    }
}
