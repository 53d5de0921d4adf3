//! Voting on an approval request with a security key: the WebAuthn challenge is
//! SHA-256(request digest ‖ server nonce), so the signature covers exactly this run and plan, and
//! the raw assertion is kept as evidence. The last approval, the state change, the token's `jti`
//! and the audit events are written in one transaction.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound, Utc};
use keyward_domain::approval::{
    ApprovalRequest, ApprovalStatus, Candidate, Evidence, Ineligible, TokenApprover, Transition, Vote, VoteDecision,
    check_approver, check_rejecter, tally,
};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ceremony::CeremonyPurpose;
use std::collections::HashSet;

use keyward_domain::ids::{ApprovalRequestId, MemberId, SecurityKeyId};
use keyward_domain::pipeline_repo::{ApprovalRepo, VoteWrite};
use keyward_domain::session::Session;
use keyward_domain::step_up::RequestFacts;
use keyward_domain::{DomainError, StoreError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::approval::{record_about, token_record};
use super::mfa::Challenge;
use crate::state::AppState;

/// How often a vote is decided again when another vote changed the request first.
const ATTEMPTS: usize = 5;

/// The challenge of an approval: SHA-256(digest bytes ‖ nonce).
pub fn challenge_for(digest_hex: &str, nonce: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(hex::decode(digest_hex).unwrap_or_else(|_| digest_hex.as_bytes().to_vec()));
    hasher.update(nonce);
    hasher.finalize().into()
}

fn open_or_refuse(request: &ApprovalRequest, now: DateTime<Utc>) -> Result<(), DomainError> {
    match request.status_at(now) {
        ApprovalStatus::Pending => Ok(()),
        ApprovalStatus::Expired => Err(DomainError::ApprovalExpired),
        status => Err(DomainError::ApprovalNotPending(status)),
    }
}

async fn load(app: &AppState, session: &Session, id: &str) -> Result<ApprovalRequest, DomainError> {
    let id: ApprovalRequestId = id.parse().map_err(|_| DomainError::NotFound)?;
    app.db.approval_request(session.org_id, id).await?.ok_or(DomainError::NotFound)
}

/// Begins the key ceremony for a vote on request `id` over the member's keys.
pub async fn begin(app: &AppState, session: &Session, id: &str) -> Result<Challenge, DomainError> {
    let now = Utc::now();
    let request = load(app, session, id).await?;
    open_or_refuse(&request, now)?;
    if request.voted(session.member_id) {
        return Err(DomainError::ApproverIneligible(Ineligible::AlreadyVoted));
    }
    let no_key = "register a security key before you can approve with it";
    let digest = request.digest.clone();
    let bound = super::assertion::start_bound(app, session, no_key, |nonce| challenge_for(&digest, nonce)).await?;
    let purpose = CeremonyPurpose::Approval {
        request: request.id.to_string(),
        digest: request.digest.clone(),
        nonce: bound.nonce,
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

/// What a voter says: approve, or reject with a reason.
#[derive(Clone, Debug)]
pub struct Ballot {
    /// Approve or reject.
    pub decision: VoteDecision,
    /// Why (required to reject).
    pub reason: Option<String>,
}

/// Finishes a vote on request `id` with the key touch of `ceremony_id`.
pub async fn finish(
    app: &AppState,
    session: &Session,
    id: &str,
    ceremony_id: &str,
    response: &Value,
    ballot: Ballot,
    request_facts: &RequestFacts,
) -> Result<ApprovalRequest, DomainError> {
    let decision = ballot.decision;
    let reason = ballot.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if decision == VoteDecision::Reject {
        match &reason {
            None => return Err(DomainError::bad_input("reason", "say why you reject this request")),
            Some(text) if text.chars().count() > 1000 => {
                return Err(DomainError::bad_input("reason", "at most 1000 characters"));
            }
            Some(_) => {}
        }
    }
    let now = Utc::now().trunc_subsecs(6); // as the store keeps it: the answer is built, not read back
    let ip = request_facts.ip.clone();
    let ballot = Ballot { decision, reason };
    let outcome = vote(app, session, (id, ceremony_id, response), ballot, &ip, now).await;
    super::audit_refused_ceremony(app, session, "approval.vote_refused", &outcome, ip).await?;
    outcome
}

async fn vote(
    app: &AppState,
    session: &Session,
    (id, ceremony_id, response): (&str, &str, &Value),
    Ballot { decision, reason }: Ballot,
    ip: &Option<String>,
    now: DateTime<Utc>,
) -> Result<ApprovalRequest, DomainError> {
    let ceremony = super::take_counted_ceremony(app, session, ip.as_deref(), ceremony_id, "APPROVAL", now).await?;
    let CeremonyPurpose::Approval { request: for_request, digest, nonce } = ceremony.purpose else {
        return Err(DomainError::CeremonyFailed("not an approval ceremony".into()));
    };
    let mut request = load(app, session, id).await?;
    if for_request != request.id.to_string() {
        return Err(DomainError::CeremonyFailed("this key touch was for another request".into()));
    }
    let nonce_bytes =
        URL_SAFE_NO_PAD.decode(&nonce).map_err(|_| DomainError::CeremonyFailed("corrupt nonce".into()))?;
    let expected = URL_SAFE_NO_PAD.encode(challenge_for(&request.digest, &nonce_bytes));
    if digest != request.digest || ceremony.state["state"]["challenge"].as_str() != Some(expected.as_str()) {
        return Err(DomainError::CeremonyFailed("the request changed since the key touch began".into()));
    }
    let asserted = super::assertion::check(app, session, &ceremony.state["state"], response, ip).await?;
    super::assertion::record_use(app, session, &asserted, now).await?;
    let credential_id = URL_SAFE_NO_PAD.encode(&asserted.key.credential_id);
    let vote = Vote {
        member_id: session.member_id,
        key_id: asserted.key.id,
        credential_id: credential_id.clone(),
        groups: session.facts.groups.clone(),
        decision,
        reason: reason.clone(),
        at: now,
        evidence: evidence(response, &credential_id, &nonce),
    };
    for _ in 0..ATTEMPTS {
        open_or_refuse(&request, now)?;
        let candidate = Candidate {
            member: session.member_id,
            groups: &session.facts.groups,
            key_id: asserted.key.id,
            credential_id: &credential_id,
            backup_eligible: asserted.key.backup_eligible,
        };
        let eligible = match decision {
            VoteDecision::Approve => check_approver(&request, &candidate),
            VoteDecision::Reject => check_rejecter(&request, &candidate),
        };
        eligible.map_err(DomainError::ApproverIneligible)?;
        let (transition, audit) = consequences(app, session, &request, &vote, ip, now).await?;
        let write = VoteWrite {
            expected_version: request.version,
            vote: vote.clone(),
            transition: transition.clone(),
            audit,
            now,
        };
        match app.db.record_vote(session.org_id, request.id, write).await {
            Ok(()) => return Ok(request.with_vote(vote, transition.as_ref())),
            Err(StoreError::Conflict(why)) if why == "already_voted" => {
                return Err(DomainError::ApproverIneligible(Ineligible::AlreadyVoted));
            }
            // Another vote, or the expiry, got there first: decide again on what is there now.
            Err(StoreError::Conflict(_)) => request = load(app, session, id).await?,
            Err(other) => return Err(other.into()),
        }
    }
    Err(DomainError::Store(StoreError::Unavailable("the request kept changing; try again".into())))
}

/// What recording `vote` on `request` changes, and the audit events that say so.
async fn consequences(
    app: &AppState,
    session: &Session,
    request: &ApprovalRequest,
    vote: &Vote,
    ip: &Option<String>,
    now: DateTime<Utc>,
) -> Result<(Option<Transition>, Vec<AuditRecord>), DomainError> {
    let actor = || AuditRecord::new(Actor::Member(session.member_id), "").ip(ip.clone());
    let recorded = json!({
        "memberId": vote.member_id.to_string(),
        "keyId": vote.key_id.to_string(),
        "credentialId": vote.credential_id,
        "decision": vote.decision.as_str(),
        "reason": vote.reason,
        "evidence": vote.evidence,
    });
    let mut record = actor();
    record.action = "approval.vote_recorded".into();
    let mut audit = vec![record_about(app, record, request, recorded)];
    let mut after = request.clone();
    after.votes.push(vote.clone());
    if vote.decision == VoteDecision::Reject {
        after.status = ApprovalStatus::Rejected;
        let mut record = actor();
        record.action = "approval.rejected".into();
        let details = json!({ "reason": vote.reason, "by": session.member_id.to_string() });
        audit.push(record_about(app, record, &after, details));
        let transition = Transition {
            status: ApprovalStatus::Rejected,
            at: now,
            reason: vote.reason.clone(),
            token: None,
            token_jti: None,
        };
        return Ok((Some(transition), audit));
    }
    let Some(requirements) = &request.requirements else { return Ok((None, audit)) };
    let valid = standing_votes(app, &after).await?;
    let counted = tally(requirements, &after.votes, now, |v| valid.contains(&(v.member_id, v.key_id)));
    if !counted.met {
        return Ok((None, audit));
    }
    let approvers: Vec<TokenApprover> = counted
        .counted
        .iter()
        .map(|v| TokenApprover { member: v.member_id.to_string(), credential: v.credential_id.clone() })
        .collect();
    after.status = ApprovalStatus::Approved;
    let (token, claims) = app.tokens.issue_approval(&after, approvers.clone(), now).await?;
    let approved = json!({ "approvers": approvers.iter().map(|a| json!({"member": a.member, "credential": a.credential})).collect::<Vec<_>>(), "jti": claims.jti });
    audit.push(record_about(app, AuditRecord::new(Actor::System, "approval.approved"), &after, approved));
    audit.push(token_record(app, &after, claims.jti.clone(), claims.exp));
    let transition = Transition {
        status: ApprovalStatus::Approved,
        at: now,
        reason: None,
        token: Some(app.sealer.seal(&token)),
        token_jti: Some(claims.jti),
    };
    Ok((Some(transition), audit))
}

/// The approvals that still stand: their member still active, the key they used still theirs.
/// Checked when the token would be issued, so a removed approver or a deleted key stops counting.
pub async fn standing_votes(
    app: &AppState,
    request: &ApprovalRequest,
) -> Result<HashSet<(MemberId, SecurityKeyId)>, DomainError> {
    let approvals: Vec<_> =
        request.votes.iter().filter(|v| v.decision == VoteDecision::Approve).map(|v| (v.member_id, v.key_id)).collect();
    Ok(app.db.standing_approvals(request.org_id, &approvals).await?)
}

/// The raw assertion, base64url, as the browser sent it.
fn evidence(response: &Value, credential_id: &str, nonce: &str) -> Evidence {
    let field = |name: &str| response["response"][name].as_str().unwrap_or_default().to_owned();
    Evidence {
        credential_id: credential_id.to_owned(),
        authenticator_data: field("authenticatorData"),
        client_data_json: field("clientDataJSON"),
        signature: field("signature"),
        user_handle: response["response"]["userHandle"].as_str().map(str::to_owned),
        nonce: nonce.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_binds_the_digest_and_the_nonce() {
        let digest = hex::encode([7u8; 32]);
        let other = hex::encode([8u8; 32]);
        assert_eq!(challenge_for(&digest, b"n"), challenge_for(&digest, b"n"));
        assert_ne!(challenge_for(&digest, b"n"), challenge_for(&other, b"n"));
        assert_ne!(challenge_for(&digest, b"n"), challenge_for(&digest, b"m"));
        let mut expected = Sha256::new();
        expected.update([7u8; 32]);
        expected.update(b"n");
        assert_eq!(challenge_for(&digest, b"n"), <[u8; 32]>::from(expected.finalize()));
    }
}
