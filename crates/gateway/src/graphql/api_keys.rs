//! API keys: for pipelines and scripts (admin).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::api_key::{self as domain, ApiKeyScope as DomainScope};
use keyward_domain::repo::MemberRepo;

use super::context::ContextExt;
use crate::auth::api_key;
use crate::error::ApiResult;

/// What an API key may do.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyScope {
    /// Create approval requests and follow the ones it created.
    ApprovalsRequest,
    /// Read-only admin queries (organization, members, audit trail, policies, API keys).
    OrgRead,
}

impl From<ApiKeyScope> for DomainScope {
    fn from(scope: ApiKeyScope) -> Self {
        match scope {
            ApiKeyScope::ApprovalsRequest => DomainScope::ApprovalsRequest,
            ApiKeyScope::OrgRead => DomainScope::OrgRead,
        }
    }
}

impl From<DomainScope> for ApiKeyScope {
    fn from(scope: DomainScope) -> Self {
        match scope {
            DomainScope::ApprovalsRequest => ApiKeyScope::ApprovalsRequest,
            DomainScope::OrgRead => ApiKeyScope::OrgRead,
        }
    }
}

/// An API key (never its secret).
#[derive(SimpleObject)]
pub struct ApiKey {
    /// Its ID.
    pub id: ID,
    /// Its name.
    pub name: String,
    /// The secret's first characters (`kwk_` and 8 more), to recognize it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<ApiKeyScope>,
    /// The admin who created it (username).
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it works now.
    pub active: bool,
}

async fn view(ctx: &Context<'_>, key: domain::ApiKey) -> ApiResult<ApiKey> {
    let created_by = match key.created_by {
        Some(id) => ctx.app().db.member(key.org_id, id).await?.map(|m| m.username),
        None => None,
    };
    Ok(ApiKey {
        id: ID(key.id.to_string()),
        active: key.is_active(Utc::now()),
        name: key.name,
        prefix: key.prefix,
        scopes: key.scopes.into_iter().map(ApiKeyScope::from).collect(),
        created_by,
        created_at: key.created_at,
        expires_at: key.expires_at,
        last_used_at: key.last_used_at,
        revoked_at: key.revoked_at,
    })
}

/// A new API key.
#[derive(InputObject)]
pub struct ApiKeyCreateInput {
    /// A name people recognize (`github-actions-prod`).
    pub name: String,
    /// What it may do (at least one).
    pub scopes: Vec<ApiKeyScope>,
    /// When it stops working (at most 366 days away); none: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The result of `apiKeyCreate`.
#[derive(SimpleObject)]
pub struct ApiKeyCreatePayload {
    /// The key.
    pub api_key: ApiKey,
    /// The secret, shown this once: only its hash is stored. Send it as `Authorization: Bearer`.
    pub secret: String,
}

/// API key queries.
#[derive(Default)]
pub struct ApiKeyQueries;

#[Object]
impl ApiKeyQueries {
    /// The organization's API keys, newest first, revoked ones included.
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let org = ctx.org_reader()?.org_id;
        let mut views = Vec::new();
        for key in api_key::list(ctx.app(), org).await? {
            views.push(view(ctx, key).await?);
        }
        Ok(views)
    }
}

/// API key mutations (admin, step-up).
#[derive(Default)]
pub struct ApiKeyMutations;

#[Object]
impl ApiKeyMutations {
    /// Creates an API key and shows its secret once.
    async fn api_key_create(&self, ctx: &Context<'_>, input: ApiKeyCreateInput) -> ApiResult<ApiKeyCreatePayload> {
        let session = ctx.org_admin()?.0;
        let scopes: Vec<DomainScope> = input.scopes.into_iter().map(DomainScope::from).collect();
        let ip = ctx.request()?.ip.clone();
        let created = api_key::create(ctx.app(), session, &input.name, &scopes, input.expires_at, ip).await?;
        Ok(ApiKeyCreatePayload { api_key: view(ctx, created.key).await?, secret: created.secret })
    }

    /// Revokes an API key: its next request, on any instance, is refused.
    async fn api_key_revoke(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ApiKey> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        let key = api_key::revoke(ctx.app(), session, &id, ip).await?;
        view(ctx, key).await
    }
}
