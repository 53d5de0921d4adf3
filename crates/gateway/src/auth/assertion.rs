//! Checking a security-key assertion against a member's registered keys, the organization's
//! WebAuthn policy and the signature counter: shared by the login step and step-up.

use std::time::SystemTime;

use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::repo::{AuditRepo, SecurityKeyRepo};
use keyward_domain::security_key::{
    BackupFlags, CounterCheck, LoginBasis, SecurityKey, check_backup_flags, check_counter,
};
use keyward_domain::session::{KeyFacts, Session};
use keyward_domain::webauthn_policy::CredentialFacts;
use keyward_domain::{DomainError, StoreError};
use serde_json::{Value, json};
use webauthn_rs_core::proto::{AuthenticationResult, AuthenticationState, Credential, PublicKeyCredential};

use crate::state::AppState;
use crate::webauthn::{self, precheck};

/// An assertion that verified: the key, what the authenticator reported, and the credential to
/// store back (its counter and backup state moved forward).
pub struct Asserted {
    /// The key used.
    pub key: SecurityKey,
    /// The authenticator's report.
    pub result: AuthenticationResult,
    /// The updated serialized credential.
    pub credential: String,
    /// What the session records of the key.
    pub facts: KeyFacts,
    /// Whether the backup state changed since the last use.
    pub backup: BackupFlags,
    /// Whether the policy refuses a counter that went backwards.
    pub reject_regression: bool,
    /// What a login's write is computed against, read with the key.
    pub basis: LoginBasis,
}

/// Records the use of an asserted key: its counter and backup state move forward, on the
/// condition that no other use got there first (two uses of one key at once: `CEREMONY_FAILED`).
pub async fn record_use(
    app: &AppState,
    session: &Session,
    asserted: &Asserted,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    let used = keyward_domain::security_key::KeyUse {
        at: now,
        expected_sign_count: asserted.key.sign_count,
        sign_count: asserted.result.counter().max(asserted.key.sign_count),
        backed_up: asserted.result.backup_state(),
        credential: asserted.credential.clone(),
    };
    app.db.record_key_use(session.org_id, asserted.key.id, used).await.map_err(|err| match err {
        StoreError::Conflict(_) => DomainError::CeremonyFailed("this key was used twice at once: try again".into()),
        other => other.into(),
    })
}

/// An assertion ceremony whose challenge binds what it authorizes.
pub struct BoundChallenge {
    /// `PublicKeyCredentialRequestOptionsJSON`, with the derived challenge.
    pub options: Value,
    /// The verifier's state, with the derived challenge.
    pub state: Value,
    /// The server nonce the challenge was derived from, base64url.
    pub nonce: String,
}

/// Starts an assertion over the member's keys whose challenge is `derive(nonce)` for a fresh
/// 32-byte server nonce, so the signature covers what the challenge binds (an action, a request).
/// `no_key` says what a member without a key must do first.
pub async fn start_bound(
    app: &AppState,
    session: &Session,
    no_key: &str,
    derive: impl FnOnce(&[u8]) -> [u8; 32],
) -> Result<BoundChallenge, DomainError> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use keyward_domain::repo::SecurityKeyRepo;
    let keys = app.db.stored_keys_of(session.org_id, session.member_id).await?;
    if keys.is_empty() {
        return Err(DomainError::bad_input("session", no_key));
    }
    let credentials = keys
        .iter()
        .map(|k| serde_json::from_str::<Credential>(&k.credential))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DomainError::Store(StoreError::Unexpected(format!("stored credential: {e}"))))?;
    let policy = super::session_webauthn_policy(app, session).await?;
    let (mut options, state) = crate::webauthn::start_authentication(&app.rp, &policy, credentials)?;
    let mut state = serde_json::to_value(state).map_err(|e| DomainError::CeremonyFailed(e.to_string()))?;
    let nonce: [u8; 32] = crate::secrets::random_token_bytes();
    let challenge = URL_SAFE_NO_PAD.encode(derive(&nonce));
    options["challenge"] = Value::from(challenge.clone());
    state["challenge"] = Value::from(challenge);
    Ok(BoundChallenge { options, state, nonce: URL_SAFE_NO_PAD.encode(nonce) })
}

/// Verifies `response` against the ceremony's `state` for `session`'s member.
pub async fn check(
    app: &AppState,
    session: &Session,
    state: &Value,
    response: &Value,
    ip: &Option<String>,
) -> Result<Asserted, DomainError> {
    let checked = precheck::precheck(response, precheck::Kind::Assertion, &session.member_id.0, &app.rp.origins)?;
    let parsed: PublicKeyCredential = serde_json::from_value(response.clone())
        .map_err(|e| DomainError::bad_input("response", format!("not a PublicKeyCredential: {e}")))?;
    let state: AuthenticationState = serde_json::from_value(state.clone())
        .map_err(|e| DomainError::CeremonyFailed(format!("corrupt ceremony state: {e}")))?;
    let (stored, basis) = app.db.key_for_login(&checked.credential_id).await?.ok_or(DomainError::KeyNotRegistered)?;
    if stored.key.member_id != session.member_id || stored.key.org_id != session.org_id {
        return Err(DomainError::KeyNotRegistered);
    }
    let policy = super::session_webauthn_policy(app, session).await?;
    let result = webauthn::finish_authentication(&app.rp, &policy, &parsed, &state)?;
    let backup = check_backup_flags(&stored.key, result.backup_eligible(), result.backup_state())?;
    let mut credential: Credential = serde_json::from_str(&stored.credential)
        .map_err(|e| DomainError::Store(StoreError::Unexpected(format!("stored credential: {e}"))))?;
    // The model comes from the attestation verified at registration, never from the key's claim.
    let model = webauthn::verified_model(&app.rp, &policy, &credential, SystemTime::from(stored.key.created_at))?;
    let facts = CredentialFacts {
        aaguid: model,
        backup_eligible: result.backup_eligible(),
        user_verified: result.user_verified(),
    };
    policy.check(&facts).map_err(DomainError::PolicyDenied)?;
    let reject_regression = policy.reject_counter_regression;
    judge_counter(app, session, &stored.key, stored.key.sign_count, result.counter(), reject_regression, ip).await?;
    credential.counter = result.counter().max(credential.counter);
    credential.backup_state = result.backup_state();
    let credential = serde_json::to_string(&credential).map_err(|e| DomainError::CeremonyFailed(e.to_string()))?;
    let facts = KeyFacts {
        aaguid: facts.aaguid,
        backup_eligible: result.backup_eligible(),
        backup_state: result.backup_state(),
        user_verified: result.user_verified(),
    };
    Ok(Asserted { key: stored.key, result, credential, facts, backup, reject_regression, basis })
}

/// The counter rule (DESIGN §5): a counter that did not move forward is audited as an anomaly and
/// refused when the policy says so.
pub async fn judge_counter(
    app: &AppState,
    session: &Session,
    key: &SecurityKey,
    stored: u32,
    received: u32,
    reject: bool,
    ip: &Option<String>,
) -> Result<(), DomainError> {
    if check_counter(stored, received) == CounterCheck::Ok {
        return Ok(());
    }
    let record = AuditRecord::new(Actor::Member(session.member_id), "security_key.counter_anomaly")
        .target(format!("security_key:{}", key.id))
        .ip(ip.clone())
        .details(json!({ "stored": stored, "received": received, "rejected": reject }));
    app.db.append_audit(session.org_id, record).await?;
    if reject {
        return Err(DomainError::PolicyDenied(
            "this key's signature counter went backwards, which suggests a cloned key".into(),
        ));
    }
    Ok(())
}
