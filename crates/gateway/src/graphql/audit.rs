//! The audit trail for admins.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::AuditEvent as DomainEvent;
use keyward_domain::repo::AuditQuery;
use serde_json::Value;

use super::context::ContextExt;
use super::org::PageInfo;
use crate::auth::audit;
use crate::error::{ApiError, ApiResult};

/// One event in the tamper-evident trail.
#[derive(SimpleObject)]
pub struct AuditEvent {
    /// Position in the organization's chain (from 1, no gaps).
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who: `member:<id>`, `system` or `anonymous`.
    pub actor: String,
    /// What, e.g. `security_key.registered`.
    pub action: String,
    /// On what, e.g. `member:<id>`.
    pub target: Option<String>,
    /// `SUCCESS` or `FAILURE`.
    pub outcome: String,
    /// Client address.
    pub ip: Option<String>,
    /// Everything else recorded.
    pub details: Json<Value>,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// SHA-256 over `prevHash` and this event's canonical JSON.
    pub hash: String,
}

impl From<DomainEvent> for AuditEvent {
    fn from(e: DomainEvent) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            ip: e.ip,
            details: Json(e.details),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// Which events to list (all conditions must hold).
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    /// Exact action.
    pub action: Option<String>,
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact target.
    pub target: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// A page of events, newest first.
#[derive(SimpleObject)]
pub struct AuditEventConnection {
    /// The events.
    pub nodes: Vec<AuditEvent>,
    /// Pagination.
    pub page_info: PageInfo,
}

/// The chain's verification.
#[derive(SimpleObject)]
pub struct AuditVerification {
    /// Every link and hash holds.
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    /// The first event whose link or hash is broken.
    pub first_broken_seq: Option<u64>,
}

/// Audit queries (admins only).
#[derive(Default)]
pub struct AuditQueries;

#[Object]
impl AuditQueries {
    /// Audit events, newest first, filtered and paginated.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        #[graphql(default = 50)] first: u64,
        after: Option<String>,
    ) -> ApiResult<AuditEventConnection> {
        let session = ctx.org_admin()?.0;
        let filter = filter.unwrap_or_default();
        let before_seq = after
            .map(|a| {
                a.parse::<u64>().map_err(|_| ApiError(DomainError::bad_input("after", "not a cursor from this list")))
            })
            .transpose()?;
        let query = AuditQuery {
            action: filter.action,
            actor: filter.actor,
            target: filter.target,
            from: filter.from,
            to: filter.to,
            before_seq,
            first,
        };
        let page = audit::events(ctx.app(), session.org_id, query).await?;
        let end_cursor = page.items.last().map(|e| e.seq.to_string());
        Ok(AuditEventConnection {
            nodes: page.items.into_iter().map(AuditEvent::from).collect(),
            page_info: PageInfo { has_next_page: page.has_more, end_cursor },
        })
    }

    /// Recomputes the whole hash chain and names the first broken link.
    async fn audit_verify(&self, ctx: &Context<'_>) -> ApiResult<AuditVerification> {
        let session = ctx.org_admin()?.0;
        let verdict = audit::verify(ctx.app(), session.org_id).await?;
        Ok(AuditVerification { ok: verdict.ok(), checked: verdict.checked, first_broken_seq: verdict.first_broken_seq })
    }
}
