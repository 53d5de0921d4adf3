//! A stored approval request, its votes and the evidence each vote keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decision::Requirements;
use super::request::ApprovalRequestInput;
use crate::ids::{ApiKeyId, ApprovalRequestId, MemberId, OrgId, SecurityKeyId};

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalStatus {
    /// Waiting for approvals.
    Pending,
    /// Approved: a token was issued.
    Approved,
    /// Rejected by the policy or by a person.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

impl ApprovalStatus {
    /// The stable spelling used in storage and the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
            Self::Expired => "EXPIRED",
        }
    }

    /// Parses [`Self::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Rejected, Self::Expired].into_iter().find(|s| s.as_str() == text)
    }
}

/// Who created a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestedBy {
    /// A pipeline, with an API key.
    ApiKey(ApiKeyId),
    /// A member, from their session.
    Member(MemberId),
}

/// A vote's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VoteDecision {
    /// Approve.
    Approve,
    /// Reject (with a reason).
    Reject,
}

impl VoteDecision {
    /// The stable spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Approve => "APPROVE",
            Self::Reject => "REJECT",
        }
    }
}

/// The raw WebAuthn assertion behind a vote, base64url, kept for non-repudiation: anyone with the
/// key's public key can check that `signature` covers `authenticatorData ‖ SHA-256(clientDataJSON)`
/// and that clientDataJSON's challenge is SHA-256(request digest ‖ nonce).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The credential ID.
    pub credential_id: String,
    /// authenticatorData.
    pub authenticator_data: String,
    /// clientDataJSON.
    pub client_data_json: String,
    /// The signature.
    pub signature: String,
    /// The user handle, when the authenticator returned one.
    pub user_handle: Option<String>,
    /// The server nonce the challenge was derived from.
    pub nonce: String,
}

/// One person's vote, made with one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Who.
    pub member_id: MemberId,
    /// With which key.
    pub key_id: SecurityKeyId,
    /// The key's credential ID, base64url.
    pub credential_id: String,
    /// The voter's groups when they voted.
    pub groups: Vec<String>,
    /// Approve or reject.
    pub decision: VoteDecision,
    /// A rejection's reason.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// The assertion.
    pub evidence: Evidence,
}

/// An approval request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// Its ID.
    pub id: ApprovalRequestId,
    /// Its organization.
    pub org_id: OrgId,
    /// What was asked.
    pub input: ApprovalRequestInput,
    /// [`ApprovalRequestInput::digest`].
    pub digest: String,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// The policy's or the rejecter's reason.
    pub reason: Option<String>,
    /// What approvals it needs (`None`: decided by the policy alone).
    pub requirements: Option<Requirements>,
    /// The approval policy version that decided (0: built-in).
    pub policy_version: u64,
    /// The policy rules that produced a value for it.
    pub fired_rules: Vec<String>,
    /// Who created it.
    pub created_by: RequestedBy,
    /// The member the requester named, if any.
    pub requester_member: Option<MemberId>,
    /// The member the commit author named, if any.
    pub commit_author_member: Option<MemberId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it expires unless decided.
    pub expires_at: DateTime<Utc>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The issued token (only once approved).
    pub token: Option<String>,
    /// The issued token's `jti`.
    pub token_jti: Option<String>,
    /// Bumped by every change (votes and state): the compare-and-set of concurrent votes.
    pub version: u64,
    /// The votes, oldest first.
    pub votes: Vec<Vote>,
}

impl ApprovalRequest {
    /// The status at `now`: a pending request past its expiry is expired even before the sweeper
    /// has written so.
    pub fn status_at(&self, now: DateTime<Utc>) -> ApprovalStatus {
        match self.status {
            ApprovalStatus::Pending if now >= self.expires_at => ApprovalStatus::Expired,
            status => status,
        }
    }

    /// Whether `member` voted already.
    pub fn voted(&self, member: MemberId) -> bool {
        self.votes.iter().any(|v| v.member_id == member)
    }

    /// The request as recording `vote`, and `transition` if any, on this version of it leaves it:
    /// what the store holds once that write succeeded (it succeeds only on this version), so the
    /// voter is answered without reading the request back.
    pub fn with_vote(mut self, vote: Vote, transition: Option<&Transition>) -> Self {
        self.votes.push(vote);
        self.version += 1;
        if let Some(t) = transition {
            self.status = t.status;
            self.decided_at = Some(t.at);
            self.token.clone_from(&t.token);
            self.token_jti.clone_from(&t.token_jti);
            if t.reason.is_some() {
                self.reason.clone_from(&t.reason);
            }
        }
        self
    }
}

/// A state change that goes into the store with the vote that causes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub status: ApprovalStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Why (a rejection's reason).
    pub reason: Option<String>,
    /// The token issued with an approval.
    pub token: Option<String>,
    /// Its `jti`.
    pub token_jti: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for status in
            [ApprovalStatus::Pending, ApprovalStatus::Approved, ApprovalStatus::Rejected, ApprovalStatus::Expired]
        {
            assert_eq!(ApprovalStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ApprovalStatus::parse("pending"), None);
    }

    #[test]
    fn a_vote_moves_the_version_and_applies_its_transition() {
        use crate::approval::decision::PolicyDecision;
        use crate::approval::votes::tests::{request, vote};
        let pending = request(PolicyDecision::built_in().requirements);
        let now = Utc::now();
        let first = vote(MemberId::new(), "a", &[], now);
        let after = pending.clone().with_vote(first.clone(), None);
        assert_eq!(
            (after.version, after.status, after.votes.clone()),
            (1, ApprovalStatus::Pending, vec![first.clone()])
        );
        assert_eq!((after.decided_at, after.token.clone(), after.reason.clone()), (None, None, None));

        let approved = Transition {
            status: ApprovalStatus::Approved,
            at: now,
            reason: None,
            token: Some("sealed".into()),
            token_jti: Some("jti".into()),
        };
        let second = vote(MemberId::new(), "b", &[], now);
        let done = after.clone().with_vote(second.clone(), Some(&approved));
        assert_eq!((done.version, done.status, done.decided_at), (2, ApprovalStatus::Approved, Some(now)));
        assert_eq!((done.token.as_deref(), done.token_jti.as_deref()), (Some("sealed"), Some("jti")));
        assert_eq!(done.votes, vec![first, second]);

        let rejected = Transition { status: ApprovalStatus::Rejected, reason: Some("no".into()), ..approved };
        let refused = after.with_vote(vote(MemberId::new(), "c", &[], now), Some(&rejected));
        assert_eq!((refused.status, refused.reason.as_deref()), (ApprovalStatus::Rejected, Some("no")));
    }
}
