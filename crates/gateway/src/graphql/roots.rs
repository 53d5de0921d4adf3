//! The query and mutation roots. Resolvers stay thin: read input, call the domain, map the result.

use async_graphql::{Context, Object};
use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::repo::AuditRepo;

use super::context::{ContextExt, CookieUpdate};
use super::types::Viewer;
use crate::error::ApiResult;

/// Read operations.
pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The caller's session, or `null` when not logged in.
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Option<Viewer>> {
        let request = ctx.request()?;
        Ok(request.caller.session().map(Viewer::from))
    }
}

/// Write operations.
pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Ends the current session (and clears the session cookie). Returns `true`.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let session = ctx.any_session()?.0;
        let request = ctx.request()?;
        let app = ctx.app();
        app.sessions
            .revoke(session.org_id, &session.token_hash, Utc::now())
            .await?;
        request.set_cookie(CookieUpdate::Clear);
        let record = AuditRecord::new(Actor::Member(session.member_id), "session.logout")
            .target(format!("member:{}", session.member_id))
            .ip(request.ip.clone());
        app.db.append_audit(session.org_id, record).await?;
        Ok(true)
    }
}
