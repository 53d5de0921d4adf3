//! The audit trail for admins.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::audit::{AuditEvent as DomainEvent, AuditHead as DomainHead, ChainVerdict};
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
    /// The action as people read it ("Security key added"; see `auditActions`).
    pub action_label: String,
    /// On what, e.g. `member:<id>`.
    pub target: Option<String>,
    /// `SUCCESS` or `FAILURE`.
    pub outcome: String,
    /// Client address.
    pub ip: Option<String>,
    /// Everything else recorded.
    pub details: Json<Value>,
    /// The actor's username when the event was written (null for `system`, `anonymous`, and
    /// events written before snapshots existed).
    pub actor_name: Option<String>,
    /// The target's display name when the event was written: username, key name or organization name.
    pub target_name: Option<String>,
    /// The event as one sentence, from the snapshots: "alice deleted key YubiKey 5C of bob".
    pub summary: String,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The ID of the request that wrote the event (the `X-Request-Id` response header, and in logs).
    pub request_id: Option<String>,
    /// The canonical form `hash` covers: 1 for events written before user agent, request ID and
    /// names were recorded, 2 since.
    pub hash_version: u8,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// SHA-256 over `prevHash` and this event's canonical JSON.
    pub hash: String,
}

impl From<DomainEvent> for AuditEvent {
    fn from(e: DomainEvent) -> Self {
        let summary = e.summary();
        Self {
            action_label: keyward_domain::audit::labels::label_of(&e.action).to_owned(),
            summary,
            actor_name: e.actor_name,
            target_name: e.target_name,
            user_agent: e.user_agent,
            request_id: e.request_id,
            hash_version: e.hash_version,
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
    /// Exact actor or exact target: everything by or about someone (`member:<id>`).
    pub involving: Option<String>,
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

/// A point in the chain: an event's position and hash (`0` and zeros before the first event).
#[derive(SimpleObject)]
#[graphql(name = "AuditHead")]
pub struct AuditHeadPoint {
    /// The event's position.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

impl From<DomainHead> for AuditHeadPoint {
    fn from(head: DomainHead) -> Self {
        Self { seq: head.seq, hash: head.hash }
    }
}

/// The chain's verification.
#[derive(SimpleObject)]
pub struct AuditVerification {
    /// Every link and hash holds, and the chain ends at the stored head (and holds the expected head).
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    /// The first event whose link or hash is broken, or the first missing one.
    pub first_broken_seq: Option<u64>,
    /// What is wrong, as a sentence; null when `ok`.
    pub problem: Option<String>,
    /// The last event that verified. Record it (`<seq>:<hash>`) outside the database and pass it
    /// as `expectHead` later: that catches deleted newest events even if the stored head was
    /// rewritten too.
    pub verified_head: AuditHeadPoint,
}

impl From<ChainVerdict> for AuditVerification {
    fn from(verdict: ChainVerdict) -> Self {
        Self {
            ok: verdict.ok(),
            checked: verdict.checked,
            first_broken_seq: verdict.first_broken_seq,
            problem: verdict.problem.map(|p| p.to_string()),
            verified_head: verdict.end.into(),
        }
    }
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
        let org_id = ctx.org_reader()?.org_id;
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
            involving: filter.involving,
            from: filter.from,
            to: filter.to,
            before_seq,
            first,
        };
        let page = audit::events(ctx.app(), org_id, query).await?;
        let end_cursor = page.items.last().map(|e| e.seq.to_string());
        Ok(AuditEventConnection {
            nodes: page.items.into_iter().map(AuditEvent::from).collect(),
            page_info: PageInfo { has_next_page: page.has_more, end_cursor },
        })
    }

    /// Recomputes the whole hash chain, compares its end with the stored head, and names the
    /// first broken link or missing event. `expectHead` (`<seq>:<hash>`, from `verifiedHead` or
    /// `keyward audit head`) must still be in the chain, unchanged.
    async fn audit_verify(&self, ctx: &Context<'_>, expect_head: Option<String>) -> ApiResult<AuditVerification> {
        let org_id = ctx.org_reader()?.org_id;
        let expected = expect_head
            .map(|head| head.parse::<DomainHead>().map_err(|message| DomainError::bad_input("expectHead", message)))
            .transpose()?;
        Ok(audit::verify(ctx.app(), org_id, expected).await?.into())
    }
}
