//! The approval policy (package `keyward.approval`): compiled once per organization and version,
//! read strictly, failing closed. A pipeline request the policy cannot decide is rejected with the
//! reason on the record, never approved.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use keyward_domain::DomainError;
use keyward_domain::approval::decision::{PACKAGE, PolicyDecision};
use keyward_domain::approval::input::{MemberView, policy_input};
use keyward_domain::approval::{ApprovalRequestInput, ChangeSummary};
use keyward_domain::ids::OrgId;
use regorus::Engine;
use serde_json::Value;

use super::engine::{PolicyError, compile_module, eval_package, eval_rule};

const FILE: &str = "approval.rego";

/// An approval policy compiled and ready to evaluate.
pub struct ApprovalPolicy {
    engine: Engine,
    decision: regorus::CompiledPolicy,
}

impl ApprovalPolicy {
    /// Parses and prepares `rego` (package `keyward.approval`, rule `decision`).
    pub fn compile(rego: &str) -> Result<Self, PolicyError> {
        let (engine, decision) = compile_module(rego, PACKAGE, FILE)?;
        Ok(Self { engine, decision })
    }

    /// The decision for `input` (the policy input document).
    pub fn decide(&self, input: &Value) -> Result<PolicyDecision, PolicyError> {
        let value = eval_rule(&self.decision, input.clone())?;
        PolicyDecision::from_policy_output(&value).map_err(PolicyError::Evaluation)
    }

    /// The decision, the package's rules that produced a value, and the time taken.
    pub fn explain(&self, input: &Value) -> Result<(PolicyDecision, Vec<String>, Duration), PolicyError> {
        let started = Instant::now();
        let package = eval_package(&self.engine, input.clone(), PACKAGE)?;
        let took = started.elapsed();
        let fired = match &package {
            Value::Object(rules) => rules.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let decision = PolicyDecision::from_policy_output(package.get("decision").unwrap_or(&Value::Null))
            .map_err(PolicyError::Evaluation)?;
        Ok((decision, fired, took))
    }

    /// Compiles `rego` and decides every sample request, as a save does.
    pub fn validate(rego: &str) -> Result<Self, PolicyError> {
        let policy = Self::compile(rego)?;
        for (name, input) in samples() {
            policy.decide(&input).map_err(|err| PolicyError::Invalid {
                message: format!("evaluating the sample request \"{name}\": {err}"),
                line: None,
            })?;
        }
        Ok(policy)
    }
}

/// Sample requests every saved policy must decide: production and staging deploys, environment
/// changes, secret rotations, sensitive flags, at a Friday afternoon and a Monday morning.
pub fn samples() -> Vec<(&'static str, Value)> {
    let base = ApprovalRequestInput {
        pipeline: "infra/deploy".into(),
        run_id: "1".into(),
        stage: "apply".into(),
        environment: "production".into(),
        commit_sha: "0123456789abcdef0123456789abcdef01234567".into(),
        commit_author: "author".into(),
        requester: "requester".into(),
        change_summary: ChangeSummary::default(),
        plan_digest: "sha256:0".into(),
        run_url: None,
    };
    let friday = Utc.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).single().unwrap_or_default();
    let monday = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).single().unwrap_or_default();
    let member = MemberView { id: "m".into(), username: "requester".into(), groups: vec!["sre".into()] };
    let mut staging = base.clone();
    staging.environment = "staging".into();
    let mut env = base.clone();
    env.change_summary.env_vars_changed = vec!["DATABASE_URL".into()];
    let mut secrets = base.clone();
    secrets.change_summary.secrets_rotated = vec!["stripe".into()];
    let mut sensitive = base.clone();
    sensitive.change_summary.sensitive_flags = vec!["destroys-data".into()];
    sensitive.change_summary.resources = vec!["aws_db_instance.main".into()];
    vec![
        ("production, Friday 16:30", policy_input(&base, Some(&member), None, friday)),
        ("production, Monday 09:00", policy_input(&base, None, None, monday)),
        ("staging", policy_input(&staging, Some(&member), Some(&member), monday)),
        ("environment variables changed", policy_input(&env, None, None, monday)),
        ("secrets rotated", policy_input(&secrets, None, None, friday)),
        ("sensitive resources", policy_input(&sensitive, Some(&member), None, monday)),
    ]
}

