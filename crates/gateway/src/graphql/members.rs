//! Offboarding: admins deactivate and reactivate members.

use async_graphql::{Context, ID, Object};

use super::context::ContextExt;
use super::types::Member;
use crate::auth::admin;
use crate::error::ApiResult;

/// Admin mutations on members themselves.
#[derive(Default)]
pub struct MemberMutations;

#[Object]
impl MemberMutations {
    /// Deactivates a member: every session of theirs ends at once and no login path lets them
    /// in (`MEMBER_DEACTIVATED`) until they are reactivated. Their keys and audit history stay.
    /// The organization's last active admin cannot be deactivated (`LAST_ACTIVE_ADMIN`), nor can
    /// you deactivate yourself.
    async fn member_deactivate(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Member> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        let (member, _ended) = admin::deactivate_member(ctx.app(), session, &id, ip).await?;
        Ok(member.into())
    }

    /// Reactivates a deactivated member: they can log in again.
    async fn member_reactivate(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Member> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(admin::reactivate_member(ctx.app(), session, &id, ip).await?.into())
    }
}
