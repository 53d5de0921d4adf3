//! The audit trail for admins: pages of events and chain verification.

use keyward_domain::DomainError;
use keyward_domain::audit::{AuditEvent, ChainVerdict};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo, Page};

use crate::state::AppState;

/// A page of events, newest first.
pub async fn events(app: &AppState, org: OrgId, query: AuditQuery) -> Result<Page<AuditEvent>, DomainError> {
    Ok(app.db.audit_events(org, query.checked()?).await?)
}

/// Recomputes the organization's chain.
pub async fn verify(app: &AppState, org: OrgId) -> Result<ChainVerdict, DomainError> {
    let repo: &dyn AuditRepo = app.db.as_ref();
    Ok(keyward_storage::db::verify_chain(repo, org).await?)
}
