//! A member's own security keys: registration, listing, renaming and deleting.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ceremony::CeremonyPurpose;
use keyward_domain::change::AuthzChange;
use keyward_domain::ids::SecurityKeyId;
use keyward_domain::repo::{DeletedBy, MemberRepo, SecurityKeyRepo};
use keyward_domain::security_key::{NewSecurityKey, SecurityKey, normalize_key_name};
use keyward_domain::session::{KeyFacts, Session};
use keyward_domain::webauthn_policy::CredentialFacts;
use keyward_domain::{DomainError, StoreError};
use serde_json::{Value, json};
use webauthn_rs_core::proto::{RegisterPublicKeyCredential, RegistrationState};

use super::changes;
use super::mfa::Challenge;
use super::session::Issued;
use crate::state::AppState;
use crate::webauthn::{self, aaguid, precheck};

fn key_target(key: &SecurityKey) -> String {
    format!("security_key:{}", key.id)
}

fn key_details(key: &SecurityKey) -> Value {
    json!({
        "keyId": key.id.to_string(),
        "keyName": key.name,
        "credentialId": URL_SAFE_NO_PAD.encode(&key.credential_id),
        "aaguid": key.aaguid.map(|a| a.to_string()),
        "member": key.member_id.to_string(),
    })
}

/// Begins registering a key named `name` (trimmed, 1-64 characters, no control characters).
pub async fn begin_registration(app: &AppState, session: &Session, name: &str) -> Result<Challenge, DomainError> {
    let now = Utc::now();
    let name = normalize_key_name(name)?;
    let member = app.db.member(session.org_id, session.member_id).await?.ok_or(DomainError::Unauthenticated)?;
    let existing = app.db.stored_keys_of(session.org_id, session.member_id).await?;
    session.may_bind_key(!existing.is_empty())?;
    let exclude = existing.into_iter().map(|k| k.key.credential_id).collect();
    let policy = super::session_webauthn_policy(app, session).await?;
    let (options, state) =
        webauthn::start_registration(&app.rp, &policy, member.id.0, &member.username, &member.display_name, exclude)?;
    let state = serde_json::to_value(state).map_err(|e| DomainError::CeremonyFailed(e.to_string()))?;
    let ceremony_id = super::begin_ceremony(
        app,
        session.org_id,
        Some(session.token_hash.clone()),
        CeremonyPurpose::RegisterKey,
        json!({ "state": state, "name": name }),
        now,
    )
    .await?;
    Ok(Challenge { ceremony_id, options })
}

