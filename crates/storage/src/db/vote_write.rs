//! A vote's write on PostgreSQL as one statement, the way a key login writes: the audit head and
//! the events' names are read first, the events sealed after that head, and then one statement
//! locks and rechecks the request (still at the version the vote was decided on, pending, not
//! expired) and the head (still where it was read, the names unchanged), and records the request's
//! change, the vote and the chained events together, or nothing. SQLite, and a vote whose head
//! kept moving, write in a transaction instead (`ApprovalRepo::record_vote`).

use keyward_domain::StoreError;
use keyward_domain::approval::ApprovalStatus;
use keyward_domain::ids::{ApprovalRequestId, OrgId};
use keyward_domain::pipeline_repo::VoteWrite;
use sea_orm::{ConnectionTrait, DbBackend, IdenStatic, Value};

use super::audit_append::{
    basis_checks, chain_ctes, placeholders, read_basis, row_columns, row_values, seal_after, two_counts,
    with_request_context,
};
use super::entities::{approval_request, approval_vote};
use super::to_i64;

/// What one attempt came to.
pub(super) enum Attempt {
    /// Everything was written.
    Written,
    /// The request is no longer at the expected version, pending and unexpired: nothing written.
    Stale,
    /// Another event (or a rename) got to the audit head first: nothing written; try again.
    HeadMoved,
}

/// One attempt at writing `write` on request `id` in one statement, after one read of the head.
pub(super) async fn attempt(
    conn: &impl ConnectionTrait,
    org: OrgId,
    id: ApprovalRequestId,
    write: &VoteWrite,
    vote_row: approval_vote::ActiveModel,
) -> Result<Attempt, StoreError> {
    let mut records: Vec<_> = write.audit.iter().cloned().map(with_request_context).collect();
    let (head, reads) = read_basis(conn, org, &mut records).await?;
    let events = seal_after(org, &head, records);
    let mut values: Vec<Value> = vec![
        org.0.into(),
        id.0.into(),
        to_i64(write.expected_version).into(),
        ApprovalStatus::Pending.as_str().into(),
        write.now.into(),
        to_i64(head.seq).into(),
    ];
    let checks = basis_checks(&reads, org, 1, &mut values);
    let changes = assignments(request_changes(write), &mut values);
    let (columns, vote_values) = (row_columns::<approval_vote::ActiveModel>(), row_values(&vote_row)?);
    let vote_placeholders = placeholders(DbBackend::Postgres, values.len() + 1, vote_values.len());
    values.extend(vote_values);
    let mut sql = format!(
        "WITH guard AS (SELECT id FROM approval_requests \
           WHERE org_id = $1 AND id = $2 AND version = $3 AND status = $4 AND expires_at > $5 FOR UPDATE), \
         basis AS (SELECT org_id FROM audit_heads \
           WHERE org_id = $1 AND seq = $6 AND EXISTS (SELECT 1 FROM guard){checks} FOR UPDATE), \
         request AS (UPDATE approval_requests SET {changes} \
           WHERE org_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM basis) RETURNING 1), \
         vote AS (INSERT INTO approval_votes ({columns}) SELECT {vote_placeholders} \
           WHERE EXISTS (SELECT 1 FROM basis) RETURNING 1)"
    );
    sql.push_str(&chain_ctes(&events, 1, &mut values)?);
    sql.push_str(" SELECT (SELECT count(*) FROM guard) AS guarded, (SELECT count(*) FROM basis) AS written");
    // The vote's row is the only one here that can collide: one vote per member.
    let already_voted = |err| match err {
        StoreError::Conflict(_) => StoreError::Conflict("already_voted".into()),
        other => other,
    };
    let counts = two_counts(conn, sql, values, ["guarded", "written"], already_voted).await?;
    Ok(match counts {
        (_, 1) => Attempt::Written,
        (0, _) => Attempt::Stale,
        _ => Attempt::HeadMoved,
    })
}

/// What a vote changes on the request's row: the version, and the transition's columns if it
/// decides the request. Both ways of writing a vote set exactly these.
pub(super) fn request_changes(write: &VoteWrite) -> Vec<(approval_request::Column, Value)> {
    use approval_request::Column;
    let mut changes = vec![(Column::Version, to_i64(write.expected_version + 1).into())];
    if let Some(t) = &write.transition {
        changes.extend([
            (Column::Status, t.status.as_str().into()),
            (Column::DecidedAt, t.at.into()),
            (Column::Token, t.token.clone().into()),
            (Column::TokenJti, t.token_jti.clone().into()),
        ]);
        if t.reason.is_some() {
            changes.push((Column::Reason, t.reason.clone().into()));
        }
    }
    changes
}

/// `column = $n, …` for `changes`, with their values appended to `values`.
fn assignments(changes: Vec<(approval_request::Column, Value)>, values: &mut Vec<Value>) -> String {
    let mut set = Vec::with_capacity(changes.len());
    for (column, value) in changes {
        values.push(value);
        set.push(format!("{} = ${}", column.as_str(), values.len()));
    }
    set.join(", ")
}
