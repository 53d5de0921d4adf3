//! Step-up (DESIGN §8): the decision the choke point asks before a sensitive action, and the
//! ceremony that earns a grant on the one session that ran it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ceremony::CeremonyPurpose;
use keyward_domain::ids::SecurityKeyId;
use keyward_domain::repo::AuditRepo;
use keyward_domain::session::{KeyFacts, Session};
use keyward_domain::step_up::{
    Decision, Grant, POLICY_SET_ACTION, PolicyInput, RequestFacts, ResourceView, Touch, Verdict, add_grant, judge,
    validate_action, validate_resource,
};
use keyward_domain::step_up_token::StepUpTokenInput;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::mfa::Challenge;
use super::session::{Issued, rotate};
use crate::policy::{self, ActivePolicy};
use crate::state::AppState;
use crate::webauthn;

/// What is asked: an action on a resource, with labels for the policy (forward auth).
#[derive(Clone, Debug, Default)]
pub struct Ask<'a> {
    /// Whether this is one of Keyward's own mutations (not a tool behind it).
    pub own: bool,
    /// The action, e.g. `k8s.exec`.
    pub action: &'a str,
    /// The resource, e.g. `prod/cluster-a`.
    pub resource: Option<&'a str>,
    /// `label.<name>=<value>` pairs from forward auth.
    pub labels: serde_json::Map<String, Value>,
}

impl<'a> Ask<'a> {
    /// One of Keyward's own mutations.
    pub fn own(action: &'a str, resource: Option<&'a str>) -> Self {
        Ask { own: true, ..Ask::new(action, resource) }
    }

    /// An action on a resource, without labels.
    pub fn new(action: &'a str, resource: Option<&'a str>) -> Self {
        Ask { own: false, action, resource, labels: serde_json::Map::new() }
    }

    fn validate(&self) -> Result<(), DomainError> {
        validate_action(self.action)?;
        self.resource.map_or(Ok(()), validate_resource)
    }
}

/// The policy's decision for one ask.
pub struct Decided {
    /// What the policy said (a denial when it could not be evaluated).
    pub decision: Decision,
    /// The policy version that said it (0: built-in).
    pub version: u64,
    /// Whether the engine failed (the denial is already audited).
    pub engine_failed: bool,
}

/// The policy's decision for `ask`.
pub async fn decide(
    app: &AppState,
    session: &Session,
    ask: &Ask<'_>,
    request: &RequestFacts,
    now: DateTime<Utc>,
) -> Result<Decided, DomainError> {
    let built_in = |action| Decided { decision: Decision::built_in(action), version: 0, engine_failed: false };
    if ask.action == POLICY_SET_ACTION {
        return Ok(built_in(ask.action));
    }
    match policy::active(app, session).await? {
        ActivePolicy::BuiltIn => Ok(built_in(ask.action)),
        ActivePolicy::Saved { version, policy } => {
            let resource = ResourceView::parse(ask.resource, ask.labels.clone());
            let model = session.facts.key.and_then(|k| k.aaguid).and_then(|a| webauthn::aaguid::model_name(&a));
            let input = PolicyInput::new(session, ask.action, &resource, request, model, now);
            match policy.decide(&input) {
                Ok(decision) => Ok(Decided { decision, version, engine_failed: false }),
                Err(err) => {
                    // Fail closed: the action is denied, and the reason is on the record.
                    tracing::warn!(error = %err, org = %session.org_id, version, "step-up policy evaluation failed");
                    let reason = "the step-up policy could not be evaluated; an admin must fix it".to_owned();
                    let denied = Decision { deny: true, reason: Some(reason), ..Decision::default() };
                    audit_denied(app, session, ask, version, &format!("{err}"), request).await?;
                    Ok(Decided { decision: denied, version, engine_failed: true })
                }
            }
        }
    }
}

/// The choke point's question: may `session` do `ask` at `now`? `STEP_UP_REQUIRED` when a
/// fresh key touch is needed, `POLICY_DENIED` (audited) when the policy refuses.
pub async fn require(
    app: &AppState,
    session: &Session,
    ask: &Ask<'_>,
    request: &RequestFacts,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    ask.validate()?;
    let decided = decide(app, session, ask, request, now).await?;
    let touch = Touch {
        mfa_verified_at: session.mfa_verified_at,
        keyless_own_action: ask.own && session.is_keyless(),
        grants: &session.grants,
    };
    let verdict = judge(&decided.decision, touch, ask.action, ask.resource, now);
    if let Verdict::Denied(reason) = &verdict
        && !decided.engine_failed
    {
        audit_denied(app, session, ask, decided.version, reason, request).await?;
    }
    verdict.into_result(ask.action, ask.resource)
}

