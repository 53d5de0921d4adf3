//! Step-up: the ceremony that earns a grant, and the organization's step-up policy.

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::step_up::{Decision, Grant, GrantScope, Reuse, describe};
use serde_json::Value;

use super::context::ContextExt;
use crate::auth::step_up::{self, Ask};
use crate::auth::step_up_policy::{self, Evaluation, PolicyView};
use crate::error::ApiResult;

/// How far a step-up grant reaches.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepUpReuse {
    /// The one action on the one resource.
    Action,
    /// Every action of the action's class (the action without its last segment), any resource.
    Class,
}

impl From<Reuse> for StepUpReuse {
    fn from(reuse: Reuse) -> Self {
        match reuse {
            Reuse::Action => StepUpReuse::Action,
            Reuse::Class => StepUpReuse::Class,
        }
    }
}

/// A step-up ceremony begun: pass `options` to `navigator.credentials.get`, then call
/// `stepUpFinish` with the result.
#[derive(SimpleObject)]
pub struct StepUpChallenge {
    /// Identifies the ceremony; valid once, for `ceremony.ttl`, from this session only.
    pub ceremony_id: ID,
    /// `PublicKeyCredentialRequestOptionsJSON`; its challenge is derived from the action and resource.
    pub options: Json<Value>,
    /// The action this touch will allow.
    pub action: String,
    /// The resource.
    pub resource: Option<String>,
    /// The action in words, to show the person touching their key.
    pub description: String,
}

/// What a step-up earned: a grant on this session only.
#[derive(SimpleObject)]
pub struct StepUpGrant {
    /// The action, or the class for a class-wide grant.
    pub action: String,
    /// The resource (none for a class-wide grant).
    pub resource: Option<String>,
    /// How far it reaches.
    pub reuse: StepUpReuse,
    /// When it stops serving.
    pub expires_at: DateTime<Utc>,
}

impl From<Grant> for StepUpGrant {
    fn from(grant: Grant) -> Self {
        let (action, reuse) = match grant.scope {
            GrantScope::Action(action) => (action, StepUpReuse::Action),
            GrantScope::Class(class) => (class, StepUpReuse::Class),
        };
        StepUpGrant { action, resource: grant.resource, reuse, expires_at: grant.expires_at }
    }
}

/// The result of `stepUpFinish`.
#[derive(SimpleObject)]
pub struct StepUpFinishPayload {
    /// The grant.
    pub grant: StepUpGrant,
    /// The session's new token (also set as the cookie): every step-up rotates the session.
    pub session_token: Option<String>,
    /// A step-up JWT, when `issueToken` was true.
    pub token: Option<String>,
}

/// An organization's step-up policy.
#[derive(SimpleObject)]
pub struct StepUpPolicy {
    /// Its version; 0 for the built-in policy.
    pub version: u64,
    /// The Rego module (package `keyward.step_up`, rule `decision`).
    pub rego: String,
    /// Whether this is the built-in policy (nothing saved yet).
    pub built_in: bool,
    /// When it was saved.
    pub updated_at: Option<DateTime<Utc>>,
    /// Who saved it.
    pub updated_by: Option<String>,
}

impl From<PolicyView> for StepUpPolicy {
    fn from(v: PolicyView) -> Self {
        StepUpPolicy {
            version: v.version,
            rego: v.rego,
            built_in: v.built_in,
            updated_at: v.updated_at,
            updated_by: v.updated_by,
        }
    }
}

/// A policy's decision for one input.
#[derive(SimpleObject)]
pub struct StepUpDecision {
    /// Whether a key touch is needed.
    pub require_mfa: bool,
    /// How old it may be.
    pub max_age_seconds: u64,
    /// How far a grant reaches.
    pub reuse: StepUpReuse,
    /// Whether the action is refused outright.
    pub deny: bool,
    /// The policy's reason.
    pub reason: Option<String>,
}

impl From<Decision> for StepUpDecision {
    fn from(d: Decision) -> Self {
        StepUpDecision {
            require_mfa: d.require_mfa,
            max_age_seconds: d.max_age_seconds,
            reuse: d.reuse.into(),
            deny: d.deny,
            reason: d.reason,
        }
    }
}

