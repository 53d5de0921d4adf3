//! What the approval policy sees: the request in snake_case, the members the requester and the
//! commit author turned out to be, and the time in UTC.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::request::ApprovalRequestInput;
use crate::ids::MemberId;
use crate::member::Member;

/// A member as the policy sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// Their ID.
    pub id: String,
    /// Their username.
    pub username: String,
    /// Their groups, as the IdP last reported them.
    pub groups: Vec<String>,
}

impl MemberView {
    /// The view of `member` with `groups`.
    pub fn of(member: &Member, groups: Vec<String>) -> Self {
        Self { id: member.id.to_string(), username: member.username.clone(), groups }
    }
}

/// Whether `member` is the person a pipeline named as `who` (username, or the e-mail the IdP
/// gave), ignoring case. Deactivated members match too: they still must not approve their own.
pub fn names_member(who: &str, member: &Member) -> bool {
    let who = who.trim();
    member.username.eq_ignore_ascii_case(who) || member.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(who))
}

/// The member of `members` that `who` names: a username match wins over an e-mail match.
pub fn find_member<'a>(who: &str, members: &'a [Member]) -> Option<&'a Member> {
    let who = who.trim();
    members
        .iter()
        .find(|m| m.username.eq_ignore_ascii_case(who))
        .or_else(|| members.iter().find(|m| names_member(who, m)))
}

/// The policy's `input` for `request` at `now`.
pub fn policy_input(
    request: &ApprovalRequestInput,
    requester: Option<&MemberView>,
    commit_author: Option<&MemberView>,
    now: DateTime<Utc>,
) -> Value {
    let summary = &request.change_summary;
    json!({
        "pipeline": request.pipeline,
        "run_id": request.run_id,
        "stage": request.stage,
        "environment": request.environment,
        "commit_sha": request.commit_sha,
        "commit_author": request.commit_author,
        "requester": request.requester,
        "change_summary": {
            "resources": summary.resources,
            "env_vars_changed": summary.env_vars_changed,
            "secrets_rotated": summary.secrets_rotated,
            "sensitive_flags": summary.sensitive_flags,
        },
        "plan_digest": request.plan_digest,
        "run_url": request.run_url,
        "requester_member": requester,
        "commit_author_member": commit_author,
        "time": {
            "now": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "weekday": now.weekday().to_string_long(),
            "hour": now.hour(),
            "minute": now.minute(),
        },
    })
}

/// The IDs the engine excludes for a request whose requester and author resolved to these.
pub fn excluded_members(requester: Option<MemberId>, author: Option<MemberId>) -> Vec<MemberId> {
    requester.into_iter().chain(author).collect()
}

trait LongName {
    fn to_string_long(&self) -> &'static str;
}

impl LongName for chrono::Weekday {
    fn to_string_long(&self) -> &'static str {
        match self {
            chrono::Weekday::Mon => "Monday",
            chrono::Weekday::Tue => "Tuesday",
            chrono::Weekday::Wed => "Wednesday",
            chrono::Weekday::Thu => "Thursday",
            chrono::Weekday::Fri => "Friday",
            chrono::Weekday::Sat => "Saturday",
            chrono::Weekday::Sun => "Sunday",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::request::tests::sample;
    use crate::ids::OrgId;
    use crate::member::Role;
    use chrono::TimeZone;

    fn member(username: &str, email: Option<&str>) -> Member {
        Member {
            id: MemberId::new(),
            org_id: OrgId::new(),
            username: username.into(),
            display_name: username.into(),
            email: email.map(str::to_owned),
            role: Role::Member,
            oidc: None,
            created_at: Utc::now(),
            last_login_at: None,
            deactivated_at: None,
        }
    }

    #[test]
    fn people_are_matched_by_username_or_email_ignoring_case() {
        let members = vec![member("alice", Some("alice@example.com")), member("carol", None)];
        assert_eq!(find_member("Alice", &members).unwrap().username, "alice");
        assert_eq!(find_member("ALICE@example.com", &members).unwrap().username, "alice");
        assert_eq!(find_member("carol", &members).unwrap().username, "carol");
        assert!(find_member("carol@example.com", &members).is_none());
        assert!(find_member("", &members).is_none());
    }

    #[test]
    fn the_input_carries_the_request_and_the_time() {
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).unwrap();
        let view = MemberView { id: "m".into(), username: "ci-bot".into(), groups: vec!["ci".into()] };
        let input = policy_input(&sample(), Some(&view), None, friday);
        assert_eq!(input["environment"], "production");
        assert_eq!(input["change_summary"]["sensitive_flags"][0], "database");
        assert_eq!(input["requester_member"]["groups"][0], "ci");
        assert!(input["commit_author_member"].is_null());
        assert_eq!(input["time"]["weekday"], "Friday");
        assert_eq!(input["time"]["hour"], 16);
        assert_eq!(input["time"]["now"], "2026-11-27T16:30:00Z");
    }
}
