//! Grants: what a fresh key touch earns one session, and the rule that decides a request.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::action::class_of;
use super::decision::{Decision, Reuse};
use crate::error::DomainError;

/// Most grants one session holds; the oldest go first.
pub const MAX_GRANTS: usize = 16;

/// What a step-up grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub enum GrantScope {
    /// One action (on the grant's resource).
    Action(String),
    /// Every action of a class, on any resource.
    Class(String),
}

/// What one step-up ceremony earned its session: `{action or class, resource, expires}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// What it covers.
    pub scope: GrantScope,
    /// The resource, for action grants.
    pub resource: Option<String>,
    /// The key touch that earned it.
    pub touched_at: DateTime<Utc>,
    /// The end of the window the policy gave.
    pub expires_at: DateTime<Utc>,
}

impl Grant {
    /// The grant a touch at `now` earns for `action` on `resource` under `decision`.
    pub fn earned(decision: &Decision, action: &str, resource: Option<&str>, now: DateTime<Utc>) -> Grant {
        let expires_at = now + Duration::seconds(decision.max_age_seconds as i64);
        match decision.reuse {
            Reuse::Action => Grant {
                scope: GrantScope::Action(action.to_owned()),
                resource: resource.map(str::to_owned),
                touched_at: now,
                expires_at,
            },
            Reuse::Class => Grant {
                scope: GrantScope::Class(class_of(action).to_owned()),
                resource: None,
                touched_at: now,
                expires_at,
            },
        }
    }

    /// Whether the grant covers `action` on `resource` at `now`, within `max_age` of its touch.
    pub fn covers(&self, action: &str, resource: Option<&str>, max_age: Duration, now: DateTime<Utc>) -> bool {
        let fresh = now <= self.expires_at && now - self.touched_at <= max_age;
        let matches = match &self.scope {
            GrantScope::Action(granted) => granted == action && self.resource.as_deref() == resource,
            GrantScope::Class(class) => class == class_of(action),
        };
        fresh && matches
    }
}

/// Adds `grant` to `grants`, dropping expired ones and, past [`MAX_GRANTS`], the oldest.
pub fn add_grant(grants: &mut Vec<Grant>, grant: Grant, now: DateTime<Utc>) {
    grants.retain(|g| g.expires_at > now && !(g.scope == grant.scope && g.resource == grant.resource));
    grants.push(grant);
    if grants.len() > MAX_GRANTS {
        let excess = grants.len() - MAX_GRANTS;
        grants.drain(..excess);
    }
}

/// The answer for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// A fresh key touch is needed first.
    StepUpRequired {
        /// How old the touch may be.
        max_age_seconds: u64,
        /// The policy's reason.
        reason: Option<String>,
    },
    /// The policy refuses.
    Denied(String),
}

/// How the session stands towards step-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch<'a> {
    /// When the login's key check happened.
    pub mfa_verified_at: Option<DateTime<Utc>>,
    /// Whether the session is keyless (its member had no key at login and has registered none
    /// since: registering one confirms the session or ends it) and the action is one of
    /// Keyward's own, where registering a key is one step away and would satisfy the check.
    pub keyless_own_action: bool,
    /// The session's grants.
    pub grants: &'a [Grant],
}

/// Decides whether a session standing at `touch` may do `action` on `resource` at `now` under
/// `decision`. The login's touch counts while it is fresh; a step-up never refreshes it, it only
/// adds a grant. For Keyward's own actions a keyless session has nothing to touch and could
/// register a key at will, so asking it for a touch would only be friction: step-up does not
/// apply to it there (MFA enforcement is the control for members without keys), but a policy's
/// `deny` still does. For the tools behind Keyward it must register a key and touch it.
pub fn judge(
    decision: &Decision,
    touch: Touch<'_>,
    action: &str,
    resource: Option<&str>,
    now: DateTime<Utc>,
) -> Verdict {
    if decision.deny {
        return Verdict::Denied(
            decision.reason.clone().unwrap_or_else(|| "the step-up policy denies this action".into()),
        );
    }
    if !decision.require_mfa || touch.keyless_own_action {
        return Verdict::Allowed;
    }
    let (mfa_verified_at, grants) = (touch.mfa_verified_at, touch.grants);
    let max_age = Duration::seconds(decision.max_age_seconds as i64);
    let login_fresh = mfa_verified_at.is_some_and(|at| now - at <= max_age && at <= now);
    if login_fresh || grants.iter().any(|g| g.covers(action, resource, max_age, now)) {
        return Verdict::Allowed;
    }
    Verdict::StepUpRequired { max_age_seconds: decision.max_age_seconds, reason: decision.reason.clone() }
}

