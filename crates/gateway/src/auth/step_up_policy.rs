//! Saving, reading and dry-running an organization's step-up policy.

use std::time::Duration;

use chrono::{DateTime, Utc};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{MemberRepo, PolicyKind, PolicyRepo, StoredPolicy};
use keyward_domain::session::Session;
use keyward_domain::step_up::{DEFAULT_POLICY, Decision, PolicyInput};
use keyward_domain::{DomainError, StoreError};
use serde_json::{Value, json};

use crate::policy::CompiledPolicy;
use crate::state::AppState;

/// A step-up policy as the API shows it.
pub struct PolicyView {
    /// The version (0: the built-in policy).
    pub version: u64,
    /// The Rego text.
    pub rego: String,
    /// Whether it is the built-in policy.
    pub built_in: bool,
    /// When it was saved.
    pub updated_at: Option<DateTime<Utc>>,
    /// Who saved it (username).
    pub updated_by: Option<String>,
}

/// The organization's step-up policy (the built-in one when none was saved).
pub async fn current(app: &AppState, org: OrgId) -> Result<PolicyView, DomainError> {
    current_of(app, org, PolicyKind::StepUp, DEFAULT_POLICY).await
}

/// The organization's policy of `kind`, or `default` (version 0) when none was saved.
pub async fn current_of(
    app: &AppState,
    org: OrgId,
    kind: PolicyKind,
    default: &str,
) -> Result<PolicyView, DomainError> {
    let Some(stored) = app.db.policy(org, kind).await? else {
        return Ok(PolicyView {
            version: 0,
            rego: default.to_owned(),
            built_in: true,
            updated_at: None,
            updated_by: None,
        });
    };
    let updated_by = match stored.updated_by {
        Some(id) => app.db.member(org, id).await?.map(|m| m.username),
        None => None,
    };
    Ok(PolicyView {
        version: stored.version,
        rego: stored.body,
        built_in: false,
        updated_at: Some(stored.updated_at),
        updated_by,
    })
}

/// Saves a new version after it compiled and evaluated cleanly on every sample input; every
/// instance switches to it on its next request.
pub async fn set(
    app: &AppState,
    session: &Session,
    rego: String,
    ip: Option<String>,
) -> Result<PolicyView, DomainError> {
    let compiled = CompiledPolicy::validate(&rego).map_err(|err| err.into_bad_input())?;
    let org = session.org_id;
    let version = save(app, session, PolicyKind::StepUp, "org.step_up_policy.updated", rego, ip).await?;
    app.policies.insert(org, version, std::sync::Arc::new(compiled));
    app.sessions.announce_policy_version(org, PolicyKind::StepUp, version, false).await?;
    current(app, org).await
}

/// Saves `rego` as the next version of the organization's policy of `kind`, audited as `action`;
/// a concurrent save is told to reload. Returns the new version.
pub async fn save(
    app: &AppState,
    session: &Session,
    kind: PolicyKind,
    action: &str,
    rego: String,
    ip: Option<String>,
) -> Result<u64, DomainError> {
    let org = session.org_id;
    let previous = app.db.policy(org, kind).await?.map_or(0, |p| p.version);
    let record = AuditRecord::new(Actor::Member(session.member_id), action)
        .target(format!("org:{org}"))
        .ip(ip)
        .details(json!({ "fromVersion": previous, "toVersion": previous + 1, "bytes": rego.len() }));
    let stored = StoredPolicy {
        kind,
        body: rego,
        updated_at: Utc::now(),
        updated_by: Some(session.member_id),
        version: previous + 1,
    };
    app.db.put_policy(org, stored, previous, record).await.map_err(|err| match err {
        StoreError::Conflict(why) => DomainError::bad_input("rego", why),
        other => other.into(),
    })
}

/// A dry run's result.
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// The package's rules that produced a value.
    pub fired_rules: Vec<String>,
    /// How long the evaluation took.
    pub took: Duration,
}

/// Evaluates `policy` (or the stored one) against `input` without changing anything.
pub async fn evaluate(
    app: &AppState,
    org: OrgId,
    policy: Option<String>,
    input: Value,
) -> Result<Evaluation, DomainError> {
    if !input.is_object() {
        return Err(DomainError::bad_input(
            "input",
            "the input must be a JSON object (see the README's step-up contract)",
        ));
    }
    let text = match policy {
        Some(text) => text,
        None => current(app, org).await?.rego,
    };
    let compiled = CompiledPolicy::compile(&text).map_err(|err| err.into_bad_input())?;
    let (decision, fired_rules, took) =
        compiled.explain(&PolicyInput(input)).map_err(|err| DomainError::bad_input("input", err.to_string()))?;
    Ok(Evaluation { decision, fired_rules, took })
}
