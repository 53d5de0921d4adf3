//! The audit chain: reading it, verifying it, and appending one event on its own (the appends
//! inside a repository's transaction are in `audit_append`).

use async_trait::async_trait;
use keyward_domain::StoreError;
use keyward_domain::audit::{Anchor, AuditEvent, AuditHead, AuditRecord, ChainVerdict, ChainVerifier};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo, Page};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use super::audit_append::append_in;
use super::convert::audit_from;
use super::entities::{audit_event, audit_head};
use super::{Database, map_err, to_i64, to_u64};

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
