//! The issuer every gateway instance holds: signs step-up tokens with the current key, rotates keys
//! in the shared table when one is due, and answers the JWKS, from an in-memory cache of the table.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header};
use keyward_domain::approval::token::TOKEN_TYPE as APPROVAL_TOKEN_TYPE;
use keyward_domain::approval::{ApprovalClaims, ApprovalRequest, TokenApprover};
use keyward_domain::repo::SigningKeyRepo;
use keyward_domain::step_up_token::{
    SigningKey, StepUpClaims, StepUpTokenInput, is_published, next_generation, publication_cutoff, published_keys,
    retire_predecessors_at, rotation_due, signing_key,
};
use tokio::sync::Mutex;

use super::replay::ReplayCache;
use super::verify::{VerifyError, header_kid, verify_offline};
use super::{TokenError, TokenSettings, jwks, keys};
use crate::secrets::Sealer;

// Another instance may have rotated or pruned: look again at least this often. One query of a
// table of two or three rows per minute per instance.
const REFRESH_SECONDS: i64 = 60;
// A token naming a key this instance does not know sends it to the database at most this often,
// so a flood of made-up key IDs cannot turn into a flood of queries.
const UNKNOWN_KID_REFRESH_SECONDS: i64 = 5;

#[derive(Default)]
struct Cache {
    keys: Vec<SigningKey>,
    loaded_at: Option<DateTime<Utc>>,
    opened: HashMap<String, keys::EcdsaKey>,
}

impl Cache {
    fn knows(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }
}

/// Signs step-up tokens and publishes their keys (see [`keyward_domain::step_up_token`] for the
/// key lifecycle).
pub struct TokenIssuer {
    repo: Arc<dyn SigningKeyRepo>,
    sealer: Sealer,
    settings: TokenSettings,
    cache: Mutex<Cache>,
}

impl TokenIssuer {
    /// An issuer over the shared key table; nothing is read until the first use.
    pub fn new(repo: Arc<dyn SigningKeyRepo>, sealer: Sealer, settings: TokenSettings) -> Self {
        Self { repo, sealer, settings, cache: Mutex::new(Cache::default()) }
    }

    /// The settings in force (issuer, token lifetime, rotation).
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// A signed step-up token (compact JWS) for `input`, issued now.
    pub async fn issue(&self, input: &StepUpTokenInput) -> Result<String, TokenError> {
        self.issue_at(input, Utc::now()).await
    }

    /// [`Self::issue`] with the clock given (tests step through rotations with it).
    pub async fn issue_at(&self, input: &StepUpTokenInput, now: DateTime<Utc>) -> Result<String, TokenError> {
        let claims = StepUpClaims::build(&self.settings.issuer, input, now, self.settings.token_ttl);
        self.sign(&claims, None, now).await
    }

    /// An approval token for `request` approved by `approvers`, issued at `now`, with its claims.
    pub async fn issue_approval(
        &self,
        request: &ApprovalRequest,
        approvers: Vec<TokenApprover>,
        now: DateTime<Utc>,
    ) -> Result<(String, ApprovalClaims), TokenError> {
        let claims = ApprovalClaims::build(&self.settings.issuer, request, approvers, now, self.settings.approval_ttl);
        let token = self.sign(&claims, Some(APPROVAL_TOKEN_TYPE), now).await?;
        Ok((token, claims))
    }

    async fn sign<T: serde::Serialize>(
        &self,
        claims: &T,
        typ: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let (kid, key) = {
            let mut cache = self.cache.lock().await;
            self.refresh_if_needed(&mut cache, now, None).await?;
            let signer = signing_key(&cache.keys, now)
                .ok_or_else(|| TokenError::Signing("no signing key is active".into()))?
                .clone();
            let key = match cache.opened.get(&signer.kid) {
                Some(key) => key.clone(),
                None => {
                    let key = keys::signer(&self.sealer, &signer)?;
                    cache.opened.insert(signer.kid.clone(), key.clone());
                    key
                }
            };
            (signer.kid, key)
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid);
        if let Some(typ) = typ {
            header.typ = Some(typ.to_owned());
        }
        keys::sign(&header, claims, &key)
    }

