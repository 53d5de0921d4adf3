//! The security-key step of login: an assertion that never depends on the IdP.

use chrono::{DateTime, Utc};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ceremony::CeremonyPurpose;
use keyward_domain::ids::CeremonyId;
use keyward_domain::repo::SecurityKeyRepo;
use keyward_domain::security_key::{BackupFlags, KeyUse, LoginBasis, SIGN_COUNT_CHANGED, SecurityKey};
use keyward_domain::session::Session;
use keyward_domain::{DomainError, StoreError};
use serde_json::{Value, json};
use webauthn_rs_core::proto::Credential;

use super::assertion::Asserted;
use super::session::{Issued, rotate};
use crate::state::AppState;
use crate::webauthn;

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
    let policy = super::session_webauthn_policy(app, session).await?;
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
    let outcome = match verify(app, session, ceremony_id, response, ip.clone()).await {
        Ok(verified) => record(app, session, verified, ip.clone()).await,
        Err(err) => Err(err),
    };
    super::audit_refused_ceremony(app, session, "mfa.login", &outcome, ip).await?;
    outcome
}

/// A verified assertion: the rotated session, and what to record about the key's use.
struct Verified {
    issued: Issued,
    key: SecurityKey,
    at: DateTime<Utc>,
    /// The assertion's signature counter.
    received: u32,
    reject_regression: bool,
    backed_up: bool,
    credential: String,
    /// The login event, and the backup-state change when there is one.
    events: Vec<AuditRecord>,
    basis: LoginBasis,
}

/// How often the counter's compare-and-set is tried: each retry means another login of the same
/// key got in between, which a person does not do three times in a row.
const COUNTER_WRITE_ATTEMPTS: usize = 3;

/// Records the key's use, the login and its audit events in one transaction. When another login
/// of the same key moved the counter since it was read, this assertion is judged again against
/// the new counter, as if it had come second: so the counter never moves backwards, and a
/// regression hidden by a race is audited (and refused when the policy says so) all the same.
async fn record(app: &AppState, session: &Session, v: Verified, ip: Option<String>) -> Result<Issued, DomainError> {
    let mut expected = v.key.sign_count;
    for _ in 0..COUNTER_WRITE_ATTEMPTS {
        let used = KeyUse {
            at: v.at,
            expected_sign_count: expected,
            sign_count: v.received.max(expected),
            backed_up: v.backed_up,
            credential: v.credential.clone(),
        };
        let login = app.db.record_key_login(
            session.org_id,
            session.member_id,
            v.key.id,
            used,
            v.events.clone(),
            v.basis.clone(),
        );
        match login.await {
            Ok(()) => return Ok(v.issued),
            Err(StoreError::Conflict(what)) if what == SIGN_COUNT_CHANGED => {
                let current = app.db.key(session.org_id, v.key.id).await?.ok_or(DomainError::NotFound)?.key.sign_count;
                if let Err(err) =
                    super::assertion::judge_counter(app, session, &v.key, current, v.received, v.reject_regression, &ip)
                        .await
                {
                    abandon(app, &v.issued).await;
                    return Err(err);
                }
                expected = current;
            }
            Err(StoreError::NotFound) => {
                // The member was deactivated between the lookup of this session and now.
                abandon(app, &v.issued).await;
                return Err(DomainError::MemberDeactivated);
            }
            Err(other) => {
                abandon(app, &v.issued).await;
                return Err(other.into());
            }
        }
    }
    abandon(app, &v.issued).await;
    Err(DomainError::CeremonyFailed("this key was used for several logins at once: try again".into()))
}

/// Ends a session rotated for a login that then failed. Its token never reached the client, so
/// it is unusable either way; this only keeps it out of the live-session counts.
async fn abandon(app: &AppState, issued: &Issued) {
    let _ = app.sessions.revoke(issued.session.org_id, &issued.session.token_hash, Utc::now()).await;
}

async fn verify(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    ip: Option<String>,
) -> Result<Verified, DomainError> {
    let now = Utc::now();
    let ceremony = super::take_counted_ceremony(app, session, ip.as_deref(), ceremony_id, "LOGIN", now).await?;
    let asserted = super::assertion::check(app, session, &ceremony.state["state"], response, &ip).await?;
    let Asserted { key, result, credential, facts, backup, reject_regression, basis } = asserted;
    let actor = Actor::Member(session.member_id);
    let mut events = vec![
        AuditRecord::new(actor.clone(), "mfa.login")
            .target(format!("member:{}", session.member_id))
            .ip(ip.clone())
            .details(json!({
                "keyId": key.id.to_string(),
                "keyName": key.name,
                "aaguid": key.aaguid.map(|a| a.to_string()),
                "userVerified": result.user_verified(),
            })),
    ];
    if let BackupFlags::BackupStateChanged { backed_up } = backup {
        events.push(
            AuditRecord::new(actor, "security_key.backup_state_changed")
                .target(format!("security_key:{}", key.id))
                // Named here, from the key just read, so the login's write needs no name lookup.
                .target_name(key.name.clone())
                .ip(ip)
                .details(json!({ "keyId": key.id.to_string(), "from": key.backed_up, "to": backed_up })),
        );
    }
    let issued = rotate(app, session, session.confirmed_by_key(key.id, facts, app.lifetimes, now), now).await?;
    Ok(Verified {
        issued,
        key,
        at: now,
        received: result.counter(),
        reject_regression,
        backed_up: result.backup_state(),
        credential,
        events,
        basis,
    })
}
