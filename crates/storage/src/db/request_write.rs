//! A new approval request's write on PostgreSQL as one statement, the way a vote writes: the
//! audit head and the events' names are read first, the events sealed after that head, and then
//! one statement locks and rechecks the head (still where it was read, the names unchanged),
//! inserts the request unless its digest is already stored, and chains the events only if the
//! request went in. So the request and its events are written together, or nothing is. SQLite,
//! and a request whose head kept moving, are written in a transaction instead
//! (`ApprovalRepo::create_approval_request`), which takes the head before the request's row too.

use keyward_domain::StoreError;
use keyward_domain::approval::ApprovalRequest;
use keyward_domain::audit::AuditRecord;
use sea_orm::{ConnectionTrait, DbBackend, Value};

use super::audit_append::{
    basis_checks, chain_ctes, placeholders, read_basis, row_columns, row_values, seal_after, two_counts,
    with_request_context,
};
use super::entities::approval_request;
use super::to_i64;

/// What one attempt came to.
pub(super) enum Attempt {
    /// The request and its events were written.
    Written,
    /// A request with the same digest is stored already: nothing written.
    Duplicate,
    /// Another event (or a rename) got to the audit head first: nothing written; try again.
    HeadMoved,
}

/// One attempt at writing `row` (the request's columns) with `audit`, after one read of the head.
pub(super) async fn attempt(
    conn: &impl ConnectionTrait,
    request: &ApprovalRequest,
    row: &approval_request::ActiveModel,
    audit: &[AuditRecord],
) -> Result<Attempt, StoreError> {
    let org = request.org_id;
    let mut records: Vec<_> = audit.iter().cloned().map(with_request_context).collect();
    let (head, reads) = read_basis(conn, org, &mut records).await?;
    let events = seal_after(org, &head, records);
    let mut values: Vec<Value> = vec![org.0.into(), to_i64(head.seq).into()];
    let checks = basis_checks(&reads, org, 1, &mut values);
    let (columns, request_values) = (row_columns::<approval_request::ActiveModel>(), row_values(row)?);
    let request_placeholders = placeholders(DbBackend::Postgres, values.len() + 1, request_values.len());
    values.extend(request_values);
    // `basis` is the inserted request: the head moves and the events go in only with it.
    let mut sql = format!(
        "WITH locked AS (SELECT org_id FROM audit_heads WHERE org_id = $1 AND seq = $2{checks} FOR UPDATE), \
         basis AS (INSERT INTO approval_requests ({columns}) SELECT {request_placeholders} \
           WHERE EXISTS (SELECT 1 FROM locked) ON CONFLICT DO NOTHING RETURNING org_id)"
    );
    sql.push_str(&chain_ctes(&events, 1, &mut values)?);
    sql.push_str(" SELECT (SELECT count(*) FROM locked) AS locked, (SELECT count(*) FROM basis) AS written");
    let counts = two_counts(conn, sql, values, ["locked", "written"], |err| err).await?;
    Ok(match counts {
        (_, 1) => Attempt::Written,
        (0, _) => Attempt::HeadMoved,
        _ => Attempt::Duplicate,
    })
}
