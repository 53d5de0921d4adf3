//! Step-up tokens: ES256 JWTs that tools behind Keyward verify offline against
//! `GET /.well-known/jwks.json` (DESIGN §8). The claims and the key lifecycle rules are in
//! [`keyward_domain::step_up_token`]; here are the keys themselves, the issuer every instance
//! holds in [`crate::state::AppState`], the JWKS route, and the offline verifier (also used by the
//! `keyward step-up verify` command).

pub mod approval;
pub mod issuer;
pub mod jwks;
pub mod keys;
pub mod replay;
pub mod verify;

use keyward_domain::{DomainError, StoreError};

pub use issuer::TokenIssuer;
pub use jwks::JWKS_PATH;
pub use replay::{MemoryReplayCache, ReplayCache};
pub use verify::{JwksSourceError, VerifyError, load_jwks, verify_offline};

/// The issuer's settings, from configuration.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// `iss` of every token: `public_url` without a trailing slash.
    pub issuer: String,
    /// How long a token is valid (`step_up.token_ttl`).
    pub token_ttl: chrono::Duration,
    /// How often the signing key changes (`step_up.signing_key_rotation`).
    pub rotation: chrono::Duration,
    /// How long an approval token is valid (`approvals.token_ttl`).
    pub approval_ttl: chrono::Duration,
}

impl TokenSettings {
    /// The settings in force under `config`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            issuer: config.public_url.as_str().trim_end_matches('/').to_owned(),
            token_ttl: chrono::Duration::from_std(config.step_up.token_ttl).unwrap_or(chrono::Duration::minutes(5)),
            rotation: chrono::Duration::from_std(config.step_up.signing_key_rotation)
                .unwrap_or(chrono::Duration::hours(24)),
            approval_ttl: chrono::Duration::from_std(config.approvals.token_ttl).unwrap_or(chrono::Duration::hours(1)),
        }
    }

    /// How long a retired key must stay published: until the longest-lived token it signed
    /// (step-up or approval) has expired.
    pub fn publication_ttl(&self) -> chrono::Duration {
        self.token_ttl.max(self.approval_ttl)
    }
}

/// Why a token could not be issued or the JWKS served.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The database failed (unreachable: `SERVICE_UNAVAILABLE`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key cannot be used: sealed under another `secrets_key`, or corrupt.
    #[error("signing key {kid}: {why}")]
    Key {
        /// The key.
        kid: String,
        /// What is wrong.
        why: String,
    },
    /// Making a key or a signature failed.
    #[error("signing: {0}")]
    Signing(String),
}

impl From<TokenError> for DomainError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Store(store) => DomainError::Store(store),
            other => DomainError::Store(StoreError::Unexpected(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn step_up_token_durations_have_defaults_and_bounds() {
        let config = Config::from_sources(None, &[]).unwrap();
        assert_eq!(config.step_up.token_ttl, Duration::from_secs(300));
        assert_eq!(config.step_up.signing_key_rotation, Duration::from_secs(86400));
        let settings = super::TokenSettings::from_config(&config);
        assert_eq!(settings.issuer, "http://localhost:8080", "public_url without the trailing slash");
        let set = vars(&[("KEYWARD_STEP_UP__TOKEN_TTL", "2m"), ("KEYWARD_STEP_UP__SIGNING_KEY_ROTATION", "7d")]);
        let config = Config::from_sources(None, &set).unwrap();
        assert_eq!(config.step_up.token_ttl, Duration::from_secs(120));
        assert_eq!(config.step_up.signing_key_rotation, Duration::from_secs(7 * 86400));
        let err = Config::from_sources(None, &vars(&[("KEYWARD_STEP_UP__TOKEN_TTL", "2h")])).unwrap_err().to_string();
        assert!(err.contains("step_up.token_ttl (from environment variable KEYWARD_STEP_UP__TOKEN_TTL)"), "{err}");
        let err = Config::from_sources(None, &vars(&[("KEYWARD_STEP_UP__SIGNING_KEY_ROTATION", "5m")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("step_up.signing_key_rotation") && err.contains("1h"), "{err}");
        let err = Config::from_sources(None, &vars(&[("KEYWARD_STEP_UP__TOKEN_TTL", "soon")])).unwrap_err().to_string();
        assert!(err.contains("step_up.token_ttl") && err.contains("30m"), "{err}");
    }
}
