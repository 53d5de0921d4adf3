//! Pipeline approvals: requests, votes with a key, the approval policy, and live updates.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::{Context, ID, Json, Object, SimpleObject, Subscription};
use chrono::Utc;
use futures::Stream;
use keyward_domain::access::{Gate, authorize};
use keyward_domain::approval::VoteDecision;
use keyward_domain::ids::ApprovalRequestId;
use serde_json::Value;

use super::approval_types::{ApprovalRequest, ApprovalRequestInput, ApprovalRequirements, ApprovalStatus, caller};
use super::context::ContextExt;
use super::keys::WebauthnChallenge;
use super::step_up::StepUpPolicy;
use crate::auth::approval_vote::Ballot;
use crate::auth::{approval, approval_policy, approval_vote};
use crate::error::{ApiError, ApiResult};

/// The result of `approvalRequestCreate`.
#[derive(SimpleObject)]
pub struct ApprovalRequestCreatePayload {
    /// The request (the existing one when `created` is false).
    pub request: ApprovalRequest,
    /// Whether it is new; false when the identical request (same digest) existed.
    pub created: bool,
}

/// The result of `approvalPolicyEvaluate`.
#[derive(SimpleObject)]
pub struct ApprovalPolicyEvaluation {
    /// The outcome.
    pub outcome: ApprovalStatus,
    /// The requirements of a pending outcome.
    pub requirements: Option<ApprovalRequirements>,
    /// The policy's reason.
    pub reason: Option<String>,
    /// The package's rules that produced a value for this input.
    pub fired_rules: Vec<String>,
    /// How long the evaluation took, in microseconds.
    pub evaluation_micros: u64,
}

/// Approval queries.
#[derive(Default)]
pub struct ApprovalQueries;

