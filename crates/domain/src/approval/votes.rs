//! Approver diversity, enforced by the engine whatever the policy says: distinct people with
//! distinct credentials, never the requester or the commit author when excluded, within the
//! groups named, and (when the token is issued) still members with the key they used.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use super::decision::Requirements;
use super::model::{ApprovalRequest, Vote, VoteDecision};
use crate::ids::{MemberId, SecurityKeyId};

/// Someone about to vote, with the key they are using.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Who.
    pub member: MemberId,
    /// Their groups now.
    pub groups: &'a [String],
    /// The key.
    pub key_id: SecurityKeyId,
    /// Its credential ID, base64url.
    pub credential_id: &'a str,
    /// Whether the key can be synced to other devices.
    pub backup_eligible: bool,
}

/// Why someone may not approve a request (each a stable code for the API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// They asked for it.
    Requester,
    /// They wrote the commit.
    CommitAuthor,
    /// They voted already.
    AlreadyVoted,
    /// Their key approved already (under `distinct_keys`).
    SameKey,
    /// They are in none of the groups that may approve.
    NotInGroup,
    /// Their key can be synced, and the policy wants device-bound keys.
    KeyNotDeviceBound,
}

impl Ineligible {
    /// The stable code (`extensions.reason`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Requester => "REQUESTER",
            Self::CommitAuthor => "COMMIT_AUTHOR",
            Self::AlreadyVoted => "ALREADY_VOTED",
            Self::SameKey => "SAME_KEY",
            Self::NotInGroup => "NOT_IN_GROUP",
            Self::KeyNotDeviceBound => "KEY_NOT_DEVICE_BOUND",
        }
    }

    /// In words.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Requester => "you requested this deploy, so someone else must approve it",
            Self::CommitAuthor => "you wrote the commit being deployed, so someone else must approve it",
            Self::AlreadyVoted => "you have already voted on this request",
            Self::SameKey => "this security key already approved this request; each approval needs its own key",
            Self::NotInGroup => "you are not in a group that may approve this request",
            Self::KeyNotDeviceBound => "this request needs a device-bound security key, not a synced passkey",
        }
    }
}

/// Whether `candidate` may approve `request`.
pub fn check_approver(request: &ApprovalRequest, candidate: &Candidate<'_>) -> Result<(), Ineligible> {
    let Some(req) = &request.requirements else { return Ok(()) };
    if req.exclude_requester && request.requester_member == Some(candidate.member) {
        return Err(Ineligible::Requester);
    }
    if req.exclude_commit_author && request.commit_author_member == Some(candidate.member) {
        return Err(Ineligible::CommitAuthor);
    }
    check_common(request, req, candidate)?;
    if req.distinct_keys && request.votes.iter().any(|v| v.credential_id == candidate.credential_id) {
        return Err(Ineligible::SameKey);
    }
    if req.device_bound_only && candidate.backup_eligible {
        return Err(Ineligible::KeyNotDeviceBound);
    }
    Ok(())
}

/// Whether `candidate` may reject `request`: anyone who could approve it, and also its requester
/// and the commit's author (withdrawing their own change is always allowed).
pub fn check_rejecter(request: &ApprovalRequest, candidate: &Candidate<'_>) -> Result<(), Ineligible> {
    let Some(req) = &request.requirements else { return Ok(()) };
    let own =
        request.requester_member == Some(candidate.member) || request.commit_author_member == Some(candidate.member);
    if own {
        return match request.voted(candidate.member) {
            true => Err(Ineligible::AlreadyVoted),
            false => Ok(()),
        };
    }
    check_common(request, req, candidate)
}

fn check_common(request: &ApprovalRequest, req: &Requirements, candidate: &Candidate<'_>) -> Result<(), Ineligible> {
    if request.voted(candidate.member) {
        return Err(Ineligible::AlreadyVoted);
    }
    if !req.groups_any.is_empty() && !candidate.groups.iter().any(|g| req.groups_any.contains(g)) {
        return Err(Ineligible::NotInGroup);
    }
    Ok(())
}

