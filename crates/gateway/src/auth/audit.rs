//! The audit trail for admins: pages of events and chain verification.

use keyward_domain::DomainError;
use keyward_domain::audit::{AuditEvent, ChainVerdict};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo, Page};

use crate::state::AppState;

/// Largest page.
pub const MAX_PAGE: u64 = 200;

/// A page of events, newest first.
pub async fn events(app: &AppState, org: OrgId, mut query: AuditQuery) -> Result<Page<AuditEvent>, DomainError> {
    if query.first == 0 || query.first > MAX_PAGE {
        return Err(DomainError::bad_input("first", format!("use 1 to {MAX_PAGE}")));
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from >= to
    {
        return Err(DomainError::bad_input("to", "must be after from"));
    }
    query.action = query.action.filter(|a| !a.is_empty());
    Ok(app.db.audit_events(org, query).await?)
}

/// Recomputes the organization's chain.
pub async fn verify(app: &AppState, org: OrgId) -> Result<ChainVerdict, DomainError> {
    let repo: &dyn AuditRepo = app.db.as_ref();
    Ok(keyward_storage::db::verify_chain(repo, org).await?)
}
