//! The approval policy's answer for one request (rule `decision` of package `keyward.approval`),
//! read strictly: a policy bug must never turn into an approval nobody gave.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The policy's package.
pub const PACKAGE: &str = "keyward.approval";
/// Default life of a pending request: one hour.
pub const DEFAULT_EXPIRES_IN_SECONDS: u64 = 3600;
/// The shortest and longest life a policy may give a request.
pub const EXPIRES_IN_RANGE: (u64, u64) = (60, 7 * 86_400);
/// Most approvals a policy may require.
pub const MAX_COUNT: u64 = 10;
/// The largest `max_mfa_age_seconds`: a day.
const MAX_MFA_AGE_LIMIT: u64 = 86_400;

/// What the policy decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// No human needed (e.g. staging): a token is issued at once.
    Approved,
    /// Humans must approve, as [`Requirements`] say.
    Pending,
    /// Refused outright.
    Rejected,
}

/// What approvals a pending request needs. The engine enforces them; the policy only states them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    /// How many distinct people must approve.
    pub count: u32,
    /// Every one of these groups must be represented among the approvers.
    pub groups_all: Vec<String>,
    /// When not empty, each approver must belong to at least one of these groups.
    pub groups_any: Vec<String>,
    /// The requester may not approve.
    pub exclude_requester: bool,
    /// The commit's author may not approve.
    pub exclude_commit_author: bool,
    /// No two approvals with the same credential.
    pub distinct_keys: bool,
    /// Only keys that cannot be synced (not backup-eligible) count.
    pub device_bound_only: bool,
    /// Approvals older than this when the last one arrives no longer count.
    pub max_mfa_age_seconds: Option<u64>,
    /// How long the request waits before it expires.
    pub expires_in_seconds: u64,
}

impl Default for Requirements {
    /// The safe default: one approval by someone other than the requester and the author.
    fn default() -> Self {
        Self {
            count: 1,
            groups_all: Vec::new(),
            groups_any: Vec::new(),
            exclude_requester: true,
            exclude_commit_author: true,
            distinct_keys: true,
            device_bound_only: false,
            max_mfa_age_seconds: None,
            expires_in_seconds: DEFAULT_EXPIRES_IN_SECONDS,
        }
    }
}

/// The policy's whole answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// Approved, pending or rejected.
    pub outcome: Outcome,
    /// What a pending request needs (for the others: the defaults, unused but for the expiry).
    pub requirements: Requirements,
    /// Why, for people.
    pub reason: Option<String>,
}

/// The built-in approval policy: [`PolicyDecision::built_in`] as Rego (a test keeps them equal).
pub const DEFAULT_POLICY: &str = r#"package keyward.approval

# Built-in policy: every request needs one approval with a security key, from someone who is
# neither the requester nor the commit's author, within an hour.
decision := {
	"outcome": "PENDING",
	"requirements": {
		"count": 1,
		"exclude_requester": true,
		"exclude_commit_author": true,
		"distinct_keys": true,
		"expires_in_seconds": 3600,
	},
	"reason": "every deploy needs one approval by someone else",
}
"#;

impl PolicyDecision {
    /// The built-in policy's decision (any request).
    pub fn built_in() -> Self {
        Self {
            outcome: Outcome::Pending,
            requirements: Requirements::default(),
            reason: Some("every deploy needs one approval by someone else".into()),
        }
    }

    /// Reads rule `decision`'s value. An undefined rule (`Null`) is an error too: a request must
    /// not pass because the policy forgot it.
    pub fn from_policy_output(output: &Value) -> Result<Self, String> {
        let Value::Object(object) = output else {
            return Err(match output {
                Value::Null => "rule decision is undefined for this request".into(),
                other => format!("rule decision must be an object, not {other}"),
            });
        };
        let mut outcome = None;
        let mut requirements = Requirements::default();
        let mut reason = None;
        for (name, value) in object {
            match name.as_str() {
                "outcome" => {
                    outcome = Some(match value.as_str() {
                        Some("APPROVED") => Outcome::Approved,
                        Some("PENDING") => Outcome::Pending,
                        Some("REJECTED") => Outcome::Rejected,
                        _ => return Err("outcome must be \"APPROVED\", \"PENDING\" or \"REJECTED\"".into()),
                    })
                }
                "requirements" => requirements = read_requirements(value)?,
                "reason" => {
                    let text = value.as_str().ok_or("reason must be a string")?;
                    reason = (!text.is_empty()).then(|| text.chars().take(300).collect());
                }
                other => return Err(format!("rule decision has an unknown field {other:?}")),
            }
        }
        let outcome = outcome.ok_or("rule decision must have an outcome")?;
        Ok(Self { outcome, requirements, reason })
    }
}

