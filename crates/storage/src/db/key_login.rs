//! A security-key login's database work: one read (the key, the audit head and the owner's name)
//! and one write. On PostgreSQL the write is a single statement that checks the read is still
//! current under row locks and then records the key's use, the login time and the chained audit
//! events, or writes nothing. SQLite (one in-process writer, no network) and the rare write whose
//! events still need names use one transaction that locks the audit head instead.

use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{AuditEvent, AuditHead, AuditRecord};
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::security_key::{KeyUse, LoginBasis, SIGN_COUNT_CHANGED, StoredSecurityKey};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, QueryTrait, Statement, TransactionTrait, Value,
};

use super::audit_append::{append_all_in, chain_ctes, with_request_context};
use super::convert::key_from;
use super::entities::{audit_head, member, security_key};
use super::keys::update_key_use;
use super::{map_err, to_i64, to_u64};

/// How often the one-statement write is tried before the login queues on the audit head's lock
/// instead: each miss means another event of the organization (or a rename) got in between.
const STATEMENT_ATTEMPTS: usize = 3;

/// The key with its credential ID, the audit head of its organization and its owner's username,
/// in one query.
pub(super) async fn key_for_login(
    conn: &DatabaseConnection,
    credential_id: &[u8],
) -> Result<Option<(StoredSecurityKey, LoginBasis)>, StoreError> {
    let of_org = |column: audit_head::Column| {
        Query::select()
            .column(column)
            .from(audit_head::Entity)
            .and_where(
                Expr::col((audit_head::Entity, audit_head::Column::OrgId))
                    .equals((security_key::Entity, security_key::Column::OrgId)),
            )
            .to_owned()
    };
    let username = Query::select()
        .column(member::Column::Username)
        .from(member::Entity)
        .and_where(
            Expr::col((member::Entity, member::Column::Id))
                .equals((security_key::Entity, security_key::Column::MemberId)),
        )
        .to_owned();
    let select = security_key::Entity::find()
        .filter(security_key::Column::CredentialId.eq(credential_id.to_vec()))
        .expr_as(Expr::SubQuery(None, Box::new(of_org(audit_head::Column::Seq).into())), "login_head_seq")
        .expr_as(Expr::SubQuery(None, Box::new(of_org(audit_head::Column::Hash).into())), "login_head_hash")
        .expr_as(Expr::SubQuery(None, Box::new(username.into())), "login_username")
        .build(conn.get_database_backend());
    let Some(row) = conn.query_one_raw(select).await.map_err(map_err)? else { return Ok(None) };
    let key = key_from(security_key::Model::from_query_result(&row, "").map_err(map_err)?)?;
    let seq: Option<i64> = row.try_get("", "login_head_seq").map_err(map_err)?;
    let hash: Option<String> = row.try_get("", "login_head_hash").map_err(map_err)?;
    let username: Option<String> = row.try_get("", "login_username").map_err(map_err)?;
    let (Some(seq), Some(hash), Some(username)) = (seq, hash, username) else {
        return Err(StoreError::Unexpected(format!("key {} has no audit head or owner", key.key.id)));
    };
    Ok(Some((key, LoginBasis { audit_head: AuditHead { seq: to_u64(seq), hash }, username })))
}

/// What a login writes, for either path.
pub(super) struct KeyLogin {
    pub org: OrgId,
    pub member: MemberId,
    pub key: SecurityKeyId,
    pub used: KeyUse,
    pub audit: Vec<AuditRecord>,
}

/// Records the login: in one statement on PostgreSQL while `basis` (or what a missed attempt
/// reported) is current, else in one transaction queued on the audit head's lock.
pub(super) async fn record(
    conn: &DatabaseConnection,
    login: KeyLogin,
    mut basis: LoginBasis,
) -> Result<(), StoreError> {
    if conn.get_database_backend() == DbBackend::Postgres {
        for _ in 0..STATEMENT_ATTEMPTS {
            let Some(events) = sealed(&login, &basis) else { break };
            match write_at_once(conn, &login, &basis, &events).await? {
                Written::Done => return Ok(()),
                Written::Moved(current) => basis = current,
            }
        }
    }
    record_in_transaction(conn, login).await
}

/// The login's events, sealed after `basis`'s head and named from it; `None` when one of them
/// names a row the basis does not cover (the transaction names it instead).
fn sealed(login: &KeyLogin, basis: &LoginBasis) -> Option<Vec<AuditEvent>> {
    let at = Utc::now();
    let mut previous = basis.audit_head.clone();
    let mut events = Vec::with_capacity(login.audit.len());
    for record in &login.audit {
        let record = with_request_context(record.clone()).with_member_name(login.member, &basis.username);
        if record.unnamed_actor().is_some() || record.unnamed_target().is_some() {
            return None;
        }
        let event = AuditEvent::seal(login.org, previous.seq + 1, &previous.hash, at, record);
        previous = AuditHead { seq: event.seq, hash: event.hash.clone() };
        events.push(event);
    }
    Some(events)
}

enum Written {
    Done,
    /// Nothing was written: the head or the username had moved; these are the values now.
    Moved(LoginBasis),
}