/// Finishes a registration. The member's other sessions end (a session that never touched a key
/// must not outlive the member getting one); this one is confirmed by the new key and rotated to
/// a new token, returned alongside the key. A session that had to register becomes
/// `AUTHENTICATED`.
pub async fn finish_registration(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    ip: Option<String>,
) -> Result<(SecurityKey, Issued), DomainError> {
    let now = Utc::now();
    let ceremony = super::take_counted_ceremony(app, session, ip.as_deref(), ceremony_id, "REGISTER_KEY", now).await?;
    let checked = precheck::precheck(response, precheck::Kind::Registration, &session.member_id.0, &app.rp.origins)?;
    let parsed: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
        .map_err(|e| DomainError::bad_input("response", format!("not a registration response: {e}")))?;
    let state: RegistrationState = serde_json::from_value(ceremony.state["state"].clone())
        .map_err(|e| DomainError::CeremonyFailed(format!("corrupt ceremony state: {e}")))?;
    let name = ceremony.state["name"].as_str().unwrap_or("Security key").to_owned();
    if app.db.key_by_credential(&checked.credential_id).await?.is_some() {
        return Err(DomainError::KeyAlreadyRegistered);
    }
    // Checked again at the finish: another session may have registered the first key meanwhile.
    session.may_bind_key(!app.db.keys_of(session.org_id, session.member_id).await?.is_empty())?;
    let policy = super::session_webauthn_policy(app, session).await?;
    let credential = webauthn::finish_registration(&app.rp, &policy, &parsed, &state).map_err(|err| match err {
        DomainError::CeremonyFailed(reason) if reason.contains("already registered") => {
            DomainError::KeyAlreadyRegistered
        }
        other => other,
    })?;
    // The claimed model is kept for display; the policy's lists see only a verified one.
    let model = aaguid::from_attestation_object(parsed.response.attestation_object.as_ref());
    let facts = CredentialFacts {
        aaguid: webauthn::verified_model(&app.rp, &policy, &credential, std::time::SystemTime::now())?,
        backup_eligible: credential.backup_eligible,
        user_verified: credential.user_verified,
    };
    policy.check(&facts).map_err(DomainError::PolicyDenied)?;
    let transports = credential
        .transports
        .iter()
        .flatten()
        .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned))
        .collect();
    let key = SecurityKey {
        id: SecurityKeyId::new(),
        org_id: session.org_id,
        member_id: session.member_id,
        name,
        credential_id: credential.cred_id.clone(),
        aaguid: model,
        sign_count: credential.counter,
        backup_eligible: credential.backup_eligible,
        backed_up: credential.backup_state,
        transports,
        user_verified: credential.user_verified,
        created_at: now,
        last_used_at: None,
    };
    let serialized = serde_json::to_string(&credential).map_err(|e| DomainError::CeremonyFailed(e.to_string()))?;
    let record = AuditRecord::new(Actor::Member(session.member_id), "security_key.registered")
        .target(key_target(&key))
        .ip(ip)
        .details(key_details(&key));
    let key =
        app.db.insert_key(NewSecurityKey { key, credential: serialized }, record).await.map_err(|err| match err {
            StoreError::Conflict(_) => DomainError::KeyAlreadyRegistered,
            other => other.into(),
        })?;
    // Registering proved possession of the new key (with user verification when the policy asks
    // for it): it confirms a session no key confirmed yet.
    let touched = KeyFacts {
        aaguid: facts.aaguid,
        backup_eligible: key.backup_eligible,
        backup_state: key.backed_up,
        user_verified: key.user_verified,
    };
    let changed = if session.is_keyless() {
        session.confirmed_by_key(key.id, touched, app.lifetimes, now)
    } else {
        session.clone()
    };
    let change = AuthzChange::KeyRegistered(session.member_id);
    let applied = changes::apply(app, session.org_id, &change, Some(session), Some(changed), now).await?;
    let issued = applied.rotated.ok_or(DomainError::Unauthenticated)?;
    Ok((key, issued))
}

/// One of the caller's own keys; anyone else's is `NOT_FOUND`.
async fn own_key(app: &AppState, session: &Session, id: &str) -> Result<SecurityKey, DomainError> {
    let id: SecurityKeyId = id.parse().map_err(|_| DomainError::NotFound)?;
    app.db
        .key(session.org_id, id)
        .await?
        .map(|stored| stored.key)
        .filter(|key| key.member_id == session.member_id)
        .ok_or(DomainError::NotFound)
}

/// Renames one of the caller's keys.
pub async fn rename(
    app: &AppState,
    session: &Session,
    id: &str,
    name: &str,
    ip: Option<String>,
) -> Result<SecurityKey, DomainError> {
    let name = normalize_key_name(name)?;
    let key = own_key(app, session, id).await?;
    let record = AuditRecord::new(Actor::Member(session.member_id), "security_key.renamed")
        .target(key_target(&key))
        .ip(ip)
        .details(json!({ "from": key.name, "to": name, "keyId": key.id.to_string() }));
    Ok(app.db.rename_key(session.org_id, key.id, &name, record).await?)
}

/// Deletes one of the caller's keys (refused for the last one while MFA is enforced). The
/// member's other sessions end, since the key may have confirmed them; this one is rotated.
pub async fn delete(
    app: &AppState,
    session: &Session,
    id: &str,
    ip: Option<String>,
) -> Result<(SecurityKey, u64, Issued), DomainError> {
    let key = own_key(app, session, id).await?;
    let record = AuditRecord::new(Actor::Member(session.member_id), "security_key.deleted")
        .target(key_target(&key))
        .ip(ip)
        .details(key_details(&key));
    let (deleted, remaining) = app.db.delete_key(session.org_id, key.id, DeletedBy::Owner, record).await?;
    let change = AuthzChange::KeyDeleted(session.member_id);
    let applied = changes::apply(app, session.org_id, &change, Some(session), None, Utc::now()).await?;
    let issued = applied.rotated.ok_or(DomainError::Unauthenticated)?;
    Ok((deleted, remaining, issued))
}
