//! Approval requests and votes. A vote, the state change it causes, the token's `jti` and the audit
//! events are written in one transaction guarded by the request's version, so two approvals
//! racing to be the last one cannot both issue a token.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::approval::{ApprovalRequest, ApprovalStatus, RequestedBy, Vote, VoteDecision};
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{ApiKeyId, ApprovalRequestId, MemberId, OrgId, SecurityKeyId};
use keyward_domain::pipeline_repo::{ApprovalQuery, ApprovalRepo, VoteWrite};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::audit_append::{append_all_in, append_in};
use super::convert::corrupt;
use super::entities::{approval_request, approval_vote, member, security_key};
use super::request_write;
use super::vote_write::{self, Attempt};
use super::{Database, map_err, to_i64, to_u64};

/// How often a vote's one-statement write is tried before it queues on the head's lock instead:
/// each miss means another event of the organization got in between.
const STATEMENT_ATTEMPTS: usize = 3;

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn request_row(r: &ApprovalRequest) -> approval_request::ActiveModel {
    let (key, member) = match r.created_by {
        RequestedBy::ApiKey(id) => (Some(id.0), None),
        RequestedBy::Member(id) => (None, Some(id.0)),
    };
    approval_request::ActiveModel {
        id: Set(r.id.0),
        org_id: Set(r.org_id.0),
        digest: Set(r.digest.clone()),
        body: Set(to_json(&r.input)),
        pipeline: Set(r.input.pipeline.clone()),
        stage: Set(r.input.stage.clone()),
        environment: Set(r.input.environment.clone()),
        status: Set(r.status.as_str().to_owned()),
        reason: Set(r.reason.clone()),
        requirements: Set(r.requirements.as_ref().map(to_json)),
        policy_version: Set(to_i64(r.policy_version)),
        fired_rules: Set(to_json(&r.fired_rules)),
        created_by_key: Set(key),
        created_by_member: Set(member),
        requester_member: Set(r.requester_member.map(|m| m.0)),
        commit_author_member: Set(r.commit_author_member.map(|m| m.0)),
        created_at: Set(r.created_at),
        expires_at: Set(r.expires_at),
        decided_at: Set(r.decided_at),
        token: Set(r.token.clone()),
        token_jti: Set(r.token_jti.clone()),
        version: Set(to_i64(r.version)),
    }
}

fn vote_row(org: OrgId, request: ApprovalRequestId, v: &Vote) -> approval_vote::ActiveModel {
    approval_vote::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        request_id: Set(request.0),
        org_id: Set(org.0),
        member_id: Set(v.member_id.0),
        key_id: Set(v.key_id.0),
        credential_id: Set(v.credential_id.clone()),
        groups: Set(to_json(&v.groups)),
        decision: Set(v.decision.as_str().to_owned()),
        reason: Set(v.reason.clone()),
        at: Set(v.at),
        evidence: Set(to_json(&v.evidence)),
    }
}

fn vote_from(row: approval_vote::Model) -> Result<Vote, StoreError> {
    let decision = match row.decision.as_str() {
        "APPROVE" => VoteDecision::Approve,
        "REJECT" => VoteDecision::Reject,
        other => return Err(corrupt("vote decision", other)),
    };
    Ok(Vote {
        member_id: MemberId(row.member_id),
        key_id: SecurityKeyId(row.key_id),
        credential_id: row.credential_id,
        groups: serde_json::from_str(&row.groups).map_err(|e| corrupt("vote groups", e))?,
        decision,
        reason: row.reason,
        at: row.at,
        evidence: serde_json::from_str(&row.evidence).map_err(|e| corrupt("vote evidence", e))?,
    })
}

fn request_from(row: approval_request::Model, votes: Vec<Vote>) -> Result<ApprovalRequest, StoreError> {
    let created_by = match (row.created_by_key, row.created_by_member) {
        (Some(key), _) => RequestedBy::ApiKey(ApiKeyId(key)),
        (None, Some(member)) => RequestedBy::Member(MemberId(member)),
        (None, None) => return Err(corrupt("approval request", "no creator")),
    };
    let requirements = match row.requirements {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("approval requirements", e))?),
        None => None,
    };
    Ok(ApprovalRequest {
        id: ApprovalRequestId(row.id),
        org_id: OrgId(row.org_id),
        input: serde_json::from_str(&row.body).map_err(|e| corrupt("approval request body", e))?,
        digest: row.digest,
        status: ApprovalStatus::parse(&row.status).ok_or_else(|| corrupt("approval status", &row.status))?,
        reason: row.reason,
        requirements,
        policy_version: to_u64(row.policy_version),
        fired_rules: serde_json::from_str(&row.fired_rules).map_err(|e| corrupt("fired rules", e))?,
        created_by,
        requester_member: row.requester_member.map(MemberId),
        commit_author_member: row.commit_author_member.map(MemberId),
        created_at: row.created_at,
        expires_at: row.expires_at,
        decided_at: row.decided_at,
        token: row.token,
        token_jti: row.token_jti,
        version: to_u64(row.version),
        votes,
    })
}

