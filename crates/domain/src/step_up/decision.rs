//! The policy's answer for one action, with the built-in defaults and the built-in policy.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The built-in window for admin actions.
pub const ADMIN_MAX_AGE_SECONDS: u64 = 300;
/// The built-in window for changes to one's own account.
pub const OWN_ACCOUNT_MAX_AGE_SECONDS: u64 = 900;

/// Actions on one's own account that the built-in policy lets reuse one touch for 15 minutes.
const OWN_ACCOUNT_ACTIONS: [&str; 4] =
    ["security_key.delete", "security_key.rename", "recovery_codes.generate", "sso.link"];

/// How far one step-up grant reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reuse {
    /// The one action on the one resource.
    Action,
    /// Every action of the action's class ([`class_of`]) on any resource.
    Class,
}

/// What the policy says about one action: the output of rule `decision`, with the built-in
/// defaults for whatever it left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether a security-key touch is needed at all.
    pub require_mfa: bool,
    /// How old that touch may be.
    pub max_age_seconds: u64,
    /// How far a step-up grant for it reaches.
    pub reuse: Reuse,
    /// Refuse outright.
    pub deny: bool,
    /// Why, for people (shown with `STEP_UP_REQUIRED` and `POLICY_DENIED`).
    pub reason: Option<String>,
}

impl Default for Decision {
    /// Fail safe: a policy that says nothing about an action still asks for a recent touch.
    fn default() -> Self {
        Self {
            require_mfa: true,
            max_age_seconds: ADMIN_MAX_AGE_SECONDS,
            reuse: Reuse::Action,
            deny: false,
            reason: None,
        }
    }
}

/// The largest window a policy may give: a day.
const MAX_AGE_LIMIT: u64 = 86_400;

impl Decision {
    /// Reads the policy's output. `Null` (rule undefined) gives the defaults; anything that is not
    /// an object, or a field of the wrong type, is an error: a policy bug must not widen access.
    pub fn from_policy_output(output: &Value) -> Result<Decision, String> {
        let mut decision = Decision::default();
        let object = match output {
            Value::Null => return Ok(decision),
            Value::Object(object) => object,
            other => return Err(format!("rule decision must be an object, not {other}")),
        };
        for (name, value) in object {
            match name.as_str() {
                "require_mfa" => decision.require_mfa = value.as_bool().ok_or("require_mfa must be a boolean")?,
                "deny" => decision.deny = value.as_bool().ok_or("deny must be a boolean")?,
                "max_age_seconds" => {
                    let age = value.as_u64().ok_or("max_age_seconds must be a whole number of seconds")?;
                    if age > MAX_AGE_LIMIT {
                        return Err(format!("max_age_seconds must be at most {MAX_AGE_LIMIT}"));
                    }
                    decision.max_age_seconds = age;
                }
                "reuse" => {
                    decision.reuse = match value.as_str() {
                        Some("action") => Reuse::Action,
                        Some("class") => Reuse::Class,
                        _ => return Err("reuse must be \"action\" or \"class\"".into()),
                    }
                }
                "reason" => {
                    let reason = value.as_str().ok_or("reason must be a string")?;
                    decision.reason = (!reason.is_empty()).then(|| reason.chars().take(300).collect());
                }
                other => return Err(format!("rule decision has an unknown field {other:?}")),
            }
        }
        Ok(decision)
    }

    /// The built-in policy, also used for [`POLICY_SET_ACTION`] whatever the organization's policy
    /// says. Its Rego text is [`DEFAULT_POLICY`]; a test keeps the two equal.
    pub fn built_in(action: &str) -> Decision {
        if OWN_ACCOUNT_ACTIONS.contains(&action) {
            Decision { max_age_seconds: OWN_ACCOUNT_MAX_AGE_SECONDS, reuse: Reuse::Class, ..Decision::default() }
        } else {
            Decision::default()
        }
    }
}

/// The built-in step-up policy, as Rego: what an organization runs until it saves its own.
pub const DEFAULT_POLICY: &str = r#"package keyward.step_up

import rego.v1

# Changes to your own account: one key touch serves every such change for 15 minutes.
own_account_actions := {"security_key.delete", "security_key.rename", "recovery_codes.generate", "sso.link"}

decision := {"require_mfa": true, "max_age_seconds": 900, "reuse": "class"} if {
	input.action in own_account_actions
}

# Everything else, admin actions included: a key touch within 5 minutes, for that action only.
decision := {"require_mfa": true, "max_age_seconds": 300, "reuse": "action"} if {
	not input.action in own_account_actions
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_undefined_decision_takes_every_default() {
        assert_eq!(Decision::from_policy_output(&Value::Null), Ok(Decision::default()));
        let partial = Decision::from_policy_output(&json!({"max_age_seconds": 60})).unwrap();
        assert_eq!(partial, Decision { max_age_seconds: 60, ..Decision::default() });
        assert!(partial.require_mfa, "left out, require_mfa stays on");
    }

    #[test]
    fn a_malformed_decision_is_an_error_not_a_wider_grant() {
        for bad in [
            json!("allow"),
            json!({"require_mfa": "no"}),
            json!({"max_age_seconds": -5}),
            json!({"max_age_seconds": 86_401}),
            json!({"reuse": "forever"}),
            json!({"deny": 1}),
            json!({"require_mfA": false}),
        ] {
            assert!(Decision::from_policy_output(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_reason_is_kept_short_and_an_empty_one_is_none() {
        let long = "x".repeat(1000);
        let decision = Decision::from_policy_output(&json!({"deny": true, "reason": long})).unwrap();
        assert_eq!(decision.reason.unwrap().len(), 300);
        assert_eq!(Decision::from_policy_output(&json!({"reason": ""})).unwrap().reason, None);
    }

    #[test]
    fn the_built_in_policy_gives_own_account_changes_a_class_window_of_15_minutes() {
        let own = Decision::built_in("security_key.delete");
        assert_eq!((own.max_age_seconds, own.reuse), (900, Reuse::Class));
        let admin = Decision::built_in("org.mfa_enforcement.set");
        assert_eq!((admin.max_age_seconds, admin.reuse, admin.require_mfa), (300, Reuse::Action, true));
        assert_eq!(Decision::built_in("k8s.exec"), Decision::default());
    }
}
