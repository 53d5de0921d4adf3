//! The decision log of a request, in words: what the policy decided and which rules fired, each
//! vote, the state change and the token.

use chrono::{DateTime, Utc};

use super::model::{ApprovalRequest, ApprovalStatus, VoteDecision};
use crate::ids::{MemberId, SecurityKeyId};

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// `POLICY`, `APPROVAL`, `REJECTION`, `STATE` or `TOKEN`.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
}

/// The log of `request`, oldest first. `name_of` gives people's and keys' names.
pub fn decision_log(
    request: &ApprovalRequest,
    member_name: impl Fn(MemberId) -> String,
    key_name: impl Fn(SecurityKeyId) -> String,
) -> Vec<LogEntry> {
    let version = match request.policy_version {
        0 => "the built-in policy".to_owned(),
        v => format!("policy version {v}"),
    };
    let outcome = match (request.requirements.as_ref(), request.status) {
        (Some(req), _) => format!("PENDING: {} approval(s) needed", req.count),
        (None, status) => status.as_str().to_owned(),
    };
    let mut message = format!("{version} decided {outcome}");
    if let Some(reason) = request.reason.as_ref().filter(|_| request.requirements.is_some() || request.votes.is_empty())
    {
        message.push_str(&format!(" ({reason})"));
    }
    if !request.fired_rules.is_empty() {
        message.push_str(&format!("; rules fired: {}", request.fired_rules.join(", ")));
    }
    let mut log = vec![LogEntry { at: request.created_at, kind: "POLICY", message }];
    for vote in &request.votes {
        let who = member_name(vote.member_id);
        let key = key_name(vote.key_id);
        let (kind, message) = match vote.decision {
            VoteDecision::Approve => ("APPROVAL", format!("{who} approved with key {key}")),
            VoteDecision::Reject => (
                "REJECTION",
                format!("{who} rejected with key {key}: {}", vote.reason.as_deref().unwrap_or("no reason given")),
            ),
        };
        log.push(LogEntry { at: vote.at, kind, message });
    }
    let decided = request.decided_at.unwrap_or(request.expires_at);
    match request.status_at(decided) {
        ApprovalStatus::Pending => {}
        status => log.push(LogEntry { at: decided, kind: "STATE", message: format!("request {}", status.as_str()) }),
    }
    if let Some(jti) = &request.token_jti {
        log.push(LogEntry { at: decided, kind: "TOKEN", message: format!("approval token issued (jti {jti})") });
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::decision::Requirements;
    use crate::approval::model::{Evidence, RequestedBy, Vote};
    use crate::approval::request::tests::sample;
    use crate::ids::{ApprovalRequestId, OrgId};

    #[test]
    fn the_log_tells_the_story() {
        let now = Utc::now();
        let alice = MemberId::new();
        let vote = Vote {
            member_id: alice,
            key_id: SecurityKeyId::new(),
            credential_id: "c".into(),
            groups: vec![],
            decision: VoteDecision::Approve,
            reason: None,
            at: now,
            evidence: Evidence {
                credential_id: "c".into(),
                authenticator_data: String::new(),
                client_data_json: String::new(),
                signature: String::new(),
                user_handle: None,
                nonce: String::new(),
            },
        };
        let request = ApprovalRequest {
            id: ApprovalRequestId::new(),
            org_id: OrgId::new(),
            digest: sample().digest(),
            input: sample(),
            status: ApprovalStatus::Approved,
            reason: Some("production".into()),
            requirements: Some(Requirements::default()),
            policy_version: 2,
            fired_rules: vec!["decision".into(), "production".into()],
            created_by: RequestedBy::Member(alice),
            requester_member: None,
            commit_author_member: None,
            created_at: now,
            expires_at: now,
            decided_at: Some(now),
            token: None,
            token_jti: Some("j-1".into()),
            version: 2,
            votes: vec![vote],
        };
        let log = decision_log(&request, |_| "alice".into(), |_| "YubiKey".into());
        let kinds: Vec<_> = log.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["POLICY", "APPROVAL", "STATE", "TOKEN"]);
        assert!(log[0].message.contains("policy version 2 decided PENDING") && log[0].message.contains("production"));
        assert_eq!(log[1].message, "alice approved with key YubiKey");
        assert_eq!(log[2].message, "request APPROVED");
        assert!(log[3].message.contains("j-1"));
    }
}