/// The organization's saved approval policy, compiled (from the cache when this version was
/// compiled before), or `None` for the built-in one.
pub async fn active(
    app: &crate::state::AppState,
    org: OrgId,
) -> Result<Option<(u64, Arc<ApprovalPolicy>)>, DomainError> {
    use keyward_domain::repo::{PolicyKind, PolicyRepo};
    let Some(stored) = app.db.policy(org, PolicyKind::Approval).await? else { return Ok(None) };
    if let Some(policy) = app.policies.approval(org, stored.version) {
        return Ok(Some((stored.version, policy)));
    }
    let policy = Arc::new(ApprovalPolicy::compile(&stored.body).map_err(|err| {
        DomainError::Store(keyward_domain::StoreError::Unexpected(format!(
            "stored approval policy v{}: {err}",
            stored.version
        )))
    })?);
    app.policies.insert_approval(org, stored.version, Arc::clone(&policy));
    Ok(Some((stored.version, policy)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_domain::approval::decision::{DEFAULT_POLICY, Outcome};
    use serde_json::json;

    fn decide(rego: &str, name: &str) -> PolicyDecision {
        let policy = ApprovalPolicy::validate(rego).unwrap();
        let input = samples().into_iter().find(|(n, _)| *n == name).unwrap().1;
        policy.decide(&input).unwrap()
    }

    #[test]
    fn the_default_policy_text_is_the_built_in_decision() {
        for (name, _) in samples() {
            assert_eq!(decide(DEFAULT_POLICY, name), PolicyDecision::built_in(), "{name}");
        }
    }

    /// The README's example policy: each typical input decides as documented.
    pub const EXAMPLE: &str = r#"package keyward.approval

import rego.v1

prod if input.environment == "production"

friday_afternoon if {
	input.time.weekday == "Friday"
	input.time.hour >= 16
}

touches_secrets if count(input.change_summary.secrets_rotated) > 0

changes_env if count(input.change_summary.env_vars_changed) > 0

sensitive if count(input.change_summary.sensitive_flags) > 0

decision := {"outcome": "APPROVED", "reason": "staging deploys need no approval"} if not prod

decision := {"outcome": "REJECTED", "reason": "secrets are rotated by the security team's pipeline only"} if {
	prod
	touches_secrets
	input.pipeline != "security/rotate"
}

decision := {
	"outcome": "PENDING",
	"requirements": {"count": 2, "groups_any": ["sre"], "expires_in_seconds": 1800},
	"reason": "production on Friday afternoon needs two SRE approvers",
} if {
	prod
	not touches_secrets
	friday_afternoon
}

decision := {
	"outcome": "PENDING",
	"requirements": {"count": 2, "device_bound_only": true},
	"reason": "environment or sensitive changes need two approvers with device-bound keys",
} if {
	prod
	not touches_secrets
	not friday_afternoon
	any_risk
}

any_risk if changes_env

any_risk if sensitive

decision := {"outcome": "PENDING", "requirements": {"count": 1}, "reason": "production needs one approver"} if {
	prod
	not touches_secrets
	not friday_afternoon
	not any_risk
}
"#;

    #[test]
    fn typical_inputs_decide_as_the_example_says() {
        assert_eq!(decide(EXAMPLE, "staging").outcome, Outcome::Approved);
        assert_eq!(decide(EXAMPLE, "secrets rotated").outcome, Outcome::Rejected);
        let friday = decide(EXAMPLE, "production, Friday 16:30");
        assert_eq!((friday.outcome, friday.requirements.count), (Outcome::Pending, 2));
        assert_eq!(friday.requirements.groups_any, vec!["sre"]);
        assert_eq!(friday.requirements.expires_in_seconds, 1800);
        let env = decide(EXAMPLE, "environment variables changed");
        assert_eq!((env.requirements.count, env.requirements.device_bound_only), (2, true));
        let sensitive = decide(EXAMPLE, "sensitive resources");
        assert_eq!(sensitive.requirements.count, 2);
        let monday = decide(EXAMPLE, "production, Monday 09:00");
        assert_eq!((monday.outcome, monday.requirements.count), (Outcome::Pending, 1));
        assert!(monday.requirements.exclude_requester, "left out: the safe default");
    }

    #[test]
    fn a_policy_that_forgets_a_request_cannot_be_saved() {
        let partial = "package keyward.approval\nimport rego.v1\ndecision := {\"outcome\": \"APPROVED\"} if input.environment == \"staging\"\n";
        let err = ApprovalPolicy::validate(partial).err().unwrap();
        assert!(err.to_string().contains("undefined"), "{err}");
    }

    #[test]
    fn the_package_must_be_keyward_approval() {
        let err = ApprovalPolicy::compile("package keyward.step_up\ndecision := {}\n").err().unwrap();
        assert!(err.to_string().contains("keyward.approval"), "{err}");
        let broken = "package keyward.approval\n\nimport rego.v1\n\ndecision := {\"outcome\": } if {\n\ttrue\n}\n";
        let PolicyError::Invalid { line, .. } = ApprovalPolicy::compile(broken).err().unwrap() else { panic!() };
        assert_eq!(line, Some(5));
    }

    #[test]
    fn explain_names_the_rules_that_fired() {
        let policy = ApprovalPolicy::validate(EXAMPLE).unwrap();
        let input = samples().remove(0).1;
        let (decision, fired, _) = policy.explain(&input).unwrap();
        assert_eq!(decision.outcome, Outcome::Pending);
        assert!(fired.contains(&"friday_afternoon".to_owned()) && fired.contains(&"prod".to_owned()), "{fired:?}");
        let _ = json!({});
    }
}
