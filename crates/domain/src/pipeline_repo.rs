//! Persistence of what pipelines use: API keys and approval requests with their votes.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api_key::ApiKey;
use crate::approval::{ApprovalRequest, ApprovalStatus, Transition, Vote};
use crate::audit::AuditRecord;
use crate::error::StoreError;
use crate::ids::{ApiKeyId, ApprovalRequestId, MemberId, OrgId, SecurityKeyId};

/// API keys.
#[async_trait]
pub trait ApiKeyRepo: Send + Sync {
    /// Stores a new key with the hash of its secret, and its audit event, in one transaction.
    async fn create_api_key(&self, key: ApiKey, secret_hash: String, audit: AuditRecord) -> Result<ApiKey, StoreError>;
    /// The organization's keys, newest first (revoked ones too).
    async fn api_keys(&self, org: OrgId) -> Result<Vec<ApiKey>, StoreError>;
    /// The key whose secret hashes to `secret_hash`, in any organization.
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Revokes a key (`NotFound` when it is not the organization's; a revoked key stays revoked
    /// at its first revocation time), with its audit event.
    async fn revoke_api_key(
        &self,
        org: OrgId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<ApiKey, StoreError>;
    /// Records a use of the key.
    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// Which requests to list.
#[derive(Clone, Debug, Default)]
pub struct ApprovalQuery {
    /// Only in this status (as stored: a pending request past its expiry is still `Pending` until
    /// the sweeper marks it).
    pub status: Option<ApprovalStatus>,
    /// Only those this API key created.
    pub created_by_key: Option<ApiKeyId>,
    /// At most this many, newest first.
    pub limit: u64,
}

/// One vote and what it changes, written together.
#[derive(Clone, Debug)]
pub struct VoteWrite {
    /// The request's version the vote was decided on.
    pub expected_version: u64,
    /// The vote.
    pub vote: Vote,
    /// The state change it causes, if any.
    pub transition: Option<Transition>,
    /// The audit events.
    pub audit: Vec<AuditRecord>,
    /// When.
    pub now: DateTime<Utc>,
}

/// Approval requests and their votes.
#[async_trait]
pub trait ApprovalRepo: Send + Sync {
    /// Stores `request` with its audit events, unless the organization has a request with the same
    /// digest: then that one comes back and `false` (nothing written).
    async fn create_approval_request(
        &self,
        request: ApprovalRequest,
        audit: Vec<AuditRecord>,
    ) -> Result<(ApprovalRequest, bool), StoreError>;
    /// One request with its votes.
    async fn approval_request(&self, org: OrgId, id: ApprovalRequestId) -> Result<Option<ApprovalRequest>, StoreError>;
    /// The request with this digest.
    async fn approval_request_by_digest(&self, org: OrgId, digest: &str)
    -> Result<Option<ApprovalRequest>, StoreError>;
    /// Requests, newest first.
    async fn approval_requests(&self, org: OrgId, query: ApprovalQuery) -> Result<Vec<ApprovalRequest>, StoreError>;
    /// In one transaction: adds the vote, applies the transition if any, and appends the audit
    /// events, on the condition that the request is still at `expected_version`, pending and not
    /// expired at `now`. `Conflict("changed")` when another change got there first (re-read and
    /// decide again), `Conflict("not_pending")` when it is decided or expired,
    /// `Conflict("already_voted")` when the member voted. Once it succeeded, the request is
    /// [`ApprovalRequest::with_vote`] of the version the vote was decided on.
    async fn record_vote(&self, org: OrgId, id: ApprovalRequestId, write: VoteWrite) -> Result<(), StoreError>;
    /// Of `approvals` (member, key used), those that still stand: the member is active and the key
    /// is still theirs. One query, however many approvals.
    async fn standing_approvals(
        &self,
        org: OrgId,
        approvals: &[(MemberId, SecurityKeyId)],
    ) -> Result<HashSet<(MemberId, SecurityKeyId)>, StoreError>;
    /// Pending requests whose expiry has passed at `now`, across organizations, at most `limit`.
    async fn due_approval_requests(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(OrgId, ApprovalRequestId)>, StoreError>;
    /// Marks a pending request expired (with its audit event) when its expiry has passed at `now`;
    /// `false` when it was not pending or not yet due (another instance got there, or a vote won).
    async fn expire_approval_request(
        &self,
        org: OrgId,
        id: ApprovalRequestId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError>;
}