/// How the approvals add up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally<'a> {
    /// Whether the requirements are met.
    pub met: bool,
    /// How many more approvals are needed at least.
    pub needed: u32,
    /// The approvals that count, oldest first.
    pub counted: Vec<&'a Vote>,
}

/// Adds up the approvals of `votes` at `now` against `req`. Only approvals `still_valid` says are
/// still good count (their member active, their key registered), only one per person and (under
/// `distinct_keys`) per credential, and none older than `max_mfa_age_seconds`.
pub fn tally<'a>(
    req: &Requirements,
    votes: &'a [Vote],
    now: DateTime<Utc>,
    still_valid: impl Fn(&Vote) -> bool,
) -> Tally<'a> {
    let mut people = HashSet::new();
    let mut credentials = HashSet::new();
    let mut counted = Vec::new();
    for vote in votes.iter().filter(|v| v.decision == VoteDecision::Approve) {
        let fresh = req.max_mfa_age_seconds.is_none_or(|age| now - vote.at <= Duration::seconds(age as i64));
        if !fresh || !still_valid(vote) || !people.insert(vote.member_id) {
            continue;
        }
        if req.distinct_keys && !credentials.insert(vote.credential_id.as_str()) {
            continue;
        }
        counted.push(vote);
    }
    let uncovered = req.groups_all.iter().filter(|g| !counted.iter().any(|v| v.groups.contains(g))).count() as u32;
    let short = req.count.saturating_sub(counted.len() as u32);
    let needed = short.max(uncovered);
    Tally { met: needed == 0, needed, counted }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::approval::model::{ApprovalStatus, Evidence, RequestedBy};
    use crate::approval::request::tests::sample;
    use crate::ids::{ApiKeyId, ApprovalRequestId, OrgId};

    pub(crate) fn request(req: Requirements) -> ApprovalRequest {
        let now = Utc::now();
        ApprovalRequest {
            id: ApprovalRequestId::new(),
            org_id: OrgId::new(),
            digest: sample().digest(),
            input: sample(),
            status: ApprovalStatus::Pending,
            reason: None,
            requirements: Some(req),
            policy_version: 0,
            fired_rules: vec![],
            created_by: RequestedBy::ApiKey(ApiKeyId::new()),
            requester_member: Some(MemberId::new()),
            commit_author_member: Some(MemberId::new()),
            created_at: now,
            expires_at: now + Duration::hours(1),
            decided_at: None,
            token: None,
            token_jti: None,
            version: 0,
            votes: vec![],
        }
    }

    pub(crate) fn vote(member: MemberId, credential: &str, groups: &[&str], at: DateTime<Utc>) -> Vote {
        Vote {
            member_id: member,
            key_id: SecurityKeyId::new(),
            credential_id: credential.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            decision: VoteDecision::Approve,
            reason: None,
            at,
            evidence: Evidence {
                credential_id: credential.into(),
                authenticator_data: String::new(),
                client_data_json: String::new(),
                signature: String::new(),
                user_handle: None,
                nonce: String::new(),
            },
        }
    }

    fn candidate<'a>(member: MemberId, credential: &'a str, groups: &'a [String]) -> Candidate<'a> {
        Candidate { member, groups, key_id: SecurityKeyId::new(), credential_id: credential, backup_eligible: false }
    }

    #[test]
    fn the_requester_and_the_author_are_excluded_only_when_the_policy_says() {
        let r = request(Requirements::default());
        let (requester, author) = (r.requester_member.unwrap(), r.commit_author_member.unwrap());
        assert_eq!(check_approver(&r, &candidate(requester, "k", &[])), Err(Ineligible::Requester));
        assert_eq!(check_approver(&r, &candidate(author, "k", &[])), Err(Ineligible::CommitAuthor));
        let relaxed =
            request(Requirements { exclude_requester: false, exclude_commit_author: false, ..Default::default() });
        let requester = relaxed.requester_member.unwrap();
        assert!(check_approver(&relaxed, &candidate(requester, "k", &[])).is_ok());
    }

    #[test]
    fn one_vote_per_person_and_per_key() {
        let mut r = request(Requirements { count: 2, ..Default::default() });
        let alice = MemberId::new();
        r.votes.push(vote(alice, "key-a", &[], Utc::now()));
        assert_eq!(check_approver(&r, &candidate(alice, "key-b", &[])), Err(Ineligible::AlreadyVoted));
        assert_eq!(check_approver(&r, &candidate(MemberId::new(), "key-a", &[])), Err(Ineligible::SameKey));
        assert!(check_approver(&r, &candidate(MemberId::new(), "key-b", &[])).is_ok());
        r.requirements.as_mut().unwrap().distinct_keys = false;
        assert!(check_approver(&r, &candidate(MemberId::new(), "key-a", &[])).is_ok());
    }

    #[test]
    fn groups_and_device_binding_limit_who_may_approve() {
        let r = request(Requirements { groups_any: vec!["sre".into()], device_bound_only: true, ..Default::default() });
        let sre = vec!["sre".to_string()];
        assert_eq!(check_approver(&r, &candidate(MemberId::new(), "k", &[])), Err(Ineligible::NotInGroup));
        assert!(check_approver(&r, &candidate(MemberId::new(), "k", &sre)).is_ok());
        let synced = Candidate { backup_eligible: true, ..candidate(MemberId::new(), "k", &sre) };
        assert_eq!(check_approver(&r, &synced), Err(Ineligible::KeyNotDeviceBound));
    }

    #[test]
    fn the_requester_may_withdraw_by_rejecting() {
        let r = request(Requirements { groups_any: vec!["sre".into()], ..Default::default() });
        assert!(check_rejecter(&r, &candidate(r.requester_member.unwrap(), "k", &[])).is_ok());
        assert_eq!(check_rejecter(&r, &candidate(MemberId::new(), "k", &[])), Err(Ineligible::NotInGroup));
    }

    #[test]
    fn the_tally_counts_distinct_valid_fresh_approvals() {
        let now = Utc::now();
        let req = Requirements { count: 2, max_mfa_age_seconds: Some(600), ..Default::default() };
        let (a, b, c) = (MemberId::new(), MemberId::new(), MemberId::new());
        let votes = vec![vote(a, "ka", &[], now), vote(a, "kb", &[], now), vote(b, "ka", &[], now)];
        let t = tally(&req, &votes, now, |_| true);
        assert_eq!((t.met, t.needed, t.counted.len()), (false, 1, 1), "same person or same key counts once");
        let votes = vec![vote(a, "ka", &[], now - Duration::minutes(11)), vote(b, "kb", &[], now)];
        assert_eq!(tally(&req, &votes, now, |_| true).needed, 1, "a stale approval no longer counts");
        let votes = vec![vote(a, "ka", &[], now), vote(c, "kc", &[], now)];
        assert!(tally(&req, &votes, now, |_| true).met);
        assert!(!tally(&req, &votes, now, |v| v.member_id != c).met, "a removed approver no longer counts");
        let mut rejected = vote(b, "kb", &[], now);
        rejected.decision = VoteDecision::Reject;
        assert_eq!(tally(&req, &[vote(a, "ka", &[], now), rejected], now, |_| true).needed, 1);
    }

    #[test]
    fn every_group_of_groups_all_must_be_represented() {
        let now = Utc::now();
        let req = Requirements { count: 1, groups_all: vec!["sre".into(), "security".into()], ..Default::default() };
        let votes = vec![vote(MemberId::new(), "k1", &["sre"], now)];
        let t = tally(&req, &votes, now, |_| true);
        assert_eq!((t.met, t.needed), (false, 1), "count is reached but security is missing");
        let votes = vec![vote(MemberId::new(), "k1", &["sre"], now), vote(MemberId::new(), "k2", &["security"], now)];
        assert!(tally(&req, &votes, now, |_| true).met);
    }
}
