//! Security-key types and the member's own key operations.

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use keyward_domain::repo::SecurityKeyRepo;
use keyward_domain::security_key::SecurityKey as DomainKey;
use serde_json::Value;

use super::context::ContextExt;
use super::types::Viewer;
use crate::auth::{keys, mfa};
use crate::error::ApiResult;
use crate::webauthn::aaguid;

/// A registered security key.
#[derive(SimpleObject, Clone, Debug)]
pub struct SecurityKey {
    /// Keyward's ID for the key.
    pub id: ID,
    /// The name its owner gave it.
    pub name: String,
    /// The WebAuthn credential ID, base64url.
    pub key_id: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was last used to log in.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The authenticator model's AAGUID, when the authenticator disclosed it.
    pub aaguid: Option<String>,
    /// The authenticator model's name, when the AAGUID is known.
    pub model: Option<String>,
    /// May be synced to other devices (a passkey).
    pub backup_eligible: bool,
    /// Currently synced.
    pub backed_up: bool,
    /// Transports the authenticator reported.
    pub transports: Vec<String>,
    /// The user was verified (PIN or biometric) at registration.
    pub user_verified: bool,
}

impl From<DomainKey> for SecurityKey {
    fn from(key: DomainKey) -> Self {
        Self {
            id: ID(key.id.to_string()),
            name: key.name,
            key_id: URL_SAFE_NO_PAD.encode(&key.credential_id),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            model: key.aaguid.as_ref().and_then(aaguid::model_name).map(str::to_owned),
            aaguid: key.aaguid.map(|a| a.to_string()),
            backup_eligible: key.backup_eligible,
            backed_up: key.backed_up,
            transports: key.transports,
            user_verified: key.user_verified,
        }
    }
}

/// A WebAuthn ceremony begun: pass `options` to `navigator.credentials` (or
/// `@simplewebauthn/browser`), then send the result back with `ceremonyId`.
#[derive(SimpleObject)]
pub struct WebauthnChallenge {
    /// Identifies the ceremony; valid once, for `ceremony.ttl`.
    pub ceremony_id: ID,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    pub options: Json<Value>,
}

impl From<mfa::Challenge> for WebauthnChallenge {
    fn from(c: mfa::Challenge) -> Self {
        Self { ceremony_id: ID(c.ceremony_id.to_string()), options: Json(c.options) }
    }
}

/// The result of registering a key.
#[derive(SimpleObject)]
pub struct SecurityKeyRegistrationPayload {
    /// The new key.
    pub key: SecurityKey,
    /// The session afterwards (a session that had to register is now `AUTHENTICATED`).
    pub viewer: Viewer,
    /// The session's new token (also set as the cookie): registering a key rotates the session
    /// and ends your other sessions. Always present; nullable for older clients.
    pub session_token: Option<String>,
}

/// The result of deleting a key.
#[derive(SimpleObject)]
pub struct SecurityKeyDeletePayload {
    /// The deleted key's ID.
    pub deleted_key_id: ID,
    /// Keys the member has left.
    pub remaining_keys: u64,
    /// The session's new token (also set as the cookie) when the deletion rotated it: deleting
    /// your own key ends your other sessions and rotates this one.
    pub session_token: Option<String>,
}

/// New recovery codes, shown once.
#[derive(SimpleObject)]
pub struct RecoveryCodesPayload {
    /// Ten single-use codes: store them somewhere safe now.
    pub codes: Vec<String>,
}

/// Queries about the caller's own keys.
#[derive(Default)]
pub struct KeyQueries;

#[Object]
impl KeyQueries {
    /// Your own security keys, oldest first.
    async fn security_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<SecurityKey>> {
        let session = ctx.self_service()?.0;
        let keys = ctx.app().db.keys_of(session.org_id, session.member_id).await?;
        Ok(keys.into_iter().map(SecurityKey::from).collect())
    }
}

/// The caller's own key operations.
#[derive(Default)]
pub struct KeyMutations;

#[Object]
impl KeyMutations {
    /// Begins registering a new key called `name` (1-64 characters).
    async fn security_key_registration_begin(&self, ctx: &Context<'_>, name: String) -> ApiResult<WebauthnChallenge> {
        let session = ctx.session_for(keyward_domain::access::Gate::KeyRegistration)?;
        Ok(keys::begin_registration(ctx.app(), session, &name).await?.into())
    }

    /// Finishes a registration with the authenticator's `RegistrationResponseJSON`.
    async fn security_key_registration_finish(
        &self,
        ctx: &Context<'_>,
        ceremony_id: ID,
        response: Json<Value>,
    ) -> ApiResult<SecurityKeyRegistrationPayload> {
        let session = ctx.session_for(keyward_domain::access::Gate::KeyRegistration)?;
        let request = ctx.request()?;
        let (key, issued) =
            keys::finish_registration(ctx.app(), session, &ceremony_id, &response.0, request.ip.clone()).await?;
        let viewer = Viewer::from(&issued.session);
        let session_token = Some(request.rotated(&issued));
        Ok(SecurityKeyRegistrationPayload { key: key.into(), viewer, session_token })
    }

    /// Generates 10 single-use recovery codes, voiding the old ones. They are shown only now.
    async fn recovery_codes_generate(&self, ctx: &Context<'_>) -> ApiResult<RecoveryCodesPayload> {
        let session = ctx.self_service()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(RecoveryCodesPayload { codes: crate::auth::recovery::generate(ctx.app(), session, ip).await? })
    }

    /// Renames one of your keys.
    async fn security_key_rename(&self, ctx: &Context<'_>, id: ID, name: String) -> ApiResult<SecurityKey> {
        let session = ctx.self_service()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(keys::rename(ctx.app(), session, &id, &name, ip).await?.into())
    }

    /// Deletes one of your keys. While MFA is enforced your last key cannot be deleted
    /// (`LAST_KEY_ENFORCED`).
    async fn security_key_delete(&self, ctx: &Context<'_>, id: ID) -> ApiResult<SecurityKeyDeletePayload> {
        let session = ctx.self_service()?.0;
        let request = ctx.request()?;
        let (key, remaining_keys, issued) = keys::delete(ctx.app(), session, &id, request.ip.clone()).await?;
        let session_token = Some(request.rotated(&issued));
        Ok(SecurityKeyDeletePayload { deleted_key_id: ID(key.id.to_string()), remaining_keys, session_token })
    }
}