    /// The keys published now, as served at `/.well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<JwkSet, TokenError> {
        self.jwks_at(Utc::now()).await
    }

    /// [`Self::jwks`] with the clock given.
    pub async fn jwks_at(&self, now: DateTime<Utc>) -> Result<JwkSet, TokenError> {
        self.published(now, None).await
    }

    /// Verifies a step-up token against this instance's published keys (looking in the database
    /// again when it names a key not yet known here), exactly as [`verify_offline`] does with
    /// `iss` = this issuer.
    pub async fn verify(
        &self,
        token: &str,
        expected_action: &str,
        expected_resource: &str,
        replay: Option<&mut dyn ReplayCache>,
    ) -> Result<StepUpClaims, VerifyError> {
        self.verify_at(token, expected_action, expected_resource, replay, Utc::now()).await
    }

    /// [`Self::verify`] with the clock given.
    pub async fn verify_at(
        &self,
        token: &str,
        expected_action: &str,
        expected_resource: &str,
        replay: Option<&mut dyn ReplayCache>,
        now: DateTime<Utc>,
    ) -> Result<StepUpClaims, VerifyError> {
        let kid = header_kid(token)?;
        let set = self.published(now, Some(&kid)).await.map_err(|e| VerifyError::KeysUnavailable(e.to_string()))?;
        let issuer = Some(self.settings.issuer.as_str());
        verify_offline(token, expected_action, expected_resource, issuer, &set, now.timestamp(), replay)
    }

    async fn published(&self, now: DateTime<Utc>, want_kid: Option<&str>) -> Result<JwkSet, TokenError> {
        let mut cache = self.cache.lock().await;
        self.refresh_if_needed(&mut cache, now, want_kid).await?;
        jwks::jwk_set(&published_keys(&cache.keys, now, self.settings.publication_ttl()))
    }

    async fn refresh_if_needed(
        &self,
        cache: &mut Cache,
        now: DateTime<Utc>,
        want_kid: Option<&str>,
    ) -> Result<(), TokenError> {
        let stale = match cache.loaded_at {
            None => true,
            Some(at) => {
                let age = (now - at).num_seconds();
                now < at
                    || age >= REFRESH_SECONDS
                    || rotation_due(&cache.keys, now, self.settings.rotation)
                    || cache.keys.iter().any(|k| !is_published(k, now, self.settings.publication_ttl()))
                    || want_kid.is_some_and(|kid| !cache.knows(kid) && age >= UNKNOWN_KID_REFRESH_SECONDS)
            }
        };
        if stale {
            cache.keys = self.load(now).await?;
            cache.loaded_at = Some(now);
            let keys = &cache.keys;
            cache.opened.retain(|kid, _| keys.iter().any(|k| &k.kid == kid));
        }
        Ok(())
    }

    /// The stored keys after rotating (when due) and pruning (what is no longer published).
    async fn load(&self, now: DateTime<Utc>) -> Result<Vec<SigningKey>, TokenError> {
        let mut keys = self.repo.signing_keys().await?;
        if rotation_due(&keys, now, self.settings.rotation) {
            let key = keys::generate(&self.sealer, next_generation(&keys), now)?;
            let (kid, generation) = (key.kid.clone(), key.generation);
            // `false`: another instance added this generation first; its key is the one to use.
            if self.repo.add_signing_key(key, retire_predecessors_at(now)).await? {
                tracing::info!(kid, generation, "created a new step-up token signing key");
            }
            keys = self.repo.signing_keys().await?;
        }
        let ttl = self.settings.publication_ttl();
        if keys.iter().any(|k| !is_published(k, now, ttl)) {
            let deleted = self.repo.delete_signing_keys_retired_by(publication_cutoff(now, ttl)).await?;
            tracing::info!(deleted, "deleted step-up signing keys whose last tokens have expired");
            keys.retain(|k| is_published(k, now, ttl));
        }
        Ok(keys)
    }
}
