//! The audit chain: race-free, hash-chained appends inside the caller's transaction.

use async_trait::async_trait;
use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{
    Anchor, AuditEvent, AuditHead, AuditRecord, ChainVerdict, ChainVerifier, GENESIS_HASH, NameSource,
};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo, Page};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use super::convert::audit_from;
use super::entities::{audit_event, audit_head, member, organization, security_key};
use super::{Database, map_err, to_i64, to_u64};
use crate::request_context;

/// Creates an organization's chain head; called in the transaction that creates the organization,
/// so appenders always find a row to lock.
pub(crate) async fn create_head(db: &impl ConnectionTrait, org: OrgId) -> Result<(), StoreError> {
    audit_head::ActiveModel { org_id: Set(org.0), seq: Set(0), hash: Set(GENESIS_HASH.to_owned()) }
        .insert(db)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Fills the record's name snapshots the caller left empty (the actor's username; the target's
/// username, key name or organization name) with one query inside `txn`, and none when nothing
/// is left to name. Repositories that delete the target's row call it before the delete.
pub(crate) async fn resolve_names(
    txn: &impl ConnectionTrait,
    org: OrgId,
    mut record: AuditRecord,
) -> Result<AuditRecord, StoreError> {
    let actor = record.unnamed_actor().map(NameSource::Member);
    let target = record.unnamed_target();
    if actor.is_none() && target.is_none() {
        return Ok(record);
    }
    let select = Query::select()
        .expr_as(name_of(actor, org), "actor_name")
        .expr_as(name_of(target, org), "target_name")
        .to_owned();
    let Some(row) = txn.query_one(&select).await.map_err(map_err)? else { return Ok(record) };
    let name = |column| row.try_get::<Option<String>>("", column).map_err(map_err);
    if actor.is_some() {
        record.actor_name = name("actor_name")?;
    }
    if target.is_some() {
        record.target_name = name("target_name")?;
    }
    Ok(record)
}

/// A scalar subquery for the display name of `source` within `org` (NULL when there is none).
fn name_of(source: Option<NameSource>, org: OrgId) -> Expr {
    let query: SelectStatement = match source {
        Some(NameSource::Member(id)) => Query::select()
            .column(member::Column::Username)
            .from(member::Entity)
            .and_where(member::Column::Id.eq(id.0))
            .and_where(member::Column::OrgId.eq(org.0))
            .to_owned(),
        Some(NameSource::SecurityKey(id)) => Query::select()
            .column(security_key::Column::Name)
            .from(security_key::Entity)
            .and_where(security_key::Column::Id.eq(id.0))
            .and_where(security_key::Column::OrgId.eq(org.0))
            .to_owned(),
        Some(NameSource::Organization(id)) if id == org => Query::select()
            .column(organization::Column::Name)
            .from(organization::Entity)
            .and_where(organization::Column::Id.eq(id.0))
            .to_owned(),
        Some(NameSource::Organization(_)) | None => return Expr::cust("NULL"),
    };
    Expr::SubQuery(None, Box::new(query.into()))
}

/// `record` with the current request's context (see [`request_context`]), when there is one.
pub(crate) fn with_request_context(record: AuditRecord) -> AuditRecord {
    match request_context::current() {
        Some(meta) => record.with_request(&meta),
        None => record,
    }
}

/// Appends `record` to `org`'s chain inside `txn`, with the current request's context (see
/// [`request_context`]) and name snapshots filled in where the caller gave none. The head row is
/// locked (`FOR UPDATE` on PostgreSQL; SQLite has a single writer), so concurrent appenders queue
/// instead of forking.
pub(crate) async fn append_in(
    txn: &impl ConnectionTrait,
    org: OrgId,
    record: AuditRecord,
) -> Result<AuditEvent, StoreError> {
    let record = with_request_context(record);
    // Before the head is locked, so concurrent appenders wait only for the insert itself.
    let record = resolve_names(txn, org, record).await?;
    let head = audit_head::Entity::find_by_id(org.0)
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(map_err)?
        .ok_or_else(|| StoreError::Unexpected(format!("organization {org} has no audit head")))?;
    let event = AuditEvent::seal(org, to_u64(head.seq) + 1, &head.hash, Utc::now(), record);
    event_row(&event).insert(txn).await.map_err(map_err)?;
    audit_head::ActiveModel { org_id: Set(org.0), seq: Set(to_i64(event.seq)), hash: Set(event.hash.clone()) }
        .update(txn)
        .await
        .map_err(map_err)?;
    Ok(event)
}

/// The row that stores `event`: the one mapping of an event to its columns, for the insert above
/// and for the login's single statement.
pub(crate) fn event_row(event: &AuditEvent) -> audit_event::ActiveModel {
    audit_event::ActiveModel {
        org_id: Set(event.org_id.0),
        seq: Set(to_i64(event.seq)),
        at: Set(event.at),
        actor: Set(event.actor.clone()),
        action: Set(event.action.clone()),
        target: Set(event.target.clone()),
        outcome: Set(event.outcome.clone()),
        ip: Set(event.ip.clone()),
        details: Set(event.details.to_string()),
        hash_version: Set(i16::from(event.hash_version)),
        user_agent: Set(event.user_agent.clone()),
        request_id: Set(event.request_id.clone()),
        actor_name: Set(event.actor_name.clone()),
        target_name: Set(event.target_name.clone()),
        prev_hash: Set(event.prev_hash.clone()),
        hash: Set(event.hash.clone()),
    }
}

/// Recomputes `org`'s whole chain, a page at a time, and compares its end with the stored head.
pub async fn verify_chain(repo: &dyn AuditRepo, org: OrgId) -> Result<ChainVerdict, StoreError> {
    verify_chain_expecting(repo, org, None).await
}

/// [`verify_chain`], also requiring the event of `expected` (a head recorded outside the database)
/// to be there unchanged: this catches a truncation even when the stored head was rewritten too.
pub async fn verify_chain_expecting(
    repo: &dyn AuditRepo,
    org: OrgId,
    expected: Option<AuditHead>,
) -> Result<ChainVerdict, StoreError> {
    const PAGE: u64 = 1000;
    // The head is read before and after the events: appends committing in between move it past
    // the chain's end, which is not tampering (see `ChainVerifier::finish`).
    let before = repo.audit_head(org).await?;
    let mut verifier = ChainVerifier::default();
    if let Some(head) = before.clone() {
        verifier = verifier.anchored(Anchor::StoredHead, head);
    }
    if let Some(head) = expected {
        verifier = verifier.anchored(Anchor::ExpectedHead, head);
    }
    let mut after = 0;
    loop {
        let events = repo.audit_chain(org, after, PAGE).await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        events.iter().for_each(|event| verifier.push(event));
        if (events.len() as u64) < PAGE {
            break;
        }
    }
    let head = match before {
        Some(_) => repo.audit_head(org).await?,
        None => None,
    };
    Ok(verifier.finish(head.as_ref()))
}

#[async_trait]
impl AuditRepo for Database {
    async fn append_audit(&self, org: OrgId, record: AuditRecord) -> Result<AuditEvent, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let event = append_in(&txn, org, record).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(event)
    }

    async fn audit_events(&self, org: OrgId, query: AuditQuery) -> Result<Page<AuditEvent>, StoreError> {
        use audit_event::Column;
        let mut select = audit_event::Entity::find().filter(Column::OrgId.eq(org.0));
        if let Some(action) = query.action {
            select = select.filter(Column::Action.eq(action));
        }
        if let Some(actor) = query.actor {
            select = select.filter(Column::Actor.eq(actor));
        }
        if let Some(target) = query.target {
            select = select.filter(Column::Target.eq(target));
        }
        if let Some(involving) = query.involving {
            select = select.filter(Column::Actor.eq(involving.clone()).or(Column::Target.eq(involving)));
        }
        if let Some(from) = query.from {
            select = select.filter(Column::At.gte(from));
        }
        if let Some(to) = query.to {
            select = select.filter(Column::At.lt(to));
        }
        if let Some(before) = query.before_seq {
            select = select.filter(Column::Seq.lt(to_i64(before)));
        }
        let rows = select.order_by_desc(Column::Seq).limit(query.first + 1).all(&self.conn).await.map_err(map_err)?;
        let has_more = rows.len() as u64 > query.first;
        let items = rows
            .into_iter()
            .take(usize::try_from(query.first).unwrap_or(usize::MAX))
            .map(audit_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, has_more })
    }

    async fn audit_head(&self, org: OrgId) -> Result<Option<AuditHead>, StoreError> {
        let head = audit_head::Entity::find_by_id(org.0).one(&self.conn).await.map_err(map_err)?;
        Ok(head.map(|head| AuditHead { seq: to_u64(head.seq), hash: head.hash }))
    }

    async fn audit_chain(&self, org: OrgId, after: u64, limit: u64) -> Result<Vec<AuditEvent>, StoreError> {
        audit_event::Entity::find()
            .filter(audit_event::Column::OrgId.eq(org.0))
            .filter(audit_event::Column::Seq.gt(to_i64(after)))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(&self.conn)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(audit_from)
            .collect()
    }
}