async fn with_votes<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<approval_request::Model>,
) -> Result<Vec<ApprovalRequest>, StoreError> {
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let mut votes = if ids.is_empty() {
        Vec::new()
    } else {
        approval_vote::Entity::find()
            .filter(approval_vote::Column::RequestId.is_in(ids))
            .order_by_asc(approval_vote::Column::At)
            .order_by_asc(approval_vote::Column::Id)
            .all(conn)
            .await
            .map_err(map_err)?
    };
    rows.into_iter()
        .map(|row| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                std::mem::take(&mut votes).into_iter().partition(|v| v.request_id == row.id);
            votes = rest;
            request_from(row, mine.into_iter().map(vote_from).collect::<Result<_, _>>()?)
        })
        .collect()
}

impl Database {
    /// The vote's write in one transaction that queues on the request's row and the audit head.
    async fn record_vote_in_transaction(
        &self,
        org: OrgId,
        id: ApprovalRequestId,
        write: VoteWrite,
        vote_row: approval_vote::ActiveModel,
    ) -> Result<(), StoreError> {
        use approval_request::Column;
        let changes = vote_write::request_changes(&write);
        let VoteWrite { expected_version, audit, now, .. } = write;
        let txn = self.conn.begin().await.map_err(map_err)?;
        let mut update = approval_request::Entity::update_many()
            .filter(Column::OrgId.eq(org.0))
            .filter(Column::Id.eq(id.0))
            .filter(Column::Version.eq(to_i64(expected_version)))
            .filter(Column::Status.eq(ApprovalStatus::Pending.as_str()))
            .filter(Column::ExpiresAt.gt(now));
        for (column, value) in changes {
            update = update.col_expr(column, Expr::value(value));
        }
        if update.exec(&txn).await.map_err(map_err)?.rows_affected != 1 {
            drop(txn);
            return Err(self.why_stale(org, id, now).await);
        }
        approval_vote::Entity::insert(vote_row).exec(&txn).await.map_err(|err| match map_err(err) {
            StoreError::Conflict(_) => StoreError::Conflict("already_voted".into()),
            other => other,
        })?;
        append_all_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)
    }

    /// Why a vote found the request no longer at the version it was decided on: `changed` while
    /// it is still open (decide again), `not_pending` once it is decided or expired.
    async fn why_stale(&self, org: OrgId, id: ApprovalRequestId, now: DateTime<Utc>) -> StoreError {
        match self.approval_request(org, id).await {
            Ok(Some(current)) => {
                let still_open = current.status_at(now) == ApprovalStatus::Pending;
                StoreError::Conflict(if still_open { "changed" } else { "not_pending" }.into())
            }
            Ok(None) => StoreError::NotFound,
            Err(err) => err,
        }
    }

    /// The request that matches `filter` with its votes, in one query (the votes joined in).
    async fn find_request(
        &self,
        org: OrgId,
        filter: impl sea_orm::sea_query::IntoCondition,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        let found = approval_request::Entity::find()
            .filter(approval_request::Column::OrgId.eq(org.0))
            .filter(filter)
            .find_with_related(approval_vote::Entity)
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        let Some((row, mut votes)) = found.into_iter().next() else { return Ok(None) };
        votes.sort_by_key(|v| (v.at, v.id));
        Ok(Some(request_from(row, votes.into_iter().map(vote_from).collect::<Result<_, _>>()?)?))
    }
}

#[async_trait]
impl ApprovalRepo for Database {
    async fn create_approval_request(
        &self,
        request: ApprovalRequest,
        audit: Vec<AuditRecord>,
    ) -> Result<(ApprovalRequest, bool), StoreError> {
        let row = request_row(&request);
        let mut duplicate = false;
        if self.conn.get_database_backend() == DbBackend::Postgres {
            for _ in 0..STATEMENT_ATTEMPTS {
                match request_write::attempt(&self.conn, &request, &row, &audit).await? {
                    request_write::Attempt::Written => return Ok((request, true)),
                    request_write::Attempt::Duplicate => {
                        duplicate = true;
                        break;
                    }
                    request_write::Attempt::HeadMoved => {}
                }
            }
        }
        if !duplicate {
            // The head first, then the request's row: the order the one-statement write takes.
            let txn = self.conn.begin().await.map_err(map_err)?;
            append_all_in(&txn, request.org_id, audit).await?;
            match approval_request::Entity::insert(row).exec(&txn).await.map_err(map_err) {
                Ok(_) => {
                    txn.commit().await.map_err(map_err)?;
                    return Ok((request, true));
                }
                // Dropping the transaction takes its events back with it.
                Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(other),
            }
        }
        // The same request again (a retried pipeline step, or two at once): the first one wins.
        let existing = self.approval_request_by_digest(request.org_id, &request.digest).await?;
        existing.map(|found| (found, false)).ok_or(StoreError::Conflict("approval request".into()))
    }

