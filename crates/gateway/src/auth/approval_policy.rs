//! Saving, reading and dry-running an organization's approval policy (versioned like the step-up
//! policy; the compiled policy is cached per organization and version).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keyward_domain::DomainError;
use keyward_domain::approval::ApprovalRequestInput;
use keyward_domain::approval::decision::{DEFAULT_POLICY, PolicyDecision};
use keyward_domain::approval::input::policy_input;
use keyward_domain::ids::OrgId;
use keyward_domain::repo::PolicyKind;
use keyward_domain::session::Session;
use serde_json::Value;

use super::step_up_policy::{PolicyView, current_of, save};
use crate::policy::approval::ApprovalPolicy;
use crate::state::AppState;

/// The organization's approval policy (the built-in one when none was saved).
pub async fn current(app: &AppState, org: OrgId) -> Result<PolicyView, DomainError> {
    current_of(app, org, PolicyKind::Approval, DEFAULT_POLICY).await
}

/// Saves a new version after it compiled and decided every sample request.
pub async fn set(
    app: &AppState,
    session: &Session,
    rego: String,
    ip: Option<String>,
) -> Result<PolicyView, DomainError> {
    let compiled = ApprovalPolicy::validate(&rego).map_err(|err| err.into_bad_input())?;
    let version = save(app, session, PolicyKind::Approval, "org.approval_policy.set", rego, ip).await?;
    app.policies.insert_approval(session.org_id, version, Arc::new(compiled));
    current(app, session.org_id).await
}

/// A dry run's result.
pub struct Evaluation {
    /// The decision.
    pub decision: PolicyDecision,
    /// The package's rules that produced a value.
    pub fired_rules: Vec<String>,
    /// How long it took.
    pub took: Duration,
}

/// Evaluates `policy` (or the stored one) on `input`: an approval request (camelCase, as
/// `approvalRequestCreate` takes it) or a full policy input document (snake_case, with `time`).
pub async fn evaluate(
    app: &AppState,
    org: OrgId,
    policy: Option<String>,
    input: Value,
) -> Result<Evaluation, DomainError> {
    let document = match serde_json::from_value::<ApprovalRequestInput>(input.clone()) {
        Ok(request) => policy_input(&request, None, None, Utc::now()),
        Err(_) if input.get("run_id").is_some() => input,
        Err(err) => {
            return Err(DomainError::bad_input("input", format!("expected an approval request: {err}")));
        }
    };
    let text = match policy {
        Some(text) => text,
        None => current(app, org).await?.rego,
    };
    let compiled = ApprovalPolicy::compile(&text).map_err(|err| err.into_bad_input())?;
    let (decision, fired_rules, took) =
        compiled.explain(&document).map_err(|err| DomainError::bad_input("input", err.to_string()))?;
    Ok(Evaluation { decision, fired_rules, took })
}
