//! The audit chain: race-free, hash-chained appends inside the caller's transaction.

use async_trait::async_trait;
use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{AuditEvent, AuditRecord, ChainVerdict, ChainVerifier, GENESIS_HASH};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo, Page};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use super::convert::audit_from;
use super::entities::{audit_event, audit_head};
use super::{Database, map_err, to_i64, to_u64};

/// Creates an organization's chain head; called in the transaction that creates the organization,
/// so appenders always find a row to lock.
pub(crate) async fn create_head(db: &impl ConnectionTrait, org: OrgId) -> Result<(), StoreError> {
    audit_head::ActiveModel { org_id: Set(org.0), seq: Set(0), hash: Set(GENESIS_HASH.to_owned()) }
        .insert(db)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Appends `record` to `org`'s chain inside `txn`. The head row is locked (`FOR UPDATE` on
/// PostgreSQL; SQLite has a single writer), so concurrent appenders queue instead of forking.
pub(crate) async fn append_in(
    txn: &impl ConnectionTrait,
    org: OrgId,
    record: AuditRecord,
) -> Result<AuditEvent, StoreError> {
    let head = audit_head::Entity::find_by_id(org.0)
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(map_err)?
        .ok_or_else(|| StoreError::Unexpected(format!("organization {org} has no audit head")))?;
    let event = AuditEvent::seal(org, to_u64(head.seq) + 1, &head.hash, Utc::now(), record);
    let details = event.details.to_string();
    audit_event::ActiveModel {
        org_id: Set(org.0),
        seq: Set(to_i64(event.seq)),
        at: Set(event.at),
        actor: Set(event.actor.clone()),
        action: Set(event.action.clone()),
        target: Set(event.target.clone()),
        outcome: Set(event.outcome.clone()),
        ip: Set(event.ip.clone()),
        details: Set(details),
        prev_hash: Set(event.prev_hash.clone()),
        hash: Set(event.hash.clone()),
    }
    .insert(txn)
    .await
    .map_err(map_err)?;
    audit_head::ActiveModel { org_id: Set(org.0), seq: Set(to_i64(event.seq)), hash: Set(event.hash.clone()) }
        .update(txn)
        .await
        .map_err(map_err)?;
    Ok(event)
}

/// Recomputes `org`'s whole chain, a page at a time.
pub async fn verify_chain(repo: &dyn AuditRepo, org: OrgId) -> Result<ChainVerdict, StoreError> {
    const PAGE: u64 = 1000;
    let mut verifier = ChainVerifier::default();
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
    Ok(verifier.verdict())
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