    async fn approval_request(&self, org: OrgId, id: ApprovalRequestId) -> Result<Option<ApprovalRequest>, StoreError> {
        self.find_request(org, approval_request::Column::Id.eq(id.0)).await
    }

    async fn approval_request_by_digest(
        &self,
        org: OrgId,
        digest: &str,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        self.find_request(org, approval_request::Column::Digest.eq(digest)).await
    }

    async fn approval_requests(&self, org: OrgId, query: ApprovalQuery) -> Result<Vec<ApprovalRequest>, StoreError> {
        use approval_request::Column;
        let mut select = approval_request::Entity::find().filter(Column::OrgId.eq(org.0));
        if let Some(status) = query.status {
            select = select.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(key) = query.created_by_key {
            select = select.filter(Column::CreatedByKey.eq(key.0));
        }
        let rows = select
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(query.limit.clamp(1, 500))
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        with_votes(&self.conn, rows).await
    }

    async fn record_vote(&self, org: OrgId, id: ApprovalRequestId, write: VoteWrite) -> Result<(), StoreError> {
        let vote_row = vote_row(org, id, &write.vote);
        if self.conn.get_database_backend() == DbBackend::Postgres {
            for _ in 0..STATEMENT_ATTEMPTS {
                match vote_write::attempt(&self.conn, org, id, &write, vote_row.clone()).await? {
                    Attempt::Written => return Ok(()),
                    Attempt::Stale => return Err(self.why_stale(org, id, write.now).await),
                    Attempt::HeadMoved => {}
                }
            }
        }
        self.record_vote_in_transaction(org, id, write, vote_row).await
    }

    async fn standing_approvals(
        &self,
        org: OrgId,
        approvals: &[(MemberId, SecurityKeyId)],
    ) -> Result<HashSet<(MemberId, SecurityKeyId)>, StoreError> {
        if approvals.is_empty() {
            return Ok(HashSet::new());
        }
        let active_members = Query::select()
            .column(member::Column::Id)
            .from(member::Entity)
            .and_where(member::Column::OrgId.eq(org.0))
            .and_where(member::Column::DeactivatedAt.is_null())
            .to_owned();
        let kept: HashSet<(uuid::Uuid, uuid::Uuid)> = security_key::Entity::find()
            .select_only()
            .column(security_key::Column::MemberId)
            .column(security_key::Column::Id)
            .filter(security_key::Column::OrgId.eq(org.0))
            .filter(security_key::Column::Id.is_in(approvals.iter().map(|(_, key)| key.0)))
            .filter(security_key::Column::MemberId.in_subquery(active_members))
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(map_err)?
            .into_iter()
            .collect();
        Ok(approvals.iter().copied().filter(|(member, key)| kept.contains(&(member.0, key.0))).collect())
    }

    async fn due_approval_requests(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(OrgId, ApprovalRequestId)>, StoreError> {
        use approval_request::Column;
        let rows = approval_request::Entity::find()
            .filter(Column::Status.eq(ApprovalStatus::Pending.as_str()))
            .filter(Column::ExpiresAt.lte(now))
            .order_by_asc(Column::ExpiresAt)
            .limit(limit)
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(rows.into_iter().map(|r| (OrgId(r.org_id), ApprovalRequestId(r.id))).collect())
    }

    async fn expire_approval_request(
        &self,
        org: OrgId,
        id: ApprovalRequestId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        use approval_request::Column;
        let txn = self.conn.begin().await.map_err(map_err)?;
        let updated = approval_request::Entity::update_many()
            .col_expr(Column::Status, Expr::value(ApprovalStatus::Expired.as_str()))
            .col_expr(Column::DecidedAt, Expr::col(Column::ExpiresAt))
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .filter(Column::OrgId.eq(org.0))
            .filter(Column::Id.eq(id.0))
            .filter(Column::Status.eq(ApprovalStatus::Pending.as_str()))
            .filter(Column::ExpiresAt.lte(now))
            .exec(&txn)
            .await
            .map_err(map_err)?;
        if updated.rows_affected != 1 {
            return Ok(false);
        }
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(true)
    }
}