fn read_requirements(value: &Value) -> Result<Requirements, String> {
    let object = value.as_object().ok_or("requirements must be an object")?;
    let mut req = Requirements::default();
    let flag = |name: &str, value: &Value| value.as_bool().ok_or(format!("requirements.{name} must be a boolean"));
    for (name, value) in object {
        match name.as_str() {
            "count" => {
                let count = value.as_u64().filter(|c| (1..=MAX_COUNT).contains(c));
                req.count =
                    count.ok_or(format!("requirements.count must be a whole number from 1 to {MAX_COUNT}"))? as u32;
            }
            "groups_all" => req.groups_all = strings(name, value)?,
            "groups_any" => req.groups_any = strings(name, value)?,
            "exclude_requester" => req.exclude_requester = flag(name, value)?,
            "exclude_commit_author" => req.exclude_commit_author = flag(name, value)?,
            "distinct_keys" => req.distinct_keys = flag(name, value)?,
            "device_bound_only" => req.device_bound_only = flag(name, value)?,
            "max_mfa_age_seconds" => {
                let age = value.as_u64().filter(|a| (1..=MAX_MFA_AGE_LIMIT).contains(a));
                req.max_mfa_age_seconds = Some(age.ok_or(format!(
                    "requirements.max_mfa_age_seconds must be a whole number from 1 to {MAX_MFA_AGE_LIMIT}"
                ))?);
            }
            "expires_in_seconds" => {
                let (low, high) = EXPIRES_IN_RANGE;
                let secs = value.as_u64().filter(|s| (low..=high).contains(s));
                req.expires_in_seconds =
                    secs.ok_or(format!("requirements.expires_in_seconds must be from {low} to {high}"))?;
            }
            other => return Err(format!("requirements has an unknown field {other:?}")),
        }
    }
    Ok(req)
}

fn strings(name: &str, value: &Value) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or(format!("requirements.{name} must be a list of group names"))?;
    items
        .iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or(format!("requirements.{name} must hold strings")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_answer_is_read() {
        let output = json!({
            "outcome": "PENDING",
            "requirements": {"count": 2, "groups_all": ["sre"], "groups_any": ["sre", "security"],
                "exclude_requester": false, "exclude_commit_author": true, "distinct_keys": true,
                "device_bound_only": true, "max_mfa_age_seconds": 600, "expires_in_seconds": 1800},
            "reason": "production"
        });
        let decision = PolicyDecision::from_policy_output(&output).unwrap();
        assert_eq!(decision.outcome, Outcome::Pending);
        assert_eq!(decision.requirements.count, 2);
        assert_eq!(decision.requirements.groups_any, vec!["sre", "security"]);
        assert!(!decision.requirements.exclude_requester && decision.requirements.device_bound_only);
        assert_eq!(decision.requirements.max_mfa_age_seconds, Some(600));
        assert_eq!(decision.requirements.expires_in_seconds, 1800);
        assert_eq!(decision.reason.as_deref(), Some("production"));
    }

    #[test]
    fn left_out_requirements_take_the_safe_defaults() {
        let decision = PolicyDecision::from_policy_output(&json!({"outcome": "PENDING"})).unwrap();
        assert_eq!(decision.requirements, Requirements::default());
    }

    #[test]
    fn anything_malformed_is_an_error_not_an_approval() {
        for bad in [
            json!(null),
            json!("APPROVED"),
            json!({}),
            json!({"outcome": "approved"}),
            json!({"outcome": "PENDING", "requirements": {"count": 0}}),
            json!({"outcome": "PENDING", "requirements": {"count": 11}}),
            json!({"outcome": "PENDING", "requirements": {"count": "2"}}),
            json!({"outcome": "PENDING", "requirements": {"quorum": 2}}),
            json!({"outcome": "PENDING", "requirements": {"expires_in_seconds": 10}}),
            json!({"outcome": "PENDING", "requirements": {"groups_all": "sre"}}),
            json!({"outcome": "APPROVED", "extra": 1}),
        ] {
            assert!(PolicyDecision::from_policy_output(&bad).is_err(), "{bad}");
        }
    }
}