async fn audit_denied(
    app: &AppState,
    session: &Session,
    ask: &Ask<'_>,
    version: u64,
    reason: &str,
    request: &RequestFacts,
) -> Result<(), DomainError> {
    let record = AuditRecord::new(Actor::Member(session.member_id), "step_up.denied")
        .target(ask.resource.map_or_else(|| format!("member:{}", session.member_id), str::to_owned))
        .failed()
        .ip(request.ip.clone())
        .details(json!({ "action": ask.action, "resource": ask.resource, "policyVersion": version, "reason": reason }));
    app.db.append_audit(session.org_id, record).await?;
    Ok(())
}

/// The challenge of a step-up: SHA-256(action ‖ 0 ‖ resource ‖ 0 ‖ nonce), so the assertion's
/// signature (over clientDataJSON, which carries the challenge) covers the action it authorizes.
pub fn challenge_for(action: &str, resource: Option<&str>, nonce: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(action.as_bytes());
    hasher.update([0]);
    hasher.update(resource.unwrap_or_default().as_bytes());
    hasher.update([0]);
    hasher.update(nonce);
    hasher.finalize().into()
}

/// Begins a step-up for `ask` over the member's keys.
pub async fn begin(
    app: &AppState,
    session: &Session,
    ask: &Ask<'_>,
    handoff: Option<String>,
    request: &RequestFacts,
) -> Result<Challenge, DomainError> {
    ask.validate()?;
    let now = Utc::now();
    if let Some(id) = &handoff {
        super::handoff::check(app, session, ask.action, ask.resource, id, now).await?;
    }
    let decision = decide(app, session, ask, request, now).await?.decision;
    if decision.deny {
        let reason = decision.reason.clone().unwrap_or_else(|| "the step-up policy denies this".into());
        Verdict::Denied(reason).into_result(ask.action, ask.resource)?;
    }
    let no_key = "register a security key before you can confirm actions with it";
    let bound =
        super::assertion::start_bound(app, session, no_key, |nonce| challenge_for(ask.action, ask.resource, nonce))
            .await?;
    let purpose = CeremonyPurpose::StepUp {
        action: ask.action.to_owned(),
        resource: ask.resource.map(str::to_owned),
        nonce: bound.nonce,
        handoff,
    };
    let ceremony_id = super::begin_ceremony(
        app,
        session.org_id,
        Some(session.token_hash.clone()),
        purpose,
        json!({ "state": bound.state }),
        now,
    )
    .await?;
    Ok(Challenge { ceremony_id, options: bound.options })
}

/// A finished step-up.
pub struct Finished {
    /// What it earned.
    pub grant: Grant,
    /// The session, rotated with the grant.
    pub issued: Issued,
    /// The action and resource it was for.
    pub action: String,
    /// The resource.
    pub resource: Option<String>,
    /// The terminal hand-off it completes, if any.
    pub handoff: Option<String>,
    /// Whether the authenticator verified the user.
    pub user_verified: bool,
    /// The key that signed, and what it showed (a terminal's login session is confirmed by it).
    pub key: (SecurityKeyId, KeyFacts),
}

/// Finishes a step-up: the grant goes on `session` only, which is rotated.
pub async fn finish(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    request: &RequestFacts,
) -> Result<Finished, DomainError> {
    let now = Utc::now();
    let outcome = verify(app, session, ceremony_id, response, request, now).await;
    super::audit_refused_ceremony(app, session, "step_up.denied", &outcome, request.ip.clone()).await?;
    outcome
}

