//! The security-key step of login: an assertion that never depends on the IdP.

use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ceremony::CeremonyPurpose;
use keyward_domain::ids::{CeremonyId, SecurityKeyId};
use keyward_domain::repo::{AuditRepo, SecurityKeyRepo};
use keyward_domain::security_key::{CounterCheck, KeyUse, check_counter};
use keyward_domain::session::{AuthMethod, Session, SessionStage};
use keyward_domain::webauthn_policy::CredentialFacts;
use serde_json::{Value, json};
use webauthn_rs_core::proto::{AuthenticationState, Credential, PublicKeyCredential};

use super::session::{Issued, rotate};
use crate::state::AppState;
use crate::webauthn::{self, precheck};

/// A ceremony begun: its ID and the options for `navigator.credentials.get` / `.create`.
pub struct Challenge {
    /// Pass back with the response.
    pub ceremony_id: CeremonyId,
    /// `PublicKeyCredentialRequestOptionsJSON` / `PublicKeyCredentialCreationOptionsJSON`.
    pub options: Value,
}

/// Begins the assertion over the member's keys.
pub async fn begin(app: &AppState, session: &Session) -> Result<Challenge, DomainError> {
    let now = Utc::now();
    let keys = app.db.stored_keys_of(session.org_id, session.member_id).await?;
    if keys.is_empty() {
        return Err(DomainError::bad_input("session", "you have no security key to log in with"));
    }
    let credentials =
        keys.iter().map(|k| serde_json::from_str::<Credential>(&k.credential)).collect::<Result<Vec<_>, _>>().map_err(
            |e| DomainError::Store(keyward_domain::StoreError::Unexpected(format!("stored credential: {e}"))),
        )?;
    let policy = super::webauthn_policy(app, session.org_id).await?;
    let (options, state) = webauthn::start_authentication(&app.rp, &policy, credentials)?;
    let state = serde_json::to_value(state).map_err(|e| DomainError::CeremonyFailed(e.to_string()))?;
    let ceremony_id = super::begin_ceremony(
        app,
        session.org_id,
        Some(session.token_hash.clone()),
        CeremonyPurpose::Login,
        json!({ "state": state }),
        now,
    )
    .await?;
    Ok(Challenge { ceremony_id, options })
}

/// Finishes the assertion: on success the session becomes `AUTHENTICATED` under a new token.
pub async fn finish(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    ip: Option<String>,
) -> Result<Issued, DomainError> {
    let now = Utc::now();
    super::limit_ceremony(app, session, ip.as_deref(), now).await?;
    let outcome = verify(app, session, ceremony_id, response, ip.clone()).await;
    let actor = Actor::Member(session.member_id);
    match outcome {
        Ok(Verified { issued, key, used, details }) => {
            let record = AuditRecord::new(actor, "mfa.login")
                .target(format!("member:{}", session.member_id))
                .ip(ip)
                .details(details);
            app.db.record_key_login(session.org_id, session.member_id, key, used, record).await?;
            Ok(issued)
        }
        Err(err) => {
            if matches!(
                err,
                DomainError::CeremonyFailed(_)
                    | DomainError::CeremonyExpired
                    | DomainError::PolicyDenied(_)
                    | DomainError::BadInput { .. }
            ) {
                let record = AuditRecord::new(actor, "mfa.login")
                    .target(format!("member:{}", session.member_id))
                    .failed()
                    .ip(ip)
                    .details(json!({ "reason": err.to_string() }));
                app.db.append_audit(session.org_id, record).await?;
            }
            Err(err)
        }
    }
}

/// A verified assertion: the rotated session, and what to record about the key's use.
struct Verified {
    issued: Issued,
    key: SecurityKeyId,
    used: KeyUse,
    details: Value,
}

async fn verify(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    ip: Option<String>,
) -> Result<Verified, DomainError> {
    let now = Utc::now();
    let ceremony =
        super::take_ceremony(app, session.org_id, ceremony_id, "LOGIN", Some(&session.token_hash), now).await?;
    let checked = precheck::precheck(response, precheck::Kind::Assertion, &session.member_id.0)?;
    let parsed: PublicKeyCredential = serde_json::from_value(response.clone())
        .map_err(|e| DomainError::bad_input("response", format!("not a PublicKeyCredential: {e}")))?;
    let state: AuthenticationState = serde_json::from_value(ceremony.state["state"].clone())
        .map_err(|e| DomainError::CeremonyFailed(format!("corrupt ceremony state: {e}")))?;
    let stored = app
        .db
        .key_by_credential(&checked.credential_id)
        .await?
        .ok_or_else(|| DomainError::CeremonyFailed("this security key is not registered".into()))?;
    if stored.key.member_id != session.member_id || stored.key.org_id != session.org_id {
        return Err(DomainError::CeremonyFailed("this key belongs to another account".into()));
    }
    let policy = super::webauthn_policy(app, session.org_id).await?;
    let result = webauthn::finish_authentication(&app.rp, &policy, &parsed, &state)?;
    let facts = CredentialFacts {
        aaguid: stored.key.aaguid,
        backup_eligible: result.backup_eligible(),
        user_verified: result.user_verified(),
    };
    policy.check(&facts).map_err(DomainError::PolicyDenied)?;
    if check_counter(stored.key.sign_count, result.counter()) == CounterCheck::WentBackwards {
        let record = AuditRecord::new(Actor::Member(session.member_id), "security_key.counter_anomaly")
            .target(format!("security_key:{}", stored.key.id))
            .ip(ip)
            .details(json!({ "stored": stored.key.sign_count, "received": result.counter(), "rejected": policy.reject_counter_regression }));
        app.db.append_audit(session.org_id, record).await?;
        if policy.reject_counter_regression {
            return Err(DomainError::PolicyDenied(
                "this key's signature counter went backwards, which suggests a cloned key".into(),
            ));
        }
    }
    let mut credential: Credential = serde_json::from_str(&stored.credential)
        .map_err(|e| DomainError::Store(keyward_domain::StoreError::Unexpected(format!("stored credential: {e}"))))?;
    credential.counter = result.counter().max(credential.counter);
    credential.backup_state = result.backup_state();
    let credential = serde_json::to_string(&credential).map_err(|e| DomainError::CeremonyFailed(e.to_string()))?;
    let used = KeyUse {
        at: now,
        sign_count: result.counter().max(stored.key.sign_count),
        backed_up: result.backup_state(),
        credential,
    };
    let mut changed = session.clone();
    changed.advance(SessionStage::Authenticated, app.lifetimes, now);
    changed.mfa_verified_at = Some(now);
    changed.key_id = Some(stored.key.id);
    if !changed.methods.contains(&AuthMethod::SecurityKey) {
        changed.methods.push(AuthMethod::SecurityKey);
    }
    let issued = rotate(app, session, changed, now).await?;
    let details = json!({
        "keyId": stored.key.id.to_string(),
        "keyName": stored.key.name,
        "aaguid": stored.key.aaguid.map(|a| a.to_string()),
        "userVerified": result.user_verified(),
    });
    Ok(Verified { issued, key: stored.key.id, used, details })
}
