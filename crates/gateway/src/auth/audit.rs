//! The audit trail for admins: pages of events and chain verification.

use keyward_domain::DomainError;
use keyward_domain::audit::{AuditEvent, AuditHead, ChainVerdict};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo, Page};

use crate::state::AppState;

/// A page of events, newest first.
pub async fn events(app: &AppState, org: OrgId, query: AuditQuery) -> Result<Page<AuditEvent>, DomainError> {
    Ok(app.db.audit_events(org, query.checked()?).await?)
}

/// Recomputes the organization's chain against its stored head and, when given, a head recorded
/// outside the database.
pub async fn verify(app: &AppState, org: OrgId, expected: Option<AuditHead>) -> Result<ChainVerdict, DomainError> {
    let repo: &dyn AuditRepo = app.db.as_ref();
    Ok(keyward_storage::db::verify_chain_expecting(repo, org, expected).await?)
}