/// The one-statement write. `owner` locks the member and key rows, then `basis` the audit head
/// (the order every other writer takes them in: the changed rows first, the head last, so the
/// two cannot deadlock), each re-read under its lock, so the updates below happen all together
/// or (when anything moved) not at all. The outer select reports the values the statement
/// started from, for the caller's next attempt.
async fn write_at_once(
    conn: &DatabaseConnection,
    login: &KeyLogin,
    basis: &LoginBasis,
    events: &[AuditEvent],
) -> Result<Written, StoreError> {
    let mut values: Vec<Value> = vec![
        login.org.0.into(),
        to_i64(basis.audit_head.seq).into(),
        login.key.0.into(),
        i64::from(login.used.expected_sign_count).into(),
        login.member.0.into(),
        basis.username.clone().into(),
        login.used.at.into(),
        i64::from(Ord::max(login.used.sign_count, login.used.expected_sign_count)).into(),
        login.used.backed_up.into(),
        login.used.credential.clone().into(),
    ];
    let mut sql = String::from(
        "WITH owner AS (\
           SELECT m.id FROM members m, security_keys k \
           WHERE m.id = $5 AND m.org_id = $1 AND m.deactivated_at IS NULL AND m.username = $6 \
             AND k.id = $3 AND k.org_id = $1 AND k.sign_count = $4 FOR UPDATE), \
         basis AS (\
           SELECT h.org_id FROM audit_heads h WHERE h.org_id = $1 AND h.seq = $2 AND EXISTS (SELECT 1 FROM owner) \
           FOR UPDATE), \
         key_use AS (UPDATE security_keys SET last_used_at = $7, sign_count = $8, backed_up = $9, credential = $10 \
           WHERE id = $3 AND EXISTS (SELECT 1 FROM basis) RETURNING 1), \
         login AS (UPDATE members SET last_login_at = $7 WHERE id = $5 AND EXISTS (SELECT 1 FROM basis) RETURNING 1)",
    );
    sql.push_str(&chain_ctes(events, 1, &mut values)?);
    sql.push_str(
        " SELECT (SELECT count(*) FROM basis) AS written, \
           (SELECT seq FROM audit_heads WHERE org_id = $1) AS head_seq, \
           (SELECT hash FROM audit_heads WHERE org_id = $1) AS head_hash, \
           (SELECT sign_count FROM security_keys WHERE id = $3 AND org_id = $1) AS sign_count, \
           (SELECT username FROM members WHERE id = $5 AND org_id = $1 AND deactivated_at IS NULL) AS username",
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    let row = conn.query_one_raw(statement).await.map_err(map_err)?.ok_or_else(|| unexpected("no row"))?;
    let get_i64 = |column| row.try_get::<Option<i64>>("", column).map_err(map_err);
    if get_i64("written")? == Some(1) {
        return Ok(Written::Done);
    }
    let sign_count = get_i64("sign_count")?.ok_or(StoreError::NotFound)?;
    let username: String =
        row.try_get::<Option<String>>("", "username").map_err(map_err)?.ok_or(StoreError::NotFound)?;
    if sign_count != i64::from(login.used.expected_sign_count) {
        return Err(StoreError::Conflict(SIGN_COUNT_CHANGED.into()));
    }
    let seq = get_i64("head_seq")?.ok_or_else(|| unexpected("the organization has no audit head"))?;
    let hash: String = row.try_get::<Option<String>>("", "head_hash").map_err(map_err)?.unwrap_or_default();
    Ok(Written::Moved(LoginBasis { audit_head: AuditHead { seq: to_u64(seq), hash }, username }))
}

fn unexpected(what: &str) -> StoreError {
    StoreError::Unexpected(format!("key login write: {what}"))
}

/// The login in one transaction: the key's compare-and-set, the member's login time (returning
/// the name for the events) and the events appended under the head's lock.
async fn record_in_transaction(conn: &DatabaseConnection, login: KeyLogin) -> Result<(), StoreError> {
    let KeyLogin { org, member: member_id, key, used, audit } = login;
    let at = used.at;
    let txn = conn.begin().await.map_err(map_err)?;
    update_key_use(&txn, org, key, used).await?;
    let update = Query::update()
        .table(member::Entity)
        .value(member::Column::LastLoginAt, Expr::value(at))
        .and_where(member::Column::Id.eq(member_id.0))
        .and_where(member::Column::OrgId.eq(org.0))
        // A member deactivated while their login was in flight finishes no login: the whole
        // transaction (key use, audit) rolls back.
        .and_where(member::Column::DeactivatedAt.is_null())
        .returning_col(member::Column::Username)
        .to_owned();
    let row = txn.query_one(&update).await.map_err(map_err)?.ok_or(StoreError::NotFound)?;
    let username: String = row.try_get("", "username").map_err(map_err)?;
    let named = audit.into_iter().map(|record| record.with_member_name(member_id, &username)).collect();
    append_all_in(&txn, org, named).await?;
    txn.commit().await.map_err(map_err)
}