async fn verify(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    request: &RequestFacts,
    now: DateTime<Utc>,
) -> Result<Finished, DomainError> {
    let ceremony =
        super::take_counted_ceremony(app, session, request.ip.as_deref(), ceremony_id, "STEP_UP", now).await?;
    let CeremonyPurpose::StepUp { action, resource, nonce, handoff } = ceremony.purpose else {
        return Err(DomainError::CeremonyFailed("not a step-up ceremony".into()));
    };
    let nonce = URL_SAFE_NO_PAD.decode(&nonce).map_err(|_| DomainError::CeremonyFailed("corrupt nonce".into()))?;
    let expected = URL_SAFE_NO_PAD.encode(challenge_for(&action, resource.as_deref(), &nonce));
    if ceremony.state["state"]["challenge"].as_str() != Some(expected.as_str()) {
        return Err(DomainError::CeremonyFailed("the challenge does not match the action".into()));
    }
    let asserted = super::assertion::check(app, session, &ceremony.state["state"], response, &request.ip).await?;
    super::assertion::record_use(app, session, &asserted, now).await?;
    let ask = Ask::new(&action, resource.as_deref());
    let Decided { decision, version, .. } = decide(app, session, &ask, request, now).await?;
    if decision.deny {
        let reason = decision.reason.clone().unwrap_or_else(|| "the step-up policy denies this".into());
        Verdict::Denied(reason).into_result(&action, resource.as_deref())?;
    }
    let grant = Grant::earned(&decision, &action, resource.as_deref(), now);
    let issued = grant_to(app, session, grant.clone(), now).await?;
    let record = AuditRecord::new(Actor::Member(session.member_id), "step_up.granted")
        .target(resource.clone().unwrap_or_else(|| format!("member:{}", session.member_id)))
        .ip(request.ip.clone())
        .details(json!({
            "action": action,
            "resource": resource,
            "policyVersion": version,
            "reuse": decision.reuse,
            "expiresAt": grant.expires_at,
            "keyId": asserted.key.id.to_string(),
            "userVerified": asserted.result.user_verified(),
        }));
    app.db.append_audit(session.org_id, record).await?;
    Ok(Finished {
        grant,
        issued,
        action,
        resource,
        handoff,
        user_verified: asserted.result.user_verified(),
        key: (asserted.key.id, asserted.facts),
    })
}

/// Puts `grant` on `session` (and on no other session of its member), rotating it.
pub async fn grant_to(
    app: &AppState,
    session: &Session,
    grant: Grant,
    now: DateTime<Utc>,
) -> Result<Issued, DomainError> {
    let mut next = session.clone();
    add_grant(&mut next.grants, grant, now);
    rotate(app, session, next, now).await
}

/// [`finish`], then the terminal hand-off the ceremony names, if any: a step-up JWT is signed
/// when the caller asked (`issue_token`) or the terminal did, and only the caller's is returned.
pub async fn finish_with_handoff(
    app: &AppState,
    session: &Session,
    ceremony_id: &str,
    response: &Value,
    request: &RequestFacts,
    issue_token: bool,
) -> Result<(Finished, Option<String>), DomainError> {
    let finished = finish(app, session, ceremony_id, response, request).await?;
    let now = Utc::now();
    let handoff = super::handoff::pending(app, &finished, now).await?;
    let token = match issue_token || handoff.as_ref().is_some_and(|h| h.wants_token()) {
        true => Some(self::issue_token(app, &finished).await?),
        false => None,
    };
    if let Some(found) = handoff {
        super::handoff::complete(app, &finished.issued.session, &finished, found, token.clone(), now).await?;
    }
    Ok((finished, token.filter(|_| issue_token)))
}

/// Signs a step-up JWT for a finished step-up.
pub async fn issue_token(app: &AppState, finished: &Finished) -> Result<String, DomainError> {
    let input = StepUpTokenInput {
        member: finished.issued.session.member_id,
        org: finished.issued.session.org_id,
        action: finished.action.clone(),
        resource: finished.resource.clone().unwrap_or_default(),
        user_verified: finished.user_verified,
        touched_at: finished.grant.touched_at,
    };
    Ok(app.tokens.issue(&input).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_binds_action_resource_and_nonce() {
        let base = challenge_for("security_key.delete", Some("security_key:1"), b"n");
        assert_eq!(base, challenge_for("security_key.delete", Some("security_key:1"), b"n"));
        assert_ne!(base, challenge_for("security_key.rename", Some("security_key:1"), b"n"));
        assert_ne!(base, challenge_for("security_key.delete", Some("security_key:2"), b"n"));
        assert_ne!(base, challenge_for("security_key.delete", Some("security_key:1"), b"m"));
        // The separator keeps "a.b" + "c" apart from "a.bc" + "".
        assert_ne!(challenge_for("a.b", Some("c"), b""), challenge_for("a.bc", None, b""));
    }
}