#[Object]
impl ApprovalQueries {
    /// One request: members see every request of the organization, an API key those it created.
    async fn approval_request(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ApprovalRequest>> {
        match approval::get(ctx.app(), caller(ctx)?, &id).await {
            Ok(request) => Ok(Some(ApprovalRequest(request))),
            Err(keyward_domain::DomainError::NotFound) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Requests, newest first, optionally in one status.
    async fn approval_requests(
        &self,
        ctx: &Context<'_>,
        status: Option<ApprovalStatus>,
        #[graphql(default = 50)] first: u64,
    ) -> ApiResult<Vec<ApprovalRequest>> {
        let requests = approval::list(ctx.app(), caller(ctx)?, status.map(Into::into), first).await?;
        Ok(requests.into_iter().map(ApprovalRequest).collect())
    }

    /// The organization's approval policy (the built-in one until an admin saves their own).
    async fn approval_policy(&self, ctx: &Context<'_>) -> ApiResult<ApprovalPolicy> {
        let org = ctx.org_reader()?.org_id;
        Ok(approval_policy::current(ctx.app(), org).await?.into())
    }

    /// Dry-runs `policy` (or the stored one) on `input`: an approval request as
    /// `approvalRequestCreate` takes it. Nothing is saved.
    async fn approval_policy_evaluate(
        &self,
        ctx: &Context<'_>,
        policy: Option<String>,
        input: Json<Value>,
    ) -> ApiResult<ApprovalPolicyEvaluation> {
        let session = ctx.org_admin()?.0;
        let e = approval_policy::evaluate(ctx.app(), session.org_id, policy, input.0).await?;
        let pending = e.decision.outcome == keyward_domain::approval::Outcome::Pending;
        Ok(ApprovalPolicyEvaluation {
            outcome: match e.decision.outcome {
                keyward_domain::approval::Outcome::Approved => ApprovalStatus::Approved,
                keyward_domain::approval::Outcome::Pending => ApprovalStatus::Pending,
                keyward_domain::approval::Outcome::Rejected => ApprovalStatus::Rejected,
            },
            requirements: pending.then(|| e.decision.requirements.into()),
            reason: e.decision.reason,
            fired_rules: e.fired_rules,
            evaluation_micros: u64::try_from(e.took.as_micros()).unwrap_or(u64::MAX),
        })
    }
}

/// An organization's approval policy.
#[derive(SimpleObject)]
pub struct ApprovalPolicy {
    /// Its version; 0 for the built-in policy.
    pub version: u64,
    /// The Rego module (package `keyward.approval`, rule `decision`).
    pub rego: String,
    /// Whether this is the built-in policy (nothing saved yet).
    pub built_in: bool,
    /// When it was saved.
    pub updated_at: Option<chrono::DateTime<Utc>>,
    /// Who saved it.
    pub updated_by: Option<String>,
}

impl From<crate::auth::step_up_policy::PolicyView> for ApprovalPolicy {
    fn from(v: crate::auth::step_up_policy::PolicyView) -> Self {
        let StepUpPolicy { version, rego, built_in, updated_at, updated_by } = v.into();
        ApprovalPolicy { version, rego, built_in, updated_at, updated_by }
    }
}

/// Approval mutations.
#[derive(Default)]
pub struct ApprovalMutations;

#[Object]
impl ApprovalMutations {
    /// Asks for approval (a pipeline with an `APPROVALS_REQUEST` API key, or a member). The same
    /// request twice returns the first one (`created: false`); any change is a new request. More
    /// than `approvals.requests_per_pipeline_per_minute` new requests per pipeline: `RATE_LIMITED`.
    async fn approval_request_create(
        &self,
        ctx: &Context<'_>,
        input: ApprovalRequestInput,
    ) -> ApiResult<ApprovalRequestCreatePayload> {
        let ip = ctx.request()?.ip.clone();
        let (request, created) = approval::create(ctx.app(), caller(ctx)?, input.into(), ip).await?;
        Ok(ApprovalRequestCreatePayload { request: ApprovalRequest(request), created })
    }

    /// Begins the key touch for approving or rejecting request `id`: its challenge is
    /// SHA-256(digest ‖ nonce), so the signature covers exactly this request.
    async fn approval_begin(&self, ctx: &Context<'_>, id: ID) -> ApiResult<WebauthnChallenge> {
        let session = ctx.self_service()?.0;
        Ok(approval_vote::begin(ctx.app(), session, &id).await?.into())
    }

    /// Approves request `id` with the key touch begun by `approvalBegin`.
    async fn approval_finish(
        &self,
        ctx: &Context<'_>,
        id: ID,
        ceremony_id: ID,
        response: Json<Value>,
    ) -> ApiResult<ApprovalRequest> {
        vote(ctx, &id, &ceremony_id, response.0, Ballot { decision: VoteDecision::Approve, reason: None }).await
    }

    /// Rejects request `id` with a reason and the key touch begun by `approvalBegin`.
    async fn approval_reject(
        &self,
        ctx: &Context<'_>,
        id: ID,
        ceremony_id: ID,
        response: Json<Value>,
        reason: String,
    ) -> ApiResult<ApprovalRequest> {
        vote(ctx, &id, &ceremony_id, response.0, Ballot { decision: VoteDecision::Reject, reason: Some(reason) }).await
    }

    /// Saves a new version of the approval policy after it compiled and decided every sample
    /// request (`BAD_USER_INPUT` with `extensions.line` otherwise).
    async fn approval_policy_set(&self, ctx: &Context<'_>, rego: String) -> ApiResult<ApprovalPolicy> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(approval_policy::set(ctx.app(), session, rego, ip).await?.into())
    }
}

async fn vote(
    ctx: &Context<'_>,
    id: &str,
    ceremony: &str,
    response: Value,
    ballot: Ballot,
) -> ApiResult<ApprovalRequest> {
    let session = ctx.self_service()?.0;
    let facts = ctx.request()?.facts();
    let request = approval_vote::finish(ctx.app(), session, id, ceremony, &response, ballot, &facts).await?;
    Ok(ApprovalRequest(request))
}

/// How often a subscription looks at the database.
const POLL: Duration = Duration::from_secs(1);

/// Live updates.
#[derive(Default)]
pub struct ApprovalSubscription;

#[Subscription]
impl ApprovalSubscription {
    /// Request `id` (its current state first, then on every change), or, without `id`, every
    /// request of the organization the caller may read as it changes. Ends when the caller's
    /// session or API key no longer stands.
    async fn approval_request_updated(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = ApprovalRequest>> {
        let requester = caller(ctx)?;
        let app = ctx.app().clone();
        let presented = ctx.request()?.presented.clone();
        let only: Option<ApprovalRequestId> = match &id {
            Some(id) => Some(approval::get(&app, requester, id).await.map_err(ApiError)?.id),
            None => None,
        };
        let mut seen: HashMap<ApprovalRequestId, (u64, keyward_domain::approval::ApprovalStatus)> = HashMap::new();
        if only.is_none() {
            for r in approval::list(&app, requester, None, 200).await.map_err(ApiError)? {
                seen.insert(r.id, (r.version, r.status_at(Utc::now())));
            }
        }
        let state = (app, presented, only, seen, Vec::<ApprovalRequest>::new());
        Ok(futures::stream::unfold(state, |(app, presented, only, mut seen, mut queue)| async move {
            loop {
                if let Some(next) = queue.pop() {
                    return Some((next, (app, presented, only, seen, queue)));
                }
                if !seen.is_empty() || only.is_none() {
                    tokio::time::sleep(POLL).await;
                }
                let (caller, _) = crate::http::session::resolve_caller(&app, presented.as_deref()).await;
                authorize(&caller, Gate::ApprovalRequester).ok()?;
                let requester = match (caller.api_key(), caller.session()) {
                    (Some(key), _) => approval::Requester::ApiKey(key),
                    (None, Some(session)) => approval::Requester::Member(session),
                    (None, None) => return None,
                };
                let now = Utc::now();
                let current = match only {
                    Some(id) => approval::get(&app, requester, &id.to_string()).await.ok().into_iter().collect(),
                    None => approval::list(&app, requester, None, 200).await.unwrap_or_default(),
                };
                for r in current {
                    let mark = (r.version, r.status_at(now));
                    if seen.insert(r.id, mark) != Some(mark) {
                        queue.push(ApprovalRequest(r));
                    }
                }
                if only.is_some() && seen.is_empty() {
                    return None;
                }
            }
        }))
    }
}
