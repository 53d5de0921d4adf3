//! The query and mutation roots, merged from one object per area. Resolvers stay thin: read
//! input, call a flow in `crate::auth`, map the result.

use async_graphql::{Context, MergedObject, MergedSubscription, Object};

use super::api_keys::{ApiKeyMutations, ApiKeyQueries};
use super::approvals::{ApprovalMutations, ApprovalQueries, ApprovalSubscription};
use super::audit::AuditQueries;
use super::context::ContextExt;
use super::keys::{KeyMutations, KeyQueries};
use super::login::{LoginMutations, LoginSettingsMutations};
use super::members::MemberMutations;
use super::org::{OrgMutations, OrgQueries};
use super::rollout::RolloutQueries;
use super::sso_test::SsoTestMutations;
use super::step_up::{StepUpMutations, StepUpQueries};
use super::types::Viewer;
use super::webhooks::{WebhookMutations, WebhookQueries};
use crate::error::ApiResult;

/// Session queries.
#[derive(Default)]
pub struct SessionQueries;

#[Object]
impl SessionQueries {
    /// The caller's session, or `null` when not logged in.
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Option<Viewer>> {
        let request = ctx.request()?;
        Ok(request.caller.session().map(Viewer::from))
    }
}

/// Read operations.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    SessionQueries,
    KeyQueries,
    OrgQueries,
    AuditQueries,
    StepUpQueries,
    ApiKeyQueries,
    ApprovalQueries,
    WebhookQueries,
    RolloutQueries,
);

/// Write operations.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    LoginMutations,
    LoginSettingsMutations,
    KeyMutations,
    OrgMutations,
    MemberMutations,
    StepUpMutations,
    ApiKeyMutations,
    ApprovalMutations,
    WebhookMutations,
    SsoTestMutations,
);

/// Live updates (over WebSocket at `/graphql/ws`, protocol `graphql-transport-ws`).
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(ApprovalSubscription);