/// The result of `policyEvaluate`.
#[derive(SimpleObject)]
pub struct PolicyEvaluation {
    /// The decision, defaults filled in.
    pub decision: StepUpDecision,
    /// The package's rules that produced a value for this input.
    pub fired_rules: Vec<String>,
    /// How long the evaluation took, in microseconds.
    pub evaluation_micros: u64,
}

impl From<Evaluation> for PolicyEvaluation {
    fn from(e: Evaluation) -> Self {
        PolicyEvaluation {
            decision: e.decision.into(),
            fired_rules: e.fired_rules,
            evaluation_micros: u64::try_from(e.took.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// Step-up queries (admin).
#[derive(Default)]
pub struct StepUpQueries;

#[Object]
impl StepUpQueries {
    /// The organization's step-up policy (the built-in one until an admin saves their own).
    async fn step_up_policy(&self, ctx: &Context<'_>) -> ApiResult<StepUpPolicy> {
        let org_id = ctx.org_reader()?.org_id;
        Ok(step_up_policy::current(ctx.app(), org_id).await?.into())
    }

    /// Dry-runs `policy` (or, when null, the stored policy) against `input`, which follows the
    /// step-up input contract. Nothing is saved.
    async fn policy_evaluate(
        &self,
        ctx: &Context<'_>,
        policy: Option<String>,
        input: Json<Value>,
    ) -> ApiResult<PolicyEvaluation> {
        let session = ctx.org_admin()?.0;
        Ok(step_up_policy::evaluate(ctx.app(), session.org_id, policy, input.0).await?.into())
    }
}

/// Step-up mutations.
#[derive(Default)]
pub struct StepUpMutations;

#[Object]
impl StepUpMutations {
    /// Begins a fresh security-key check for `action` on `resource` (what `STEP_UP_REQUIRED`
    /// named). `handoff` completes a terminal's hand-off (`keyward login`, `keyward step-up`).
    async fn step_up_begin(
        &self,
        ctx: &Context<'_>,
        action: String,
        resource: Option<String>,
        handoff: Option<ID>,
    ) -> ApiResult<StepUpChallenge> {
        let session = ctx.self_service()?.0;
        let request = ctx.request()?;
        let ask = Ask::new(&action, resource.as_deref());
        let handoff = handoff.map(|h| h.0);
        let challenge = step_up::begin(ctx.app(), session, &ask, handoff, &request.facts()).await?;
        Ok(StepUpChallenge {
            ceremony_id: ID(challenge.ceremony_id.to_string()),
            options: Json(challenge.options),
            description: describe(&action, resource.as_deref()),
            action,
            resource,
        })
    }

    /// Finishes the check with the authenticator's `AuthenticationResponseJSON`. The grant goes
    /// on this session only, and the session token is rotated.
    async fn step_up_finish(
        &self,
        ctx: &Context<'_>,
        ceremony_id: ID,
        response: Json<Value>,
        #[graphql(default = false)] issue_token: bool,
    ) -> ApiResult<StepUpFinishPayload> {
        let session = ctx.self_service()?.0;
        let request = ctx.request()?;
        let (finished, token) =
            step_up::finish_with_handoff(ctx.app(), session, &ceremony_id, &response.0, &request.facts(), issue_token)
                .await?;
        let session_token = Some(request.rotated(&finished.issued));
        Ok(StepUpFinishPayload { grant: finished.grant.into(), session_token, token })
    }

    /// Saves a new version of the organization's step-up policy. It must compile and evaluate
    /// cleanly on the built-in sample inputs (`BAD_USER_INPUT` with the line otherwise). This
    /// mutation always follows the built-in rule, never the saved policy, so no policy can lock
    /// its organization out of fixing it.
    async fn step_up_policy_set(&self, ctx: &Context<'_>, rego: String) -> ApiResult<StepUpPolicy> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(step_up_policy::set(ctx.app(), session, rego, ip).await?.into())
    }
}