impl Verdict {
    /// The verdict as a result, for an `action` on `resource`.
    pub fn into_result(self, action: &str, resource: Option<&str>) -> Result<(), DomainError> {
        match self {
            Verdict::Allowed => Ok(()),
            Verdict::StepUpRequired { max_age_seconds, reason } => Err(DomainError::StepUpRequired {
                action: action.to_owned(),
                resource: resource.map(str::to_owned),
                max_age_seconds,
                reason,
            }),
            Verdict::Denied(reason) => Err(DomainError::StepUpDenied {
                action: action.to_owned(),
                resource: resource.map(str::to_owned),
                reason,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    fn touched(at: Option<DateTime<Utc>>, grants: &[Grant]) -> Touch<'_> {
        Touch { mfa_verified_at: at, keyless_own_action: false, grants }
    }

    fn decision(max_age_seconds: u64, reuse: Reuse) -> Decision {
        Decision { max_age_seconds, reuse, ..Decision::default() }
    }

    #[test]
    fn the_window_boundary_is_exact() {
        let d = decision(300, Reuse::Action);
        let grant = Grant::earned(&d, "security_key.delete", Some("security_key:1"), at(0));
        let ask = |now| {
            judge(&d, touched(None, std::slice::from_ref(&grant)), "security_key.delete", Some("security_key:1"), now)
        };
        assert_eq!(ask(at(299)), Verdict::Allowed);
        assert_eq!(ask(at(300)), Verdict::Allowed);
        assert!(matches!(ask(at(301)), Verdict::StepUpRequired { max_age_seconds: 300, .. }));
        // The login's own touch follows the same boundary.
        let login = |now| judge(&d, touched(Some(at(0)), &[]), "org.sso.configure", None, now);
        assert_eq!(login(at(299)), Verdict::Allowed);
        assert!(matches!(login(at(301)), Verdict::StepUpRequired { .. }));
    }

    #[test]
    fn an_action_grant_serves_only_its_action_and_resource() {
        let d = decision(300, Reuse::Action);
        let grants = [Grant::earned(&d, "security_key.delete", Some("security_key:1"), at(0))];
        let ask = |action, resource| judge(&d, touched(None, &grants), action, resource, at(10));
        assert_eq!(ask("security_key.delete", Some("security_key:1")), Verdict::Allowed);
        assert!(matches!(ask("security_key.rename", Some("security_key:1")), Verdict::StepUpRequired { .. }));
        assert!(matches!(ask("security_key.delete", Some("security_key:2")), Verdict::StepUpRequired { .. }));
        assert!(matches!(ask("security_key.delete", None), Verdict::StepUpRequired { .. }));
    }

    #[test]
    fn a_class_grant_serves_the_class_on_any_resource_and_nothing_else() {
        let d = decision(900, Reuse::Class);
        let grants = [Grant::earned(&d, "member.security_key.delete", Some("security_key:1"), at(0))];
        let ask = |action, resource| judge(&d, touched(None, &grants), action, resource, at(10));
        assert_eq!(ask("member.security_key.delete", Some("security_key:9")), Verdict::Allowed);
        assert!(matches!(ask("member.sessions.revoke", Some("member:1")), Verdict::StepUpRequired { .. }));
        assert!(matches!(ask("security_key.delete", Some("security_key:1")), Verdict::StepUpRequired { .. }));
    }

    #[test]
    fn a_shorter_window_at_use_time_wins_over_the_window_at_grant_time() {
        let grants = [Grant::earned(&decision(900, Reuse::Action), "db.restart", Some("prod"), at(0))];
        let now_stricter = decision(60, Reuse::Action);
        assert!(matches!(
            judge(&now_stricter, touched(None, &grants), "db.restart", Some("prod"), at(61)),
            Verdict::StepUpRequired { .. }
        ));
    }

    #[test]
    fn deny_wins_and_no_requirement_allows() {
        let deny = Decision { deny: true, reason: Some("no prod on Fridays".into()), ..Decision::default() };
        assert_eq!(
            judge(&deny, touched(Some(at(0)), &[]), "db.restart", None, at(1)),
            Verdict::Denied("no prod on Fridays".into())
        );
        let open = Decision { require_mfa: false, ..Decision::default() };
        assert_eq!(judge(&open, touched(None, &[]), "db.restart", None, at(1)), Verdict::Allowed);
    }

    #[test]
    fn a_keyless_session_is_not_asked_for_a_touch_but_still_denied() {
        let keyless = Touch { mfa_verified_at: None, keyless_own_action: true, grants: &[] };
        assert_eq!(judge(&Decision::default(), keyless, "org.sso.configure", None, at(0)), Verdict::Allowed);
        let deny = Decision { deny: true, ..Decision::default() };
        assert!(matches!(judge(&deny, keyless, "org.sso.configure", None, at(0)), Verdict::Denied(_)));
    }

    #[test]
    fn a_touch_in_the_future_is_not_fresh() {
        let d = decision(300, Reuse::Action);
        assert!(matches!(judge(&d, touched(Some(at(100)), &[]), "x.y", None, at(0)), Verdict::StepUpRequired { .. }));
    }

    #[test]
    fn grants_are_pruned_deduplicated_and_capped() {
        let d = decision(60, Reuse::Action);
        let mut grants = vec![Grant::earned(&d, "old.action", None, at(0))];
        add_grant(&mut grants, Grant::earned(&d, "a.b", Some("r"), at(100)), at(100));
        assert_eq!(grants.len(), 1, "the expired grant is dropped");
        add_grant(&mut grants, Grant::earned(&d, "a.b", Some("r"), at(110)), at(110));
        assert_eq!(grants.len(), 1, "the same scope and resource is replaced");
        for i in 0..(MAX_GRANTS + 5) {
            add_grant(&mut grants, Grant::earned(&d, "a.b", Some(&format!("r{i}")), at(120)), at(120));
        }
        assert_eq!(grants.len(), MAX_GRANTS);
        assert_eq!(grants.last().unwrap().resource.as_deref(), Some(format!("r{}", MAX_GRANTS + 4).as_str()));
    }

    #[test]
    fn the_verdict_becomes_the_api_error() {
        let err =
            Verdict::StepUpRequired { max_age_seconds: 300, reason: None }.into_result("a.b", Some("r")).unwrap_err();
        assert_eq!(
            err,
            DomainError::StepUpRequired {
                action: "a.b".into(),
                resource: Some("r".into()),
                max_age_seconds: 300,
                reason: None
            }
        );
        assert_eq!(
            Verdict::Denied("no".into()).into_result("a.b", None),
            Err(DomainError::StepUpDenied { action: "a.b".into(), resource: None, reason: "no".into() })
        );
    }
}
